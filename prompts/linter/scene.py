"""Rules about the scene a prompt describes: placement, attributes bound to objects,
and people. Each is a known weak spot of diffusion models."""

from __future__ import annotations

import re
from collections.abc import Iterator

from prompts.linter.findings import Finding, LintContext

# -- spatial relations ---------------------------------------------------------------------

_DETERMINERS = r"(?:the|a|an|his|her|its|their|my|our|your|this|that|these|those|some|two|three)"
_SPATIAL_RE = re.compile(
    r"\b(?P<lr>(?:to|on)\s+the\s+(?:left|right)(?:\s+(?:side\s+)?of)?|(?:left|right)\s+of|"
    r"(?:left|right)-hand\s+side\s+of)\b"
    r"|\b(?P<rel>on\s+top\s+of|atop|above|below|beneath|underneath|under|behind|"
    r"in\s+front\s+of|between|next\s+to|beside|on\s+either\s+side\s+of|"
    rf"inside\s+of|surrounding|stacked\s+on|over(?=\s+{_DETERMINERS}\b))\b",
    re.IGNORECASE,
)
# "tipped over", "all over", "hand over" are not placements.
_OVER_PARTICLE_RE = re.compile(
    r"\b(?:tipped|tip|tips|knocked|knock|turned|turn|fell|fall|falls|falling|fallen|all|"
    r"hand|handed|handing|took|take|taking|come|came|coming|get|got|bent|bend|bending|"
    r"lean|leaning|leaned|jump|jumping|jumped|keel|keeled|run|ran|running)\s*$",
    re.IGNORECASE,
)


def check_spatial_relation(ctx: LintContext) -> Iterator[Finding]:
    body = ctx.body
    for match in _SPATIAL_RE.finditer(body):
        if ctx.in_quotes(match.start()):
            continue
        phrase = match.group()
        if phrase.casefold() == "over" and _OVER_PARTICLE_RE.search(body, 0, match.start()):
            continue
        if _places_in_setting(ctx, match.end()):
            continue  # "under a night sky": the backdrop, not two objects to arrange
        left_right = match.group("lr") is not None
        yield Finding(
            code="spatial_relation",
            severity="warning" if left_right else "info",
            message=(
                f"Placement words like “{phrase}” are often ignored or swapped"
                + (
                    ": left and right come out mirrored about half the time."
                    if left_right
                    else ", especially between two similar objects."
                )
            ),
            start=match.start(),
            end=match.end(),
            suggestion=(
                "Generate a few variations and pick the one that follows the layout, or "
                "generate the scene and fix the placement with an edit (inpainting)."
            ),
        )


_ARTICLE_RE = re.compile(rf"\s+(?:{_DETERMINERS}\s+)?", re.IGNORECASE)


def _places_in_setting(ctx: LintContext, end: int) -> bool:
    """True when the relation word is followed by a catalog setting or weather modifier."""
    gap = _ARTICLE_RE.match(ctx.body, end)
    start = gap.end() if gap else end
    return any(m.start == start and m.category in ("setting", "weather") for m in ctx.modifiers)


# -- attribute binding --------------------------------------------------------------------------

COLOUR_WORDS = frozenset(
    (  # noqa: SIM905
        "red orange yellow green blue purple violet pink brown black white gray grey "
        "silver gold golden beige teal turquoise cyan magenta maroon navy crimson "
        "scarlet indigo lavender lilac olive emerald ivory tan cream amber aqua ochre "
        "mauve"
    ).split()
)
SIZE_WORDS = frozenset(
    (  # noqa: SIM905
        "large small big tiny huge giant little tall short long massive miniature "
        "enormous gigantic wide narrow thick thin fat skinny"
    ).split()
)
MATERIAL_WORDS = frozenset(
    (  # noqa: SIM905
        "wooden wood metal metallic plastic glass stone felt paper cardboard leather "
        "steel iron marble brick ceramic porcelain rubber cotton wool woolen woollen "
        "velvet copper bronze crystal concrete clay denim silk fur furry glossy matte "
        "shiny wicker knitted frosted"
    ).split()
)
ATTRIBUTE_WORDS = COLOUR_WORDS | SIZE_WORDS | MATERIAL_WORDS
_BINDING_STOP = frozenset(
    (  # noqa: SIM905
        "and or with of in on at to the a an is are that which while but as for by from "
        "one ones side"
    ).split()
)
_ALPHA_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'’-]*")


