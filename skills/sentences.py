"""The language of every loaded skill, read, checked and merged for the recognizer.

Each skill names its sentence files (`Skill.sentences`, files inside its own package); beside
them every skill may use the shared files (`SHARED`: the lists and expansion rules of
`_common.yaml`, and `examples.yaml`). A sentence file is hassil's YAML (`intents`, `lists`,
`expansion_rules`) plus an optional `examples:` section, sentences by intent for the semantic
fallback.

A skill's language is taken whole or not at all. It is left out, with a `SentenceError` that
names the skill and the file (logged, and kept in `Language.errors`), when one of its files
- cannot be read or is not YAML of that shape;
- has templates or examples for an intent the skill does not handle;
- defines a list or expansion rule that a shared file, a built-in skill or a skill checked
  before it already defines differently (lists and rules are one namespace for all skills:
  give yours a name of its own, or define it inside the intent's `data` block);
- has a template that does not parse, or that uses a list or rule nobody defines (hassil would
  only fail on it at the first utterance, for every intent).
The other skills' languages load as usual. A problem in a shared file, or in files given by
path, raises: those are the assistant's own.

Files are merged in name order, shared files first, whatever package and skill they come from,
so that the merged language (and the semantic examples drawn from it) depends only on which
files are loaded: a template's order breaks ties between equally good matches.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path, PurePosixPath
from typing import Any, Final

from hassil import Intents
from hassil.expression import Expression, Group, ListReference, RuleReference
from hassil.intents import TextSlotList

from skills.sdk import SentenceError, SentenceFile, Skill, sentence_files

_LOGGER = logging.getLogger(__name__)
# PyYAML ships no type stubs and the environment has none; hassil depends on it anyway.
_yaml: Any = importlib.import_module("yaml")

SHARED: Final = sentence_files("skills", "_common.yaml", "examples.yaml")
_BUILT_IN: Final = "skills."  # the module prefix of the built-in skills


@dataclass(frozen=True, slots=True)
class Language:
    """What the recognizer is built from: the merged templates, the listed examples by
    intent, the skill that shapes each intent's slots, and the skills left out."""

    intents: Intents  # `document` parsed, templates included
    document: dict[str, Any]  # hassil's dict: language, intents, lists, expansion_rules
    examples: dict[str, list[str]]  # the files' `examples:`, by intent, as written
    shapers: dict[str, Skill] = field(default_factory=dict)  # intent -> its skill
    errors: tuple[SentenceError, ...] = ()


@dataclass(frozen=True, slots=True)
class _File:
    label: str  # as messages name it: "skills/clock.yaml"
    order: tuple[str, str]  # (file name, label): the merge order
    data: Mapping[str, Any]
    skill: Skill | None  # None: shared, or given by path


def gather(
    skills: Iterable[Skill],
    *,
    shared: Sequence[SentenceFile] = SHARED,
    paths: Sequence[Path] = (),
    strict: bool = False,
) -> Language:
    """The shared files, the files at `paths` and the sentence files of `skills`, merged.

    A skill whose language cannot be used is left out with a logged `SentenceError`;
    `strict=True` raises the first one instead.
    """
    base = [_read_shared(f) for f in shared] + [_read_path(p) for p in paths]
    ordered = sorted(enumerate(skills), key=lambda e: (not _built_in(e[1]), e[0]))
    errors: list[_SkillError] = []
    files: list[_File] = []
    for _i, skill in ordered:
        try:
            files.extend(_read_skill(skill))
        except _SkillError as err:
            errors.append(err)
    files = _without_conflicts(base, files, errors)
    while True:  # leaving a skill out may leave another without a list it used
        merged = _merge(base, files)
        intents = Intents.from_dict(merged.document)
        bad = _check(intents, merged)
        if not bad:
            break
        errors.extend(bad)
        gone = {id(e.skill_obj) for e in bad}
        files = [f for f in files if id(f.skill) not in gone]
    if errors and strict:
        raise errors[0]
    for error in errors:
        _LOGGER.warning("%s; its intents will not be recognized", error)
    left_out = {id(e.skill_obj) for e in errors}
    shapers: dict[str, Skill] = {}
    for _i, skill in ordered:
        if id(skill) not in left_out:
            for name in sorted(skill.intents):
                shapers.setdefault(name, skill)
    return Language(intents, merged.document, merged.examples, shapers, tuple(errors))


def _built_in(skill: Skill) -> bool:
    return type(skill).__module__.startswith(_BUILT_IN)


