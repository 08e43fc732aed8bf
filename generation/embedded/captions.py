"""Caption grammar: a SceneSpec described in varied English.

Captions come in four voices: free prose ("three yellow stars in the night sky"), and
the three prompt dialects the builder's composer writes (`plain`, `sd`, `midjourney`),
so the model has seen the very prompts the site will send it. When the prompts app's
composer is importable it writes part of the dialect captions itself.
"""

from __future__ import annotations

import random
from pathlib import Path

from generation.embedded.renderer import (
    ERAS,
    KNOWN_SLUGS,
    LIGHTINGS,
    MEDIUMS,
    MOODS,
    SETTINGS,
    STYLES,
    SceneSpec,
)

DIALECTS = ("plain", "sd", "midjourney")

NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four"}

KIND_WORDS: dict[str, list[str]] = {
    "circle": ["circle", "circle", "disc", "ball"],
    "square": ["square", "square", "box", "block"],
    "triangle": ["triangle"],
    "star": ["star"],
    "heart": ["heart"],
    "house": ["house", "house", "cottage", "little house"],
    "tree": ["tree"],
    "sun": ["sun"],
    "moon": ["moon", "crescent moon", "crescent"],
    "flower": ["flower", "flower", "blossom"],
    "fish": ["fish"],
    "boat": ["boat", "boat", "sailboat", "sailing boat"],
    "mountain": ["mountain", "mountain", "peak"],
    "cloud": ["cloud"],
}
PLURALS = {"fish": "fish", "box": "boxes", "little house": "little houses", "peak": "peaks"}

COLOUR_WORDS: dict[str, list[str]] = {
    "red": ["red", "red", "bright red"],
    "orange": ["orange"],
    "yellow": ["yellow"],
    "green": ["green"],
    "blue": ["blue"],
    "purple": ["purple", "purple", "violet"],
    "pink": ["pink"],
    "brown": ["brown"],
    "black": ["black"],
    "white": ["white"],
    "grey": ["grey", "gray"],
}

SIZE_WORDS = {"small": ["small", "tiny", "little"], "medium": [""], "large": ["big", "large", "huge"]}

PLACE_WORDS = {
    "left": ["on the left", "on the left side", "at the left"],
    "right": ["on the right", "on the right side", "at the right"],
    "top": ["at the top", "near the top", "in the upper part"],
    "bottom": ["at the bottom", "near the bottom", "in the lower part"],
    "centre": ["in the centre", "in the center", "in the middle"],
}

RELATION_WORDS = {
    "above": ["above", "above", "over"],
    "below": ["below", "below", "under", "beneath"],
    "left of": ["to the left of", "left of", "on the left of"],
    "right of": ["to the right of", "right of", "on the right of"],
    "next to": ["next to", "beside"],
}

SETTING_PHRASES = {
    "blue-sky": ["in a blue sky", "against a blue sky", "under a clear blue sky"],
    "night-sky": ["in the night sky", "under a starry night sky", "at night"],
    "seaside": ["at the seaside", "by the sea", "on the beach"],
    "desert": ["in the desert", "in a sandy desert"],
    "meadow": ["in a meadow", "on a grassy meadow", "in a green field"],
    "snowy-field": ["in a snowy field", "in the snow", "on a snowy field"],
    "cozy-room": ["in a cozy room", "in a cosy room", "in a cozy living room"],
    "forest": ["in a forest", "in the woods", "in a dark forest"],
}

