"""What the linter returns, and the context every rule reads."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property

from prompts.catalog import Catalog
from prompts.parser import FoundModifier, ScannedPrompt

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str  # info | warning | error
    message: str
    start: int | None = None
    end: int | None = None
    suggestion: str | None = None

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "start": self.start,
            "end": self.end,
            "suggestion": self.suggestion,
        }


@dataclass(frozen=True)
class TokenUsage:
    count: int
    limit: int
    truncated_text: str

    def as_dict(self) -> dict:
        return {"count": self.count, "limit": self.limit, "truncated_text": self.truncated_text}


@dataclass(frozen=True)
class LintResult:
    tokens: TokenUsage
    findings: tuple[Finding, ...]

    @property
    def blocking(self) -> bool:
        """Only content-policy errors stop a generation; everything else is advice."""
        return any(f.code == "policy" and f.severity == "error" for f in self.findings)

    def as_dict(self) -> dict:
        return {"tokens": self.tokens.as_dict(), "findings": [f.as_dict() for f in self.findings]}


class LintError(ValueError):
    def __init__(self, message: str, *, code: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.details = details or {}


@dataclass
class LintContext:
    """One prompt under review. `body` is the prompt before any parameters, with weight
    syntax masked by spaces, so offsets into it are offsets into the prompt."""

    prompt: str
    negative_prompt: str
    model: str
    dialect: str | None
    catalog: Catalog
    scan: ScannedPrompt
    modifiers: tuple[FoundModifier, ...]

    @property
    def body(self) -> str:
        return self.scan.masked

    @cached_property
    def quoted_spans(self) -> list[tuple[int, int]]:
        from prompts.linter.phrases import quoted_spans

        return quoted_spans(self.body)

    @cached_property
    def _modifier_spans(self) -> list[tuple[int, int]]:
        return [(m.start, m.end) for m in self.modifiers]

    def in_quotes(self, position: int) -> bool:
        return _in_spans(self.quoted_spans, position)

    def in_modifier(self, position: int) -> bool:
        return _in_spans(self._modifier_spans, position)

    def modifier_name(self, slug: str) -> str:
        entry = self.catalog.get(slug)
        return entry.name if entry else slug


def _in_spans(spans: list[tuple[int, int]], position: int) -> bool:
    """Whether position falls in one of the sorted, non-overlapping spans."""
    i = bisect_right(spans, (position, float("inf"))) - 1
    return i >= 0 and spans[i][0] <= position < spans[i][1]