def _read_shared(file: SentenceFile) -> _File:
    try:
        data = _parse(file.read())
    except Exception as err:
        raise SentenceError(None, file, _problem(err)) from err
    return _File(str(file), (PurePosixPath(file.name).name, str(file)), data, None)


def _read_path(path: Path) -> _File:
    try:
        data = _parse(path.read_text(encoding="utf-8"))
    except Exception as err:
        raise SentenceError(None, path, _problem(err)) from err
    return _File(str(path), (path.name, str(path)), data, None)


def _read_skill(skill: Skill) -> list[_File]:
    declared = tuple(skill.sentences)
    for file in declared:
        if not isinstance(file, SentenceFile):
            raise _SkillError(skill, repr(file), "not a SentenceFile: use sentence_files()")
    out: list[_File] = []
    for file in declared:
        try:
            data = _parse(file.read())
            _check_owned(data, skill)
        except Exception as err:
            raise _SkillError(skill, file, _problem(err)) from err
        out.append(_File(str(file), (PurePosixPath(file.name).name, str(file)), data, skill))
    return out


class _SkillError(SentenceError):
    """A `SentenceError` that remembers the skill object, to leave its files out."""

    def __init__(self, skill: Skill, file: SentenceFile | str, problem: str) -> None:
        super().__init__(skill.name, file, problem)
        self.skill_obj = skill


def _problem(err: Exception) -> str:
    if isinstance(err, ModuleNotFoundError):
        return f"no package {err.name!r}"
    if isinstance(err, FileNotFoundError):
        return "no such file"
    if isinstance(err, _yaml.YAMLError):
        return "not valid YAML: " + " ".join(str(err).split())
    return str(err) or type(err).__name__


def _parse(text: str) -> dict[str, Any]:
    """A sentence file's YAML, checked for the shape hassil and the recognizer expect."""
    data = _yaml.safe_load(text)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError("expected a mapping with intents, lists, expansion_rules or examples")
    intents = _mapping(data, "intents")
    for name, body in intents.items():
        blocks = body.get("data") if isinstance(body, dict) else None
        if not isinstance(blocks, list) or not blocks:
            raise ValueError(f"intent {name}: expected `data:`, a list of sentence blocks")
        for block in blocks:
            sentences = block.get("sentences") if isinstance(block, dict) else None
            if not isinstance(sentences, list) or not all(isinstance(s, str) for s in sentences):
                raise ValueError(
                    f"intent {name}: each data block needs `sentences:`, a list of text"
                )
    for name, body in _mapping(data, "lists").items():
        if not isinstance(body, dict):
            raise ValueError(f"list {name}: expected values, range or wildcard")
    for name, body in _mapping(data, "expansion_rules").items():
        if not isinstance(body, str):
            raise ValueError(f"expansion rule {name}: expected text")
    for name, body in _mapping(data, "examples").items():
        if body is not None and (
            not isinstance(body, list) or not all(isinstance(s, str) for s in body)
        ):
            raise ValueError(f"examples of {name}: expected a list of sentences")
    # Lists and rules are parsed when the document is: a broken one is this file's fault.
    Intents.from_dict(
        {"language": "en", "lists": data.get("lists") or {},
         "expansion_rules": data.get("expansion_rules") or {}, "intents": {}}
    )  # fmt: skip
    return data


def _mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"`{key}:` must be a mapping")
    return value


def _check_owned(data: Mapping[str, Any], skill: Skill) -> None:
    named = set(data.get("intents") or {}) | set(data.get("examples") or {})
    foreign = sorted(named - set(skill.intents))
    if foreign:
        raise ValueError(
            f"sentences for {', '.join(foreign)}, which the skill does not handle "
            f"(its intents: {', '.join(sorted(skill.intents))})"
        )


def _without_conflicts(
    base: Sequence[_File], files: Sequence[_File], errors: list[_SkillError]
) -> list[_File]:
    """`files` less those of skills that redefine a list or rule defined before them."""
    defined: dict[tuple[str, str], tuple[Any, str]] = {}  # (kind, name) -> (body, where)

    def clashes(f: _File) -> Iterator[str]:
        for kind, key in (("list", "lists"), ("expansion rule", "expansion_rules")):
            for name, body in (f.data.get(key) or {}).items():
                seen = defined.get((kind, name))
                if seen is not None and seen[0] != body:
                    yield f"{kind} {name!r} is already defined differently by {seen[1]}"

    def define(f: _File) -> None:
        owner = f"skill {f.skill.name!r} ({f.label})" if f.skill is not None else f.label
        for kind, key in (("list", "lists"), ("expansion rule", "expansion_rules")):
            for name, body in (f.data.get(key) or {}).items():
                defined.setdefault((kind, name), (body, owner))

    for f in base:
        define(f)
    kept: list[_File] = []
    for _key, group in groupby(files, key=lambda f: id(f.skill)):  # one skill's files at a time
        mine = list(group)
        problem = next(((f, c) for f in mine for c in clashes(f)), None)
        if problem is not None:
            skill = problem[0].skill
            assert skill is not None
            errors.append(
                _SkillError(skill, problem[0].label, f"{problem[1]}; give yours a name of its own")
            )
            continue
        for f in mine:
            define(f)
        kept.extend(mine)
    return kept


