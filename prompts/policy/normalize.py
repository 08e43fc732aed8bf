"""One canonical form of a prompt that the usual ways of disguising a word collapse into.

The content policy compares rule terms and prompts in this form, so both go through the
same code. What it undoes:

- case, accents and other diacritics (NFKD, then combining marks dropped), compatibility
  forms (fullwidth, mathematical bold, ligatures), letters NFKD leaves alone (ø, ł, ß);
- look-alike letters from other scripts (Cyrillic ``о``, Greek ``ο`` ...);
- invisible format characters (zero-width space/joiner, soft hyphen, BOM);
- words spelled out letter by letter: a run of two or more one-character tokens
  ("O b a m a", "o.b.a.m.a", "o-b-a-m-a") becomes one token.

Leetspeak is ambiguous ("1" is an i or an l), so the normalised text keeps digits and the
symbols ``@ $ ! | €``; :func:`spellings` lists the plausible readings of one token, and
:func:`squeeze` gives the form in which repeated letters ("gooore") compare equal.

Pure Python: no Django, so the tests and the linter that use it stay fast.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

# Lower-case letters of other scripts that render like a Latin letter in common fonts.
# Upper-case forms reach this table already case-folded (Cyrillic "Р" -> "р" -> "p").
# fmt: off
HOMOGLYPHS = {
    # Cyrillic
    "а": "a", "в": "b", "г": "r", "е": "e", "ё": "e", "з": "3", "і": "i",
    "ї": "i", "ј": "j", "к": "k", "м": "m", "н": "h", "о": "o", "п": "n", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "һ": "h", "ь": "b", "ү": "y", "ӏ": "l",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
    "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ϲ": "c", "ϳ": "j",
    # Armenian
    "օ": "o", "ս": "u", "հ": "h", "ց": "g",
    # Latin letters that look like plainer ones
    "ɑ": "a", "ɡ": "g", "ɩ": "i", "ı": "i", "ȷ": "j", "ʀ": "r", "ʏ": "y",
}

# Latin letters that NFKD does not decompose into a base letter plus a mark.
EXTRA_FOLDS = {
    "ø": "o", "đ": "d", "ð": "d", "ł": "l", "ħ": "h", "ŧ": "t", "ƀ": "b",
    "æ": "ae", "œ": "oe", "þ": "th", "ß": "ss",
}

# The letters a digit or symbol may stand for, most likely first.
LEET = {
    "0": "o", "1": "il", "2": "z", "3": "e", "4": "a", "5": "s", "6": "gb", "7": "t",
    "8": "b", "9": "g", "@": "a", "$": "s", "!": "i", "|": "li", "€": "e",
}
# fmt: on
# Symbols that are kept inside tokens because they may be letters in disguise.
LEET_SYMBOLS = frozenset("@$!|€")
_LEET_SYMBOL_TEXT = "".join(sorted(LEET_SYMBOLS))

# Punctuation that may sit inside a word ("blood-bath", "o.b.a.m.a", "assassin's").
APOSTROPHES = frozenset("'’‘ʼ`")
JOINERS = frozenset(".-_*~^·•/\\‐‑‒–—") | APOSTROPHES

# How a token is separated from the token before it. Multi-word terms match across
# SPACE and JOIN/APOS only: "tiger, woods" is two phrases, not a golfer.
START, SPACE, JOIN, APOS, HARD = "start", "space", "join", "apos", "hard"
# Single-character stand-ins for the separators in the normalised text.
SEPARATOR_TEXT = {SPACE: " ", JOIN: "-", APOS: "'", HARD: ","}

# Past this many readings of one token, the rest are not tried.
SPELLING_LIMIT = 32


class Token(NamedTuple):
    text: str  # normalised characters: a-z, 0-9, leet symbols, other scripts' letters
    start: int  # span in the normalised text
    end: int
    sep: str  # START, SPACE, JOIN, APOS or HARD: what came before it
    collapsed: bool  # built from letters written one by one ("o b a m a")


@dataclass(frozen=True)
class Normalized:
    text: str
    # index_map[i] is the position in the original text of normalised character i.
    index_map: tuple[int, ...]
    tokens: tuple[Token, ...]


class Spelling(NamedTuple):
    """One reading of a token, with letter runs squeezed (see :func:`squeeze`)."""

    key: str  # squeezed letters
    runs: tuple[int, ...]  # length of each run in ``key``
    raw: str  # the reading before squeezing
    lead: int  # characters of the token left out at its start ...
    trail: int  # ... and at its end (edge symbols, a leading article)


def normalize(text: str) -> tuple[str, list[int]]:
    """Return the normalised text and, for each of its characters, its original index."""
    result = normalize_tokens(text)
    return result.text, list(result.index_map)


def normalize_tokens(text: str) -> Normalized:
    """Normalise ``text`` and split it into tokens (see the module docstring)."""
    raw_tokens = _collapse_spelled_out(_raw_tokens(text))
    pieces: list[str] = []
    index_map: list[int] = []
    tokens: list[Token] = []
    position = 0
    for token_text, origins, sep, collapsed in raw_tokens:
        if tokens:
            pieces.append(SEPARATOR_TEXT[sep])
            index_map.append(origins[0])
            position += 1
        else:
            sep = START
        pieces.append(token_text)
        index_map.extend(origins)
        tokens.append(Token(token_text, position, position + len(token_text), sep, collapsed))
        position += len(token_text)
    return Normalized("".join(pieces), tuple(index_map), tuple(tokens))


# A raw token: its normalised text, the original index of each of its characters, the
# separator before it, and whether it was spelled out.
_RawToken = tuple[str, Sequence[int], str, bool]


# --- characters -------------------------------------------------------------------

_WORD, _SPACE, _JOIN, _APOS, _HARD = range(5)


@lru_cache(maxsize=8192)
def fold_char(ch: str) -> str:
    """The normalised form of one character: zero or more characters."""
    if ch.isascii():
        return ch.lower()
    if unicodedata.category(ch) == "Cf":  # zero-width characters, soft hyphen, BOM
        return ""
    out = []
    for part in unicodedata.normalize("NFKD", ch):
        if unicodedata.combining(part) or unicodedata.category(part) in ("Mn", "Me", "Cf"):
            continue
        for folded in part.casefold():
            folded = HOMOGLYPHS.get(folded, folded)
            out.append(EXTRA_FOLDS.get(folded, folded))
    return "".join(out)


@lru_cache(maxsize=8192)
def _char_class(ch: str) -> int:
    if ch.isalnum() or ch in LEET_SYMBOLS:
        return _WORD
    if ch.isspace():
        return _SPACE
    if ch in APOSTROPHES:
        return _APOS
    if ch in JOINERS:
        return _JOIN
    return _HARD


_SEPARATOR_OF_CLASS = {_SPACE: SPACE, _JOIN: JOIN, _APOS: APOS, _HARD: HARD}
_STRENGTH = {JOIN: 0, APOS: 1, SPACE: 2, HARD: 3}


def _raw_tokens(text: str) -> list[_RawToken]:
    """Split folded text into word tokens, noting the strongest separator before each.

    Characters that fold to nothing (zero-width, combining marks) do not end a token.
    """
    if text.isascii():
        return _raw_ascii_tokens(text)
    tokens: list[_RawToken] = []
    chars: list[str] = []
    origins: list[int] = []
    sep = JOIN  # the strongest separator since the last token
    for index, ch in enumerate(text):
        for folded in fold_char(ch):
            kind = _char_class(folded)
            if kind == _WORD:
                if not chars:
                    token_sep, sep = (sep if tokens else START), JOIN
                chars.append(folded)
                origins.append(index)
                continue
            if chars:
                tokens.append(("".join(chars), origins, token_sep, False))
                chars, origins = [], []
            this = _SEPARATOR_OF_CLASS[kind]
            if _STRENGTH[this] > _STRENGTH[sep]:
                sep = this
    if chars:
        tokens.append(("".join(chars), origins, token_sep, False))
    return tokens


_ASCII_WORD = re.compile(r"[a-z0-9@$!|]+")


def _raw_ascii_tokens(text: str) -> list[_RawToken]:
    """The same as the general loop, for the common all-ASCII prompt, at C speed."""
    tokens: list[_RawToken] = []
    previous_end = 0
    for match in _ASCII_WORD.finditer(text.lower()):
        start, end = match.span()
        sep = _separator(text[previous_end:start]) if tokens else START
        tokens.append((match.group(), range(start, end), sep, False))
        previous_end = end
    return tokens


@lru_cache(maxsize=1024)
def _separator(gap: str) -> str:
    sep = JOIN
    for ch in gap:
        this = _SEPARATOR_OF_CLASS[_char_class(ch)]
        if _STRENGTH[this] > _STRENGTH[sep]:
            sep = this
    return sep


def _collapse_spelled_out(tokens: list[_RawToken]) -> list[_RawToken]:
    """Merge runs of two or more one-letter tokens into one token ("o b a m a").

    An apostrophe ends a run: in "it's a" the "s" belongs to "it".
    """
    merged: list[_RawToken] = []
    run: list[_RawToken] = []

    def flush() -> None:
        if len(run) >= 2:
            text = "".join(t[0] for t in run)
            origins = [o for t in run for o in t[1]]
            merged.append((text, origins, run[0][2], True))
        else:
            merged.extend(run)
        run.clear()

    for token in tokens:
        text, _, sep, _ = token
        # A trailing symbol does not make a letter a word: "o b a m a!".
        if sep != APOS and (len(text) == 1 or len(text.strip(_LEET_SYMBOL_TEXT)) == 1):
            run.append(token)
        else:
            flush()
            merged.append(token)
    flush()
    return merged


# --- readings of a token -------------------------------------------------------------


def squeeze(text: str) -> tuple[str, tuple[int, ...]]:
    """Collapse runs of a repeated character: "gooore" -> ("gore", (1, 3, 1, 1))."""
    letters: list[str] = []
    runs: list[int] = []
    for ch in text:
        if letters and letters[-1] == ch:
            runs[-1] += 1
        else:
            letters.append(ch)
            runs.append(1)
    return "".join(letters), tuple(runs)


def _leet_readings(text: str) -> list[str]:
    """Every reading of digits and symbols as letters, up to SPELLING_LIMIT of them."""
    readings = [""]
    for ch in text:
        options = LEET.get(ch, ch)
        if len(options) == 1:
            readings = [r + options for r in readings]
        else:
            readings = [r + o for r in readings for o in options][:SPELLING_LIMIT]
    return readings


@lru_cache(maxsize=65536)
def spellings(token: str, collapsed: bool = False) -> tuple[Spelling, ...]:
    """The plausible readings of one normalised token, the literal one first.

    - digits and symbols read as letters ("0bama" -> "obama", "k!ll" -> "kill"), unless
      the token is all digits (a year, a size);
    - symbols at the edges dropped ("gore!" -> "gore", "@obama" -> "obama");
    - for a spelled-out token, a leading "a" or "i" dropped: in "a G O R E scene" the
      article was spelled out with the word.
    """
    symbols = _LEET_SYMBOL_TEXT
    bases = [(token, 0, 0)]
    core = token.strip(symbols)
    if core and core != token:
        lead = len(token) - len(token.lstrip(symbols))
        bases.append((core, lead, len(token) - lead - len(core)))
    if collapsed:
        bases += [
            (text[1:], lead + 1, trail)
            for text, lead, trail in bases
            if len(text) >= 4 and text[0] in "ai"
        ]

    readings: list[tuple[str, int, int]] = []
    for text, lead, trail in bases:
        readings.append((text, lead, trail))
        if not text.isdigit() and any(ch in LEET for ch in text):
            readings.extend((reading, lead, trail) for reading in _leet_readings(text))

    seen: set[str] = set()
    result = []
    for raw, lead, trail in readings:
        if raw in seen:
            continue
        seen.add(raw)
        key, runs = squeeze(raw)
        result.append(Spelling(key, runs, raw, lead, trail))
    return tuple(result)
