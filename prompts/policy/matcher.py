"""Compiled content-policy rules and the check of a text against them.

A rule is a term in a category. Terms and texts are normalised the same way (see
``normalize.py``) and compared token by token, never as substrings, so "class" does not
contain "ass" and "Washington Monument" does not contain "George Washington".

Rule kinds:

- ``word``: the term's tokens, whole ("rape" matches "rape", not "grape" or "rapeseed");
- ``prefix``: the last token may go on ("behead" matches "beheaded", "beheading");
- ``allow``: an innocent phrase that silences the other rules of its category inside it
  ("murder of crows", "Gore-Tex").

Lookups are dictionary hits on squeezed tokens (repeated letters collapsed: "gooore" and
"gore" share the key "gore") followed by a check of how often each letter repeats, so
"as" does not match "ass" and "rapped" does not match "raped" (see ``_runs_cover``).
Checking a prompt costs one pass over its tokens, whatever the number of rules.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import yaml

from prompts.policy.normalize import (
    APOS,
    JOIN,
    SPACE,
    SPELLING_LIMIT,
    normalize,
    normalize_tokens,
    spellings,
    squeeze,
)

DATA_DIR = Path(__file__).resolve().parent / "data"

# libyaml's parser when PyYAML was built with it: ten times faster on the rule files.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

WORD, PREFIX, ALLOW = "word", "prefix", "allow"
MATCH_KINDS = (WORD, PREFIX, ALLOW)

# Display names; messages name the category, never the rule that matched.
POLICY_CATEGORIES = {
    "famous_people": "Famous people",
    "violence": "Violence",
    "adult": "Adult content",
    "political": "Political content",
    "self_harm": "Self-harm",
}

# Separators a multi-word term may span; a comma or bracket ends a phrase.
_PHRASE_SEPARATORS = frozenset({SPACE, JOIN, APOS})
_GLUE_SEPARATORS = frozenset({JOIN, APOS})
# Prefix terms have at least this many letters: a shorter stem ("rap") starts too many
# innocent words. Lookups test this many leading letters first.
_PREFIX_START = 4
# The most pieces of one word split by punctuation that are glued back together.
_MAX_GLUED_PIECES = 8


class RuleError(ValueError):
    """A rule or rule file is malformed; the message names the rule or file."""


@dataclass(frozen=True)
class PolicyHit:
    category: str  # e.g. "famous_people"
    start: int | None  # span in the original text when it can be mapped back, else None
    end: int | None
    rule_id: str  # stable id, e.g. "famous_people:barack-obama" (never shown to users)


@dataclass(frozen=True)
class _Entry:
    category: str
    rule_id: str
    runs: tuple[int, ...]  # minimum length of each letter run of the key
    allow: bool


@dataclass(frozen=True, eq=False)
class RuleSet:
    """Rules compiled into lookup tables; build with :meth:`from_files` or :meth:`from_rules`."""

    categories: tuple[str, ...]
    rule_count: int
    # squeezed key -> entries, for whole-token terms and for prefix terms
    _exact: Mapping[str, tuple[_Entry, ...]] = field(repr=False)
    _prefix: Mapping[str, tuple[_Entry, ...]] = field(repr=False)
    _prefix_lengths: tuple[int, ...] = field(repr=False)
    # the first few characters of every prefix key: most tokens fail this one test
    _prefix_starts: frozenset[str] = field(repr=False)
    # keys of the first k tokens of multi-token terms: worth reading one more token
    _continuations: frozenset[str] = field(repr=False)
    _max_tokens: int = field(repr=False)

    @classmethod
    def from_files(cls, directory: str | Path | None = None) -> RuleSet:
        """Load every ``*.yaml`` rule file of ``directory`` (default: the bundled data)."""
        folder = Path(directory) if directory is not None else DATA_DIR
        paths = sorted(folder.glob("*.yaml"))
        if not paths:
            raise RuleError(f"no *.yaml rule files in {folder}")
        rules: list[tuple[str, str, str, str]] = []
        for path in paths:
            rules.extend(load_rule_file(path))
        return cls.from_rules(rules)

    @classmethod
    def from_rules(cls, rules: Iterable[tuple[str, str, str, str]]) -> RuleSet:
        """Compile ``(category, term, match_kind, rule_id)`` rows.

        Aliases of one term are rows with the same ``rule_id``.
        """
        exact: dict[str, list[_Entry]] = {}
        prefix: dict[str, list[_Entry]] = {}
        continuations: set[str] = set()
        categories: dict[str, None] = {}
        max_tokens = 1
        count = 0
        for category, term, kind, rule_id in rules:
            tokens = _parse_rule(category, term, kind, rule_id)
            keys = _term_keys(tokens)
            if kind == PREFIX and min(len(key) for key, _ in keys) < _PREFIX_START:
                raise RuleError(
                    f"rule {rule_id!r}: prefix term {term!r} is shorter than {_PREFIX_START} letters"
                )
            table = prefix if kind == PREFIX else exact
            for key, runs in keys:
                table.setdefault(key, []).append(_Entry(category, rule_id, runs, kind == ALLOW))
            squeezed = [squeeze(t)[0] for t in tokens]
            for k in range(1, len(tokens)):
                continuations.add(" ".join(squeezed[:k]))
            categories.setdefault(category, None)
            max_tokens = max(max_tokens, len(tokens))
            count += 1

        ordered = [c for c in POLICY_CATEGORIES if c in categories]
        ordered += sorted(c for c in categories if c not in POLICY_CATEGORIES)
        return cls(
            categories=tuple(ordered),
            rule_count=count,
            _exact=_freeze(exact),
            _prefix=_freeze(prefix),
            _prefix_lengths=tuple(sorted({len(key) for key in prefix})),
            _prefix_starts=frozenset(key[:_PREFIX_START] for key in prefix),
            _continuations=frozenset(continuations),
            _max_tokens=max_tokens,
        )

    def check(self, text: str) -> list[PolicyHit]:
        """The rules the text breaks, ordered by position; empty when it breaks none.

        One hit per span and category; a hit inside a longer one of its category is left
        out, and so is a hit inside an allow phrase of its category.
        """
        normalized = normalize_tokens(text)
        tokens = normalized.tokens
        if not tokens:
            return []
        readings = [spellings(t.text, t.collapsed) for t in tokens]
        found: list[tuple[int, int, _Entry]] = []  # normalised span, entry
        for first in range(len(tokens)):
            self._match_phrases(tokens, readings, first, found)
        self._match_glued(tokens, readings, found)
        return _to_hits(_resolve(found), normalized.index_map, text)

    # -- matching ----------------------------------------------------------------------

    def _match_phrases(self, tokens, readings, first: int, found: list) -> None:
        """Terms starting at token ``first``, one token per term word."""
        # (key so far, its letter runs, characters skipped at the start, last reading)
        states = [(r.key, r.runs, r.lead, r) for r in readings[first]]
        last = first
        while True:
            for key, runs, lead, reading in states:
                self._lookup(
                    key,
                    runs,
                    len(key) - len(reading.key),
                    tokens[first].start + lead,
                    tokens[last].end - reading.trail,
                    found,
                )
            last += 1
            if (
                last >= len(tokens)
                or last - first >= self._max_tokens
                or tokens[last].sep not in _PHRASE_SEPARATORS
            ):
                return
            states = [
                (key + " " + r.key, runs + (1,) + r.runs, lead, r)
                for key, runs, lead, _ in states
                if key in self._continuations
                for r in readings[last]
            ][:SPELLING_LIMIT]
            if not states:
                return

    def _match_glued(self, tokens, readings, found: list) -> None:
        """Words split by in-word punctuation: "ob-ama", "blood.bath", "assassin's"."""
        group_start = 0
        for index in range(1, len(tokens) + 1):
            if index < len(tokens) and tokens[index].sep in _GLUE_SEPARATORS:
                continue
            for first in range(group_start, index):
                for last in range(first + 1, min(index, first + _MAX_GLUED_PIECES)):
                    choices = itertools.islice(
                        itertools.product(*readings[first : last + 1]), SPELLING_LIMIT
                    )
                    for combo in choices:
                        raw = "".join(r.raw for r in combo)
                        key, runs = squeeze(raw)
                        earlier = len(squeeze("".join(r.raw for r in combo[:-1]))[0])
                        self._lookup(
                            key,
                            runs,
                            earlier,
                            tokens[first].start + combo[0].lead,
                            tokens[last].end - combo[-1].trail,
                            found,
                        )
            group_start = index

    def _lookup(self, key, runs, last_offset, start, end, found: list) -> None:
        """Record the entries that ``key`` matches; a prefix must end in the last token."""
        for entry in self._exact.get(key, ()):
            if _runs_cover(runs, entry.runs):
                found.append((start, end, entry))
        if key[:_PREFIX_START] not in self._prefix_starts:
            return
        for length in self._prefix_lengths:
            if length > len(key):
                break
            if length <= last_offset:
                continue
            for entry in self._prefix.get(key[:length], ()):
                if _runs_cover(runs, entry.runs, open_end=True):
                    found.append((start, end, entry))


# --- compiling -----------------------------------------------------------------------


def _parse_rule(category: str, term: str, kind: str, rule_id: str) -> list[str]:
    """Validate one rule row; return the normalised tokens of its term."""
    if not isinstance(category, str) or not category:
        raise RuleError(f"rule {rule_id!r}: category must be a non-empty string")
    if kind not in MATCH_KINDS:
        raise RuleError(
            f"rule {rule_id!r}: match kind {kind!r} is not one of {', '.join(MATCH_KINDS)}"
        )
    if not isinstance(rule_id, str) or not rule_id:
        raise RuleError(f"term {term!r}: rule_id must be a non-empty string")
    if not isinstance(term, str) or not any(ch.isalnum() for ch in term):
        raise RuleError(f"rule {rule_id!r}: term {term!r} has no letters or digits")
    parsed = normalize_tokens(term).tokens
    if any(t.sep not in _PHRASE_SEPARATORS for t in parsed[1:]):
        raise RuleError(
            f"rule {rule_id!r}: term {term!r} has a comma or bracket inside; "
            "phrases never match across one"
        )
    return [t.text for t in parsed]


def _term_keys(tokens: list[str]) -> list[tuple[str, tuple[int, ...]]]:
    """The keys a term is found under: its words, and for several words, them glued."""
    parts = [squeeze(t) for t in tokens]
    key = " ".join(p[0] for p in parts)
    runs: tuple[int, ...] = ()
    for i, (_, part_runs) in enumerate(parts):
        runs += ((1,) if i else ()) + part_runs
    keys = [(key, runs)]
    if len(tokens) > 1:
        keys.append(squeeze("".join(tokens)))
    return keys


def _freeze(table: dict[str, list[_Entry]]) -> Mapping[str, tuple[_Entry, ...]]:
    return MappingProxyType({key: tuple(dict.fromkeys(entries)) for key, entries in table.items()})


def _runs_cover(have: tuple[int, ...], need: tuple[int, ...], *, open_end: bool = False) -> bool:
    """Whether the text's letter runs spell the term's.

    A run may be stretched to three letters or more ("gooore" for "gore"), but a letter
    merely doubled is a different word: "rapped" is not "raped", "goop" is not "gop".
    With ``open_end`` (a prefix), the last run may go on in any length: "stabb-ing".
    """
    last = len(need) - 1
    for i, (h, n) in enumerate(zip(have, need, strict=False)):
        if h == n or (h >= 3 and h > n) or (open_end and i == last and h > n):
            continue
        return False
    return True


# --- results -------------------------------------------------------------------------


def _resolve(found: list[tuple[int, int, _Entry]]) -> list[tuple[int, int, str, str]]:
    """Drop hits an allow phrase covers, and keep one hit per span and category: the
    longest, so "Michelle Obama" is not also reported as "Obama"."""
    allowed = [(s, e, entry.category) for s, e, entry in found if entry.allow]
    best: dict[tuple[int, int, str], str] = {}
    for s, e, entry in found:
        if entry.allow or any(c == entry.category and a <= s and e <= b for a, b, c in allowed):
            continue
        span = (s, e, entry.category)
        best[span] = min(best.get(span, entry.rule_id), entry.rule_id)
    kept = [
        (s, e, category, rule_id)
        for (s, e, category), rule_id in best.items()
        if not any(
            c == category and s2 <= s and e <= e2 and (s2, e2) != (s, e) for s2, e2, c in best
        )
    ]
    return sorted(kept)


def _to_hits(spans, index_map: tuple[int, ...], text: str) -> list[PolicyHit]:
    hits = []
    for s, e, category, rule_id in spans:
        start = index_map[s]
        end = index_map[e - 1] + 1
        # A combining mark after the last letter belongs to it ("Obama" + U+0301).
        while end < len(text) and _is_mark(text[end]):
            end += 1
        hits.append(PolicyHit(category=category, start=start, end=end, rule_id=rule_id))
    return hits


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch) in ("Mn", "Me")


# --- rule files ----------------------------------------------------------------------

_FILE_KEYS = {"category", "description", "terms", "allow"}
_TERM_KEYS = {"term", "match", "aliases"}


def load_rule_file(path: str | Path) -> list[tuple[str, str, str, str]]:
    """Read one YAML rule file into ``(category, term, match_kind, rule_id)`` rows."""
    path = Path(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)  # noqa: S506
    except yaml.YAMLError as exc:
        raise RuleError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise RuleError(f"{path}: expected a mapping with 'category' and 'terms'")
    unknown = set(data) - _FILE_KEYS
    if unknown:
        raise RuleError(f"{path}: unknown keys {sorted(unknown)}")
    category = data.get("category")
    if not isinstance(category, str) or not category:
        raise RuleError(f"{path}: 'category' must be a non-empty string")
    terms = data.get("terms")
    if not isinstance(terms, list) or not terms:
        raise RuleError(f"{path}: 'terms' must be a non-empty list")

    rows: list[tuple[str, str, str, str]] = []
    seen_ids: set[str] = set()
    for number, item in enumerate(terms, start=1):
        where = f"{path}: terms[{number}]"
        if not isinstance(item, dict) or set(item) - _TERM_KEYS or "term" not in item:
            raise RuleError(f"{where}: expected a mapping with 'term' (and 'match', 'aliases')")
        term = item["term"]
        kind = item.get("match", WORD)
        aliases = item.get("aliases", [])
        if not isinstance(term, str) or not term.strip():
            raise RuleError(f"{where}: 'term' must be a non-empty string")
        if kind not in (WORD, PREFIX):
            raise RuleError(f"{where}: 'match' must be {WORD!r} or {PREFIX!r}, not {kind!r}")
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise RuleError(f"{where}: 'aliases' must be a list of strings")
        rule_id = f"{category}:{rule_slug(term)}"
        if rule_id in seen_ids:
            raise RuleError(f"{where}: {term!r} repeats the rule {rule_id!r}")
        seen_ids.add(rule_id)
        rows.extend((category, spelling, kind, rule_id) for spelling in [term, *aliases])

    allow = data.get("allow", [])
    if not isinstance(allow, list) or not all(isinstance(a, str) for a in allow):
        raise RuleError(f"{path}: 'allow' must be a list of strings")
    rows.extend(
        (category, phrase, ALLOW, f"{category}:allow:{rule_slug(phrase)}") for phrase in allow
    )
    return rows


def rule_slug(term: str) -> str:
    """A stable ASCII id for a term: "Beyoncé" -> "beyonce", "Jay-Z" -> "jay-z".

    Letters outside a-z are written as code points: "卐" -> "u5350".
    """
    text, _ = normalize(term)
    text = "".join(ch if ch.isascii() or not ch.isalnum() else f"-u{ord(ch):04x}-" for ch in text)
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")
