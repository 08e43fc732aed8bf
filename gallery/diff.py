"""Word-level prompt diffs: how a remix's prompt differs from its parent's.

Prompts are split into words and punctuation marks, each remembering the whitespace in
front of it; the diff compares the words only, so re-spacing a prompt is no change, and
`(dramatic light:1.2)` → `(dramatic light:1.4)` marks one number, not the whole group.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# A word (letters/digits with inner apostrophes, dots or hyphens), or one other mark.
_TOKEN_RE = re.compile(r"(\s*)([^\W_]+(?:['’.\-][^\W_]+)*|\S)", re.UNICODE)

Kind = Literal["equal", "ins", "del"]


@dataclass(frozen=True)
class DiffSpan:
    kind: Kind
    text: str


def _tokens(text: str) -> list[tuple[str, str]]:
    return [(match.group(1), match.group(2)) for match in _TOKEN_RE.finditer(text or "")]


def _joined(tokens: list[tuple[str, str]], *, first: bool) -> str:
    text = "".join(space + word for space, word in tokens)
    # The very first span of the output starts without the space that led it.
    return text.lstrip() if first else text


def prompt_diff(old: str, new: str) -> list[DiffSpan]:
    """Spans that turn `old` into `new`: equal text, deleted words, inserted words."""
    old_tokens, new_tokens = _tokens(old), _tokens(new)
    matcher = difflib.SequenceMatcher(
        a=[word.casefold() for _, word in old_tokens],
        b=[word.casefold() for _, word in new_tokens],
        autojunk=False,
    )
    spans: list[DiffSpan] = []
    for tag, a1, a2, b1, b2 in matcher.get_opcodes():
        first = not spans
        if tag == "equal":
            spans.append(DiffSpan("equal", _joined(new_tokens[b1:b2], first=first)))
            continue
        if tag in ("delete", "replace"):
            spans.append(DiffSpan("del", _joined(old_tokens[a1:a2], first=first)))
        if tag in ("insert", "replace"):
            spans.append(DiffSpan("ins", _joined(new_tokens[b1:b2], first=not spans)))
    return [span for span in spans if span.text]


def _wrapped(span: DiffSpan) -> str:
    # The leading space stays outside <ins>/<del>, so the marks hug the words.
    body = span.text.lstrip()
    lead = span.text[: len(span.text) - len(body)]
    if span.kind == "equal":
        return escape(span.text)
    return f"{escape(lead)}<{span.kind}>{escape(body)}</{span.kind}>"


def prompt_diff_html(old: str, new: str) -> SafeString:
    """The diff as HTML: every piece of text escaped, changes inside <ins>/<del>."""
    return mark_safe("".join(_wrapped(span) for span in prompt_diff(old, new)))  # noqa: S308 - escaped above


def prompt_diff_json(old: str, new: str) -> list[list[str]]:
    """The diff for the API: [["equal" | "ins" | "del", text], ...]."""
    return [[span.kind, span.text] for span in prompt_diff(old, new)]
