"""Read a prompt in any dialect back into a subject, modifiers and parameters.

Works on the composer's output and on prompts written elsewhere: A1111-style weights
(``(term:1.3)``, ``((term))``, ``[term]``), Midjourney multi-prompt weights
(``term::2``) and parameters (``--ar 3:2 --no text --seed 7 --stylize 250``), and the
"Negative prompt: ... / Steps: ..." block that A1111 writes into image metadata.

Modifiers are found by fragment, name or alias, ignoring case, accents, spacing and
hyphens; the longest term wins. Spans are character offsets into the original text.

How it works: the weight syntax is first *masked* (replaced by spaces, so offsets stay
put), the text is split into word tokens, and every run of tokens is looked up in an
index of the catalog's terms tokenized the same way. The subject is what is left of the
first phrase once modifiers and the words that glue them into prose ("A ... of",
"in the style of", "... mood") are taken out.
"""

from __future__ import annotations

import re
import unicodedata
import weakref
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from functools import lru_cache

from prompts.catalog import Catalog

__all__ = [
    "FoundModifier",
    "ParsedPrompt",
    "ScannedPrompt",
    "catalog_term_words",
    "prompt_parse",
    "prompt_scan",
    "scan_modifiers",
    "words_key",
]


@dataclass(frozen=True)
class FoundModifier:
    slug: str
    category: str
    start: int
    end: int
    weight: float


@dataclass(frozen=True)
class ParsedPrompt:
    subject: str
    modifiers: tuple[FoundModifier, ...]
    unrecognized: tuple[str, ...]
    negative_prompt: str
    params: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "subject": self.subject,
            "modifiers": [
                {
                    "slug": m.slug,
                    "category": m.category,
                    "start": m.start,
                    "end": m.end,
                    "weight": m.weight,
                }
                for m in self.modifiers
            ],
            "unrecognized": list(self.unrecognized),
            "negative_prompt": self.negative_prompt,
            "params": dict(self.params),
        }


# -- tokens ---------------------------------------------------------------------------

# A word: letters/digits, with inner apostrophes or dots ("don't", "1.8", "m.c").
_WORD_RE = re.compile(r"[^\W_]+(?:['’.][^\W_]+)*")
_POSSESSIVE_RE = re.compile(r"['’]s$")
_GAP_IGNORED_RE = re.compile(r"[\s\-_]+")


@lru_cache(maxsize=65536)
def _fold(word: str) -> str:
    """Case, accents and a possessive 's do not matter when comparing words."""
    folded = word.casefold()
    if not folded.isascii():
        folded = "".join(
            c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c)
        )
    folded = folded.replace("’", "'")
    return _POSSESSIVE_RE.sub("", folded)


def _tokens(text: str) -> list[tuple[str, str, int, int]]:
    """(folded word, folded gap before it, start, end) for each word in `text`."""
    out = []
    prev_end = 0
    for match in _WORD_RE.finditer(text):
        gap = _GAP_IGNORED_RE.sub("", text[prev_end : match.start()]) if out else ""
        out.append((_fold(match.group()), gap, match.start(), match.end()))
        prev_end = match.end()
    return out


def words_key(text: str) -> str:
    """A term as the matcher compares it: folded words joined with their gaps."""
    return "\x00".join(
        (gap + "\x01" + word) if i else word for i, (word, gap, _, _) in enumerate(_tokens(text))
    )


class _TermMatcher:
    """Longest-match lookup of catalog terms over a token list."""

    def __init__(self, catalog: Catalog) -> None:
        self.index: dict[str, str] = {}
        self.lengths: dict[str, list[int]] = {}  # first word → term lengths, longest first
        for modifier in catalog:
            for term in modifier.terms:
                tokens = _tokens(term)
                if not tokens:
                    continue
                self.index.setdefault(words_key(term), modifier.slug)
                lengths = self.lengths.setdefault(tokens[0][0], [])
                if len(tokens) not in lengths:
                    lengths.append(len(tokens))
        for lengths in self.lengths.values():
            lengths.sort(reverse=True)
        self.term_words = frozenset(
            word for modifier in catalog for term in modifier.terms for word, *_ in _tokens(term)
        )

    def matches(self, tokens: list[tuple[str, str, int, int]]) -> list[tuple[str, int, int]]:
        """(slug, first token index, end token index) for each longest match."""
        found = []
        i = 0
        n = len(tokens)
        while i < n:
            lengths = self.lengths.get(tokens[i][0])
            matched = 0
            if lengths:
                for length in lengths:
                    if i + length > n:
                        continue
                    key = "\x00".join(
                        (tokens[j][1] + "\x01" + tokens[j][0]) if j > i else tokens[j][0]
                        for j in range(i, i + length)
                    )
                    slug = self.index.get(key)
                    if slug is not None:
                        found.append((slug, i, i + length))
                        matched = length
                        break
            i += matched or 1
        return found


