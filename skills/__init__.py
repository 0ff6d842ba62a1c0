"""What the assistant can do: the skill SDK, intent recognition and the built-in skills.

A leaf package: it never imports `assistant` or `models`.
"""

from skills.sdk import (
    ENTRY_POINT_GROUP,
    AudioClip,
    BaseSkill,
    Intent,
    Job,
    Jobs,
    JobSpec,
    LanguageModel,
    SentenceError,
    SentenceFile,
    Skill,
    SkillContext,
    SkillLoadError,
    Storage,
    load_skills,
    sentence_files,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "AudioClip",
    "BaseSkill",
    "Intent",
    "Job",
    "JobSpec",
    "Jobs",
    "LanguageModel",
    "SentenceError",
    "SentenceFile",
    "Skill",
    "SkillContext",
    "SkillLoadError",
    "Storage",
    "load_skills",
    "sentence_files",
]
