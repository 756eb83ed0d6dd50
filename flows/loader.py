"""Turns the author's files into a `Library`, and finds every problem in them (the structure
here, the rest in `flows.validation`).

No file is opened here: the shell reads `flows/*.yaml`, `flows/safety/*.yaml` (and the semantic
layer's examples in `flows/safety/semantic/`) and
`locales/<lang>/*.yaml` and hands their texts in, keyed by their path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from flows import moments, safety, safety_semantic, validation, yaml_lines
from flows.diagnostics import Problem
from flows.errors import ContentError
from flows.model import (
    EXPECTS,
    FLOW_KINDS,
    NO_ACK,
    Flow,
    Library,
    Option,
    Rule,
    Schedule,
    StepSpec,
)
from flows.system import DIALOGUES, OPTION_ACTIONS, STEP_ACTIONS
from flows.texts import LANGUAGES, Texts, TextSource

SPEC_VERSION = 2


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 2 adds dialogue flows, the engine's own questions as author files (`kind:
    dialogue`, `serves:`, an option's `label:` and `do:`, a step's `do:`, `next: back`). A
    version 1 file uses none of these, so it reads the same: only its number changes."""
    data["spec_version"] = 2
    return data


# Each function turns a flow file of spec_version N into N + 1. When the format changes, add one
# here with a comment saying why, so old files keep working.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}

FLOW_FIELDS = {
    "spec_version",
    "id",
    "version",
    "kind",
    "serves",
    "title",
    "start",
    "after",
    "moved",
    "steps",
}
STEP_FIELDS = {
    "say",
    "say_one_of",
    "expect",
    "options",
    "next",
    "skip",
    "skip_label",
    "schedule",
    "do",
    "ack",
    "words",
}
OPTION_FIELDS = {
    "id",
    "label",
    "next",
    "flow",
    "command",
    "sets",
    "cancel",
    "schedule",
    "do",
    "typed",
}
SCHEDULE_FIELDS = {"flow", "step", "kind", "after", "at", "run", "every"}
OPTION_COMMANDS = ("mine", "export", "pause", "resume", "forget", "help", "time", "language")
PROFILE_FIELDS = {"consent": ("given", "declined")}


def parse_library(
    sources: Mapping[str, str],
    *,
    defer_safety: bool = False,
    encoder: safety_semantic.Encoder | None = None,
) -> Library:
    """The library, or ContentError listing every structural problem. With `defer_safety`, the
    crisis rules are compiled (and checked) on first use instead: see `safety.SafetyCheck`. With
    an `encoder` (a sentence-embedding model, handed in by the shell), the crisis check has its
    semantic layer too; the examples are always checked."""
    problems: list[Problem] = []
    flows = _parse_flows(sources, problems)
    texts = _parse_texts(sources, problems)
    safety_sources = {p: t for p, t in sources.items() if re.fullmatch(r"flows/safety/[^/]+", p)}
    example_sources = {
        p: t for p, t in sources.items() if p.startswith(safety_semantic.EXAMPLES_DIR + "/")
    }
    rules: safety.SafetyRules | safety.DeferredRules | None = None
    if defer_safety:
        rules = safety.DeferredRules(safety_sources)
    else:
        try:
            rules = safety.parse_safety_rules(safety_sources)
        except ContentError as error:
            problems += error.problems
    examples, example_problems = safety_semantic.read_examples(example_sources)
    problems += example_problems
    if problems or rules is None:
        raise ContentError(problems)
    semantic = safety_semantic.SemanticLayer(examples, encoder) if encoder and examples else None
    return Library(flows=flows, texts=texts, safety=safety.SafetyCheck(rules, semantic))


def check_sources(sources: Mapping[str, str], shell_keys: tuple[str, ...] = ()) -> list[Problem]:
    """Every problem an author should fix: structure, references, texts, limits."""
    try:
        library = parse_library(sources)
    except ContentError as error:
        return error.problems
    return validation.validate(library, shell_keys)


# --- parsing ------------------------------------------------------------------------------------


def _parse_flows(sources: Mapping[str, str], problems: list[Problem]) -> dict[str, Flow]:
    flows: dict[str, Flow] = {}
    for path, text in sorted(sources.items()):
        if not re.fullmatch(r"flows/[^/]+\.yaml", path):
            continue
        data = _load_yaml(path, text, problems)
        if data is None:
            continue
        flow = _parse_flow(path, data, problems)
        if flow is not None:
            flows[flow.id] = flow
    return flows