_matchers: weakref.WeakKeyDictionary[Catalog, _TermMatcher] = weakref.WeakKeyDictionary()


def _matcher(catalog: Catalog) -> _TermMatcher:
    matcher = _matchers.get(catalog)
    if matcher is None:
        matcher = _matchers[catalog] = _TermMatcher(catalog)
    return matcher


def catalog_term_words(*, catalog: Catalog) -> frozenset[str]:
    """Every folded word that occurs in some catalog term (the linter's vocabulary)."""
    return _matcher(catalog).term_words


# -- parameters and weights -------------------------------------------------------------

_MJ_PARAMS_RE = re.compile(r"(?:^|(?<=\s))(?:--|—)(?=[A-Za-z])")
_MJ_PARAM_RE = re.compile(r"(?:--|—)([A-Za-z][\w-]*)\s*(.*?)\s*(?=(?:\s(?:--|—)[A-Za-z])|$)", re.S)
_MJ_NAMES = {
    "ar": "aspect_ratio",
    "aspect": "aspect_ratio",
    "s": "stylize",
    "stylize": "stylize",
    "seed": "seed",
    "no": "no",
    "c": "chaos",
    "chaos": "chaos",
    "q": "quality",
    "quality": "quality",
    "v": "version",
    "version": "version",
    "style": "style",
    "niji": "niji",
    "w": "weird",
    "weird": "weird",
    "iw": "image_weight",
    "tile": "tile",
}
_A1111_NEGATIVE_RE = re.compile(r"^[ \t]*Negative prompt:[ \t]*", re.M | re.I)
_A1111_PARAMS_RE = re.compile(r"^[ \t]*Steps:[ \t]*\d+,.*$", re.M)
_A1111_PARAM_RE = re.compile(r"([A-Za-z][A-Za-z0-9 ]*?):\s*(\"[^\"]*\"|[^,]*)")
_A1111_NAMES = {
    "steps": "steps",
    "sampler": "sampler",
    "cfg scale": "guidance",
    "seed": "seed",
    "size": "size",
    "model": "model",
    "denoising strength": "strength",
}
_WEIGHT_SUFFIX_RE = re.compile(r":\s*(-?\d+(?:\.\d+)?|-?\.\d+)\s*$")
_MJ_WEIGHT_RE = re.compile(r"::\s*(-?\d+(?:\.\d+)?|-?\.\d+)?")
_NUMBER_RE = re.compile(r"^-?\d+$")


def _number(value: str) -> int | float | str:
    try:
        return int(value) if _NUMBER_RE.match(value) else float(value)
    except ValueError:
        return value


def _mj_params(text: str) -> tuple[dict, str]:
    params: dict = {}
    negative = ""
    for match in _MJ_PARAM_RE.finditer(text):
        name = match.group(1).casefold()
        value = match.group(2).strip()
        key = _MJ_NAMES.get(name, name)
        if key == "no":
            negative = ", ".join(p for p in (negative, value) if p)
        elif key == "aspect_ratio":
            params[key] = value
        elif key in ("seed", "stylize", "chaos", "weird", "quality", "image_weight"):
            params[key] = _number(value) if value else True
        else:
            params[key] = value if value else True
    return params, negative


def _a1111_params(line: str) -> dict:
    params: dict = {}
    for match in _A1111_PARAM_RE.finditer(line):
        name = match.group(1).strip().casefold()
        value = match.group(2).strip().strip('"')
        key = _A1111_NAMES.get(name, name.replace(" ", "_"))
        if key == "size" and re.fullmatch(r"\d+x\d+", value):
            width, height = value.split("x")
            params["width"], params["height"] = int(width), int(height)
        elif key in ("steps", "seed", "guidance", "strength"):
            params[key] = _number(value)
        else:
            params[key] = value
    return params


def _round_weight(weight: float) -> float:
    return round(weight, 4)


