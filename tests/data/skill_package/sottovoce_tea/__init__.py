"""How long to steep tea: "how long should I steep my earl grey?" -> "Steep black tea for 4
minutes." A third-party skill, packaged the way docs/skills.md describes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from skills.sdk import BaseSkill, Intent, SkillContext, sentence_files, timeexpr

MINUTES = {"green": 2, "white": 3, "black": 4, "oolong": 5, "herbal": 6}


class TeaSkill(BaseSkill):
    name = "tea"
    intents = frozenset({"tea.steep"})
    sentences = sentence_files(__package__, "tea.yaml")

    def shape_slots(self, intent: str, slots: Mapping[str, Any], text: str) -> Mapping[str, Any]:
        words = text.split()
        kind = str(slots.get("tea") or next((k for k in MINUTES if k in words), "black"))
        strong = "strong" in words
        return {"tea": kind, "minutes": MINUTES.get(kind, 4) + (1 if strong else 0)}

    async def handle(self, intent: Intent, ctx: SkillContext) -> None:
        kind, minutes = intent.slots["tea"], int(intent.slots["minutes"])
        await ctx.say(f"Steep {kind} tea for {timeexpr.say_duration(minutes * 60)}.")
        ctx.storage.set("cups", int(ctx.storage.get("cups", 0)) + 1)
