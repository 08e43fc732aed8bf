"""Comparison grids: one subject and seed, one category's modifiers across, optionally
another's down; one text-to-image job (one image, one credit) per cell.

A grid is one submission. It is planned and checked first (`grid_plan`: categories,
modifiers, at most MAX_CELLS cells), then created all or nothing (`grid_create`: the
content policy on every cell's prompt, the cost against the balance, then every job and
its credit in one transaction, enqueued after commit).

Why grid jobs are not made by `job_create`: that function refuses a user's fifth active
job (JOBS_MAX_ACTIVE), which would cap a grid at four cells, and it keeps only the
builder's keys of the recipe, so a job could not say which grid and cell it belongs to.
`grid_create` therefore writes the jobs itself, with the same checks in the same order,
and counts a whole grid as one active submission toward the limit. The cells carry
`recipe["grid"]` = {id, col, row, x, y}, which is how the result page finds them.
"""

from __future__ import annotations

import io
import secrets
import uuid
from dataclasses import dataclass

import PIL.Image
import PIL.ImageDraw
import PIL.ImageFont
from django.core.files.storage import default_storage
from django.db import transaction

from generation import imagefiles
from generation.backends import backend_limits, backend_name
from generation.credits import InsufficientCredits, credits_balance
from generation.models import Image, Job
from generation.policy import account_check_active, texts_check
from generation.services import job_enqueue, job_insert, submissions_check_active, submissions_lock
from prompts.catalog import Catalog, CategoryEntry, ModifierEntry
from prompts.composer import ModifierChoice, Recipe, recipe_render
from prompts.errors import NotFound, ValidationFailed

MAX_CELLS = 64
MAX_SUBJECT = 300
DEFAULT_PICKS = 6  # modifiers preselected on an axis whose category the embedded model doesn't know
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class GridAxis:
    category: CategoryEntry
    modifiers: tuple[ModifierEntry, ...]


@dataclass(frozen=True)
class GridCell:
    col: int
    row: int
    modifiers: tuple[ModifierEntry, ...]
    prompt: str


@dataclass(frozen=True)
class GridPlan:
    subject: str
    seed: int
    x: GridAxis
    y: GridAxis | None
    cells: tuple[GridCell, ...]

    @property
    def cost(self) -> int:
        """One credit per cell: each cell is one job of one image."""
        return len(self.cells)


def axis_defaults(category: CategoryEntry) -> list[str]:
    """What an axis starts with: every modifier the embedded model knows (the ones that
    visibly change its pictures), or the first few where it knows none."""
    known = [m.slug for m in category.modifiers if m.embedded]
    return known or [m.slug for m in category.modifiers[:DEFAULT_PICKS]]


def _axis(*, catalog: Catalog, category_slug: str, slugs: list[str], name: str) -> GridAxis:
    category = catalog.category(category_slug)
    if category is None:
        raise ValidationFailed(f"There is no category {category_slug!r}.", code="unknown_category",
                               details={"field": name, "category": category_slug,
                                        "allowed": [c.slug for c in catalog.categories]})
    members = {m.slug: m for m in category.modifiers}
    unknown = [s for s in slugs if s not in members]
    if unknown:
        raise ValidationFailed(f"Not in {category.name}: {', '.join(unknown)}.", code="unknown_modifier",
                               details={"field": name, "slugs": unknown})
    picked = tuple(dict.fromkeys(members[s] for s in slugs))
    if not picked:
        raise ValidationFailed(f"Pick at least one {category.name.lower()} modifier.", code="no_modifiers",
                               details={"field": name})
    return GridAxis(category=category, modifiers=picked)


