"""Every problem in a parsed library that an author should fix: references between steps and
flows, texts missing or untranslated, the coach's markup, the limits of buttons. The loader
(`flows.loader`) finds what is wrong in the files' structure; this finds the rest.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from flows import defaults, tokens
from flows.diagnostics import Problem
from flows.engine import ENGINE_TEXT_KEYS
from flows.messages import LABEL_LIMIT, plain_words
from flows.model import BACK, END, NO_ACK, REST, Flow, Library, Rule, StepSpec
from flows.overview import TEXT_KEYS as OVERVIEW_TEXT_KEYS
from flows.system import DIALOGUE_STEPS, DIALOGUES, REQUIRED_FLOWS
from flows.texts import LANGUAGES, SOURCE_LANGUAGE, Texts
from flows.transcript import TEXT_KEYS as TRANSCRIPT_TEXT_KEYS

# The longest run id the engine makes ("r" and the counter in base 36), for the token budget.
LONGEST_RUN_ID = "r" + "z" * 7

# Texts that code asks for by key, with the file that asks (flows/system.py names the flows).
CODE_TEXT_KEYS = (
    ("flows/engine.py", ENGINE_TEXT_KEYS),
    ("flows/transcript.py", TRANSCRIPT_TEXT_KEYS),
    ("flows/overview.py", OVERVIEW_TEXT_KEYS),
)


def validate(library: Library, shell_keys: tuple[str, ...] = ()) -> list[Problem]:
    """Every problem of a parsed library; `shell_keys`: texts the shell asks for by key."""
    problems: list[Problem] = []
    flows = library.flows
    texts = library.texts
    for flow_id, steps in REQUIRED_FLOWS.items():
        flow = flows.get(flow_id)
        if flow is None:
            problems.append(
                Problem(
                    path=f"flows/{flow_id}.yaml",
                    line=0,
                    code="KC017",
                    message="the engine needs this flow",
                )
            )
            continue
        for step_id in steps:
            if step_id not in flow.steps:
                problems.append(
                    Problem(
                        path=flow.path,
                        line=0,
                        code="KC017",
                        message=f"the engine needs step '{step_id}'",
                    )
                )
    for role in DIALOGUES:
        serving = [f for f in flows.values() if f.serves == role]
        if len(serving) != 1:
            problems.append(
                Problem(
                    path="flows/",
                    line=0,
                    code="KC017",
                    message=f"the engine needs one dialogue flow that serves '{role}', "
                    f"found {len(serving)}",
                )
            )
        for flow in serving[:1]:
            for step_id in DIALOGUE_STEPS.get(role, ()):
                if step_id not in flow.steps:
                    problems.append(
                        Problem(
                            path=flow.path,
                            line=0,
                            code="KC017",
                            message=f"the engine needs step '{step_id}'",
                        )
                    )
    used_keys: dict[str, tuple[str, int]] = {}
    for flow in flows.values():
        problems += _validate_flow(flow, flows, used_keys)
    for path, keys in (*CODE_TEXT_KEYS, ("bot/", shell_keys)):
        for key in keys:
            used_keys.setdefault(key, (path, 0))
    problems += _validate_texts(texts, used_keys, flows)
    return problems


def _rule_targets(rules: tuple[Rule, ...] | None) -> list[Rule]:
    return list(rules or ())


def _validate_flow(
    flow: Flow, flows: dict[str, Flow], used_keys: dict[str, tuple[str, int]]
) -> list[Problem]:
    problems: list[Problem] = []
    path = flow.path
    dialogue = flow.kind == "dialogue"
    # Only a dialogue goes back to where the person was; only other flows rest.
    back = (BACK,) if dialogue else (REST,)

    def need_step(target_flow: str, step_id: str, line: int, what: str) -> None:
        target = flows.get(target_flow)
        if target is None:
            problems.append(
                Problem(
                    path=path,
                    line=line,
                    code="KC011",
                    message=f"{what} names unknown flow '{target_flow}'",
                )
            )
        elif step_id not in (END, *back) and step_id not in target.steps:
            problems.append(
                Problem(
                    path=path,
                    line=line,
                    code="KC012",
                    message=f"{what} jumps to unknown step '{step_id}'",
                )
            )

    def use(key: str, line: int) -> None:
        used_keys.setdefault(key, (path, line))

    need_step(flow.id, flow.start, 0, "start")
    if flow.after is not None and flow.after not in flows:
        problems.append(
            Problem(
                path=path, line=0, code="KC011", message=f"after names unknown flow '{flow.after}'"
            )
        )
    for old, new in flow.moved.items():
        if old in flow.steps:
            problems.append(
                Problem(
                    path=path, line=0, code="KC016", message=f"moved: step '{old}' still exists"
                )
            )
        need_step(flow.id, new, 0, f"moved '{old}'")
    use(flow.title, 0)
    entries = {flow.start}
    for step in flow.steps.values():
        where = f"step '{step.id}'"
        for key in step.say + step.say_one_of:
            use(key, step.line)
        if step.skip_label:
            use(step.skip_label, step.line)
        if step.ack is not None and step.ack != NO_ACK:
            use(step.ack, step.line)
        if step.skip is not None:
            need_step(flow.id, step.skip, step.line, where)
        if step.words is not None:
            _check_words(path, flow, step, problems)
        for rule in _rule_targets(step.next):
            need_step(flow.id, rule.goto, rule.line, where)
            if rule.answer is not None and rule.answer not in flow.steps:
                problems.append(
                    Problem(
                        path=path,
                        line=rule.line,
                        code="KC015",
                        message=f"{where} looks at the answer of unknown step '{rule.answer}'",
                    )
                )
        schedules = [step.schedule] + [o.schedule for o in step.options]
        for schedule in filter(None, schedules):
            need_step(
                schedule.flow, schedule.step, schedule.line, f"{where} schedules a check-in that"
            )
            if schedule.flow == flow.id:
                entries.add(schedule.step)
            if schedule.at_answer and step.expect not in ("when", "clock"):
                problems.append(
                    Problem(
                        path=path,
                        line=schedule.line,
                        code="KC034",
                        message=f"{where} schedules 'at: answer' but does not ask for a moment",
                    )
                )
        if step.do is not None and (not dialogue or step.expect != "text"):
            problems.append(
                Problem(
                    path=path,
                    line=step.line,
                    code="KC029",
                    message=f"{where}: 'do' needs a dialogue step that expects text",
                )
            )
        for option in step.options:
            use(option.label or f"{flow.id}:{step.id}.{option.id}", option.line or step.line)
            if option.typed:
                use(option.typed, option.line or step.line)
            if option.do is not None and not dialogue:
                problems.append(
                    Problem(
                        path=path,
                        line=option.line,
                        code="KC029",
                        message=f"option '{option.id}': 'do' is for dialogue flows",
                    )
                )
            if option.flow is not None and flows.get(option.flow, flow).kind == "dialogue":
                problems.append(
                    Problem(
                        path=path,
                        line=option.line,
                        code="KC019",
                        message=f"option '{option.id}' enters a dialogue flow; "
                        "the engine asks those itself",
                    )
                )
            for rule in _rule_targets(option.next):
                need_step(flow.id, rule.goto, rule.line, f"option '{option.id}'")
            if option.flow is not None and option.flow not in flows:
                problems.append(
                    Problem(
                        path=path,
                        line=option.line,
                        code="KC011",
                        message=f"option '{option.id}' enters unknown flow '{option.flow}'",
                    )
                )
            token = tokens.Token(run=LONGEST_RUN_ID, step=step.id, option=option.id)
            if not token.fits():
                problems.append(
                    Problem(
                        path=path,
                        line=option.line or step.line,
                        code="KC061",
                        message=f"button data '{token}' is over {tokens.LIMIT} "
                        "bytes: shorten the step or option id",
                    )
                )
        leaves_by_option = step.options and all(
            o.next is not None or o.flow is not None for o in step.options
        )
        if step.next is None and not leaves_by_option:
            problems.append(
                Problem(
                    path=path,
                    line=step.line,
                    code="KC013",
                    message=f"{where} is a dead end: it has no 'next'",
                )
            )
    # Other flows' check-ins enter here too.
    for other in flows.values():
        for step in other.steps.values():
            for schedule in filter(None, [step.schedule] + [o.schedule for o in step.options]):
                if schedule.flow == flow.id:
                    entries.add(schedule.step)
    entries.update(flow.moved.values())
    if flow.serves is not None:  # steps the engine opens by name
        entries.update(DIALOGUE_STEPS.get(flow.serves, ()))
    reached = _reachable(flow, entries)
    for step in flow.steps.values():
        if step.id not in reached:
            problems.append(
                Problem(
                    path=path,
                    line=step.line,
                    code="KC014",
                    message=f"step '{step.id}' can never be reached",
                )
            )
    return problems


def _reachable(flow: Flow, entries: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = [e for e in entries if e in flow.steps]
    while todo:
        step_id = todo.pop()
        if step_id in seen:
            continue
        seen.add(step_id)
        step = flow.steps[step_id]
        targets = [r.goto for r in _rule_targets(step.next)]
        targets += [r.goto for o in step.options for r in _rule_targets(o.next)]
        if step.skip:
            targets.append(step.skip)
        todo += [t for t in targets if t in flow.steps]
    return seen


_ANSWER_REF = re.compile(r"answers(?:\.([a-z0-9_]+)|\[['\"]([a-z0-9_-]+)['\"]\])")


def _validate_texts(
    texts: Texts, used_keys: dict[str, tuple[str, int]], flows: dict[str, Flow]
) -> list[Problem]:
    problems: list[Problem] = []
    source_keys = set(texts.catalogs.get(SOURCE_LANGUAGE, {}))
    for lang in LANGUAGES:
        keys = set(texts.catalogs.get(lang, {}))
        for key, (path, line) in sorted(used_keys.items()):
            if key not in keys and not texts.variants(lang, key):  # a text, or a group of them
                problems.append(
                    Problem(
                        path=path,
                        line=line,
                        code="KC050",
                        message=f"text '{key}' is missing in {lang}",
                    )
                )
        if lang != SOURCE_LANGUAGE:
            for key in sorted(source_keys - keys):
                source = texts.source(SOURCE_LANGUAGE, key)
                problems.append(
                    Problem(
                        path=source.path,
                        line=source.line,
                        code="KC051",
                        message=f"'{key}' has no translation in {lang}",
                    )
                )
            for key in sorted(keys - source_keys):
                source = texts.source(lang, key)
                problems.append(
                    Problem(
                        path=source.path,
                        line=source.line,
                        code="KC052",
                        message=f"'{key}' is not in the {SOURCE_LANGUAGE} source",
                    )
                )
        for key in sorted(keys):
            problems += _check_template(texts, lang, key, flows)
    labels = {k for k in used_keys if _is_label(k, flows)}
    for lang in LANGUAGES:
        for key in labels:
            if texts.has(lang, key):
                label = _render_sample(texts, lang, key)
                if label is not None and len(label) > LABEL_LIMIT:
                    source = texts.source(lang, key)
                    problems.append(
                        Problem(
                            path=source.path,
                            line=source.line,
                            code="KC060",
                            message=f"button label '{label}' is longer than "
                            f"{LABEL_LIMIT} characters",
                        )
                    )
    return problems


COMMON_LABELS = {
    "when.morgen",
    "when.weekend",
    "when.volgende-week",
    "crisis.pause",
    "crisis.continue",
    "menu.resume",
    "language.nl",
    "language.en",
}


def _is_label(key: str, flows: dict[str, Flow]) -> bool:
    name, _, dotted = key.partition(":")
    if name == "common":
        return dotted.startswith(("buttons.", "scale.")) or dotted in COMMON_LABELS
    flow = flows.get(name)
    if flow is None:
        return False
    step_id, _, option = dotted.rpartition(".")
    step = flow.steps.get(step_id)
    if step is not None and step.option(option) is not None:
        return True
    if any(o.label == key for f in flows.values() for s in f.steps.values() for o in s.options):
        return True
    return any(s.skip_label == key for s in flow.steps.values())


class _SampleAnswer:
    """Stands in for any answer when a template is rendered for checking."""

    value = "2026-03-03T20:00:00+01:00"
    text = "…"
    items = ("…",)
    at = datetime(2026, 3, 3, 19, 0, tzinfo=UTC)

    def __bool__(self) -> bool:
        return True


class _SampleAnswers(dict[str, "_SampleAnswer"]):
    def __getattr__(self, name: str) -> _SampleAnswer:
        return _SampleAnswer()

    def __getitem__(self, name: str) -> _SampleAnswer:
        return _SampleAnswer()


def _sample_context() -> dict[str, Any]:
    return {
        "answers": _SampleAnswers(),
        "late": False,
        "yesterday": False,
        "until": "maandag 7 december om 08:00",
        "quiet": {"start": "22:00", "end": "08:00"},
        "start": "22:00",
        "end": "08:00",
        "time": "20:00",
        "timezone": defaults.TIMEZONE,
        "moment": "vrijdag 5 december om 20:00",
        "question": "…",
        "answer": "…",
        "flow_title": "…",
        "date": "3 maart",
        "count": 2,
        "declined": True,
        "folder": "/home/…/kern-coach-export",
        "kind": "herinnering",
        "status": "gepland",
    }


def _render_sample(texts: Texts, lang: str, key: str) -> str | None:
    try:
        return texts.plain(lang, key, ZoneInfo(defaults.TIMEZONE), **_sample_context())
    except Exception:  # reported by _check_template
        return None


def _check_template(texts: Texts, lang: str, key: str, flows: dict[str, Flow]) -> list[Problem]:
    source = texts.source(lang, key)
    try:
        parsed = texts.parse(lang, key, ZoneInfo(defaults.TIMEZONE), **_sample_context())
    except jinja2.TemplateSyntaxError as error:
        return [
            Problem(
                path=source.path,
                line=source.line + max(error.lineno - 1, 0),
                code="KC053",
                message=f"'{key}' is not a valid template: {error.message}",
            )
        ]
    except Exception as error:  # an undefined name, a bad filter: the author must see it
        return [
            Problem(
                path=source.path,
                line=source.line,
                code="KC054",
                message=f"'{key}' fails to render: {error}",
            )
        ]
    problems = []
    name = key.partition(":")[0]
    flow = flows.get(name)
    for match in _ANSWER_REF.finditer(source.source):
        step_id = match.group(1) or match.group(2)
        if flow is not None and step_id not in flow.steps:
            problems.append(
                Problem(
                    path=source.path,
                    line=source.line,
                    code="KC055",
                    message=f"'{key}' quotes the answer of unknown step '{step_id}'",
                )
            )
    for flaw in parsed.flaws:
        problems.append(
            Problem(
                path=source.path,
                line=source.line,
                code=flaw.code,
                message=f"'{key}' {flaw.message}",
            )
        )
    words = plain_words(parsed.paragraphs)
    if "!" in words and lang in LANGUAGES:
        problems.append(
            Problem(
                path=source.path,
                line=source.line,
                code="KC056",
                message=f"'{key}' has an exclamation mark; the coach speaks calmly",
            )
        )
    if not words:
        problems.append(
            Problem(path=source.path, line=source.line, code="KC057", message=f"'{key}' is empty")
        )
    return problems


def _check_words(path: str, flow: Flow, step: StepSpec, problems: list[Problem]) -> None:
    """`words:` names a step of the same flow that reads text, on a step that offers a choice."""
    target = flow.steps.get(step.words or "")
    if step.expect not in ("choice", "scale") or target is None or target.expect != "text":
        problems.append(
            Problem(
                path=path,
                line=step.line,
                code="KC035",
                message=(
                    f"step '{step.id}': words: needs a choice or scale step and names a step "
                    f"of this flow that expects text"
                ),
            )
        )
