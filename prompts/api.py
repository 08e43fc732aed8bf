"""Prompts API: the catalog; compose, lint, parse and expand prompts; presets and history.

The prompt endpoints are public (the builder works before anyone logs in); presets and
history belong to their owner. Handlers parse input, call one service, shape the output;
bad input raises domain errors that `atelier_site.api` turns into the error format.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from ninja import Router, Schema, Status
from ninja.throttling import AnonRateThrottle

from prompts import services
from prompts.errors import ValidationFailed
from prompts.selectors import catalog_get, history_for_user, presets_for_user

router = Router(tags=["prompts"])


class BuilderThrottle(AnonRateThrottle):
    """The builder previews as people type: a budget of its own, apart from the API's
    general one (per address; these endpoints skip authentication)."""

    scope = "builder"


BUILDER_THROTTLE = [BuilderThrottle(settings.API_THROTTLE_BUILDER)]


# -- the catalog -------------------------------------------------------------------------------


class ModifierOut(Schema):
    slug: str
    name: str
    fragment: str
    description: str
    aliases: list[str]
    embedded: bool


class CategoryOut(Schema):
    slug: str
    name: str
    modifiers: list[ModifierOut]


class CatalogOut(Schema):
    categories: list[CategoryOut]


@router.get("/modifiers", response=CatalogOut, auth=None, summary="Every category and its modifiers")
def modifiers(request):
    catalog = catalog_get()
    return {
        "categories": [
            {
                "slug": c.slug,
                "name": c.name,
                "modifiers": [
                    {"slug": m.slug, "name": m.name, "fragment": m.fragment, "description": m.description,
                     "aliases": list(m.aliases), "embedded": m.embedded}
                    for m in c.modifiers
                ],
            }
            for c in catalog.categories
        ]
    }


# -- compose, lint, parse, expand ----------------------------------------------------------------


class ModifierIn(Schema):
    slug: str
    weight: float = 1.0


class ComposeIn(Schema):
    subject: str = ""
    modifiers: list[ModifierIn | str] = []
    negative_prompt: str = ""
    dialect: str = "plain"
    params: dict[str, Any] = {}
    model: str | None = None


class TokensOut(Schema):
    count: int
    limit: int
    truncated_text: str


class FindingOut(Schema):
    code: str
    severity: str
    message: str
    start: int | None
    end: int | None
    suggestion: str | None


class LintOut(Schema):
    tokens: TokensOut
    findings: list[FindingOut]


class ComposeOut(Schema):
    prompt: str
    negative_prompt: str
    lint: LintOut


class FixOut(Schema):
    label: str
    prompt: str
    negative_prompt: str


class PreviewOut(ComposeOut):
    fixes: list[FixOut | None]


def _compose_args(payload: ComposeIn) -> dict:
    return {
        "subject": payload.subject,
        "modifiers": [m.model_dump() if isinstance(m, ModifierIn) else m for m in payload.modifiers],
        "negative_prompt": payload.negative_prompt,
        "dialect": payload.dialect,
        "params": payload.params,
        "model": payload.model,
        "catalog": catalog_get(),
    }


@router.post("/prompts/compose", response=ComposeOut, auth=None, throttle=BUILDER_THROTTLE,
             summary="Render a recipe in a dialect, with the linter's review")
def prompts_compose(request, payload: ComposeIn):
    return services.prompt_compose(**_compose_args(payload))


@router.post("/prompts/preview", response=PreviewOut, auth=None, throttle=BUILDER_THROTTLE,
             summary="The builder's live preview: compose, plus a one-click fix per finding (or null)")
def prompts_preview(request, payload: ComposeIn):
    return services.prompt_preview(**_compose_args(payload))


class LintIn(Schema):
    prompt: str
    negative_prompt: str = ""
    model: str | None = None
    dialect: str | None = None


@router.post("/prompts/lint", response=LintOut, auth=None, throttle=BUILDER_THROTTLE,
             summary="Token usage and advice for a prompt (model: the configured one by default)")
def prompts_lint(request, payload: LintIn):
    return services.prompt_review(prompt=payload.prompt, negative_prompt=payload.negative_prompt,
                                  model=payload.model, dialect=payload.dialect, catalog=catalog_get())


class ParseIn(Schema):
    prompt: str


class FoundModifierOut(Schema):
    slug: str
    category: str
    start: int
    end: int
    weight: float


class ParseOut(Schema):
    subject: str
    modifiers: list[FoundModifierOut]
    unrecognized: list[str]
    negative_prompt: str
    params: dict[str, Any]


@router.post("/prompts/parse", response=ParseOut, auth=None, throttle=BUILDER_THROTTLE,
             summary="Read a prompt in any dialect back into a subject, modifiers and parameters")
def prompts_parse(request, payload: ParseIn):
    return services.prompt_read(text=payload.prompt, catalog=catalog_get())


class ExpandIn(Schema):
    template: str
    mode: str = "all"
    count: int | None = None
    seed: int | None = None


class ExpandOut(Schema):
    prompts: list[str]
    total: int


@router.post("/prompts/expand", response=ExpandOut, auth=None, throttle=BUILDER_THROTTLE,
             summary="Expand a wildcard template: every prompt (at most 64) or a seeded random draw")
def prompts_expand(request, payload: ExpandIn):
    return services.wildcards_expand(template=payload.template, mode=payload.mode, count=payload.count,
                                     seed=payload.seed, catalog=catalog_get())


# -- presets and history (the owner's own) ---------------------------------------------------------


class PresetIn(Schema):
    name: str
    state: dict[str, Any]


class PresetOut(Schema):
    id: int
    name: str
    state: dict[str, Any]
    created_at: datetime


class PresetList(Schema):
    items: list[PresetOut]


@router.get("/presets", response=PresetList, summary="My presets, by name")
def presets_list(request):
    return {"items": list(presets_for_user(user=request.auth))}


@router.post("/presets", response={201: PresetOut}, summary="Save the builder's state under a name (replaces that name)")
def presets_save(request, payload: PresetIn):
    preset = services.preset_save(user=request.auth, name=payload.name, state=payload.state,
                                  catalog=catalog_get())
    return Status(201, preset)


@router.delete("/presets/{preset_id}", response={204: None}, summary="Delete one of my presets")
def presets_delete(request, preset_id: int):
    services.preset_delete(user=request.auth, preset_id=preset_id)
    return Status(204, None)


class HistoryIn(Schema):
    prompt: str
    negative_prompt: str = ""
    dialect: str = "plain"
    state: dict[str, Any] = {}


class HistoryOut(Schema):
    id: int
    prompt: str
    negative_prompt: str
    dialect: str
    state: dict[str, Any]
    created_at: datetime


class HistoryList(Schema):
    items: list[HistoryOut]


@router.get("/history", response=HistoryList, summary="My last 100 prompts, newest first; q searches them")
def history_list(request, q: str | None = None):
    if q:
        services.text_check(value=q, field="q", max_chars=200)
    return {"items": history_for_user(user=request.auth, q=q)}


@router.post("/history", response={201: HistoryOut}, summary="Remember a prompt composed in the builder")
def history_add(request, payload: HistoryIn):
    entry = services.history_record(user=request.auth, prompt=payload.prompt,
                                    negative_prompt=payload.negative_prompt, dialect=payload.dialect,
                                    state=payload.state)
    if entry is None:
        raise ValidationFailed("There is no prompt to remember.", code="empty_prompt")
    return Status(201, entry)
