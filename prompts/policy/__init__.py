"""Content policy: which prompts name famous people or ask for violent, adult, political
or self-harm content.

Text analysis only: ``generation`` enforces the result and the prompt linter reports it.
The rules are data (``data/*.yaml``, one file per category); the admin can add rules that
are compiled through :meth:`RuleSet.from_rules`.
"""

from __future__ import annotations

from functools import cache

from prompts.policy.matcher import (
    DATA_DIR,
    MATCH_KINDS,
    POLICY_CATEGORIES,
    PolicyHit,
    RuleError,
    RuleSet,
    load_rule_file,
    rule_slug,
)
from prompts.policy.normalize import normalize

__all__ = [
    "DATA_DIR",
    "MATCH_KINDS",
    "POLICY_CATEGORIES",
    "PolicyHit",
    "RuleError",
    "RuleSet",
    "default_ruleset",
    "load_rule_file",
    "normalize",
    "policy_check",
    "rule_slug",
]


@cache
def default_ruleset() -> RuleSet:
    """The bundled rules, compiled once per process."""
    return RuleSet.from_files()


def policy_check(*, text: str, ruleset: RuleSet | None = None) -> list[PolicyHit]:
    """The policy hits in ``text``, checked against ``ruleset`` or the bundled rules."""
    return (ruleset if ruleset is not None else default_ruleset()).check(text)
