"""Fill the gallery with N realistic benchmark images, fast; `--remove` takes them out.

Prompts are rendered by the composer from a subject and catalog modifiers, so they read
like the builder's output and the parser finds their modifiers. A pool of distinct
prompts (`--distinct-prompts`, default min(N, 20,000)) is drawn first and the images
share it, as a large gallery shares popular recipes: MiniLM (~100-1,000 sentences/s on
a CPU) embeds each distinct prompt once, and the prompt parser runs once per prompt.
Every row is marked `is_benchmark`, owned by a few `bench-*` users, and points at a
handful of real PNGs (with thumbnails) that the command draws with Pillow.

Rows are inserted in batches: images through the ORM, search rows (with their IVF list
and code already computed) and modifier rows by array inserts on PostgreSQL.
"""

from __future__ import annotations

import io
import json
import random
import time
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta

import numpy as np
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone
from PIL import Image as PILImage
from PIL import ImageDraw

from gallery.embeddings import texts_embed, vector_pack
from gallery.indexing import image_document
from gallery.models import ImageModifier
from gallery.search.vectors import (
    IVF_MIN_ROWS,
    IvfIndex,
    ivf_build,
    ivf_index_get,
    ivf_list_count,
    ivf_train,
)
from gallery.search.vocabulary import vocabulary_apply, vocabulary_rebuild, vocabulary_words
from generation import imagefiles
from generation.models import Image
from prompts.composer import ComposeError, ModifierChoice, Recipe, recipe_render
from prompts.models import Modifier
from prompts.selectors import catalog_get, catalog_invalidate
from prompts.services import catalog_load

USERNAMES = ("bench-ada", "bench-basho", "bench-clara", "bench-dmitri", "bench-emeka", "bench-fumiko", "bench-gus",
             "bench-hana")
FILE_DIR = "benchmark"
FILE_COUNT = 6

NOUNS = (
    "fox", "wolf", "owl", "cat", "dog", "horse", "whale", "dragon", "robot", "astronaut", "knight", "witch",
    "samurai", "fisherman", "old woman", "little girl", "violinist", "lighthouse", "castle", "cathedral",
    "cabin", "chalet", "village", "city street", "harbor", "train station", "library", "greenhouse",
    "mountain lake", "waterfall", "desert canyon", "bamboo forest", "coral reef", "volcano", "windmill",
    "sailboat", "steam locomotive", "vintage car", "motorcycle", "bicycle", "teapot", "bowl of ramen",
    "bouquet of tulips", "sunflower field", "cherry blossom tree", "oak tree", "koi pond", "market stall",
    "jazz club", "tea house", "space station", "submarine", "hot air balloon", "treehouse", "bridge",
    "stone circle", "chess board", "typewriter", "pocket watch", "lantern", "mushroom", "hummingbird",
    "tiger", "elephant", "polar bear", "octopus", "jellyfish", "butterfly", "raven", "deer",
)
ADJECTIVES = (
    "red", "tiny", "giant", "ancient", "abandoned", "cozy", "snowy", "misty", "glowing", "rusty", "golden",
    "sleepy", "curious", "majestic", "crumbling", "floating", "mechanical", "wooden", "crystal", "neon",
    "moonlit", "sunlit", "overgrown", "frozen", "lonely", "cheerful", "haunted", "colorful", "paper",
)
ACTIONS = (
    "", "", "", "", "at dawn", "at night", "in the rain", "in winter", "by firelight", "under the stars",
    "reading a book", "drinking tea", "on a windowsill", "in a snowstorm", "at sunset", "by the sea",
    "in a field of flowers", "on a rooftop", "in a busy market", "in the fog",
)
# Chance that a recipe takes one modifier from each category.
CATEGORY_CHANCES = {
    "medium": 0.8, "style": 0.4, "era": 0.1, "artist": 0.3, "mood": 0.3, "lighting": 0.35, "camera": 0.2,
    "colour": 0.25, "composition": 0.15, "material": 0.05, "setting": 0.2, "detail": 0.3, "weather": 0.15,
}
SIZES = ((512, 512), (768, 512), (512, 768), (1024, 1024), (832, 1216))
MODELS = ("embedded", "embedded", "embedded", "sd-1.5", "sdxl-base-1.0")