# slug -> (fragment as the catalog writes it, aliases). Merged with the catalog's own
# aliases when prompts/catalog/data is present (see `catalog_terms`).
TERMS: dict[str, tuple[str, list[str]]] = {
    "blue-sky": ("blue sky", ["clear sky"]),
    "night-sky": ("night sky", ["starry sky"]),
    "seaside": ("seaside", ["beach", "by the sea"]),
    "desert": ("desert", ["sand dunes"]),
    "meadow": ("meadow", ["grassy field"]),
    "snowy-field": ("snowy field", ["snow"]),
    "cozy-room": ("cozy room", ["cosy room", "living room"]),
    "forest": ("forest", ["woods"]),
    "watercolor": ("watercolor painting", ["watercolour", "watercolor", "aquarelle"]),
    "pencil-sketch": ("pencil sketch", ["pencil drawing", "graphite sketch"]),
    "oil-painting": ("oil painting", ["oil on canvas", "oils"]),
    "pixel-art": ("pixel art", ["8-bit", "pixelated", "pixel-art"]),
    "mosaic": ("mosaic", ["tile mosaic"]),
    "ink-drawing": ("ink drawing", ["pen and ink", "ink illustration"]),
    "stained-glass": ("stained glass", ["stained glass window"]),
    "crayon-drawing": ("crayon drawing", ["crayons", "wax crayon"]),
    "neon-sign": ("neon sign", ["neon tubes"]),
    "piet-mondrian": ("Piet Mondrian", ["Mondrian", "De Stijl"]),
    "georges-seurat": ("Georges Seurat", ["Seurat", "pointillism", "pointillist"]),
    "katsushika-hokusai": ("Katsushika Hokusai", ["Hokusai", "ukiyo-e"]),
    "andy-warhol": ("Andy Warhol", ["Warhol", "pop art"]),
    "mark-rothko": ("Mark Rothko", ["Rothko", "colour field painting"]),
    "cubism": ("cubism", ["cubist", "Picasso cubism"]),
    "pointillism": ("pointillism", ["pointillist", "pointillist dots"]),
    "pop-art": ("pop art", ["pop-art", "Warhol pop art"]),
    "1920s": ("1920s", ["roaring twenties", "1920s photograph"]),
    "1950s": ("1950s", ["fifties", "1950s retro"]),
    "1980s": ("1980s", ["eighties", "synthwave", "80s retro"]),
    "victorian": ("Victorian", ["Victorian era", "19th century"]),
    "gloomy": ("gloomy", ["melancholic", "bleak"]),
    "cheerful": ("cheerful", ["happy", "joyful"]),
    "serene": ("serene", ["calm", "peaceful"]),
    "dramatic": ("dramatic", ["intense", "high contrast"]),
    "mysterious": ("mysterious", ["eerie", "enigmatic"]),
    "golden-hour": ("golden hour light", ["golden hour", "sunset light"]),
    "moonlight": ("moonlight", ["moonlit"]),
    "backlit": ("backlit", ["backlighting", "rim light"]),
    "neon-lighting": ("neon lighting", ["neon lights", "neon-lit"]),
}
ARTISTS = ("piet-mondrian", "georges-seurat", "katsushika-hokusai", "andy-warhol", "mark-rothko")

assert set(TERMS) == set(KNOWN_SLUGS)

CATALOG_DIR = Path(__file__).resolve().parents[2] / "prompts" / "catalog" / "data"


def catalog_terms(catalog_dir: Path = CATALOG_DIR) -> dict[str, tuple[str, list[str]]]:
    """TERMS, with fragments and aliases taken from the catalog YAML where it has them."""
    terms = {slug: (frag, list(aliases)) for slug, (frag, aliases) in TERMS.items()}
    if not catalog_dir.is_dir():
        return terms
    import yaml

    def walk(node):
        if isinstance(node, dict):
            if "slug" in node:
                yield node
            for v in node.values():
                yield from walk(v)
        elif isinstance(node, list):
            for v in node:
                yield from walk(v)

    for path in sorted(catalog_dir.glob("*.y*ml")):
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError:  # a half-written catalog must not stop training
            data = None
        for entry in walk(data):
            slug = entry.get("slug")
            if slug in terms:
                frag = entry.get("fragment") or terms[slug][0]
                aliases = [a for a in entry.get("aliases") or [] if isinstance(a, str)]
                terms[slug] = (frag, sorted(set(terms[slug][1]) | set(aliases)))
    return terms


# ----------------------------------------------------------------------------- subjects

