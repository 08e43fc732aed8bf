"""Swatch strips for the prompt book, pre-rendered with the embedded model.

Two kinds of strip, both stored as media (PNG + WebP) under one folder per *swatch
digest*, with a manifest that the book's pages read:

    book/swatches/<digest>/manifest.json
    book/swatches/<digest>/<category>/<slug>.png|.webp   one per modifier the model knows
    book/swatches/<digest>/steps/<key>.png|.webp          one per ```steps block

- A **modifier strip** renders one subject with one seed, once with each modifier of a
  category that the embedded model knows, and shows the modifier between its
  neighbours, so the page compares like with like. Modifiers with `embedded: False`
  get none: the model never saw those words.
- A **denoising strip** shows the steps of one generation: the top row is the sample the
  sampler holds after a step, the bottom row the model's prediction of the finished
  picture at that step (the x0 the DPM-Solver++ scheduler computes; captured through
  the pipeline's `callback_on_step_end`).

The digest covers the weights file and the catalog rows that shape the pictures, so new
weights or an edited catalog give a new folder: `build_book_swatches` fills it (only
what is missing), and the pages show nothing stale meanwhile.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import PIL.Image
from django.core.files.storage import default_storage

from generation import imagefiles
from generation.backends import backend_get, backend_limits, backend_name, is_embedded_model
from prompts.book import StepsExample, book_get, chapter_outline
from prompts.catalog import Catalog, CategoryEntry, ModifierEntry
from prompts.composer import ModifierChoice, Recipe, recipe_render

logger = logging.getLogger(__name__)

PREFIX = "book/swatches"
MANIFEST_VERSION = 1
SEED = 7
NEIGHBOURS = 2  # on each side of the modifier in its strip
FRAMES = 6  # denoising frames per strip
TILE = 128  # display size of one picture in a strip (the model draws 64 px)
GAP = 8
HIGHLIGHT = (91, 60, 196, 255)  # the design system's accent, around the strip's own modifier
# One subject per category, chosen from what the embedded model draws well, so the
# modifier has something to act on (a medium needs an object, a setting a background).
SUBJECTS = {
    "medium": "a red fish",
    "style": "a yellow house",
    "era": "a red house",
    "artist": "a white boat on the sea",
    "mood": "a small red house",
    "lighting": "a white boat",
    "setting": "a red house",
}
DEFAULT_SUBJECT = "a red house"


# -- which model, which digest ------------------------------------------------------------


def swatch_model_name() -> str:
    """The configured model when it is Atelier's own pipeline, else the shipped one."""
    name = backend_name()
    return name if is_embedded_model(name) else "embedded"


def _weights_dir(name: str) -> Path:
    from generation.backends.embedded import WEIGHTS

    return WEIGHTS if name == "embedded" else Path(name)


def _weights_files(folder: Path) -> list[Path]:
    return sorted([*folder.glob("unet/*.safetensors"), *folder.glob("unet/*.bin"), *folder.glob("unet/config.json"),
                   *folder.glob("scheduler/*.json")])


_digest_lock = threading.Lock()
_weights_memo: dict[Path, tuple[tuple, str]] = {}
_catalog_memo: list = [None, ""]  # [catalog, digest]


