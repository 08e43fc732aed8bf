"""Render a recipe (subject + modifiers + negative prompt + parameters) as prompt text.

Three dialects, all deterministic:

- ``plain``: grammatical prose for DALL·E-style models. The first medium leads
  ("A watercolor painting of a fox"), the first setting follows the subject ("in a
  misty forest"), artists read "in the style of X", moods "<x> mood", and the other
  modifiers follow as comma phrases.
- ``sd``: comma-separated fragments after the subject, weights as ``(term:1.2)``; the
  negative prompt stays a separate field.
- ``midjourney``: the plain prose, then ``--ar``, ``--no`` (the negative prompt),
  ``--seed`` and ``--stylize``.

Modifiers are ordered by their category's place in the catalog, then as chosen.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from prompts.catalog import Catalog, ModifierEntry

DIALECTS = ("plain", "sd", "midjourney")

MAX_WEIGHT = 2.0
MAX_SEED = 2**32 - 1
MAX_STYLIZE = 1000


@dataclass(frozen=True)
class ModifierChoice:
    slug: str
    weight: float = 1.0


@dataclass(frozen=True)
class Recipe:
    subject: str
    modifiers: tuple[ModifierChoice, ...] = ()
    negative_prompt: str = ""
    # aspect_ratio ("3:2"), seed, stylize, width, height, ...
    params: Mapping = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Rendered:
    prompt: str
    negative_prompt: str


class ComposeError(ValueError):
    def __init__(self, message: str, *, code: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.details = details or {}


# -- English helpers ----------------------------------------------------------------------

# Vowel letters that sound like consonants: "a unicorn", "a European", "a one-eyed cat".
_YOU_SOUNDS = ("uni", "use", "usu", "uti", "ure", "uro", "ufo", "ubi", "eu", "ewe")
_WON_SOUNDS = ("one", "once")
_AN_SILENT_H = ("hour", "honest", "honor", "honour", "heir", "herb")
_AN_LETTERS = set("aefhilmnorsx")  # initialisms read letter by letter: "an HDR photo"


def indefinite_article(phrase: str) -> str:
    """'a' or 'an' for the sound the phrase starts with."""
    word = phrase.strip().split(" ", 1)[0] if phrase.strip() else ""
    if not word:
        return "a"
    lower = word.casefold()
    if lower[0].isdigit():
        digits = re.match(r"\d+", lower).group()
        # eight, eighty, eight hundred...; eleven, eighteen, eleven thousand...
        if digits.startswith("8") or (len(digits) % 3 == 2 and digits.startswith(("11", "18"))):
            return "an"
        return "a"
    letters = re.sub(r"[^a-z]", "", lower)
    if len(word) >= 2 and word.isupper() and letters and not re.search(r"[aeiou]", letters[1:]):
        return "an" if letters[0] in _AN_LETTERS else "a"
    if lower.startswith(_AN_SILENT_H):
        return "an"
    if lower.startswith(_YOU_SOUNDS + _WON_SOUNDS):
        return "a"
    return "an" if lower[0] in "aeiou" else "a"


# Heads that take no article: "digital art of a fox", "street photography of a fox".
_MASS_HEADS = frozenset(
    (  # noqa: SIM905
        "art artwork photography imagery graffiti calligraphy origami embroidery "
        "pottery claymation animation typography footage ink charcoal gouache "
        "papercraft"
    ).split()
)


def _head(fragment: str) -> str:
    """The head noun: the last word before any trailing prepositional phrase."""
    words = re.findall(r"[\w'-]+", fragment.casefold())
    for i, word in enumerate(words[1:], start=1):
        if word in ("in", "of", "on", "at", "with", "from", "by"):
            return words[i - 1]
    return words[-1] if words else ""


def _takes_article(fragment: str) -> bool:
    first = fragment.split(" ", 1)[0]
    if first.casefold() in ("a", "an", "the") or first[:1].isupper() and not first.isupper():
        return False
    head = _head(fragment)
    return head not in _MASS_HEADS and not (head.endswith("s") and not head.endswith("ss"))


_PREPOSITIONS = frozenset(
    (  # noqa: SIM905
        "in on at under inside within among amid beneath below above over near by "
        "beside behind across along through underwater underground indoors outdoors"
    ).split()
)
# The preposition a setting takes, by its head noun; "in" for the rest.
_HEAD_PREPOSITIONS = {
    **dict.fromkeys(
        (  # noqa: SIM905
            "beach shore coast island mountaintop hilltop cliff rooftop roof moon mars "
            "planet street road bridge stage table desk ship boat train deck balcony "
            "terrace runway pier dock glacier iceberg surface plateau ledge reef"
        ).split(),
        "on",
    ),
    **dict.fromkeys(["sky", "skies"], "under"),
    **dict.fromkeys(["seaside", "cafe", "café", "station"], "at"),
    **dict.fromkeys(["lake", "river", "pond", "stream", "sea"], "by"),
}
_THE_HEADS = frozenset(
    (  # noqa: SIM905
        "moon sun ocean sea seaside countryside desert jungle arctic antarctic tropics "
        "suburbs future past wild wilderness clouds woods"
    ).split()
)
_NO_ARTICLE_HEADS = frozenset(
    (  # noqa: SIM905
        "space water snow rain fog mist darkness nature paradise heaven hell"
    ).split()
)


def setting_phrase(entry: ModifierEntry) -> str:
    """'in a misty forest', 'on the beach', 'in space', 'underwater'."""
    fragment = entry.fragment.strip()
    explicit = entry.extra.get("phrase") if isinstance(entry.extra, dict) else None
    if explicit:
        return str(explicit)
    words = fragment.split()
    if words and words[0].casefold() in _PREPOSITIONS:
        return fragment
    head = _head(fragment)
    preposition = _HEAD_PREPOSITIONS.get(head, "in")
    if words and words[0].casefold() in ("a", "an", "the"):
        return f"{preposition} {fragment}"
    if head in _NO_ARTICLE_HEADS or not _takes_article(fragment):
        return f"{preposition} {fragment}"
    if head in _THE_HEADS:
        return f"{preposition} the {fragment}"
    return f"{preposition} {indefinite_article(fragment)} {fragment}"


_LEADING_ARTICLE_RE = re.compile(r"^(a|an|the)(?= [a-z0-9])")


def _capitalise_article(subject: str) -> str:
    """A sentence starts with a capital: "a fox ..." leads as "A fox ...". Only a
    lower-case article is touched, so the parser can undo it exactly."""
    return _LEADING_ARTICLE_RE.sub(lambda m: m.group(1).capitalize(), subject, count=1)


def _join_and(items: list[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _format_weight(weight: float) -> str:
    return f"{weight:.2f}".rstrip("0").rstrip(".")


def _clean_subject(subject: str) -> str:
    return re.sub(r"\s+", " ", subject).strip().rstrip(",;:.").strip()


def _clean_negative(negative: str) -> str:
    parts = [re.sub(r"\s+", " ", p).strip() for p in re.split(r"[,\n]+", negative)]
    return ", ".join(p for p in parts if p)


# -- validation -----------------------------------------------------------------------------


def _check_modifiers(recipe: Recipe, catalog: Catalog) -> list[tuple[ModifierEntry, float]]:
    unknown = [c.slug for c in recipe.modifiers if c.slug not in catalog]
    if unknown:
        raise ComposeError(
            f"Unknown modifier(s): {', '.join(unknown)}",
            code="unknown_modifier",
            details={"slugs": unknown},
        )
    bad = [
        c.slug
        for c in recipe.modifiers
        if not (
            isinstance(c.weight, int | float)
            and 0 < c.weight <= MAX_WEIGHT
            and math.isfinite(c.weight)
        )
    ]
    if bad:
        raise ComposeError(
            f"Weights must be above 0 and at most {MAX_WEIGHT:g}",
            code="invalid_weight",
            details={"slugs": bad, "max": MAX_WEIGHT},
        )
    order = {category.slug: i for i, category in enumerate(catalog.categories)}
    chosen: dict[str, tuple[int, int, ModifierEntry, float]] = {}
    for position, choice in enumerate(recipe.modifiers):
        entry = catalog.get(choice.slug)
        if choice.slug not in chosen:  # the same modifier twice is rendered once
            chosen[choice.slug] = (
                order.get(entry.category, len(order)),
                position,
                entry,
                float(choice.weight),
            )
    return [(entry, weight) for _, _, entry, weight in sorted(chosen.values(), key=lambda t: t[:2])]


def _check_params(params: Mapping) -> dict[str, str]:
    """Midjourney's parameters, validated and formatted."""
    out: dict[str, str] = {}
    ratio = params.get("aspect_ratio")
    if ratio:
        match = re.fullmatch(r"\s*(\d{1,5})\s*:\s*(\d{1,5})\s*", str(ratio))
        if not match or int(match.group(1)) == 0 or int(match.group(2)) == 0:
            raise ComposeError(
                "aspect_ratio must look like 3:2",
                code="invalid_param",
                details={"param": "aspect_ratio", "value": str(ratio)},
            )
        out["ar"] = f"{int(match.group(1))}:{int(match.group(2))}"
    elif params.get("width") and params.get("height"):
        width, height = (
            _int_param(params, "width", 1, 100_000),
            _int_param(params, "height", 1, 100_000),
        )
        divisor = math.gcd(width, height)
        out["ar"] = f"{width // divisor}:{height // divisor}"
    if params.get("seed") is not None:
        out["seed"] = str(_int_param(params, "seed", 0, MAX_SEED))
    if params.get("stylize") is not None:
        out["stylize"] = str(_int_param(params, "stylize", 0, MAX_STYLIZE))
    return out