def grid_plan(*, catalog: Catalog, subject: str, x_category: str, x_modifiers: list[str],
              y_category: str | None = None, y_modifiers: list[str] | None = None,
              seed: int | None = None) -> GridPlan:
    """Check a grid request and work out its cells; raises ValidationFailed (422)."""
    subject = " ".join((subject or "").replace("\x00", " ").split())
    if not subject:
        raise ValidationFailed("Type a subject for the grid.", code="subject_required", details={"field": "subject"})
    if len(subject) > MAX_SUBJECT:
        raise ValidationFailed(f"The subject is longer than {MAX_SUBJECT} characters.", code="too_long",
                               details={"field": "subject", "max": MAX_SUBJECT})
    if seed is None:
        seed = secrets.randbelow(MAX_SEED + 1)
    if not 0 <= seed <= MAX_SEED:
        raise ValidationFailed(f"The seed must be from 0 to {MAX_SEED}.", code="seed_out_of_range",
                               details={"field": "seed"})
    x = _axis(catalog=catalog, category_slug=x_category, slugs=list(x_modifiers), name="x")
    y = None
    if y_category:
        if y_category == x_category:
            raise ValidationFailed("Pick a different category for the rows than for the columns.",
                                   code="same_category", details={"field": "y"})
        y = _axis(catalog=catalog, category_slug=y_category, slugs=list(y_modifiers or ()), name="y")
    count = len(x.modifiers) * (len(y.modifiers) if y else 1)
    if count > MAX_CELLS:
        raise ValidationFailed(f"This grid has {count} cells; a grid can have at most {MAX_CELLS}. "
                               "Untick some modifiers.", code="too_many_cells",
                               details={"cells": count, "max": MAX_CELLS})
    cells = []
    for row, y_mod in enumerate(y.modifiers if y else (None,)):
        for col, x_mod in enumerate(x.modifiers):
            mods = (x_mod, y_mod) if y_mod else (x_mod,)
            prompt = recipe_render(
                recipe=Recipe(subject=subject, modifiers=tuple(ModifierChoice(m.slug) for m in mods)),
                dialect="plain", catalog=catalog).prompt
            cells.append(GridCell(col=col, row=row, modifiers=mods, prompt=prompt))
    return GridPlan(subject=subject, seed=seed, x=x, y=y, cells=tuple(cells))


# -- create ----------------------------------------------------------------------------------


def grid_create(*, user, plan: GridPlan) -> str:
    """Create every cell's job, or none. Returns the grid's id."""
    account_check_active(user=user)
    for prompt in dict.fromkeys(cell.prompt for cell in plan.cells):
        texts_check(user=user, texts={"prompt": prompt})
    balance = credits_balance(user=user)
    if balance < plan.cost:
        raise InsufficientCredits(f"This grid costs {plan.cost} credits and your balance is {balance}.",
                                  details={"balance": balance, "needed": plan.cost})
    submissions_check_active(user=user)

    limits = backend_limits()
    model = backend_name()
    width, height = limits.default_size
    grid_id = uuid.uuid4().hex
    with transaction.atomic():
        # The same lock job_create takes: one user's submissions are serialised, so the
        # limit and the balance cannot be raced past (credits_spend re-checks the balance).
        submissions_lock(user=user)
        submissions_check_active(user=user)
        jobs = []
        for cell in plan.cells:
            recipe = {
                "subject": plan.subject, "modifiers": [m.slug for m in cell.modifiers], "dialect": "plain",
                "mode": Job.Mode.TEXT2IMG, "prompt": cell.prompt, "negative_prompt": "", "model": model,
                "seed": plan.seed, "width": width, "height": height, "steps": limits.default_steps,
                "guidance": limits.default_guidance, "n": 1,
                "grid": {"id": grid_id, "col": cell.col, "row": cell.row, "x": plan.x.category.slug,
                         "y": plan.y.category.slug if plan.y else None},
            }
            job = job_insert(
                user=user, mode=Job.Mode.TEXT2IMG, recipe=recipe, prompt=cell.prompt, negative_prompt="",
                seed=plan.seed, width=width, height=height, steps=limits.default_steps,
                guidance=limits.default_guidance, num_images=1,
            )
            jobs.append(job.pk)
        transaction.on_commit(lambda: [job_enqueue(job_id=pk) for pk in jobs])
    return grid_id


# -- read --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GridResultCell:
    job: Job
    image: Image | None


@dataclass(frozen=True)
class Grid:
    id: str
    subject: str
    seed: int
    x_category: str
    y_category: str | None
    columns: tuple[tuple[str, ...], ...]  # the modifier slugs of each column (from its cells)
    rows: tuple[tuple[str, ...], ...]
    cells: tuple[tuple[GridResultCell | None, ...], ...]  # [row][col]

    @property
    def jobs(self) -> list[Job]:
        return [c.job for row in self.cells for c in row if c]

    @property
    def finished(self) -> bool:
        return all(job.is_final for job in self.jobs)

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for job in self.jobs:
            counts[job.state] = counts.get(job.state, 0) + 1
        return counts

    @property
    def sheet_name(self) -> str:
        return f"grids/{self.id[:2]}/{self.id}.png"