def _subject(rng: random.Random) -> str:
    noun = rng.choice(NOUNS)
    words = [rng.choice(ADJECTIVES)] if rng.random() < 0.75 else []
    phrase = " ".join([*words, noun])
    article = "an" if phrase[0] in "aeiou" else "a"
    action = rng.choice(ACTIONS)
    return f"{article} {phrase} {action}".strip()


def _recipe(rng: random.Random, catalog) -> Recipe:
    chosen: list[str] = []
    for category in catalog.categories:
        if category.modifiers and rng.random() < CATEGORY_CHANCES.get(category.slug, 0.1):
            entry = rng.choice(category.modifiers)
            if not any(entry.slug in catalog.conflicts_of(other) for other in chosen):
                chosen.append(entry.slug)
    rng.shuffle(chosen)
    return Recipe(subject=_subject(rng), modifiers=tuple(ModifierChoice(slug) for slug in chosen))


def prompts_pool(count: int, catalog, rng: random.Random) -> list[tuple[str, dict]]:
    """`count` distinct (prompt, recipe) pairs (fewer if the vocabulary runs out)."""
    pool: dict[str, dict] = {}
    attempts = 0
    while len(pool) < count and attempts < count * 20:
        attempts += 1
        recipe = _recipe(rng, catalog)
        dialect = "sd" if rng.random() < 0.25 else "plain"
        try:
            prompt = recipe_render(recipe=recipe, dialect=dialect, catalog=catalog).prompt
        except ComposeError:
            continue
        pool.setdefault(prompt, {"subject": recipe.subject, "modifiers": [m.slug for m in recipe.modifiers],
                                 "dialect": dialect})
    return list(pool.items())