def attribute_pairs(text: str) -> list[tuple[frozenset[str], str, int, int]]:
    """(attributes, noun, start, end) for each run "attribute+ noun" in the text."""
    words = [(m.group().casefold(), m.start(), m.end()) for m in _ALPHA_WORD_RE.finditer(text)]
    pairs = []
    i = 0
    while i < len(words):
        if words[i][0] not in ATTRIBUTE_WORDS:
            i += 1
            continue
        j = i
        attributes = set()
        while j < len(words) and words[j][0] in ATTRIBUTE_WORDS:
            # "black and white": a colour pair, not two bindings.
            attributes.add(words[j][0])
            j += 1
        gap = text[words[j - 1][2] : words[j][1]] if j < len(words) else ""
        if j < len(words) and words[j][0] not in _BINDING_STOP and gap.strip(" -") == "":
            pairs.append((frozenset(attributes), words[j][0], words[i][1], words[j][2]))
            i = j + 1
        else:
            i = j
    return pairs


_SENTENCE_END_RE = re.compile(r"[.;!?\n]+(?:\s|$)")


def check_attribute_binding(ctx: LintContext) -> Iterator[Finding]:
    """Two or more objects in one sentence, each with its own attributes."""
    # Words inside catalog modifiers ("golden hour light", "stained glass window") are
    # style terms, not attributes of an object.
    pairs = [p for p in attribute_pairs(ctx.body) if not ctx.in_quotes(p[2]) and not ctx.in_modifier(p[2])]
    if len(pairs) < 2:
        return
    ends = [m.end() for m in _SENTENCE_END_RE.finditer(ctx.body)] + [len(ctx.body) + 1]
    by_sentence: dict[int, list] = {}
    for pair in pairs:
        sentence = next(i for i, end in enumerate(ends) if pair[2] < end)
        by_sentence.setdefault(sentence, []).append(pair)
    for group in by_sentence.values():
        distinct = {(attributes, noun) for attributes, noun, _, _ in group}
        if len(distinct) < 2 or len({attributes for attributes, _ in distinct}) < 2:
            continue
        described = ", ".join(f"{' '.join(sorted(a))} {n}" for a, n, _, _ in group[:4])
        yield Finding(
            code="attribute_binding",
            severity="warning",
            message=(
                f"{len(group)} objects with their own colour, size or material "
                f"({described}): models often swap or blend attributes between objects."
            ),
            start=group[0][2],
            end=group[-1][3],
            suggestion=(
                "Keep each attribute right next to its object and the objects few; if they "
                "still swap, generate one object and add the other with an edit (inpainting)."
            ),
        )


# -- people ------------------------------------------------------------------------------------

_PEOPLE_RE = re.compile(
    r"\b(?:person|persons|people|man|men|woman|women|boy|boys|girl|girls|child|children|"
    r"kid|kids|baby|babies|toddler|toddlers|teen|teens|teenager|teenagers|lady|ladies|"
    r"gentleman|gentlemen|guy|guys|portrait|portraits|selfie|face|faces|hands?(?!-)|"
    r"fingers|crowd|crowds|family|families|couple|father|mother|dad|mom|mum|son|daughter|"
    r"brother|sister|grandmother|grandfather|grandma|grandpa|king|queen|prince|princess|"
    r"astronaut|soldier|soldiers|doctor|nurse|chef|dancer|dancers|musician|musicians|"
    r"runner|runners|athlete|athletes|scientist|scientists|student|"
    r"students|teacher|worker|workers|farmer|police|officer|pilot|bride|groom|"
    r"twins|audience|passengers|pedestrians|businessman|businesswoman|human|humans)\b",
    re.IGNORECASE,
)


def check_faces(ctx: LintContext) -> Iterator[Finding]:
    match = _PEOPLE_RE.search(ctx.body)
    while match and ctx.in_quotes(match.start()):
        match = _PEOPLE_RE.search(ctx.body, match.end())
    if not match:
        return
    yield Finding(
        code="faces",
        severity="info",
        message=(
            f"People in the scene (“{match.group()}”): faces and hands are often flawed, "
            "and small faces in a crowd fare worst."
        ),
        start=match.start(),
        end=match.end(),
        suggestion=(
            "Keep faces large in the frame (a portrait or close-up), show fewer hands or "
            "hide them (in pockets, behind the back), and fix the rest with an edit."
        ),
    )