def _int_param(params: Mapping, name: str, low: int, high: int) -> int:
    value = params.get(name)
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif (isinstance(value, float) and value.is_integer()) or (
        isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value)
    ):
        number = int(value)
    if number is None or not low <= number <= high:
        raise ComposeError(
            f"{name} must be a whole number from {low} to {high}",
            code="invalid_param",
            details={"param": name, "value": str(value)},
        )
    return number


# -- rendering ------------------------------------------------------------------------------


def _render_plain(subject: str, modifiers: list[tuple[ModifierEntry, float]]) -> str:
    by_category: dict[str, list[ModifierEntry]] = {}
    for entry, _ in modifiers:
        by_category.setdefault(entry.category, []).append(entry)

    mediums = by_category.get("medium", [])
    settings = by_category.get("setting", [])
    if mediums:
        medium = mediums[0].fragment
        lead = f"{indefinite_article(medium)} {medium}" if _takes_article(medium) else medium
        lead = lead[:1].upper() + lead[1:]
        if subject:
            lead += f" of {subject}"
    else:
        lead = _capitalise_article(subject)
    if settings:
        phrase = setting_phrase(settings[0])
        lead = f"{lead} {phrase}" if lead else phrase[:1].upper() + phrase[1:]

    phrases: list[str] = [lead] if lead else []
    emitted: set[str] = set()
    for entry, _ in modifiers:
        category = entry.category
        if category in emitted:
            continue
        group = by_category[category]
        if category == "medium":
            phrases.extend(e.fragment for e in group[1:])
        elif category == "setting":
            phrases.extend(setting_phrase(e) for e in group[1:])
        elif category == "artist":
            phrases.append("in the style of " + _join_and([e.fragment for e in group]))
        elif category == "mood":
            words = _join_and([e.fragment for e in group])
            last = _head(group[-1].fragment)
            phrases.append(words if last in ("mood", "atmosphere", "feel") else f"{words} mood")
        else:
            phrases.extend(e.fragment for e in group)
        emitted.add(category)
    return ", ".join(phrases)


