"""Skill "stop": the pipeline already cut playback (barge-in); the skill stays silent."""

from __future__ import annotations

import logging

from skills.sdk import BaseSkill, Intent, SkillContext, sentence_files

_LOGGER = logging.getLogger(__name__)


class StopSkill(BaseSkill):
    name = "stop"
    intents = frozenset({"stop"})
    sentences = sentence_files(__package__, "stop.yaml")

    async def handle(self, intent: Intent, ctx: SkillContext) -> None:
        """A bare "stop" also stops an episode that is playing."""
        media = ctx.media
        if media is not None and await media.stop():
            _LOGGER.debug("stop: playback stopped")
