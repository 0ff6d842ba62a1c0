"""Skills bring their own language: sentence files inside each skill's package, merged by the
recognizer; a broken one leaves out its skill, named with the file, and only that skill. And the
SDK's optional members, explicit: `BaseSkill` defaults, `SkillContext.media`/`volume`,
`VolumeControl.audible`."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from skills import sentences
from skills.intents import IntentRecognizer
from skills.sdk import (
    BaseSkill,
    Intent,
    SentenceError,
    Skill,
    SkillContext,
    SkillLoadError,
    load_skills,
    sentence_files,
)

SKILLS_DIR = Path(__file__).resolve().parents[2] / "skills"
TEA_PACKAGE = Path(__file__).resolve().parents[1] / "data" / "skill_package"
SPOKEN = "Hey Jarvis, um, how long should I steep my Earl Grey?"


@pytest.fixture(scope="module")
def builtin() -> list[Skill]:
    return load_skills(strict=True)


@pytest.fixture
def tea(monkeypatch: pytest.MonkeyPatch) -> Skill:
    """The example third-party skill of tests/data/skill_package, imported from its source."""
    monkeypatch.syspath_prepend(str(TEA_PACKAGE))
    from sottovoce_tea import TeaSkill

    return TeaSkill()


# --- the built-in skills declare theirs like any other -------------------------------------


def test_every_builtin_sentence_file_is_shared_or_named_by_one_skill(builtin: list[Skill]) -> None:
    named = [f.name for s in builtin for f in s.sentences] + [f.name for f in sentences.SHARED]
    assert len(named) == len(set(named))
    assert sorted(named) == sorted(p.name for p in SKILLS_DIR.glob("*.yaml"))
    assert all(f.package == "skills" for s in builtin for f in s.sentences)


def test_builtin_sentences_load_cleanly(builtin: list[Skill]) -> None:
    recognizer = IntentRecognizer.load(strict=True)
    assert recognizer.sentence_errors == ()
    handled = set().union(*(s.intents for s in builtin))
    assert recognizer.intent_names <= handled
    assert IntentRecognizer.load(skills=builtin).intent_names == recognizer.intent_names


def test_given_files_alone_without_skills(tmp_path: Path) -> None:
    path = tmp_path / "only.yaml"
    path.write_text("language: en\nintents:\n  x.hello:\n    data:\n      - sentences: [hello]\n")
    assert IntentRecognizer.load([path]).intent_names == {"x.hello"}


# --- a skill from outside the tree ---------------------------------------------------------


def test_a_third_party_skill_is_recognized_and_shapes_its_slots(
    builtin: list[Skill], tea: Skill
) -> None:
    recognizer = IntentRecognizer.load(skills=[*builtin, tea], strict=True)
    intent = recognizer.recognize(SPOKEN)
    assert (intent.name, dict(intent.slots), intent.source) == (
        "tea.steep", {"tea": "black", "minutes": 4}, "template"
    )  # fmt: skip
    assert dict(recognizer.recognize("steeping time for strong mint tea").slots) == {
        "tea": "herbal", "minutes": 7
    }  # fmt: skip
    # the built-in skills' intents are untouched
    timer = recognizer.recognize("set a timer for ten minutes")
    assert (timer.name, dict(timer.slots)) == ("timer.start", {"duration": "ten minutes"})


async def test_the_third_party_skill_answers(tea: Skill) -> None:
    said: list[str] = []

    @dataclass
    class Ctx:
        store: dict[str, Any]

        async def say(self, text: str) -> None:
            said.append(text)

        @property
        def storage(self) -> Any:
            outer = self

            class _S:
                def get(self, key: str, default: Any = None) -> Any:
                    return outer.store.get(key, default)

                def set(self, key: str, value: Any) -> None:
                    outer.store[key] = value

            return _S()

    ctx = Ctx({})
    await tea.handle(Intent("tea.steep", {"tea": "green", "minutes": 2}), ctx)  # type: ignore[arg-type]
    assert said == ["Steep green tea for 2 minutes."] and ctx.store == {"cups": 1}


def test_a_failing_slot_shaper_keeps_the_slots_as_read(
    builtin: list[Skill], tea: Skill, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    def broken(intent: str, slots: Mapping[str, Any], text: str) -> Mapping[str, Any]:
        raise RuntimeError("oops")

    monkeypatch.setattr(tea, "shape_slots", broken)
    recognizer = IntentRecognizer.load(skills=[*builtin, tea])
    with caplog.at_level(logging.ERROR):
        intent = recognizer.recognize(SPOKEN)
    assert (intent.name, dict(intent.slots)) == ("tea.steep", {"tea": "black"})
    assert "skill 'tea': shape_slots failed" in caplog.text


# --- a broken skill is named, with its file, and left out alone -----------------------------

GOOD_TEMPLATES = """
language: en
intents:
  bad.thing:
    data:
      - sentences:
          - "do the bad thing"
