"""Skill "stop": the pipeline already cut playback (barge-in); the skill stays silent."""

from __future__ import annotations

import logging

from skills.sdk import Intent, SkillContext, media_of

_LOGGER = logging.getLogger(__name__)


class StopSkill:
    name = "stop"
    intents = frozenset({"stop"})

    async def handle(self, intent: Intent, ctx: SkillContext) -> None:
        """A bare "stop" also stops an episode that is playing."""
        media = media_of(ctx)
        if media is not None and await media.stop():
            _LOGGER.debug("stop: playback stopped")
