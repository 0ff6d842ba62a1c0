"""Next-token choice: greedy, or temperature with nucleus (top-p) sampling and a seed."""

from __future__ import annotations

import numpy as np

from models.lm.gguf_file import F32


class Sampler:
    def __init__(self, temperature: float = 0.0, top_p: float = 1.0, seed: int | None = None):
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], not {top_p}")
        self.temperature = temperature
        self.top_p = top_p
        self._rng = np.random.default_rng(seed)

    def __call__(self, logits: F32) -> int:
        if self.temperature <= 0.0:
            return int(np.argmax(logits))
        z = logits.astype(np.float64) / self.temperature
        p = np.exp(z - z.max())
        p /= p.sum()
        if self.top_p >= 1.0:
            return int(self._rng.choice(len(p), p=p))
        order = np.argsort(-p)
        cumulative = np.cumsum(p[order])
        nucleus = order[: int(np.searchsorted(cumulative, self.top_p)) + 1]
        q = p[nucleus] / p[nucleus].sum()
        return int(nucleus[self._rng.choice(len(nucleus), p=q)])