def _render_sd(subject: str, modifiers: list[tuple[ModifierEntry, float]]) -> str:
    parts = [subject] if subject else []
    for entry, weight in modifiers:
        fragment = re.sub(r"([()\[\]])", r"\\\1", entry.fragment)
        text = _format_weight(weight)
        parts.append(fragment if text == "1" else f"({fragment}:{text})")
    return ", ".join(parts)


def recipe_render(*, recipe: Recipe, dialect: str = "plain", catalog: Catalog) -> Rendered:
    if dialect not in DIALECTS:
        raise ComposeError(
            f"Unknown dialect {dialect!r}",
            code="unknown_dialect",
            details={"dialect": dialect, "allowed": list(DIALECTS)},
        )
    modifiers = _check_modifiers(recipe, catalog)
    subject = _clean_subject(recipe.subject or "")
    if not subject and not modifiers:
        raise ComposeError("A recipe needs a subject or at least one modifier", code="empty_prompt")
    negative = _clean_negative(recipe.negative_prompt or "")

    if dialect == "sd":
        return Rendered(prompt=_render_sd(subject, modifiers), negative_prompt=negative)
    if dialect == "plain":
        return Rendered(prompt=_render_plain(subject, modifiers), negative_prompt=negative)

    params = _check_params(recipe.params or {})
    # "--" inside the text would start a parameter.
    prose = _render_plain(re.sub(r"-{2,}|—", "-", subject), modifiers)
    tail = []
    if "ar" in params:
        tail.append(f"--ar {params['ar']}")
    if negative:
        tail.append("--no " + re.sub(r"-{2,}|—", "-", negative))
    if "seed" in params:
        tail.append(f"--seed {params['seed']}")
    if "stylize" in params:
        tail.append(f"--stylize {params['stylize']}")
    return Rendered(prompt=" ".join([prose, *tail]), negative_prompt="")