"""

BROKEN: dict[str, tuple[str | None, str]] = {
    # case: (the file's text, None: no file; what the error says)
    "missing": (None, "no such file"),
    "not_yaml": ("intents: [unclosed\n  x: {", "not valid YAML"),
    "not_a_mapping": ("- just\n- a list\n", "expected a mapping"),
    "no_data": ("intents:\n  bad.thing: hello\n", "intent bad.thing: expected `data:`"),
    "bad_template": (
        "intents:\n  bad.thing:\n    data:\n      - sentences: ['do the (bad thing']\n",
        "a template does not parse",
    ),
    "unknown_list": (
        "intents:\n  bad.thing:\n    data:\n      - sentences: ['do the {mood} thing']\n",
        "uses {mood}, defined nowhere",
    ),
    "unknown_rule": (
        "intents:\n  bad.thing:\n    data:\n      - sentences: ['<whatever> thing']\n",
        "uses <whatever>, defined nowhere",
    ),
    "foreign_intent": (
        "intents:\n  timer.start:\n    data:\n      - sentences: ['bad timer']\n",
        "sentences for timer.start, which the skill does not handle",
    ),
    "clashing_list": (
        GOOD_TEMPLATES + "lists:\n  when:\n    values: ['never']\n",
        "list 'when' is already defined differently by skill 'remind' (skills/remind.yaml)",
    ),
}


def _bad_skill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> Skill:
    package = tmp_path / f"broken_{case}"  # a name of its own: imported packages are cached
    package.mkdir()
    (package / "__init__.py").write_text("")
    text, _problem = BROKEN[case]
    if text is not None:
        (package / f"{case}.yaml").write_text(textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(tmp_path))

    class Bad(BaseSkill):
        name = "bad"
        intents = frozenset({"bad.thing"})
        sentences = sentence_files(f"broken_{case}", f"{case}.yaml")

        async def handle(self, intent: Intent, ctx: SkillContext) -> None:
            await ctx.say("bad")

    return Bad()


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_sentence_file_names_the_skill_and_file_and_the_others_load(
    case: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    builtin: list[Skill],
    tea: Skill,
    caplog: Any,
) -> None:
    bad = _bad_skill(tmp_path, monkeypatch, case)
    with caplog.at_level(logging.WARNING):
        recognizer = IntentRecognizer.load(skills=[*builtin, bad, tea])
    (error,) = recognizer.sentence_errors
    assert isinstance(error, SentenceError) and error.skill == "bad"
    assert error.file == f"broken_{case}/{case}.yaml"
    assert str(error).startswith(f"skill 'bad': sentence file broken_{case}/{case}.yaml: ")
    assert BROKEN[case][1] in str(error)
    assert str(error) in caplog.text and "its intents will not be recognized" in caplog.text
    assert "bad.thing" not in recognizer.intent_names
    assert recognizer.recognize("do the bad thing").name == "answer"
    assert recognizer.recognize(SPOKEN).name == "tea.steep"  # the other skills load
    assert recognizer.recognize("set a timer for ten minutes").name == "timer.start"
    with pytest.raises(SentenceError, match=f"skill 'bad': sentence file broken_{case}/{case}"):
        IntentRecognizer.load(skills=[*builtin, bad, tea], strict=True)


def test_no_such_package(builtin: list[Skill]) -> None:
    class Lost(BaseSkill):
        name = "lost"
        intents = frozenset({"lost.thing"})
        sentences = sentence_files("no_such_package_here", "lost.yaml")

        async def handle(self, intent: Intent, ctx: SkillContext) -> None:
            pass

    (error,) = IntentRecognizer.load(skills=[*builtin, Lost()]).sentence_errors
    assert str(error) == (
        "skill 'lost': sentence file no_such_package_here/lost.yaml: "
        "no package 'no_such_package_here'"
    )


def test_a_skill_that_needs_a_left_out_skills_list_is_left_out_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, builtin: list[Skill]
) -> None:
    package = tmp_path / "pair_skills"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.yaml").write_text(
        "intents:\n  a.x:\n    data:\n      - sentences: ['a {mood} (thing']\n"
        "lists:\n  mood:\n    values: [happy, sad]\n"
    )
    (package / "b.yaml").write_text(
        "intents:\n  b.x:\n    data:\n      - sentences: ['b {mood}']\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    class A(BaseSkill):
        name, intents = "a", frozenset({"a.x"})
        sentences = sentence_files("pair_skills", "a.yaml")

        async def handle(self, intent: Intent, ctx: SkillContext) -> None:
            pass

    class B(A):
        name, intents = "b", frozenset({"b.x"})
        sentences = sentence_files("pair_skills", "b.yaml")

    recognizer = IntentRecognizer.load(skills=[*builtin, A(), B()])
    assert [e.skill for e in recognizer.sentence_errors] == ["a", "b"]
    assert "uses {mood}, defined nowhere" in str(recognizer.sentence_errors[1])
    assert recognizer.recognize("what time is it").name == "time.query"


def test_a_broken_shared_file_is_the_assistants_fault_and_raises(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("intents:\n  x.y:\n    data:\n      - sentences: ['hello {nowhere}']\n")
    with pytest.raises(SentenceError, match=r"sentence file .*mine\.yaml: intent x\.y"):
        IntentRecognizer.load([path])


# --- optional members, explicit (no getattr) -----------------------------------------------


def test_base_skill_gives_the_optional_members() -> None:
    class Minimal(BaseSkill):
        name = "minimal"
        intents = frozenset({"minimal.x"})

        async def handle(self, intent: Intent, ctx: SkillContext) -> None:
            pass

    skill = Minimal()
    assert isinstance(skill, Skill)
    assert skill.sentences == ()
    slots = {"a": 1}
    assert skill.shape_slots("minimal.x", slots, "text") is slots


def test_a_skill_lacking_members_is_refused_with_their_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import skills.sdk as sdk

    class Old:  # the members of a skill before sentences came with it
        name = "old"
        intents = frozenset({"old.x"})

        async def handle(self, intent: Intent, ctx: SkillContext) -> None:
            pass

    @dataclass
    class EntryPoint:
        name: str = "old"
        value: str = "old_skill:Old"

        def load(self) -> type[Old]:
            return Old

    monkeypatch.setattr(sdk, "entry_points", lambda group: [EntryPoint()])
    with pytest.raises(SkillLoadError, match=r"lacks sentences, shape_slots \(subclass skills"):
        sdk.load_skills(strict=True)
    assert sdk.load_skills() == []  # logged and skipped, the assistant goes on


def test_the_hosts_context_and_volume_have_the_members_the_sdk_names(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from assistant.skill_host import SkillHost
    from assistant.store import Store
    from assistant.volume import OutputVolume
    from skills.sdk import VolumeControl
    from tests.unit.fakes import FakeClock

    async def say(text: str) -> None:
        pass

    async def ask(text: str) -> str | None:
        return None

    volume = OutputVolume(level=5)
    assert isinstance(volume, VolumeControl)  # audible() included
    host = SkillHost(
        load_skills(strict=True),
        IntentRecognizer.load(),
        Store.open(tmp_path),
        FakeClock(datetime(2026, 1, 1, tzinfo=UTC)),
        say=say,
        ask=ask,
        volume=volume,
    )
    ctx = host._contexts["volume"]
    assert ctx.volume is volume and ctx.media is None
