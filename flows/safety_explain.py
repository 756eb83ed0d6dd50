"""What `kern-coach safety check` prints: one line per message, the verdict and why.

For the author of the crisis rules: `crisis`, `ask` or `ok`, a tab and the rules that fired; with
`explain`, their file and line, and the semantic layer's score with its nearest example.
Pure: the shell reads standard input and prints.
"""

from __future__ import annotations

from flows.safety import Check, assess, parts


def verdict_line(text: str, check: Check, *, explain: bool = False) -> str:
    """`crisis`, `ask` or `ok` for `text`, a tab, and what decided it: the ids of the rules that
    fired and "semantic" when the semantic layer did; with `explain`, each rule's verdict, file
    and line, and the semantic layer's scores and nearest example."""
    assessment = assess(text, check, complete=explain)
    if not explain:
        deciders = list(assessment.rule_ids)
        if assessment.semantic is not None and assessment.semantic.verdict != "ok":
            deciders.append("semantic")
        return f"{assessment.verdict}\t{' '.join(deciders)}"
    rules, _ = parts(check)
    reasons = [
        f"rule {rule.id} ({rule.verdict}, {rule.path}:{rule.line})"
        for rule_id in assessment.rule_ids
        for rule in (rules.rule(rule_id),)
    ]
    score = assessment.semantic
    if score is not None:
        reasons.append(
            f"semantic {score.verdict}: risky {score.risky:.2f}, ordinary {score.ordinary:.2f},"
            f" margin {score.margin:.2f}, nearest {score.nearest.text!r}"
            f" ({score.nearest.path}:{score.nearest.line})"
        )
    elif not reasons:
        reasons.append("no rule fired; no sentence of four words or more for the semantic layer")
    return f"{assessment.verdict}\t{'; '.join(reasons)}"
