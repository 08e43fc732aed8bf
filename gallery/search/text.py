"""Words, the query syntax and its sanitising: the text side of search, shared by both
databases.

A query is read the way web search reads it, as PostgreSQL's `websearch_to_tsquery`
does: words must all match, `"quoted words"` match as a phrase, `-word` excludes, `or`
between two items accepts either. Anything else (operators of the FTS5 or tsquery
syntax, NUL bytes, stray quotes, punctuation) is just not a word and falls away, so no
query string can raise a syntax error in either database.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

MAX_QUERY_CHARS = 500
MAX_QUERY_ITEMS = 16
MAX_WORD_CHARS = 64

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]+")
_WORD_RE = re.compile(r"[^\W_]+")
# One query item: an optional "-", then a quoted phrase (closed or running to the end) or
# a run of non-space characters.
_ITEM_RE = re.compile(r'(-?)(?:"([^"]*)"?|([^\s"]+))')
_COMPOUND_SPLIT_RE = re.compile(r"[^\w\-'’]+|_+")


@lru_cache(maxsize=65536)
def word_fold(word: str) -> str:
    """Lower case without accents: the form words are compared in."""
    folded = word.casefold()
    if not folded.isascii():
        folded = "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))
    return folded


def text_words(text: str) -> list[str]:
    """The folded words of a text, in order (punctuation and underscores separate words)."""
    return [word_fold(w) for w in _WORD_RE.findall(text or "") if len(w) <= MAX_WORD_CHARS]


def query_clean(q: str) -> str:
    """Control characters (NUL included) become spaces, the length is capped, spacing
    collapsed: the text every search mode starts from."""
    text = _CONTROL_RE.sub(" ", q or "")
    return " ".join(text[: MAX_QUERY_CHARS * 4].split())[:MAX_QUERY_CHARS]


@dataclass(frozen=True)
class QueryItem:
    """One web-search item: a word or a phrase (several words), maybe negated, maybe
    joined to the previous item by OR."""

    words: tuple[str, ...]
    negated: bool = False
    or_previous: bool = False


def query_items(q: str) -> list[QueryItem]:
    items: list[QueryItem] = []
    pending_or = False
    for match in _ITEM_RE.finditer(query_clean(q)):
        negated = bool(match.group(1))
        phrase, bare = match.group(2), match.group(3)
        if bare is not None and not negated and bare.casefold() == "or":
            pending_or = bool(items)
            continue
        # A quoted phrase stays a phrase, and so does a compound ("sci-fi", "hokusai's");
        # other punctuation separates items ("fox,watercolor" is two words).
        parts = [phrase] if phrase is not None else _COMPOUND_SPLIT_RE.split(bare)
        for part in parts:
            words = tuple(text_words(part))
            if not words:
                continue
            items.append(QueryItem(words=words, negated=negated, or_previous=pending_or and not negated))
            pending_or = False
        if len(items) >= MAX_QUERY_ITEMS:
            break
    return items[:MAX_QUERY_ITEMS]


def trigrams(word: str) -> set[str]:
    """pg_trgm's trigrams of one word: padded with two spaces before and one after."""
    padded = f"  {word} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def trigram_similarity(a: str, b: str) -> float:
    """pg_trgm's similarity(): shared trigrams over all trigrams of the two words."""
    ta, tb = trigrams(a), trigrams(b)
    return len(ta & tb) / len(ta | tb) if ta and tb else 0.0


# PostgreSQL's `english` stop words (the Snowball list). Its tsquery drops them; SQLite's
# FTS5 has no stop words, so the query side drops them there for the same results.
STOP_WORDS = frozenset(
    ["i", "me", "my", "myself", "we", "our", "ours", "ourselves", "you", "your", "yours", "yourself", "yourselves", "he", "him", "his", "himself", "she", "her", "hers", "herself", "it", "its", "itself", "they", "them", "their", "theirs", "themselves", "what", "which", "who", "whom", "this", "that", "these", "those", "am", "is", "are", "was", "were", "be", "been", "being", "have", "has", "had", "having", "do", "does", "did", "doing", "a", "an", "the", "and", "but", "if", "or", "because", "as", "until", "while", "of", "at", "by", "for", "with", "about", "against", "between", "into", "through", "during", "before", "after", "above", "below", "to", "from", "up", "down", "in", "out", "on", "off", "over", "under", "again", "further", "then", "once", "here", "there", "when", "where", "why", "how", "all", "any", "both", "each", "few", "more", "most", "other", "some", "such", "no", "nor", "not", "only", "own", "same", "so", "than", "too", "very", "s", "t", "can", "will", "just", "don", "should", "now"]
)