def _weights_and_mask(body: str) -> tuple[str, list[tuple[int, int, float]]]:
    """Mask weight syntax with spaces; return the masked text and weighted regions."""
    if not any(c in body for c in "()[]:"):
        return body, []
    chars = list(body)
    regions: list[tuple[int, int, float]] = []
    stack: list[tuple[str, int]] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body) and body[i + 1] in "()[]":
            chars[i] = " "
            i += 2
            continue
        if char in "([":
            stack.append((char, i))
        elif char in ")]" and stack and stack[-1][0] == ("(" if char == ")" else "["):
            _, open_at = stack.pop()
            if char == "]":
                multiplier = 1 / 1.1
            else:
                multiplier = 1.1
                # The suffix is short: look only at the end of the group.
                suffix = _WEIGHT_SUFFIX_RE.search(body, max(open_at + 1, i - 32), i)
                if suffix and suffix.end() == i:
                    multiplier = float(suffix.group(1))
                    for j in range(suffix.start(), suffix.end()):
                        chars[j] = " "
            chars[open_at] = chars[i] = " "
            regions.append((open_at, i + 1, multiplier))
        i += 1
    # Midjourney multi-prompts: "term::2 other::0.5" weights the segment before "::".
    segment_start = 0
    for match in _MJ_WEIGHT_RE.finditer(body):
        weight = float(match.group(1)) if match.group(1) else 1.0
        regions.append((segment_start, match.start(), weight))
        for j in range(match.start(), match.end()):
            chars[j] = " "
        segment_start = match.end()
    return "".join(chars), regions


def _weight_at(regions: list[tuple[int, int, float]], pos: int) -> float:
    weight = 1.0
    for start, end, multiplier in regions:
        if start <= pos < end:
            weight *= multiplier
    return _round_weight(weight)


# -- scanning ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ScannedPrompt:
    """The prompt body with weight syntax masked, its tokens and catalog matches.

    Shared by the parser and the linter so both see the same words at the same offsets.
    """

    text: str
    body_end: int  # where the parameters / negative-prompt block begins
    masked: str  # text[:body_end] with weight syntax replaced by spaces
    tokens: list[tuple[str, str, int, int]]
    matches: list[tuple[str, int, int]]  # (slug, first token, end token)
    weights: list[tuple[int, int, float]]
    negative_prompt: str
    params: dict


def prompt_scan(*, text: str, catalog: Catalog) -> ScannedPrompt:
    text = text.replace("\x00", " ")
    body_end = len(text)
    negative = ""
    params: dict = {}

    block = _A1111_PARAMS_RE.search(text)
    neg = _A1111_NEGATIVE_RE.search(text)
    if neg:
        body_end = neg.start()
        neg_end = block.start() if block and block.start() > neg.end() else len(text)
        negative = text[neg.end() : neg_end].strip()
    if block:
        body_end = min(body_end, block.start())
        params.update(_a1111_params(block.group()))

    mj = _MJ_PARAMS_RE.search(text, 0, body_end)
    if mj:
        mj_params, mj_negative = _mj_params(text[mj.start() : body_end])
        params.update(mj_params)
        negative = ", ".join(p for p in (negative, mj_negative) if p)
        body_end = mj.start()

    masked, weights = _weights_and_mask(text[:body_end])
    tokens = _tokens(masked)
    matches = _matcher(catalog).matches(tokens)
    return ScannedPrompt(
        text=text,
        body_end=body_end,
        masked=masked,
        tokens=tokens,
        matches=matches,
        weights=weights,
        negative_prompt=negative,
        params=params,
    )


def scan_modifiers(*, scan: ScannedPrompt, catalog: Catalog) -> tuple[FoundModifier, ...]:
    found = []
    for slug, first, end in scan.matches:
        entry = catalog.get(slug)
        start, stop = scan.tokens[first][2], scan.tokens[end - 1][3]
        found.append(
            FoundModifier(
                slug=slug,
                category=entry.category if entry else "",
                start=start,
                end=stop,
                weight=_weight_at(scan.weights, start),
            )
        )
    return tuple(found)


# -- subject and leftovers ---------------------------------------------------------------