@dataclass(slots=True)
class _Merged:
    document: dict[str, Any]
    examples: dict[str, list[str]]
    blocks: dict[str, list[_File]]  # intent -> the file of each of its data blocks, in order
    definers: dict[tuple[str, str], _File]  # ("list" | "rule", name) -> the first file defining it


def _merge(base: Sequence[_File], files: Sequence[_File]) -> _Merged:
    """`base` in its order, then `files` in name order."""
    merged = _Merged({"language": "en", "intents": {}, "lists": {}, "expansion_rules": {}},
                     {}, {}, {})  # fmt: skip
    document = merged.document
    for f in [*base, *sorted(files, key=lambda f: f.order)]:
        data = f.data
        for name, body in (data.get("intents") or {}).items():
            document["intents"].setdefault(name, {"data": []})["data"].extend(body["data"])
            merged.blocks.setdefault(name, []).extend([f] * len(body["data"]))
        for kind, key in (("list", "lists"), ("rule", "expansion_rules")):
            for name in data.get(key) or {}:
                merged.definers.setdefault((kind, name), f)
        document["lists"].update(data.get("lists") or {})
        document["expansion_rules"].update(data.get("expansion_rules") or {})
        for name, sentences in (data.get("examples") or {}).items():
            merged.examples.setdefault(str(name), []).extend(str(s) for s in sentences or ())
    return merged


def _check(intents: Intents, merged: _Merged) -> list[_SkillError]:
    """Parse every template (hassil does it lazily, at the first utterance) and look up every
    list and rule it uses; the skills at fault. A fault in a shared file raises."""
    bad: dict[int, _SkillError] = {}

    def fault(f: _File, problem: str) -> None:
        if f.skill is None:
            raise SentenceError(None, f.label, problem)
        bad.setdefault(id(f.skill), _SkillError(f.skill, f.label, problem))

    all_lists = set(intents.slot_lists)
    all_rules = set(intents.expansion_rules)
    for name, intent in intents.intents.items():
        for block, f in zip(intent.data, merged.blocks[name], strict=True):
            all_lists |= set(block.slot_lists)
            all_rules |= set(block.expansion_rules)
            try:
                sentences = block.sentences
            except Exception as err:
                fault(f, f"intent {name}: a template does not parse: {err}")
                continue
            lists = set(intents.slot_lists) | set(block.slot_lists)
            rules = set(intents.expansion_rules) | set(block.expansion_rules)
            for sentence in sentences:
                missing = _missing(sentence.expression, lists, rules)
                if missing:
                    fault(f, f"intent {name}: {sentence.text!r} uses {missing}, defined nowhere")
    # Rules and list values may use rules and lists too (those of a data block included).
    for rule_name, rule in intents.expansion_rules.items():
        missing = _missing(rule.expression, all_lists, all_rules)
        if missing:
            fault(merged.definers[("rule", rule_name)], f"rule <{rule_name}> uses {missing}, "
                  "defined nowhere")  # fmt: skip
    for list_name, slot_list in intents.slot_lists.items():
        if not isinstance(slot_list, TextSlotList):
            continue
        for value in slot_list.values:
            missing = _missing(value.text_in, all_lists, all_rules)
            if missing:
                fault(merged.definers[("list", list_name)], f"list {{{list_name}}} uses "
                      f"{missing}, defined nowhere")  # fmt: skip
    return list(bad.values())


def _missing(expr: Expression, lists: set[str], rules: set[str]) -> str:
    """The first list or rule `expr` uses that is not defined, as written ("{teas}"), or ""."""
    if isinstance(expr, ListReference):
        if expr.list_name not in lists and not expr.is_inline_range:
            return f"{{{expr.list_name}}}"
    elif isinstance(expr, RuleReference):
        if expr.rule_name not in rules:
            return f"<{expr.rule_name}>"
    elif isinstance(expr, Group):
        for item in expr.items:
            found = _missing(item, lists, rules)
            if found:
                return found
    return ""