def _load_yaml(path: str, text: str, problems: list[Problem]) -> Any:
    try:
        data = yaml_lines.load(text)
    except yaml.YAMLError as error:
        problems.append(
            Problem(
                path=path,
                line=yaml_lines.error_line(error),
                code="KC001",
                message=f"not valid YAML: {error}",
            )
        )
        return None
    if not isinstance(data, dict):
        problems.append(
            Problem(path=path, line=1, code="KC002", message="the file must be a mapping")
        )
        return None
    return data


def _unknown_fields(
    path: str, data: Any, allowed: set[str], what: str, problems: list[Problem]
) -> None:
    for key in data:
        if key not in allowed:
            problems.append(
                Problem(
                    path=path,
                    line=data.line_of(key),
                    code="KC003",
                    message=f"{what} has an unknown field '{key}'",
                )
            )


def _parse_flow(path: str, data: Any, problems: list[Problem]) -> Flow | None:
    version = data.get("spec_version")
    if not isinstance(version, int) or version > SPEC_VERSION or version < 1:
        problems.append(
            Problem(
                path=path,
                line=data.line_of("spec_version"),
                code="KC004",
                message=f"spec_version must be 1 to {SPEC_VERSION}",
            )
        )
        return None
    while version < SPEC_VERSION:
        data = MIGRATIONS[version](data)
        version += 1
    _unknown_fields(path, data, FLOW_FIELDS, "the flow", problems)
    flow_id = path.removeprefix("flows/").removesuffix(".yaml")
    if data.get("id") != flow_id:
        problems.append(
            Problem(
                path=path,
                line=data.line_of("id"),
                code="KC005",
                message=f"id must be '{flow_id}', the file's name",
            )
        )
    for required in ("version", "kind", "title", "start", "steps"):
        if required not in data:
            problems.append(
                Problem(path=path, line=1, code="KC006", message=f"the flow needs '{required}'")
            )
    if data.get("kind") not in FLOW_KINDS:
        problems.append(
            Problem(
                path=path,
                line=data.line_of("kind"),
                code="KC007",
                message=f"kind must be one of {', '.join(FLOW_KINDS)}",
            )
        )
    serves = data.get("serves")
    if (data.get("kind") == "dialogue") != (serves is not None) or (
        serves is not None and serves not in DIALOGUES
    ):
        problems.append(
            Problem(
                path=path,
                line=data.line_of("serves"),
                code="KC018",
                message="a dialogue flow, and only one, says which it serves: "
                + ", ".join(DIALOGUES),
            )
        )
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, yaml_lines.LineDict) or not raw_steps:
        problems.append(
            Problem(
                path=path,
                line=data.line_of("steps"),
                code="KC008",
                message="steps must be a mapping of step id to step",
            )
        )
        return None
    steps = {}
    for step_id, raw in raw_steps.items():
        line = raw_steps.line_of(step_id)
        if not isinstance(raw, dict):
            problems.append(
                Problem(
                    path=path,
                    line=line,
                    code="KC008",
                    message=f"step '{step_id}' must be a mapping",
                )
            )
            continue
        steps[step_id] = _parse_step(path, flow_id, str(step_id), raw, line, problems)
    moved = data.get("moved") or {}
    return Flow(
        id=flow_id,
        version=int(data.get("version") or 1),
        kind=str(data.get("kind")),
        title=_text_key(flow_id, str(data.get("title", ""))),
        start=str(data.get("start", "")),
        after=data.get("after"),
        moved={str(k): str(v) for k, v in moved.items()},
        steps=steps,
        path=path,
        serves=str(serves) if serves is not None else None,
    )


def _text_key(flow_id: str, key: str) -> str:
    return key if ":" in key else f"{flow_id}:{key}"


