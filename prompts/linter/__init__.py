"""The prompt assistant: advice on what a prompt will and will not do.

`prompt_lint` runs every rule over one prompt and returns the token usage and the
findings, most severe first. Only content-policy errors block a generation; every
other finding is advice. Rules live in small modules by topic:

- `budget`: token_budget, too_long
- `phrases`: counting, text_rendering, negation
- `scene`: spatial_relation, attribute_binding, faces
- `vocabulary`: unknown_word, duplicate
- `modifiers`: conflicting_modifiers, style_leak, unknown_to_model, vague
- `policy`: policy (from `prompts.policy`, when present)
"""

from __future__ import annotations

from itertools import islice

from prompts.catalog import Catalog
from prompts.composer import DIALECTS
from prompts.linter import budget, modifiers, phrases, policy, scene, vocabulary
from prompts.linter.findings import (
    SEVERITIES,
    Finding,
    LintContext,
    LintError,
    LintResult,
    TokenUsage,
)
from prompts.parser import prompt_scan, scan_modifiers
from prompts.tokens import TokenizerError, token_count

__all__ = [
    "CODES",
    "Finding",
    "LintError",
    "LintResult",
    "TokenUsage",
    "prompt_lint",
]

CODES = (
    "policy",
    "token_budget",
    "too_long",
    "text_rendering",
    "counting",
    "spatial_relation",
    "attribute_binding",
    "negation",
    "conflicting_modifiers",
    "duplicate",
    "unknown_word",
    "faces",
    "vague",
    "style_leak",
    "unknown_to_model",
)

RULES = (
    policy.check_policy,
    budget.check_too_long,
    phrases.check_text_rendering,
    phrases.check_counting,
    scene.check_spatial_relation,
    scene.check_attribute_binding,
    phrases.check_negation,
    modifiers.check_conflicting_modifiers,
    vocabulary.check_duplicate,
    vocabulary.check_unknown_word,
    scene.check_faces,
    modifiers.check_vague,
    modifiers.check_style_leak,
    modifiers.check_unknown_to_model,
)

MAX_FINDINGS_PER_RULE = 20

_SEVERITY_RANK = {severity: rank for rank, severity in enumerate(SEVERITIES)}


def prompt_lint(
    *,
    prompt: str,
    negative_prompt: str = "",
    model: str = "embedded",
    dialect: str | None = None,
    catalog: Catalog,
) -> LintResult:
    if dialect is not None and dialect not in DIALECTS:
        raise LintError(
            f"Unknown dialect {dialect!r}",
            code="unknown_dialect",
            details={"dialect": dialect, "allowed": list(DIALECTS)},
        )
    scan = prompt_scan(text=prompt, catalog=catalog)
    try:
        # Weight syntax is masked by spaces, which no tokenizer counts; parameters
        # ("--ar 3:2") never reach the text encoder.
        count = token_count(text=scan.masked, model=model)
    except TokenizerError as exc:
        raise LintError(str(exc), code=exc.code, details=exc.details) from exc
    ctx = LintContext(
        prompt=scan.text,
        negative_prompt=negative_prompt,
        model=model,
        dialect=dialect,
        catalog=catalog,
        scan=scan,
        modifiers=scan_modifiers(scan=scan, catalog=catalog),
    )
    findings = list(budget.check_token_budget(ctx, count))
    for rule in RULES:
        # A pathological prompt could draw hundreds of the same finding; the first few
        # make the point.
        findings.extend(islice(rule(ctx), MAX_FINDINGS_PER_RULE))
    findings.sort(key=lambda f: (_SEVERITY_RANK[f.severity], f.start is None, f.start or 0, f.code))
    return LintResult(tokens=budget.token_usage(scan.text, count), findings=tuple(findings))
