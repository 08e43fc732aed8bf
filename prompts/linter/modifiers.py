"""Rules about the modifiers the parser found: conflicts, side effects, what the
embedded model knows, and prompts too thin to steer anything."""

from __future__ import annotations

import re
from collections.abc import Iterator

from prompts.linter.findings import Finding, LintContext
from prompts.parser import FoundModifier
from prompts.tokens import PROFILE_ALIASES

# Categories where two different modifiers always pull in different directions, even
# where the catalog lists no conflict between them.
EXCLUSIVE_CATEGORIES = ("era",)
LEAKY_CATEGORIES = ("era", "style")
VAGUE_MAX_WORDS = 2
_ARTICLES = frozenset({"a", "an", "the", "some"})
_WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def check_conflicting_modifiers(ctx: LintContext) -> Iterator[Finding]:
    earlier: dict[str, FoundModifier] = {}  # first occurrence of each slug, in order
    for second in ctx.modifiers:
        if second.slug in earlier:
            continue
        rivals = set(ctx.catalog.conflicts_of(second.slug))
        if second.category in EXCLUSIVE_CATEGORIES:
            rivals.update(s for s, m in earlier.items() if m.category == second.category)
        for first in earlier.values():
            if first.slug not in rivals:
                continue
            a, b = ctx.modifier_name(first.slug), ctx.modifier_name(second.slug)
            yield Finding(
                code="conflicting_modifiers",
                severity="warning",
                message=(
                    f"“{a}” and “{b}” pull in opposite directions; the image will "
                    "compromise between them."
                ),
                start=second.start,
                end=second.end,
                suggestion=f"Keep one of “{a}” and “{b}”.",
            )
        earlier[second.slug] = second


def check_style_leak(ctx: LintContext) -> Iterator[Finding]:
    leaky = [m for m in ctx.modifiers if m.category in LEAKY_CATEGORIES]
    if not leaky:
        return
    names = ", ".join(dict.fromkeys(f"“{ctx.modifier_name(m.slug)}”" for m in leaky))
    yield Finding(
        code="style_leak",
        severity="info",
        message=(
            f"Era and style modifiers ({names}) change more than the look: clothing, "
            "objects, buildings and materials follow them too."
        ),
        start=leaky[0].start,
        end=leaky[0].end,
        suggestion="If only the rendering should change, name the medium or the artist instead.",
    )


def check_unknown_to_model(ctx: LintContext) -> Iterator[Finding]:
    if PROFILE_ALIASES.get(ctx.model.casefold()) != "embedded":
        return
    unknown = []
    for modifier in ctx.modifiers:
        entry = ctx.catalog.get(modifier.slug)
        if entry is not None and not entry.embedded and entry.name not in unknown:
            unknown.append(entry.name)
    if not unknown:
        return
    first = next(m for m in ctx.modifiers if not ctx.catalog.get(m.slug).embedded)
    yield Finding(
        code="unknown_to_model",
        severity="info",
        message=(
            "The embedded model only knows a small world and was not trained on: "
            + ", ".join(f"“{name}”" for name in unknown)
            + "."
        ),
        start=first.start if len(unknown) == 1 else None,
        end=first.end if len(unknown) == 1 else None,
        suggestion="Use a diffusion model backend for these, or pick modifiers marked as known to the embedded model.",
    )


def check_vague(ctx: LintContext) -> Iterator[Finding]:
    if ctx.modifiers:
        return
    words = [w for w in _WORD_RE.findall(ctx.body) if w.casefold() not in _ARTICLES]
    if not words or len(words) > VAGUE_MAX_WORDS:
        return
    examples = []
    for slug in ("medium", "style", "lighting", "mood"):
        category = ctx.catalog.category(slug)
        if category and category.modifiers:
            examples.append(f"{category.name.lower()} (e.g. “{category.modifiers[0].fragment}”)")
    hint = ", ".join(examples) if examples else "a medium, a style, lighting and a mood"
    yield Finding(
        code="vague",
        severity="info",
        message="A subject alone leaves every other choice to the model.",
        start=None,
        end=None,
        suggestion=f"Add a {hint}, and a setting.",
    )
