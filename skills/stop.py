"""Skill "stop": the pipeline already cut playback (barge-in); the skill stays silent."""

from __future__ import annotations

import logging

from skills.sdk import Intent, SkillContext

_LOGGER = logging.getLogger(__name__)


class StopSkill:
    name = "stop"
    intents = frozenset({"stop"})

    async def handle(self, intent: Intent, ctx: SkillContext) -> None:
        _LOGGER.debug("stop: nothing to say")