def _kind_word(kind: str, rng: random.Random, plural: bool) -> str:
    word = rng.choice(KIND_WORDS[kind])
    if not plural:
        return word
    return PLURALS.get(word, word + "s")


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _object_phrase(kind: str, colour: str, size: str, rng: random.Random, count: int = 1) -> str:
    colour_word = rng.choice(COLOUR_WORDS[colour])
    size_word = rng.choice(SIZE_WORDS[size]) if rng.random() < 0.7 else ""
    words = " ".join(w for w in (size_word, colour_word, _kind_word(kind, rng, count > 1)) if w)
    if count == 1:
        return f"{_article(words)} {words}"
    number = str(count) if rng.random() < 0.5 else NUMBER_WORDS[count]
    return f"{number} {words}"


def subject_text(spec: SceneSpec, rng: random.Random) -> str:
    """The subject: objects, counts, place and relation; no setting, no transforms."""
    first = spec.objects[0]
    if spec.relation:
        second = spec.objects[1]
        a = _object_phrase(first.kind, first.colour, "medium", rng)
        b = _object_phrase(second.kind, second.colour, "medium", rng)
        rel = rng.choice(RELATION_WORDS[spec.relation])
        if rng.random() < 0.2:
            return f"{a} {rel} {b}"
        return f"{a} {rel} {b}" if rng.random() < 0.7 else f"{a} that is {rel} {b}"
    phrase = _object_phrase(first.kind, first.colour, first.size, rng, spec.count)
    if spec.place:
        place = rng.choice(PLACE_WORDS[spec.place])
        return f"{phrase} {place}" if rng.random() < 0.8 else f"{place}, {phrase}"
    return phrase


def _setting_phrase(spec: SceneSpec, rng: random.Random) -> str:
    return rng.choice(SETTING_PHRASES[spec.setting]) if spec.setting else ""


def _term(slug: str, terms, rng: random.Random, alias_rate: float = 0.25) -> str:
    frag, aliases = terms[slug]
    if aliases and rng.random() < alias_rate:
        return rng.choice(aliases)
    return frag


# ----------------------------------------------------------------------------- voices

def caption_prose(spec: SceneSpec, rng: random.Random, terms=TERMS) -> str:
    subject = subject_text(spec, rng)
    setting = _setting_phrase(spec, rng)
    lead = rng.choice(["", "", "", "a picture of ", "an image of ", "a drawing of ", "there is "])
    body = f"{lead}{subject}" + (f" {setting}" if setting else "")
    if not spec.setting and rng.random() < 0.15:
        body += " on a plain background"
    extras = []
    if spec.medium:
        word = _term(spec.medium, terms, rng)
        extras.append(rng.choice([f"as {_article(word)} {word}", word,
                                  f"in {word} style"]))
    if spec.style:
        word = _term(spec.style, terms, rng)
        extras.append(rng.choice([f"in the style of {word}", f"by {word}", f"{word} style"])
                      if spec.style in ARTISTS else rng.choice([f"{word}", f"in the style of {word}"]))
    if spec.era:
        extras.append(rng.choice([_term(spec.era, terms, rng), f"{_term(spec.era, terms, rng)} style"]))
    if spec.mood:
        extras.append(rng.choice([f"{_term(spec.mood, terms, rng)} mood", _term(spec.mood, terms, rng)]))
    if spec.lighting:
        extras.append(rng.choice([_term(spec.lighting, terms, rng), f"with {_term(spec.lighting, terms, rng)}"]))
    rng.shuffle(extras)
    return ", ".join([body, *extras])


def caption_plain(spec: SceneSpec, rng: random.Random, terms=TERMS) -> str:
    """DALL-E style prose, as the composer's `plain` dialect writes it."""
    subject = subject_text(spec, rng)
    setting = _setting_phrase(spec, rng)
    if spec.medium:
        word = _term(spec.medium, terms, rng)
        text = f"{_article(word).capitalize()} {word} of {subject}"
    else:
        text = subject[:1].upper() + subject[1:]
    if setting:
        text += f" {setting}"
    tail = []
    if spec.style:
        word = _term(spec.style, terms, rng)
        tail.append(f"in the style of {word}")
    if spec.era:
        tail.append(_term(spec.era, terms, rng))
    if spec.mood:
        tail.append(f"{_term(spec.mood, terms, rng)} mood")
    if spec.lighting:
        tail.append(_term(spec.lighting, terms, rng))
    return ", ".join([text, *tail])


