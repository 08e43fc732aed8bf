"""Wildcard templates: one template, many prompts.

Syntax:

- ``{a|b|c}``: one of the alternatives; alternatives may nest (``{a {b|c}|d}``) and may
  be empty (``{red |}fox``), but ``{}`` may not.
- ``{2$$a|b|c}``: two distinct alternatives, in the listed order, joined with ", ".
- ``__medium__``: any modifier of that catalog category, inserted by its fragment.
- ``\\{``, ``\\}``, ``\\|``, ``\\_`` and ``\\\\``: the character itself.

Modes: ``all`` lists every combination in a fixed order (the last choice varies
fastest), at most ``cap`` of them; ``random`` draws ``count`` prompts with a seeded
generator, each choice uniform over its alternatives. ``total`` is always the true
number of combinations, computed by counting rather than listing.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from itertools import combinations

from prompts.catalog import Catalog

MODES = ("all", "random")
DEFAULT_CAP = 64
MAX_DEPTH = 50


class WildcardError(ValueError):
    def __init__(
        self,
        message: str,
        *,
        code: str,
        position: int | None = None,
        details: dict | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.position = position
        self.details = details or {}
        if position is not None:
            self.details.setdefault("position", position)


@dataclass(frozen=True)
class Expansion:
    prompts: tuple[str, ...]
    total: int


# -- syntax tree ----------------------------------------------------------------------------
# A sequence is a tuple of nodes; a node is a str (literal text) or a _Choice.


@dataclass(frozen=True)
class _Choice:
    alternatives: tuple[tuple, ...]  # each a sequence
    pick: int = 1
    sizes: tuple[int, ...] = ()  # how many prompts each alternative makes

    @classmethod
    def of(cls, alternatives: tuple[tuple, ...], pick: int = 1) -> _Choice:
        return cls(alternatives, pick, tuple(_count(alt) for alt in alternatives))

    @property
    def live(self) -> list[tuple]:
        """The alternatives that make at least one prompt."""
        return [alt for alt, size in zip(self.alternatives, self.sizes, strict=True) if size]


_CATEGORY_RE = re.compile(r"__([A-Za-z0-9][A-Za-z0-9-]*)__")
_PICK_RE = re.compile(r"([^{}|$\\]*)\$\$")
_ESCAPABLE = "{}|_\\$"
_CATEGORY_ALIASES = {"color": "colour", "colors": "colour", "colours": "colour"}


class _Parser:
    def __init__(self, template: str, catalog: Catalog) -> None:
        self.text = template
        self.catalog = catalog
        self.pos = 0
        self.depth = 0

    def parse(self) -> tuple:
        sequence = self._sequence(top=True)
        return sequence

    def _error(self, message: str, position: int) -> WildcardError:
        return WildcardError(message, code="syntax_error", position=position)

    def _sequence(self, *, top: bool) -> tuple:
        nodes: list = []
        literal: list[str] = []
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char == "\\" and self.pos + 1 < len(text) and text[self.pos + 1] in _ESCAPABLE:
                literal.append(text[self.pos + 1])
                self.pos += 2
            elif char == "{":
                if literal:
                    nodes.append("".join(literal))
                    literal = []
                if self.depth >= MAX_DEPTH:
                    raise self._error(f"braces nest deeper than {MAX_DEPTH}", self.pos)
                self.depth += 1
                nodes.append(self._choice())
                self.depth -= 1
            elif char == "}":
                if top:
                    raise self._error("'}' without a matching '{'", self.pos)
                break
            elif char == "|" and not top:
                break
            elif char == "_" and text.startswith("__", self.pos):
                match = _CATEGORY_RE.match(text, self.pos)
                if not match:
                    literal.append(char)
                    self.pos += 1
                    continue
                if literal:
                    nodes.append("".join(literal))
                    literal = []
                nodes.append(self._category(match))
                self.pos = match.end()
            else:
                literal.append(char)
                self.pos += 1
        if literal:
            nodes.append("".join(literal))
        return tuple(nodes)

    def _choice(self) -> _Choice:
        open_at = self.pos
        self.pos += 1
        pick = 1
        pick_match = _PICK_RE.match(self.text, self.pos)
        if pick_match:
            digits = pick_match.group(1).strip()
            if not digits.isdigit() or int(digits) < 1:
                raise self._error("'$$' needs a whole number of at least 1 before it", self.pos)
            pick = int(digits)
            pick_at = self.pos
            self.pos = pick_match.end()
        alternatives = []
        while True:
            alternatives.append(self._sequence(top=False))
            if self.pos >= len(self.text):
                raise self._error("'{' is never closed", open_at)
            if self.text[self.pos] == "|":
                self.pos += 1
                continue
            self.pos += 1  # '}'
            break
        if len(alternatives) == 1 and not alternatives[0]:
            raise self._error("'{}' has no alternatives", open_at)
        if pick > len(alternatives):
            raise self._error(f"cannot pick {pick} of {len(alternatives)} alternatives", pick_at)
        return _Choice.of(tuple(alternatives), pick)

    def _category(self, match: re.Match) -> _Choice:
        name = match.group(1).casefold()
        slug = _CATEGORY_ALIASES.get(name, name)
        category = self.catalog.category(slug)
        if category is None:
            raise WildcardError(
                f"Unknown category {match.group(1)!r}",
                code="unknown_category",
                position=match.start(),
                details={
                    "category": match.group(1),
                    "allowed": [c.slug for c in self.catalog.categories],
                },
            )
        return _Choice.of(tuple((m.fragment,) for m in category.modifiers))


# -- counting, listing, sampling ---------------------------------------------------------------


def _count(sequence: tuple) -> int:
    total = 1
    for node in sequence:
        if isinstance(node, _Choice):
            total *= _count_choice(node)
            if total == 0:
                return 0
    return total


def _count_choice(choice: _Choice) -> int:
    # Elementary symmetric polynomial e_pick(sizes): the ways to pick `pick` distinct
    # alternatives and one expansion of each.
    ways = [1] + [0] * choice.pick
    for size in choice.sizes:
        for k in range(choice.pick, 0, -1):
            ways[k] += ways[k - 1] * size
    return ways[choice.pick]


def _product(parts: list[list[str]], limit: int, join) -> list[str]:
    """The first `limit` combinations, one item from each part, the last varying fastest."""
    if any(not part for part in parts):
        return []
    out: list[str] = []
    index = [0] * len(parts)
    while len(out) < limit:
        out.append(join([part[i] for part, i in zip(parts, index, strict=True)]))
        position = len(parts) - 1
        while position >= 0:
            index[position] += 1
            if index[position] < len(parts[position]):
                break
            index[position] = 0
            position -= 1
        if position < 0:
            break
    return out


def _list(sequence: tuple, limit: int) -> list[str]:
    """The first `limit` prompts of a sequence, in order. The first `limit` items of each
    node are all that the first `limit` combinations can use."""
    parts = [[node] if isinstance(node, str) else _list_choice(node, limit) for node in sequence]
    return _product(parts, limit, "".join)


def _list_choice(choice: _Choice, limit: int) -> list[str]:
    alternatives = choice.live
    out: list[str] = []
    if choice.pick == 1:
        for alternative in alternatives:
            out.extend(_list(alternative, limit - len(out)))
            if len(out) >= limit:
                break
        return out
    listed: dict[int, list[str]] = {}
    for picked in combinations(range(len(alternatives)), choice.pick):
        parts = []
        for i in picked:
            if i not in listed:
                listed[i] = [p.strip() for p in _list(alternatives[i], limit)]
            parts.append(listed[i])
        out.extend(_product(parts, limit - len(out), _join_picked))
        if len(out) >= limit:
            break
    return out


def _join_picked(items: list[str]) -> str:
    return ", ".join(item for item in items if item)


def _sample(sequence: tuple, rng: random.Random) -> str:
    parts = []
    for node in sequence:
        if isinstance(node, str):
            parts.append(node)
            continue
        alternatives = node.live
        indices = sorted(rng.sample(range(len(alternatives)), node.pick))
        if node.pick == 1:
            parts.append(_sample(alternatives[indices[0]], rng))
        else:
            parts.append(_join_picked([_sample(alternatives[i], rng).strip() for i in indices]))
    return "".join(parts)


_SPACES_RE = re.compile(r"[ \t]{2,}")
_SPACE_BEFORE_PUNCT_RE = re.compile(r"[ \t]+([,.;:!?])")


def _tidy(prompt: str) -> str:
    """Empty alternatives leave doubled spaces and dangling separators behind."""
    prompt = _SPACES_RE.sub(" ", prompt)
    prompt = _SPACE_BEFORE_PUNCT_RE.sub(r"\1", prompt)
    prompt = re.sub(r",(?:\s*,)+", ",", prompt)
    return prompt.strip().strip(",").strip()


def template_parse(*, template: str, catalog: Catalog) -> tuple:
    return _Parser(template, catalog).parse()


def template_count(*, template: str, catalog: Catalog) -> int:
    return _count(template_parse(template=template, catalog=catalog))


def template_expand(
    *,
    template: str,
    mode: str = "all",
    count: int = 1,
    seed: int | None = None,
    catalog: Catalog,
    cap: int = DEFAULT_CAP,
    strict: bool = False,
) -> Expansion:
    if mode not in MODES:
        raise WildcardError(
            f"Unknown mode {mode!r}",
            code="invalid_mode",
            details={"mode": mode, "allowed": list(MODES)},
        )
    if cap < 1:
        raise WildcardError("cap must be at least 1", code="invalid_count", details={"cap": cap})
    sequence = template_parse(template=template, catalog=catalog)
    total = _count(sequence)

    if mode == "all":
        if strict and total > cap:
            raise WildcardError(
                f"The template makes {total} prompts; at most {cap} are allowed",
                code="too_many_combinations",
                details={"total": total, "cap": cap},
            )
        prompts = tuple(_tidy(p) for p in _list(sequence, cap)) if total else ()
        return Expansion(prompts=prompts, total=total)

    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= cap:
        raise WildcardError(
            f"count must be from 1 to {cap}",
            code="invalid_count",
            details={"count": count, "cap": cap},
        )
    if total == 0:
        return Expansion(prompts=(), total=0)
    rng = random.Random(seed)
    return Expansion(
        prompts=tuple(_tidy(_sample(sequence, rng)) for _ in range(count)), total=total
    )