def _sample_files(log) -> list[dict]:
    """A few real PNGs with thumbnails and placeholders, drawn once and reused."""
    files = []
    rng = random.Random(7)
    for i in range(FILE_COUNT):
        name = f"{FILE_DIR}/sample-{i}.png"
        size = SIZES[i % len(SIZES)]
        picture = PILImage.new("RGB", size)
        draw = ImageDraw.Draw(picture)
        top, bottom = [tuple(rng.randrange(256) for _ in range(3)) for _ in range(2)]
        for y in range(size[1]):
            t = y / max(1, size[1] - 1)
            draw.line([(0, y), (size[0], y)], fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
        for _ in range(5):
            x, y, r = rng.randrange(size[0]), rng.randrange(size[1]), rng.randrange(20, min(size) // 3)
            draw.ellipse([x - r, y - r, x + r, y + r], fill=tuple(rng.randrange(256) for _ in range(3)))
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        thumbs = imagefiles.thumbnails_make(picture, widths=(256, 768))
        stem = name[: -len(".png")]
        names = {"file": name, "thumb_small": f"{stem}-256.webp", "thumb_large": f"{stem}-768.webp"}
        for key, data in (("file", buffer.getvalue()), ("thumb_small", thumbs[256]), ("thumb_large", thumbs[768])):
            imagefiles.file_write_atomic(storage=default_storage, name=names[key], data=data)
        blurhash, color = imagefiles.placeholder_compute(picture)
        files.append({**names, "width": size[0], "height": size[1], "blurhash": blurhash, "color": color})
    log(f"  wrote {len(files)} sample images under {FILE_DIR}/")
    return files


def _users() -> list:
    User = get_user_model()
    users = []
    for username in USERNAMES:
        user, created = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.invalid"})
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        users.append(user)
    return users


@contextmanager
def _created_at_as_given():
    """Let bulk_create keep the created_at we set (it is auto_now_add), so the rows are
    written once with their spread-out dates instead of inserted and then updated."""
    field = Image._meta.get_field("created_at")
    field.auto_now_add = False
    try:
        yield
    finally:
        field.auto_now_add = True


def _search_rows_insert(rows: list[tuple]) -> None:
    """(image_id, prompt_text, modifier_text, author_text, slugs_json, embedding, ivf_list, ivf_code) rows."""
    now = timezone.now()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            columns = list(zip(*rows, strict=True))
            cursor.execute(
                "INSERT INTO gallery_imagesearch (image_id, prompt_text, modifier_text, author_text, modifier_slugs, "
                "embedding, ivf_list, ivf_code, indexed_at) "
                "SELECT i, p, m, a, s::jsonb, e, l, c, %s FROM unnest("
                "%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::bytea[], %s::integer[], %s::bytea[]"
                ") AS r(i, p, m, a, s, e, l, c)",
                [now, *[list(c) for c in columns]],
            )
        else:
            cursor.executemany(
                "INSERT INTO gallery_imagesearch (image_id, prompt_text, modifier_text, author_text, modifier_slugs, "
                "embedding, ivf_list, ivf_code, indexed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [(*row, now) for row in rows],
            )


def _modifier_rows_insert(rows: list[tuple[int, str, str]]) -> None:
    if not rows:
        return
    if connection.vendor == "postgresql":
        image_ids, slugs, categories = (list(c) for c in zip(*rows, strict=True))
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO gallery_imagemodifier (image_id, slug, category) "
                "SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[])",
                [image_ids, slugs, categories],
            )
    else:
        ImageModifier.objects.bulk_create([ImageModifier(image_id=i, slug=s, category=c) for i, s, c in rows],
                                          batch_size=5000)


class Command(BaseCommand):
    help = "Add N benchmark images to the gallery (realistic prompts, indexed for search); --remove deletes them."

    def add_arguments(self, parser):
        parser.add_argument("--images", type=int, default=1000, help="How many images to add (default 1000).")
        parser.add_argument("--distinct-prompts", type=int, default=None,
                            help="Distinct prompts the images share (default min(N, 20000)).")
        parser.add_argument("--batch", type=int, default=5000)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--remove", action="store_true", help="Delete every benchmark image instead.")

    def handle(self, *args, **options):
        if options["remove"]:
            self._remove()
            return
        count = options["images"]
        if count < 1:
            raise CommandError("--images must be at least 1")
        started = time.monotonic()
        rng = random.Random(options["seed"])
        if not Modifier.objects.exists():
            catalog_load()
            catalog_invalidate()  # now, not at commit: the command reads it straight away
        catalog = catalog_get()
        distinct = options["distinct_prompts"] or min(count, 20_000)
        pool = prompts_pool(min(distinct, count), catalog, rng)
        self.stdout.write(f"  {len(pool)} distinct prompts for {count} images")
        documents = [image_document(prompt=p, recipe=r, author="", catalog=catalog) for p, r in pool]
        vectors = self._embed([p for p, _ in pool])
        embeddings = [vector_pack(v) for v in vectors]
        lists, codes = self._ivf_rows(vectors, count)
        users = _users()
        files = _sample_files(self.stdout.write)
        prompt_uses: Counter = Counter()
        author_uses: Counter = Counter()
        now = timezone.now()
        span = timedelta(days=365).total_seconds()
        batch = max(100, options["batch"])
        for start in range(0, count, batch):
            size = min(batch, count - start)
            picks = [rng.randrange(len(pool)) for _ in range(size)]
            with transaction.atomic():
                images = []
                for pick in picks:
                    prompt, recipe = pool[pick]
                    file = rng.choice(files)
                    width, height = rng.choice(SIZES)
                    visibility = rng.choices(["public", "unlisted", "private"], weights=[90, 5, 5])[0]
                    seed = rng.randrange(2**32)
                    images.append(Image(
                        owner=rng.choice(users), prompt=prompt, negative_prompt="blurry, lowres" if rng.random() < 0.3 else "",
                        recipe={**recipe, "prompt": prompt, "seed": seed, "width": width, "height": height, "steps": 25,
                                "guidance": 7.5, "mode": "text2img", "model": "embedded"},
                        file=file["file"], thumb_small=file["thumb_small"], thumb_large=file["thumb_large"],
                        width=width, height=height, blurhash=file["blurhash"], color=file["color"],
                        mode="text2img", model=rng.choice(MODELS), seed=seed, visibility=visibility,
                        hidden=rng.random() < 0.01, like_count=min(10_000, int(rng.paretovariate(1.2)) - 1),
                        remix_count=int(rng.random() < 0.05), is_benchmark=True,
                    ))
                # Spread over the past year, oldest first, so created_at order follows id order.
                for i, image in enumerate(images):
                    image.created_at = now - timedelta(seconds=span * (1 - (start + i + 1) / count))
                with _created_at_as_given():
                    Image.objects.bulk_create(images, batch_size=1000)
                search_rows, modifier_rows = [], []
                for image, pick in zip(images, picks, strict=True):
                    document = documents[pick]
                    author = image.owner.username
                    search_rows.append((image.pk, document.prompt_text, document.modifier_text, author,
                                        json.dumps(document.modifier_slugs), embeddings[pick], lists[pick],
                                        codes[pick]))
                    modifier_rows.extend((image.pk, slug, category) for slug, category in document.modifiers)
                    prompt_uses[pick] += 1
                    author_uses[author] += 1
                _search_rows_insert(search_rows)
                _modifier_rows_insert(modifier_rows)
            done = start + size
            if done == count or (done // batch) % 20 == 0:
                self.stdout.write(f"  {done}/{count} images ({time.monotonic() - started:.0f}s)")
        words: Counter = Counter()
        for pick, uses in prompt_uses.items():
            words.update(dict.fromkeys(documents[pick].words(), uses))
        for author, uses in author_uses.items():
            words.update(dict.fromkeys(vocabulary_words([author]), uses))
        vocabulary_apply(words)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # VACUUM sets the visibility map, so the IVF index's reads stay index-only;
                # it cannot run inside a transaction (as in tests), where ANALYZE does.
                command = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
                for table in ("generation_image", "gallery_imagesearch", "gallery_imagemodifier", "gallery_searchword"):
                    cursor.execute(f"{command} {table}")
            else:
                cursor.execute("ANALYZE")
        self.stdout.write(self.style.SUCCESS(
            f"Added {count} benchmark images ({len(pool)} distinct prompts) in {time.monotonic() - started:.0f}s."))

    def _embed(self, prompts: list[str]) -> np.ndarray:
        started = time.monotonic()
        chunks = []
        step = 2048
        for start in range(0, len(prompts), step):
            chunks.append(texts_embed(prompts[start : start + step]))
            if len(prompts) > step:
                self.stdout.write(f"  embedded {min(start + step, len(prompts))}/{len(prompts)} prompts "
                                  f"({time.monotonic() - started:.0f}s)")
        return np.concatenate(chunks)

    def _ivf_rows(self, vectors: np.ndarray, count: int) -> tuple[list, list]:
        """The IVF list and code of each pool prompt (None when the gallery stays small
        enough to scan), training the index first when the gallery will need one."""
        index = ivf_index_get()
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM gallery_imagesearch WHERE embedding IS NOT NULL")
            existing = cursor.fetchone()[0]
        total = existing + count
        wanted = ivf_list_count(total)
        if total >= IVF_MIN_ROWS and (index is None or index.lists < wanted // 2):
            k = min(wanted, max(16, len(vectors) // 8))
            self.stdout.write(f"  training the IVF index: {k} lists")
            index = IvfIndex.train(vectors, k)
            ivf_build(index)  # existing rows move to the new lists
        if index is None:
            return [None] * len(vectors), [None] * len(vectors)
        return [int(x) for x in index.assign(vectors)], [code.tobytes() for code in index.encode(vectors)]

    def _remove(self) -> None:
        started = time.monotonic()
        ids = list(Image.objects.filter(is_benchmark=True).order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(ids), 2000):
            with transaction.atomic():
                Image.objects.filter(pk__in=ids[start : start + 2000]).delete()
        words = vocabulary_rebuild()
        lists = ivf_train()
        User = get_user_model()
        User.objects.filter(username__in=USERNAMES, images__isnull=True).delete()
        removed_files = 0
        try:
            _, names = default_storage.listdir(FILE_DIR)
        except (FileNotFoundError, NotImplementedError):
            names = []
        for name in names:
            default_storage.delete(f"{FILE_DIR}/{name}")
            removed_files += 1
        self.stdout.write(self.style.SUCCESS(
            f"Removed {len(ids)} benchmark images and {removed_files} sample files in {time.monotonic() - started:.0f}s "
            f"(vocabulary: {words} words; IVF lists: {lists or 'none, exact scan'})."))