def caption_sd(spec: SceneSpec, rng: random.Random, terms=TERMS) -> str:
    """Comma tags with the odd `(term:1.2)` weight, as the composer's `sd` dialect writes."""
    tags = [subject_text(spec, rng).removeprefix("a ").removeprefix("an ")]
    if spec.setting:
        tags.append(terms[spec.setting][0])
    for slug in (spec.medium, spec.style, spec.era, spec.mood, spec.lighting):
        if slug:
            tags.append(_term(slug, terms, rng, alias_rate=0.15))
    if rng.random() < 0.3 and len(tags) > 1:
        i = rng.randrange(1, len(tags))
        tags[i] = f"({tags[i]}:{rng.choice(['1.1', '1.2', '1.3'])})"
    return ", ".join(tags)


def caption_midjourney(spec: SceneSpec, rng: random.Random, terms=TERMS) -> str:
    text = caption_plain(spec, rng, terms)
    params = []
    if rng.random() < 0.5:
        params.append("--ar 1:1")
    if rng.random() < 0.4:
        params.append(f"--seed {rng.randrange(1, 10000)}")
    if rng.random() < 0.2:
        params.append(f"--stylize {rng.choice([50, 100, 250])}")
    return " ".join([text, *params])


_COMPOSER: tuple | None = None


def _composer():
    """(recipe_render, Recipe, ModifierChoice, catalog) from the prompts app, or None."""
    global _COMPOSER
    if _COMPOSER is None:
        try:
            from prompts.catalog import Catalog
            from prompts.composer import ModifierChoice, Recipe, recipe_render

            _COMPOSER = (recipe_render, Recipe, ModifierChoice, Catalog.from_files())
        except Exception:  # noqa: BLE001 - the prompts app is optional for training
            _COMPOSER = ()
    return _COMPOSER or None


def caption_composer(spec: SceneSpec, rng: random.Random, dialect: str) -> str | None:
    """The prompts app's own rendering of the spec, or None where it cannot."""
    composer = _composer()
    if composer is None:
        return None
    recipe_render, Recipe, ModifierChoice, catalog = composer
    slugs = [s for s in (spec.setting, spec.medium, spec.style, spec.era, spec.mood, spec.lighting) if s]
    choices = tuple(ModifierChoice(s, rng.choice((1.0, 1.0, 1.0, 1.2)) if dialect == "sd" else 1.0) for s in slugs)
    params = {}
    if dialect == "midjourney" and rng.random() < 0.5:
        params = {"ar": "1:1", "seed": rng.randrange(1, 10000)}
    try:
        recipe = Recipe(subject=subject_text(spec, rng), modifiers=choices, params=params)
        return recipe_render(recipe=recipe, dialect=dialect, catalog=catalog).prompt
    except Exception:  # noqa: BLE001 - a slug the catalog lacks: fall back to our templates
        return None


def caption(spec: SceneSpec, rng: random.Random, terms=TERMS, use_composer: bool = True) -> str:
    """One caption for `spec`, in a voice picked by `rng`."""
    r = rng.random()
    if r < 0.4:
        return caption_prose(spec, rng, terms)
    if use_composer and r < 0.55:
        text = caption_composer(spec, rng, rng.choice(DIALECTS))
        if text:
            return text
    if r < 0.7:
        return caption_plain(spec, rng, terms)
    if r < 0.87:
        return caption_sd(spec, rng, terms)
    return caption_midjourney(spec, rng, terms)


def slug_phrases(slug: str, terms=TERMS) -> list[str]:
    """Every phrase the grammar may use for `slug`."""
    frag, aliases = terms[slug]
    phrases = [frag, *aliases]
    if slug in SETTING_PHRASES:
        phrases += SETTING_PHRASES[slug]
    return phrases


__all__ = [
    "DIALECTS", "ERAS", "LIGHTINGS", "MEDIUMS", "MOODS", "SETTINGS", "STYLES", "TERMS",
    "caption", "caption_midjourney", "caption_plain", "caption_prose", "caption_sd",
    "catalog_terms", "slug_phrases", "subject_text",
]