def weights_digest(folder: Path) -> str | None:
    """A hash of the weights and scheduler files; None when there are none. Cached per
    file signature (name, size, mtime), so a request pays a few `stat` calls."""
    files = _weights_files(folder)
    if not files:
        return None
    signature = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    memo = _weights_memo.get(folder)
    if memo and memo[0] == signature:
        return memo[1]
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(folder)).encode())
        with path.open("rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                digest.update(block)
    with _digest_lock:
        _weights_memo[folder] = (signature, digest.hexdigest())
    return digest.hexdigest()


def catalog_digest(catalog: Catalog) -> str:
    """The catalog rows a swatch depends on: the known modifiers, their fragments and order."""
    if _catalog_memo[0] is catalog:
        return _catalog_memo[1]
    rows = [(m.category, m.slug, m.fragment) for m in catalog if m.embedded]
    payload = json.dumps({"rows": rows, "subjects": SUBJECTS, "seed": SEED, "version": MANIFEST_VERSION})
    digest = hashlib.sha256(payload.encode()).hexdigest()
    with _digest_lock:
        _catalog_memo[:] = [catalog, digest]
    return digest


def swatch_digest(*, catalog: Catalog, model: str | None = None) -> str | None:
    weights = weights_digest(_weights_dir(model or swatch_model_name()))
    if weights is None:
        return None
    return hashlib.sha256(f"{weights}:{catalog_digest(catalog)}".encode()).hexdigest()[:16]


# -- the manifest the pages read -----------------------------------------------------------


@dataclass(frozen=True)
class Strip:
    png: str
    webp: str
    labels: tuple[str, ...]  # modifier slugs, or "step N" per column
    current: int  # the column of the page's own modifier (-1 for denoising strips)
    rows: tuple[str, ...] = ()  # denoising strips: what each row shows
    prompt: str = ""

    @property
    def width(self) -> int:
        return len(self.labels) * TILE + (len(self.labels) + 1) * GAP

    @property
    def height(self) -> int:
        rows = max(1, len(self.rows))
        return rows * TILE + (rows + 1) * GAP

    @property
    def png_url(self) -> str:
        return default_storage.url(self.png)

    @property
    def webp_url(self) -> str:
        return default_storage.url(self.webp)


@dataclass(frozen=True)
class Manifest:
    digest: str
    data: dict

    @property
    def steps(self) -> int:
        return self.data.get("steps", 0)

    def modifier_strip(self, slug: str) -> Strip | None:
        row = self.data.get("modifiers", {}).get(slug)
        if not row:
            return None
        return Strip(png=row["png"], webp=row["webp"], labels=tuple(row["strip"]), current=row["strip"].index(slug),
                     prompt=row.get("prompt", ""))

    def denoising_strip(self, key: str) -> Strip | None:
        row = self.data.get("denoising", {}).get(key)
        if not row:
            return None
        return Strip(png=row["png"], webp=row["webp"], labels=tuple(f"step {s}" for s in row["frames"]),
                     current=-1, rows=tuple(row["rows"]), prompt=row["prompt"])


def manifest_name(digest: str) -> str:
    return f"{PREFIX}/{digest}/manifest.json"


_manifest_memo: dict[str, tuple[object, Manifest]] = {}


def swatch_manifest_get(*, catalog: Catalog) -> Manifest | None:
    """The manifest for the current weights and catalog, or None if not built yet."""
    digest = swatch_digest(catalog=catalog)
    if digest is None:
        return None
    name = manifest_name(digest)
    try:
        stamp = default_storage.get_modified_time(name)
    except (FileNotFoundError, OSError):
        return None
    memo = _manifest_memo.get(name)
    if memo and memo[0] == stamp:
        return memo[1]
    try:
        with default_storage.open(name, "rb") as fh:
            manifest = Manifest(digest=digest, data=json.loads(fh.read()))
    except (OSError, ValueError):
        logger.warning("unreadable swatch manifest %s", name)
        return None
    _manifest_memo[name] = (stamp, manifest)
    return manifest


# -- rendering -------------------------------------------------------------------------------


def _to_images(x) -> list[PIL.Image.Image]:
    import torch  # here, not at the top: the web process reads manifests without loading torch

    a = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return [PIL.Image.fromarray(np.ascontiguousarray(im)) for im in a]


def _predicted_x0(scheduler):
    """The scheduler's latest prediction of the clean picture, where it keeps one."""
    outputs = getattr(scheduler, "model_outputs", None)
    if outputs and outputs[-1] is not None and str(getattr(scheduler.config, "algorithm_type", "")).endswith("dpmsolver++"):
        return outputs[-1]
    return None


def frame_steps(total: int, frames: int = FRAMES) -> list[int]:
    """Which steps to show: the first, the last, and evenly between."""
    if total <= frames:
        return list(range(1, total + 1))
    return sorted({round(1 + k * (total - 1) / (frames - 1)) for k in range(frames)})


def render_tile(pipe, *, prompt: str, seed: int, steps: int, guidance: float) -> PIL.Image.Image:
    import torch

    generator = torch.Generator("cpu").manual_seed(seed)
    return pipe(prompt, num_inference_steps=steps, guidance_scale=guidance, generator=generator).images[0]


def render_denoising(pipe, *, prompt: str, seed: int, steps: int, guidance: float):
    """([sample after each chosen step], [predicted x0 or None], chosen steps)."""
    import torch

    wanted = set(frame_steps(steps))
    captured: dict[int, tuple[PIL.Image.Image, PIL.Image.Image | None]] = {}

    def on_step_end(pipe, i, t, kwargs):
        step = i + 1
        if step in wanted:
            x0 = _predicted_x0(pipe.scheduler)
            captured[step] = (_to_images(kwargs["latents"][:1])[0], _to_images(x0[:1])[0] if x0 is not None else None)
        return kwargs

    generator = torch.Generator("cpu").manual_seed(seed)
    pipe(prompt, num_inference_steps=steps, guidance_scale=guidance, generator=generator,
         callback_on_step_end=on_step_end)
    chosen = sorted(captured)
    return [captured[s][0] for s in chosen], [captured[s][1] for s in chosen], chosen


def _enlarge(image: PIL.Image.Image) -> PIL.Image.Image:
    return image.convert("RGB").resize((TILE, TILE), PIL.Image.Resampling.LANCZOS)


def compose_strip(rows: list[list[PIL.Image.Image]], *, highlight: int = -1) -> PIL.Image.Image:
    """Tiles side by side (one list per row) with transparent gaps; `highlight` frames a column."""
    columns = max(len(r) for r in rows)
    width = columns * TILE + (columns + 1) * GAP
    height = len(rows) * TILE + (len(rows) + 1) * GAP
    sheet = PIL.Image.new("RGBA", (width, height), (0, 0, 0, 0))
    if highlight >= 0:
        x = GAP + highlight * (TILE + GAP)
        band = PIL.Image.new("RGBA", (TILE + 2 * (GAP - 3), height - 6), HIGHLIGHT)
        sheet.paste(band, (x - GAP + 3, 3))
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            sheet.paste(_enlarge(tile), (GAP + c * (TILE + GAP), GAP + r * (TILE + GAP)))
    return sheet


def _encode(sheet: PIL.Image.Image) -> tuple[bytes, bytes]:
    import io

    png, webp = io.BytesIO(), io.BytesIO()
    sheet.save(png, format="PNG", optimize=True)
    sheet.save(webp, format="WEBP", quality=imagefiles.WEBP_QUALITY, method=4)
    return png.getvalue(), webp.getvalue()


# -- building ----------------------------------------------------------------------------------


def known_modifiers(category: CategoryEntry) -> list[ModifierEntry]:
    return [m for m in category.modifiers if m.embedded]


def strip_members(category: CategoryEntry, slug: str) -> list[str]:
    """The modifier and up to NEIGHBOURS known modifiers on each side (more on one side at an end)."""
    known = [m.slug for m in known_modifiers(category)]
    i = known.index(slug)
    width = 2 * NEIGHBOURS + 1
    start = max(0, min(i - NEIGHBOURS, len(known) - width))
    return known[start:start + width]


def swatch_prompt(*, catalog: Catalog, modifier: ModifierEntry) -> str:
    subject = SUBJECTS.get(modifier.category, DEFAULT_SUBJECT)
    return recipe_render(recipe=Recipe(subject=subject, modifiers=(ModifierChoice(modifier.slug),)),
                         dialect="plain", catalog=catalog).prompt


def book_steps_examples() -> list[StepsExample]:
    seen: dict[str, StepsExample] = {}
    for chapter in book_get().chapters:
        for example in chapter_outline(chapter).steps:
            seen.setdefault(example.key, example)
    return list(seen.values())


@dataclass
class BuildResult:
    digest: str
    modifiers_built: int
    denoising_built: int
    skipped: int
    pruned: int
    seconds: float


def swatches_build(*, catalog: Catalog, steps: int | None = None, force: bool = False, prune: bool = True,
                   log: Callable[[str], None] = lambda _: None) -> BuildResult:
    """Render whatever the current digest's manifest lacks (everything with `force`, or
    when it was built with another step count); then, with `prune`, delete the folders
    of older digests. Safe to rerun: every file has a fixed name and is written atomically,
    and the manifest is written last."""
    started = time.monotonic()
    model = swatch_model_name()
    digest = swatch_digest(catalog=catalog, model=model)
    if digest is None:
        from generation.backends import ModelUnavailable

        raise ModelUnavailable(f"The embedded model's weights are missing from {_weights_dir(model)}.")
    limits = backend_limits(model)
    steps = steps or limits.default_steps
    if not limits.steps[0] <= steps <= limits.steps[1]:
        raise ValueError(f"steps must be between {limits.steps[0]} and {limits.steps[1]}")
    guidance = limits.default_guidance
    name = manifest_name(digest)
    existing = Manifest(digest=digest, data={})
    if not force and default_storage.exists(name):
        with default_storage.open(name, "rb") as fh:
            data = json.loads(fh.read())
        if data.get("steps") == steps and data.get("version") == MANIFEST_VERSION:
            existing = Manifest(digest=digest, data=data)
    modifiers = dict(existing.data.get("modifiers", {}))
    denoising = dict(existing.data.get("denoising", {}))

    pipe = None
    tiles: dict[str, PIL.Image.Image] = {}
    built_modifiers = built_denoising = skipped = 0

    def pipeline():
        nonlocal pipe
        if pipe is None:
            pipe = backend_get(model).pipe
        return pipe

    def tile(entry: ModifierEntry) -> PIL.Image.Image:
        if entry.slug not in tiles:
            tiles[entry.slug] = render_tile(pipeline(), prompt=swatch_prompt(catalog=catalog, modifier=entry),
                                            seed=SEED, steps=steps, guidance=guidance)
        return tiles[entry.slug]

    for category in catalog.categories:
        for entry in known_modifiers(category):
            row = modifiers.get(entry.slug)
            members = strip_members(category, entry.slug)
            if row and row.get("strip") == members and default_storage.exists(row["png"]):
                skipped += 1
                continue
            sheet = compose_strip([[tile(catalog.get(s)) for s in members]], highlight=members.index(entry.slug))
            png, webp = _encode(sheet)
            stem = f"{PREFIX}/{digest}/{category.slug}/{entry.slug}"
            modifiers[entry.slug] = {
                "category": category.slug, "strip": members, "prompt": swatch_prompt(catalog=catalog, modifier=entry),
                "png": imagefiles.file_write_atomic(storage=default_storage, name=f"{stem}.png", data=png),
                "webp": imagefiles.file_write_atomic(storage=default_storage, name=f"{stem}.webp", data=webp),
            }
            built_modifiers += 1
            log(f"  {category.slug}/{entry.slug}")
    known = {m.slug for m in catalog if m.embedded}
    modifiers = {slug: row for slug, row in modifiers.items() if slug in known}

    for example in book_steps_examples():
        row = denoising.get(example.key)
        if row and default_storage.exists(row["png"]):
            skipped += 1
            continue
        samples, predictions, chosen = render_denoising(pipeline(), prompt=example.prompt, seed=example.seed,
                                                        steps=steps, guidance=guidance)
        rows = [samples]
        labels = ["What the sampler holds after the step"]
        if all(p is not None for p in predictions):
            rows.append(predictions)
            labels.append("The model's guess at the finished picture")
        png, webp = _encode(compose_strip(rows))
        stem = f"{PREFIX}/{digest}/steps/{example.key}"
        denoising[example.key] = {
            "prompt": example.prompt, "seed": example.seed, "frames": chosen, "total": steps, "rows": labels,
            "png": imagefiles.file_write_atomic(storage=default_storage, name=f"{stem}.png", data=png),
            "webp": imagefiles.file_write_atomic(storage=default_storage, name=f"{stem}.webp", data=webp),
        }
        built_denoising += 1
        log(f"  steps: {example.prompt} (seed {example.seed})")

    manifest = {
        "version": MANIFEST_VERSION, "digest": digest, "model": model, "steps": steps, "seed": SEED,
        "guidance": guidance, "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "modifiers": modifiers, "denoising": denoising,
    }
    if built_modifiers or built_denoising or existing.data.get("modifiers") != modifiers or not existing.data:
        imagefiles.file_write_atomic(storage=default_storage, name=name,
                                     data=json.dumps(manifest, indent=1, sort_keys=True).encode())
    pruned = swatches_prune(keep=digest) if prune else 0
    return BuildResult(digest=digest, modifiers_built=built_modifiers, denoising_built=built_denoising,
                       skipped=skipped, pruned=pruned, seconds=time.monotonic() - started)


def swatches_prune(*, keep: str) -> int:
    """Delete the folders of other digests (older weights or catalog). Returns files deleted."""
    try:
        folders, _ = default_storage.listdir(PREFIX)
    except (FileNotFoundError, OSError):
        return 0
    deleted = 0
    for folder in folders:
        if folder != keep:
            deleted += _delete_tree(f"{PREFIX}/{folder}")
    return deleted


def _delete_tree(prefix: str) -> int:
    folders, files = default_storage.listdir(prefix)
    deleted = 0
    for sub in folders:
        deleted += _delete_tree(f"{prefix}/{sub}")
    for name in files:
        default_storage.delete(f"{prefix}/{name}")
        deleted += 1
    return deleted
