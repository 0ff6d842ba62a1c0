"""Skill "help": what the assistant can do, in one breath."""

from __future__ import annotations

from skills.sdk import BaseSkill, Intent, SkillContext, sentence_files

HELP_TEXT = (
    "I can tell you the time and date, set reminders, alarms and timers, play and summarize "
    "podcasts, change the volume, and answer questions. "
    "Try: remind me in ten minutes to call mom."
)


class HelpSkill(BaseSkill):
    name = "help"
    intents = frozenset({"help"})
    sentences = sentence_files(__package__, "help.yaml")

    async def handle(self, intent: Intent, ctx: SkillContext) -> None:
        await ctx.say(HELP_TEXT)
        await ctx.display("time · reminders · alarms · timers · podcasts · volume · questions")
