"""Skill "volume": louder, quieter, a level, mute. One level for replies and podcasts alike.

Levels run 0-10; a level above 10 is read as a percentage ("fifty percent" is 5). A step
("turn it up by 3": slot `by`) moves from the current level; without one, up and down move by
`STEP`. Turning the volume up or setting it unmutes. While muted, replies are silent, so
"mute" is confirmed on the display only.
"""

from __future__ import annotations

from typing import Final

from skills.sdk import BaseSkill, Intent, SkillContext, sentence_files

STEP: Final = 2
MAX_LEVEL: Final = 10
NO_VOLUME: Final = "I can't change the volume here."


def _level(value: object) -> int | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return round(value / 10) if value > 10 else round(value)


class VolumeSkill(BaseSkill):
    name = "volume"
    intents = frozenset({"volume.up", "volume.down", "volume.set", "volume.mute"})
    sentences = sentence_files(__package__, "volume.yaml")

    async def handle(self, intent: Intent, ctx: SkillContext) -> None:
        volume = ctx.volume
        if volume is None:
            await ctx.say(NO_VOLUME)
            return
        if intent.name == "volume.mute":
            volume.mute(True)
            await ctx.display("Muted. Say “volume up” to hear me again.")
            return
        before = volume.level if not volume.muted else None
        asked = _level(intent.slots.get("level"))
        if intent.name == "volume.set" and asked is None:  # "what's the volume?"
            state = " and muted" if volume.muted else ""
            await ctx.display(f"Volume {volume.level}{state}.")
            await ctx.say(f"The volume is {volume.level}{state}. Say a level from 0 to 10.")
            return
        if asked is None:
            was = volume.level if not volume.muted else 0
            step = _level(intent.slots.get("by")) or STEP
            asked = was + step if intent.name == "volume.up" else was - step
            if volume.muted and intent.name == "volume.up":
                asked = max(volume.level, STEP)  # "unmute": back to where it was
        level = volume.set(asked)
        if level == 0:
            await ctx.display("Volume 0. Say “volume up” to hear me again.")
            return
        if intent.name == "volume.up" and level == before == MAX_LEVEL:
            await ctx.say(f"Volume {level} is the loudest.")
            return
        await ctx.say(f"Volume {level}.")  # spoken at the new level: the user hears it
