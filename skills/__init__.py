"""What the assistant can do: the skill SDK, intent recognition and the built-in skills.

A leaf package: it never imports `assistant` or `models`.
"""

from skills.sdk import (
    ENTRY_POINT_GROUP,
    AudioClip,
    Intent,
    Job,
    Jobs,
    JobSpec,
    LanguageModel,
    Skill,
    SkillContext,
    SkillLoadError,
    Storage,
    load_skills,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "AudioClip",
    "Intent",
    "Job",
    "JobSpec",
    "Jobs",
    "LanguageModel",
    "Skill",
    "SkillContext",
    "SkillLoadError",
    "Storage",
    "load_skills",
]
