"""Rules about single words: words no dictionary knows, and words said twice."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

from prompts.linter.findings import Finding, LintContext
from prompts.parser import catalog_term_words

# wordfreq's Zipf scale: 1.5 is about one use in 30 million words; below it a word is
# a typo, a rare coinage or gibberish.
KNOWN_ZIPF = 1.5
MAX_UNKNOWN_FINDINGS = 8

STOPWORDS = frozenset(
    (  # noqa: SIM905
        "a about above after again against all am an and any are as at be because been "
        "before being below between both but by can could did do does doing down during "
        "each few for from further had has have having he her here hers herself him "
        "himself his how i if in into is it its itself just me more most my myself no "
        "nor not now of off on once one only or other our ours ourselves out over own "
        "same she should so some such than that the their theirs them themselves then "
        "there these they this those through to too under until up very was we were "
        "what when where which while who whom why will with would you your yours "
        "yourself yourselves also its it's there's that's let's another each every many "
        "much several like near next onto upon toward towards across along around "
        "behind beside beneath within without made make using use view image picture "
        "photo"
    ).split()
)

_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'’]*[A-Za-z]|[A-Za-z]")
_POSSESSIVE_RE = re.compile(r"['’]s$", re.I)

_zipf_cache: dict[str, float] = {}
_suggestion_cache: dict[str, str | None] = {}
_spell = None
_spell_lock = threading.Lock()


def word_zipf(word: str) -> float:
    value = _zipf_cache.get(word)
    if value is None:
        from wordfreq import zipf_frequency

        value = zipf_frequency(word, "en")
        if len(_zipf_cache) < 200_000:
            _zipf_cache[word] = value
    return value


def _spellchecker():
    global _spell
    if _spell is None:
        with _spell_lock:
            if _spell is None:
                from spellchecker import SpellChecker

                # Distance 1 only: distance 2 costs up to a second per long word.
                _spell = SpellChecker(distance=1)
    return _spell


def word_suggestion(word: str) -> str | None:
    """The closest English word, or two known words a run-together word splits into."""
    if word in _suggestion_cache:
        return _suggestion_cache[word]
    suggestion = None
    candidates = _spellchecker().candidates(word) or ()
    ranked = sorted((c for c in candidates if c != word), key=lambda c: (-word_zipf(c), c))
    if ranked and word_zipf(ranked[0]) > KNOWN_ZIPF:
        suggestion = ranked[0]
    else:
        splits = [
            (min(word_zipf(word[:i]), word_zipf(word[i:])), word[:i], word[i:])
            for i in range(3, len(word) - 2)
        ]
        best = max(splits, default=None)
        if best and best[0] > 3.0:
            suggestion = f"{best[1]} {best[2]}"
    if len(_suggestion_cache) < 50_000:
        _suggestion_cache[word] = suggestion
    return suggestion


def _words(ctx: LintContext) -> Iterator[tuple[str, int, int]]:
    for match in _WORD_RE.finditer(ctx.body):
        yield match.group(), match.start(), match.end()


def check_unknown_word(ctx: LintContext) -> Iterator[Finding]:
    term_words = catalog_term_words(catalog=ctx.catalog)
    reported: set[str] = set()
    for word, start, end in _words(ctx):
        if len(reported) >= MAX_UNKNOWN_FINDINGS:
            return
        # A capital marks a plausible name ("Stegosaurus", "Hokusai", "BONEZ").
        if len(word) < 3 or not word[0].islower() or any(c.isupper() for c in word[1:]):
            continue
        folded = _POSSESSIVE_RE.sub("", word.casefold()).replace("’", "'")
        if folded in reported or folded in term_words or folded in STOPWORDS:
            continue
        if word_zipf(folded) > KNOWN_ZIPF or ctx.in_quotes(start) or ctx.in_modifier(start):
            continue
        reported.add(folded)
        suggestion = word_suggestion(folded)
        yield Finding(
            code="unknown_word",
            severity="info",
            message=(
                f"“{word}” is not a word the model is likely to know; unknown words act "
                "like a “secret language” and pull the image in unpredictable directions."
            ),
            start=start,
            end=end,
            suggestion=(
                f"Did you mean “{suggestion}”?"
                if suggestion
                else "Check the spelling; if it is a name, capitalise it."
            ),
        )


def check_duplicate(ctx: LintContext) -> Iterator[Finding]:
    seen_slugs: dict[str, int] = {}
    for modifier in ctx.modifiers:
        seen_slugs[modifier.slug] = seen_slugs.get(modifier.slug, 0) + 1
        if seen_slugs[modifier.slug] == 2:
            name = ctx.modifier_name(modifier.slug)
            yield Finding(
                code="duplicate",
                severity="info",
                message=f"The modifier “{name}” appears more than once.",
                start=modifier.start,
                end=modifier.end,
                suggestion="Say it once; to make it stronger, give it a weight instead.",
            )
    seen_words: dict[str, int] = {}
    for word, start, end in _words(ctx):
        folded = word.casefold()
        if len(folded) < 3 or folded in STOPWORDS or ctx.in_modifier(start):
            continue
        seen_words[folded] = seen_words.get(folded, 0) + 1
        if seen_words[folded] == 2:
            yield Finding(
                code="duplicate",
                severity="info",
                message=f"“{word}” appears more than once; repeats add little and cost tokens.",
                start=start,
                end=end,
                suggestion=f"Remove the repeated “{word}”, or rephrase.",
            )