# Phrases end at commas, semicolons, line breaks, sentence stops and "|"; the masked
# Midjourney "::" separators are spaces by now, so their positions are added separately.
_PHRASE_SPLIT_RE = re.compile(r"[,;|\n]+|\.(?=\s|$)")
_GLUE_BEFORE_RE = re.compile(
    r"(?:\b(?:in the (?:style|manner) of|in the style|style of|inspired by|by|in|on|at|"
    r"under|inside|with|and|or|&)\s+)?(?:\b(?:a|an|the)\s+)?$",
    re.I,
)
_GLUE_AFTER_RE = re.compile(
    r"^\s+(?:of|depicting|showing|mood|style|aesthetic|atmosphere|vibes?|feel)\b", re.I
)
_GLUE_WORDS = frozenset(
    (  # noqa: SIM905
        "a an the of in on at by with and or & style mood aesthetic atmosphere inspired "
        "manner under inside depicting showing feel vibe vibes"
    ).split()
)
_EDGE_GLUE_RE = re.compile(
    r"^(?:(?:in the (?:style|manner) of|style of|inspired by|by|in|on|at|with|and|or|of)\s+)+"
    r"|(?:\s+(?:and|or|of|in|on|at|by|with|mood|style))+$",
    re.I,
)
_SPACES_RE = re.compile(r"\s+")
_LEADING_ARTICLE_RE = re.compile(r"^(A|An|The)(?= [a-z0-9])")
_TRIM = " \t\r\n,;:.!?|-–—\"'“”()[]{}"


def _phrases(scan: ScannedPrompt, modifiers: tuple[FoundModifier, ...]) -> list[tuple[int, int]]:
    spans = []
    start = 0
    cuts = [(m.start(), m.end()) for m in _PHRASE_SPLIT_RE.finditer(scan.masked)]
    cuts += [(m.start(), m.end()) for m in _MJ_WEIGHT_RE.finditer(scan.text, 0, scan.body_end)]
    # A stop inside a term ("J.M.W. Turner") does not end the phrase.
    starts = [m.start for m in modifiers]

    def inside_term(position: int) -> bool:
        i = bisect_right(starts, position) - 1
        return i >= 0 and position < modifiers[i].end

    cuts = [c for c in cuts if not inside_term(c[0])]
    for cut_start, cut_end in sorted(cuts):
        if cut_start >= start:
            spans.append((start, cut_start))
            start = max(start, cut_end)
    spans.append((start, len(scan.masked)))
    return [(a, b) for a, b in spans if b > a]


def _clean(text: str) -> str:
    return _SPACES_RE.sub(" ", text).strip(_TRIM)


def _leftovers(masked: str, start: int, end: int, spans: list[tuple[int, int]]) -> list[str]:
    """The pieces of masked[start:end] outside the modifier spans, glue removed."""
    pieces = []
    cursor = start
    for span_start, span_end in spans:
        before = _GLUE_BEFORE_RE.search(masked, cursor, span_start)
        cut_start = before.start() if before else span_start
        after = _GLUE_AFTER_RE.match(masked[span_end:end])
        cut_end = span_end + (after.end() if after else 0)
        pieces.append(masked[cursor:cut_start])
        cursor = max(cursor, cut_end)
    pieces.append(masked[cursor:end])
    return [piece for piece in (_clean(p) for p in pieces) if piece]


def _is_glue(text: str) -> bool:
    return all(word.casefold() in _GLUE_WORDS for word in text.split())


def prompt_parse(*, text: str, catalog: Catalog) -> ParsedPrompt:
    scan = prompt_scan(text=text, catalog=catalog)
    modifiers = scan_modifiers(scan=scan, catalog=catalog)
    subject = ""
    unrecognized: list[str] = []
    starts = [m.start for m in modifiers]
    for phrase_start, phrase_end in _phrases(scan, modifiers):
        first = bisect_left(starts, phrase_start)
        inside = []
        for modifier in modifiers[first:]:
            if modifier.start >= phrase_end:
                break
            if modifier.end <= phrase_end:
                inside.append((modifier.start, modifier.end))
        pieces = [
            p for p in _leftovers(scan.masked, phrase_start, phrase_end, inside) if not _is_glue(p)
        ]
        if not pieces:
            continue
        if not subject:
            subject = " ".join(pieces)
            if phrase_start == 0 and scan.masked.startswith(subject):
                # The composer capitalises a leading article ("A fox in a forest").
                subject = _LEADING_ARTICLE_RE.sub(lambda m: m.group(1).lower(), subject)
        else:
            unrecognized.extend(_clean(_EDGE_GLUE_RE.sub("", p)) for p in pieces)
    return ParsedPrompt(
        subject=subject,
        modifiers=modifiers,
        unrecognized=tuple(u for u in unrecognized if u),
        negative_prompt=scan.negative_prompt,
        params=scan.params,
    )
