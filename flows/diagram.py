"""A flow as a Mermaid diagram, drawn from the same table the engine walks."""

from __future__ import annotations

from datetime import timedelta

from flows.model import END, Flow, Rule


def mermaid(flow: Flow) -> str:
    lines = ["flowchart TD", f"    start(({flow.id})) --> {_node(flow.start)}"]
    for step in flow.steps.values():
        shape = f"[{step.id}<br/><i>{step.expect}</i>]" if step.waits else f"({step.id})"
        lines.append(f"    {_node(step.id)}{shape}")
        for rule in step.next or ():
            lines.append(f"    {_node(step.id)} -->{_condition(rule)} {_node(rule.goto)}")
        for option in step.options:
            if option.flow:
                lines.append(
                    f"    {_node(step.id)} -->|{option.id}| flow_{_node(option.flow)}"
                    f"[[{option.flow}]]"
                )
            for rule in option.next or ():
                lines.append(f"    {_node(step.id)} -->|{option.id}| {_node(rule.goto)}")
            if option.schedule:
                s = option.schedule
                lines.append(
                    f"    {_node(step.id)} -.->|{option.id}: {s.kind} "
                    f"{_delay(s.after, s.at_answer)}| {_node(s.step)}"
                )
        if step.skip:
            lines.append(f"    {_node(step.id)} -.->|overslaan| {_node(step.skip)}")
        if step.schedule:
            s = step.schedule
            lines.append(
                f"    {_node(step.id)} -.->|{s.kind} {_delay(s.after, s.at_answer)}| "
                f"{_node(s.step)}"
            )
    lines.append(f"    {_node(END)}(((einde)))")
    return "\n".join(lines) + "\n"


def _node(step_id: str) -> str:
    return step_id.replace("-", "_")


def _condition(rule: Rule) -> str:
    if rule.answer is None:
        return ""
    return f"|{rule.answer} = {' / '.join(rule.values)}|"


def _delay(after: timedelta | None, at_answer: bool) -> str:
    if at_answer:
        return "op het gekozen moment"
    days = after.days if after else 0
    return f"na {days} dagen"