def grid_get(*, user, grid_id: str) -> Grid:
    """The owner's grid with its cells' jobs and images; NotFound for anyone else."""
    jobs = list(Job.objects.filter(owner=user, recipe__grid__id=grid_id).prefetch_related("images")
                .order_by("id")) if grid_id.isalnum() else []
    if not jobs:
        raise NotFound("No such grid.")
    width = max(j.recipe["grid"]["col"] for j in jobs) + 1
    height = max(j.recipe["grid"]["row"] for j in jobs) + 1
    matrix: list[list[GridResultCell | None]] = [[None] * width for _ in range(height)]
    columns: list[tuple[str, ...]] = [()] * width
    rows: list[tuple[str, ...]] = [()] * height
    for job in jobs:
        place = job.recipe["grid"]
        images = sorted(job.images.all(), key=lambda i: i.index)
        matrix[place["row"]][place["col"]] = GridResultCell(job=job, image=images[0] if images else None)
        slugs = job.recipe.get("modifiers") or []
        columns[place["col"]] = tuple(slugs[:1])
        rows[place["row"]] = tuple(slugs[1:2])
    first = jobs[0].recipe
    return Grid(id=grid_id, subject=first.get("subject", ""), seed=jobs[0].seed, x_category=first["grid"]["x"],
                y_category=first["grid"].get("y"), columns=tuple(columns), rows=tuple(rows),
                cells=tuple(tuple(r) for r in matrix))


# -- the labelled sheet ----------------------------------------------------------------------

CELL = 160
PAD = 12
INK = (29, 27, 24)
MUTED = (107, 101, 92)
PAPER = (247, 245, 240)
EMPTY = (224, 219, 209)


def _font(size: int):
    return PIL.ImageFont.load_default(size=size)


def _fit_text(draw, text: str, font, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def grid_sheet_compose(*, grid: Grid, labels: dict[str, str]) -> bytes:
    """One PNG: a title, column labels across the top, row labels down the left, and
    each cell's picture (a grey square with the job's state where there is none)."""
    font, small, title_font = _font(15), _font(13), _font(18)
    n_rows, n_cols = len(grid.cells), len(grid.cells[0])
    probe = PIL.ImageDraw.Draw(PIL.Image.new("RGB", (1, 1)))
    label_w = 0
    if grid.y_category:
        label_w = min(220, max(int(probe.textlength(labels.get(r[0], r[0]) if r else "", font=font))
                               for r in grid.rows) + 2 * PAD)
    title_h, head_h = 40, 30
    width = PAD + label_w + n_cols * (CELL + PAD)
    height = title_h + head_h + n_rows * (CELL + PAD) + PAD
    sheet = PIL.Image.new("RGB", (max(width, 360), height), PAPER)
    draw = PIL.ImageDraw.Draw(sheet)
    draw.text((PAD, PAD), _fit_text(draw, f"{grid.subject} · seed {grid.seed}", title_font, sheet.width - 2 * PAD),
              font=title_font, fill=INK)
    for col, slugs in enumerate(grid.columns):
        x = PAD + label_w + col * (CELL + PAD)
        text = _fit_text(draw, labels.get(slugs[0], slugs[0]) if slugs else "", font, CELL)
        draw.text((x + CELL / 2, title_h + head_h / 2), text, font=font, fill=INK, anchor="mm")
    for row, slugs in enumerate(grid.rows):
        y = title_h + head_h + row * (CELL + PAD)
        if label_w:
            text = _fit_text(draw, labels.get(slugs[0], slugs[0]) if slugs else "", font, label_w - 2 * PAD)
            draw.text((PAD + label_w - PAD, y + CELL / 2), text, font=font, fill=INK, anchor="rm")
        for col, cell in enumerate(grid.cells[row]):
            x = PAD + label_w + col * (CELL + PAD)
            picture = None
            if cell and cell.image:
                try:
                    with default_storage.open(cell.image.file, "rb") as fh:
                        picture = PIL.Image.open(io.BytesIO(fh.read())).convert("RGB")
                except OSError:
                    picture = None
            if picture is not None:
                sheet.paste(picture.resize((CELL, CELL), PIL.Image.Resampling.LANCZOS), (x, y))
            else:
                draw.rectangle((x, y, x + CELL - 1, y + CELL - 1), fill=EMPTY)
                state = cell.job.get_state_display().lower() if cell else "missing"
                draw.text((x + CELL / 2, y + CELL / 2), state, font=small, fill=MUTED, anchor="mm")
    out = io.BytesIO()
    sheet.save(out, format="PNG", optimize=True)
    return out.getvalue()


def grid_sheet_ensure(*, grid: Grid, labels: dict[str, str]) -> str | None:
    """The sheet's storage name once every cell has finished (written on first ask)."""
    if not grid.finished:
        return None
    name = grid.sheet_name
    if not default_storage.exists(name):
        imagefiles.file_write_atomic(storage=default_storage, name=name,
                                     data=grid_sheet_compose(grid=grid, labels=labels))
    return name
