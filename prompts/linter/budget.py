"""Length rules: the text encoder's token window, and DALL·E's character limit."""

from __future__ import annotations

from collections.abc import Iterator

from prompts.linter.findings import Finding, LintContext, TokenUsage
from prompts.tokens import TokenCount

PLAIN_MAX_CHARS = 1000


def token_usage(prompt: str, count: TokenCount) -> TokenUsage:
    truncated = "" if count.overflow_start is None else prompt[count.overflow_start :]
    return TokenUsage(count=count.count, limit=count.limit, truncated_text=truncated)


def check_token_budget(ctx: LintContext, count: TokenCount) -> Iterator[Finding]:
    if count.overflow_start is None:
        return
    cut = ctx.prompt[count.overflow_start : ctx.scan.body_end].strip()
    preview = cut if len(cut) <= 60 else cut[:57] + "…"
    yield Finding(
        code="token_budget",
        severity="warning",
        message=(
            f"{count.count} tokens: the model reads {count.limit} and ignores the rest "
            f"(“{preview}”)."
        ),
        start=count.overflow_start,
        end=ctx.scan.body_end,
        suggestion="Shorten the prompt, and put what matters most first.",
    )


def check_too_long(ctx: LintContext) -> Iterator[Finding]:
    if ctx.dialect != "plain" or len(ctx.prompt) <= PLAIN_MAX_CHARS:
        return
    yield Finding(
        code="too_long",
        severity="warning",
        message=(
            f"{len(ctx.prompt):,} characters: DALL·E-style models accept at most "
            f"{PLAIN_MAX_CHARS:,}."
        ),
        start=PLAIN_MAX_CHARS,
        end=len(ctx.prompt),
        suggestion="Cut descriptions that repeat or that the image does not need.",
    )
