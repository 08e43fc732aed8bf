"""The content policy's findings, as the linter reports them.

The policy module (`prompts.policy`) is optional here: without it this rule is silent.
Messages name the category only, never the matched words.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator

from prompts.linter.findings import Finding, LintContext

_UNSET = object()
_policy_check = _UNSET


def _checker():
    global _policy_check
    if _policy_check is _UNSET:
        try:
            module = importlib.import_module("prompts.policy")
        except ModuleNotFoundError as exc:
            if exc.name not in ("prompts.policy",):
                raise
            _policy_check = None
        else:
            _policy_check = getattr(module, "policy_check", None)
    return _policy_check


def check_policy(ctx: LintContext) -> Iterator[Finding]:
    policy_check = _checker()
    if policy_check is None:
        return
    reported: set[tuple] = set()
    for hit in policy_check(text=ctx.prompt):
        category = str(getattr(hit, "category", "policy"))
        start, end = getattr(hit, "start", None), getattr(hit, "end", None)
        if (category, start, end) in reported:
            continue
        reported.add((category, start, end))
        label = category.replace("_", " ")
        yield Finding(
            code="policy",
            severity="error",
            message=f"This prompt falls under the content policy: {label}.",
            start=start,
            end=end,
            suggestion="Rephrase the prompt without this content; it cannot be generated.",
        )