def _keys(flow_id: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    return tuple(_text_key(flow_id, str(k)) for k in items)


def _parse_step(
    path: str, flow_id: str, step_id: str, raw: Any, line: int, problems: list[Problem]
) -> StepSpec:
    _unknown_fields(path, raw, STEP_FIELDS, f"step '{step_id}'", problems)
    expect = raw.get("expect")
    if expect is not None and expect not in EXPECTS:
        problems.append(
            Problem(
                path=path,
                line=raw.line_of("expect"),
                code="KC020",
                message=f"step '{step_id}' expects '{expect}'; known: {', '.join(EXPECTS)}",
            )
        )
    options: list[Option] = []
    for raw_option in raw.get("options") or []:
        option = _parse_option(path, flow_id, step_id, raw_option, raw, problems)
        if option is not None:
            options.append(option)
    if expect == "choice" and not options:
        problems.append(
            Problem(
                path=path,
                line=line,
                code="KC021",
                message=f"step '{step_id}' is a choice without options",
            )
        )
    if options and expect != "choice":
        problems.append(
            Problem(
                path=path,
                line=raw.line_of("options"),
                code="KC022",
                message=f"step '{step_id}' has options but expects '{expect}'",
            )
        )
    return StepSpec(
        id=step_id,
        say=_keys(flow_id, raw.get("say")),
        say_one_of=_keys(flow_id, raw.get("say_one_of")),
        expect=expect,
        options=tuple(options),
        next=_parse_next(path, raw, "next", problems),
        skip=raw.get("skip"),
        skip_label=_text_key(flow_id, raw["skip_label"]) if raw.get("skip_label") else None,
        schedule=_parse_schedule(path, flow_id, raw, problems),
        line=line,
        do=_action(path, raw, STEP_ACTIONS, problems),
        ack=_ack(flow_id, raw.get("ack")),
        words=raw.get("words"),
    )


def _ack(flow_id: str, value: Any) -> str | None:
    """`ack: group` names a group of texts (one is said after an answer), `ack: none` none."""
    if value is None or value is False:
        return NO_ACK if value is False else None
    return NO_ACK if str(value) == NO_ACK else _text_key(flow_id, str(value))


def _action(path: str, raw: Any, known: tuple[str, ...], problems: list[Problem]) -> str | None:
    do = raw.get("do")
    if do is not None and do not in known:
        problems.append(
            Problem(
                path=path,
                line=raw.line_of("do"),
                code="KC028",
                message=f"do '{do}'; known: {', '.join(known)}",
            )
        )
    return str(do) if do is not None else None


def _parse_option(
    path: str, flow_id: str, step_id: str, raw: Any, step_raw: Any, problems: list[Problem]
) -> Option | None:
    if isinstance(raw, str):
        return Option(id=raw, line=getattr(step_raw.get("options"), "line", 0))
    if not isinstance(raw, yaml_lines.LineDict) or "id" not in raw:
        problems.append(
            Problem(
                path=path,
                line=step_raw.line_of("options"),
                code="KC023",
                message=f"an option of step '{step_id}' needs an id",
            )
        )
        return None
    _unknown_fields(path, raw, OPTION_FIELDS, f"option '{raw['id']}'", problems)
    command = raw.get("command")
    if command is not None and command not in OPTION_COMMANDS:
        problems.append(
            Problem(
                path=path,
                line=raw.line_of("command"),
                code="KC024",
                message=f"unknown command '{command}'",
            )
        )
    sets = dict(raw.get("sets") or {})
    for name, value in sets.items():
        if value not in PROFILE_FIELDS.get(name, ()):
            problems.append(
                Problem(
                    path=path,
                    line=raw.line_of("sets"),
                    code="KC025",
                    message=f"option '{raw['id']}' cannot set {name} to {value!r}",
                )
            )
    return Option(
        id=str(raw["id"]),
        next=_parse_next(path, raw, "next", problems),
        flow=raw.get("flow"),
        command=command,
        sets=sets,
        cancel=tuple(raw.get("cancel") or ()),
        schedule=_parse_schedule(path, flow_id, raw, problems),
        label=_text_key(flow_id, str(raw["label"])) if raw.get("label") else None,
        do=_action(path, raw, OPTION_ACTIONS, problems),
        typed=_text_key(flow_id, str(raw["typed"])) if raw.get("typed") else None,
        line=raw.line,
    )


def _parse_next(
    path: str, raw: Any, field: str, problems: list[Problem]
) -> tuple[Rule, ...] | None:
    value = raw.get(field)
    line = raw.line_of(field)
    if value is None:
        return None
    if isinstance(value, str):
        return (Rule(answer=None, values=(), goto=value, line=line),)
    if not isinstance(value, list):
        problems.append(
            Problem(
                path=path, line=line, code="KC026", message=f"{field} must be a step id or rules"
            )
        )
        return None
    rules = []
    for item in value:
        if not isinstance(item, yaml_lines.LineDict) or "goto" not in item:
            problems.append(
                Problem(
                    path=path,
                    line=getattr(item, "line", line),
                    code="KC026",
                    message="each rule needs 'goto'",
                )
            )
            continue
        condition = item.get("if")
        if condition is None:
            rules.append(Rule(answer=None, values=(), goto=str(item["goto"]), line=item.line))
        elif isinstance(condition, dict) and "answer" in condition and "in" in condition:
            rules.append(
                Rule(
                    answer=str(condition["answer"]),
                    values=tuple(str(v) for v in condition["in"]),
                    goto=str(item["goto"]),
                    line=item.line,
                )
            )
        else:
            problems.append(
                Problem(
                    path=path, line=item.line, code="KC026", message="'if' needs 'answer' and 'in'"
                )
            )
    if rules and rules[-1].answer is not None:
        problems.append(
            Problem(
                path=path,
                line=line,
                code="KC027",
                message="the last rule must have no 'if' (where to go otherwise)",
            )
        )
    return tuple(rules)


def _parse_schedule(path: str, flow_id: str, raw: Any, problems: list[Problem]) -> Schedule | None:
    spec = raw.get("schedule")
    if spec is None:
        return None
    line = raw.line_of("schedule")
    if not isinstance(spec, yaml_lines.LineDict):
        problems.append(
            Problem(path=path, line=line, code="KC030", message="schedule must be a mapping")
        )
        return None
    _unknown_fields(path, spec, SCHEDULE_FIELDS, "schedule", problems)
    after = None
    if "after" in spec:
        try:
            after = moments.parse_duration(str(spec["after"]))
        except ValueError:
            problems.append(
                Problem(
                    path=path,
                    line=spec.line_of("after"),
                    code="KC031",
                    message=f"after '{spec['after']}' is not a duration like 7d",
                )
            )
    every = spec.get("every")
    if every is not None:
        try:
            moments.parse_duration(str(every))
        except ValueError:
            problems.append(
                Problem(
                    path=path,
                    line=spec.line_of("every"),
                    code="KC031",
                    message=f"every '{every}' is not a duration like 14d",
                )
            )
    at_answer = spec.get("at") == "answer"
    if (after is None) == (not at_answer):
        problems.append(
            Problem(
                path=path,
                line=line,
                code="KC032",
                message="schedule needs either 'after' or 'at: answer'",
            )
        )
    if spec.get("run", "same") not in ("same", "new"):
        problems.append(
            Problem(
                path=path,
                line=spec.line_of("run"),
                code="KC033",
                message="run must be 'same' or 'new'",
            )
        )
    return Schedule(
        flow=str(spec.get("flow", flow_id)),
        step=str(spec.get("step", "")),
        kind=str(spec.get("kind", "")),
        after=after,
        at_answer=at_answer,
        new_run=spec.get("run") == "new",
        every=str(every) if every is not None else None,
        line=line,
    )


def _parse_texts(sources: Mapping[str, str], problems: list[Problem]) -> Texts:
    catalogs: dict[str, dict[str, TextSource]] = {lang: {} for lang in LANGUAGES}
    for path, text in sorted(sources.items()):
        match = re.fullmatch(r"locales/([a-z]{2})/([^/]+)\.yaml", path)
        if not match:
            continue
        lang, name = match.groups()
        if lang not in catalogs:
            problems.append(
                Problem(path=path, line=0, code="KC009", message=f"unknown language '{lang}'")
            )
            continue
        data = _load_yaml(path, text, problems)
        if data is not None:
            _flatten(path, name, "", data, catalogs[lang], problems)
    return Texts(catalogs)


def _flatten(
    path: str,
    name: str,
    prefix: str,
    data: Any,
    out: dict[str, TextSource],
    problems: list[Problem],
) -> None:
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten(path, name, f"{dotted}.", value, out, problems)
        elif isinstance(value, str):
            out[f"{name}:{dotted}"] = TextSource(source=value, path=path, line=data.line_of(key))
        else:
            problems.append(
                Problem(
                    path=path,
                    line=data.line_of(key),
                    code="KC010",
                    message=f"'{dotted}' must be text",
                )
            )
