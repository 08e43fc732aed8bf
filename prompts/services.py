"""Writes for the prompts app: loading the catalog, presets, history."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from prompts.catalog import DATA_DIR, Catalog
from prompts.composer import DIALECTS, MAX_SEED, MAX_WEIGHT, ModifierChoice, Recipe, recipe_render
from prompts.errors import NotFound, ValidationFailed
from prompts.linter import LintResult, prompt_lint
from prompts.linter.phrases import negation_rewrite
from prompts.models import CatalogState, Category, Modifier, PolicyRule, Preset, PromptHistory
from prompts.parser import prompt_parse, prompt_scan
from prompts.policy import DATA_DIR as POLICY_DATA_DIR
from prompts.policy import load_rule_file
from prompts.selectors import catalog_get, catalog_invalidate, policy_invalidate
from prompts.wildcards import template_expand


@dataclass(frozen=True)
class CatalogLoadResult:
    created: int
    updated: int
    unchanged: int
    skipped: bool


def _files_digest(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.yaml")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@transaction.atomic
def catalog_load(*, directory: Path | None = None, force: bool = False) -> CatalogLoadResult:
    """Upsert categories and modifiers from the YAML files by slug.

    Idempotent: a second load of the same files changes nothing (and is skipped by digest
    unless `force`). Rows edited in the admin are overwritten only when the files change.
    """
    directory = directory or DATA_DIR
    digest = _files_digest(directory)
    state = CatalogState.objects.select_for_update().first()
    if state and state.digest == digest and not force:
        return CatalogLoadResult(0, 0, Modifier.objects.count(), skipped=True)

    catalog = Catalog.from_files(directory)
    created = updated = unchanged = 0
    for entry in catalog.categories:
        category, _ = Category.objects.update_or_create(
            slug=entry.slug,
            defaults={"name": entry.name, "description": entry.description, "order": entry.order},
        )
        for position, mod in enumerate(entry.modifiers):
            values = {
                "category": category,
                "name": mod.name,
                "fragment": mod.fragment,
                "description": mod.description,
                "aliases": list(mod.aliases),
                "tips": list(mod.tips),
                "conflicts": list(mod.conflicts),
                "embedded": mod.embedded,
                "living": mod.living,
                "tested": mod.tested,
                "extra": mod.extra,
                "position": position,
            }
            existing = Modifier.objects.filter(slug=mod.slug).first()
            if existing is None:
                Modifier.objects.create(slug=mod.slug, **values)
                created += 1
            elif any(getattr(existing, key) != value for key, value in values.items()):
                for key, value in values.items():
                    setattr(existing, key, value)
                existing.save(update_fields=list(values))
                updated += 1
            else:
                unchanged += 1
    if state:
        state.digest = digest
        state.save(update_fields=["digest", "loaded_at"])
    else:
        CatalogState.objects.create(digest=digest)
    # Now for this connection (and tests inside one transaction), again once committed for everyone.
    catalog_invalidate()
    transaction.on_commit(catalog_invalidate)
    return CatalogLoadResult(created, updated, unchanged, skipped=False)


@transaction.atomic
def policy_rules_load(*, directory: Path | None = None) -> int:
    """Add the bundled policy terms that the table lacks. Idempotent; rules an admin
    disabled or edited stay as they are. Returns the number of rules added."""
    directory = directory or POLICY_DATA_DIR
    existing = set(PolicyRule.objects.values_list("category", "term"))
    new = []
    for path in sorted(Path(directory).glob("*.yaml")):
        for category, term, kind, rule_id in load_rule_file(path):
            if (category, term) not in existing:
                existing.add((category, term))
                new.append(PolicyRule(category=category, term=term, match=kind, rule_id=rule_id))
    PolicyRule.objects.bulk_create(new, batch_size=500)
    if new:
        transaction.on_commit(policy_invalidate)
    return len(new)


# -- the builder: compose, lint, parse, expand -------------------------------------------------
#
# The API and the builder page share these: they validate the text they are given, run the
# prompt engine on the current catalog, and add the one-click fixes the builder offers.

MAX_TEXT_CHARS = 10_000
EXPAND_CAP = 64
HISTORY_KEEP = 100
PRESETS_MAX = 100
PRESET_NAME_MAX = 80
MAX_STEPS = 1000
MAX_GUIDANCE = 50.0
MAX_IMAGES = 16
_SIZE_RE = re.compile(r"^\s*(\d{1,5})\s*[x×]\s*(\d{1,5})\s*$", re.I)
_WEIGHT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*$")


def text_check(*, value: str, field: str, max_chars: int = MAX_TEXT_CHARS) -> str:
    """Free text from outside: at most `max_chars` characters and no NUL (which no
    database column stores and no tokenizer reads)."""
    if "\x00" in value:
        raise ValidationFailed(
            f"`{field}` contains a NUL character.",
            code="invalid_character",
            details={"field": field, "position": value.index("\x00")},
        )
    if len(value) > max_chars:
        raise ValidationFailed(
            f"`{field}` is {len(value):,} characters long; at most {max_chars:,} are allowed.",
            code="too_long",
            details={"field": field, "length": len(value), "max": max_chars},
        )
    return value


def default_model() -> str:
    """The model the linter counts tokens for: the one that generates here. A folder of
    Atelier's own pipeline (a retrained copy) counts as the embedded model."""
    name = settings.GENERATION_MODEL or "embedded"
    if name != "embedded":
        try:
            index = json.loads((Path(name) / "model_index.json").read_text())
        except (OSError, ValueError):
            return name
        if index.get("_class_name") == "AtelierPipeline":
            return "embedded"
    return name


def modifier_choices(items: Iterable) -> tuple[ModifierChoice, ...]:
    """Choices from `"slug"`, `"slug:1.2"` or `{"slug": ..., "weight": ...}` items."""
    choices = []
    for item in items:
        if isinstance(item, Mapping):
            slug, weight = str(item.get("slug") or ""), item.get("weight")
            weight = 1.0 if weight is None else weight
        else:
            slug, _, raw = str(item).strip().partition(":")
            match = _WEIGHT_RE.match(raw) if raw else None
            if raw and not match:
                raise ValidationFailed(
                    f"The weight of {slug!r} must be a number, not {raw!r}.",
                    code="invalid_weight",
                    details={"slugs": [slug]},
                )
            weight = float(match.group(1)) if match else 1.0
        slug = slug.strip()
        if slug:
            choices.append(ModifierChoice(slug=slug, weight=weight))
    return tuple(choices)


def _modifier_strings(choices: Iterable[ModifierChoice]) -> list[str]:
    out: dict[str, str] = {}
    for choice in choices:
        text = f"{float(choice.weight):.2f}".rstrip("0").rstrip(".")
        out.setdefault(choice.slug, choice.slug if text == "1" else f"{choice.slug}:{text}")
    return list(out.values())


def _lint_dict(*, prompt: str, negative_prompt: str, model: str | None, dialect: str | None,
               catalog: Catalog) -> tuple[dict, LintResult]:
    result = prompt_lint(prompt=prompt, negative_prompt=negative_prompt, model=model or default_model(),
                         dialect=dialect, catalog=catalog)
    return result.as_dict(), result


def prompt_compose(*, subject: str = "", modifiers: Iterable = (), negative_prompt: str = "",
                   dialect: str = "plain", params: Mapping | None = None, model: str | None = None,
                   catalog: Catalog) -> dict:
    """A recipe rendered in a dialect, with the linter's review of the result:
    `{"prompt", "negative_prompt", "lint"}`."""
    text_check(value=subject, field="subject")
    text_check(value=negative_prompt, field="negative_prompt")
    recipe = Recipe(subject=subject, modifiers=modifier_choices(modifiers),
                    negative_prompt=negative_prompt, params=dict(params or {}))
    rendered = recipe_render(recipe=recipe, dialect=dialect, catalog=catalog)
    lint, _ = _lint_dict(prompt=rendered.prompt, negative_prompt=rendered.negative_prompt,
                         model=model, dialect=dialect, catalog=catalog)
    return {"prompt": rendered.prompt, "negative_prompt": rendered.negative_prompt, "lint": lint}


def prompt_review(*, prompt: str, negative_prompt: str = "", model: str | None = None,
                  dialect: str | None = None, catalog: Catalog) -> dict:
    """The linter's review of a finished prompt: `{"tokens", "findings"}`."""
    text_check(value=prompt, field="prompt")
    text_check(value=negative_prompt, field="negative_prompt")
    lint, _ = _lint_dict(prompt=prompt, negative_prompt=negative_prompt, model=model,
                         dialect=dialect, catalog=catalog)
    return lint


def prompt_preview(*, subject: str = "", modifiers: Iterable = (), negative_prompt: str = "",
                   dialect: str = "plain", params: Mapping | None = None, model: str | None = None,
                   catalog: Catalog) -> dict:
    """What the builder shows: the composed prompt, its review, and for each finding the
    one-click fix where there is one (`fixes[i]` belongs to `lint.findings[i]`)."""
    composed = prompt_compose(subject=subject, modifiers=modifiers, negative_prompt=negative_prompt,
                              dialect=dialect, params=params, model=model, catalog=catalog)
    fixes = [
        finding_fix(finding=finding, prompt=composed["prompt"],
                    negative_prompt=composed["negative_prompt"], dialect=dialect, catalog=catalog)
        for finding in composed["lint"]["findings"]
    ]
    return {**composed, "fixes": fixes}


def prompt_read(*, text: str, catalog: Catalog) -> dict:
    """A prompt in any dialect read back into subject, modifiers and parameters."""
    text_check(value=text, field="prompt")
    return prompt_parse(text=text, catalog=catalog).as_dict()


def wildcards_expand(*, template: str, mode: str = "all", count: int | None = None,
                     seed: int | None = None, catalog: Catalog) -> dict:
    """Every prompt of a template (at most 64, else an error with the total), or a seeded
    random draw of `count`."""
    text_check(value=template, field="template")
    expansion = template_expand(template=template, mode=mode, count=1 if count is None else count,
                                seed=seed, catalog=catalog, cap=EXPAND_CAP, strict=True)
    return {"prompts": list(expansion.prompts), "total": expansion.total}


# -- one-click fixes -------------------------------------------------------------------------------

_COLLECTIVE = "a group of"
_DETERMINER_BEFORE_RE = re.compile(r"\b(?:a|an|the|these|those|some|exactly|about)\s+$", re.I)
_DID_YOU_MEAN_RE = re.compile(r"^Did you mean “(?P<word>[^”]+)”\?$")
_MJ_NO_PARAM_RE = re.compile(r"(?:^|\s)(?:--|—)no\b.*?(?=\s(?:--|—)[A-Za-z]|$)", re.S)


_WEIGHT_OPEN_RE = re.compile(r"[(\[]\s*$")
_WEIGHT_CLOSE_RE = re.compile(r"^\s*(?::\s*-?\d*\.?\d+\s*)?[)\]]")
_DANGLING_END_RE = re.compile(r"(?:\s*,|\s+(?:and|or|&))\s*$", re.I)
_DANGLING_START_RE = re.compile(r"^(?:,\s*|(?:and|or|&)\s+)", re.I)
_GLUE_END_RE = re.compile(r"(?:^|\s)(?:of|in|by|with)$", re.I)


def _cut(prompt: str, start: int, end: int) -> str:
    """The prompt without prompt[start:end], and without the comma, "and" or weight
    brackets that held the cut phrase in place."""
    before, after = prompt[:start], prompt[end:]
    opening, closing = _WEIGHT_OPEN_RE.search(before), _WEIGHT_CLOSE_RE.match(after)
    if opening and closing:  # "(term:1.2)" goes as a whole
        before, after = before[: opening.start()], after[closing.end() :]
    before, after = before.rstrip(), after.lstrip()
    if not after or after[0] in ",.;":
        before = _DANGLING_END_RE.sub("", before)  # "A and [B]," → "A,"
    if not before or before.endswith(",") or _GLUE_END_RE.search(before):
        after = _DANGLING_START_RE.sub("", after)  # "of [A] and B" → "of B"
    if before and after and after[0] not in ",.;":
        return f"{before} {after}".strip(" ,")
    return (before + after).strip(" ,")


def finding_fix(*, finding: Mapping, prompt: str, negative_prompt: str, dialect: str | None,
                catalog: Catalog) -> dict | None:
    """The edit that follows a finding's suggestion, where one edit does it:
    `{"label", "prompt", "negative_prompt"}` (the whole new texts), else None."""
    code, start, end = finding["code"], finding.get("start"), finding.get("end")
    has_span = start is not None and end is not None and 0 <= start < end <= len(prompt)
    said = prompt[start:end] if has_span else ""

    def fix(label: str, new_prompt: str, new_negative: str = negative_prompt) -> dict | None:
        if new_prompt == prompt and new_negative == negative_prompt:
            return None
        return {"label": label, "prompt": new_prompt, "negative_prompt": new_negative}

    if code == "counting" and has_span:
        before = _DETERMINER_BEFORE_RE.search(prompt, 0, start)
        cut_from = before.start() if before else start
        replacement = _COLLECTIVE.capitalize() if cut_from == 0 else _COLLECTIVE
        new = prompt[:cut_from] + replacement + prompt[end:]
        return fix(f"Replace “{said.strip()}” with “{_COLLECTIVE}”", new)
    if code == "unknown_word" and has_span:
        match = _DID_YOU_MEAN_RE.match(finding.get("suggestion") or "")
        if match:
            word = match.group("word")
            return fix(f"Use “{word}”", prompt[:start] + word + prompt[end:])
        return None
    if code == "negation":
        return _negation_fix(prompt=prompt, negative_prompt=negative_prompt, dialect=dialect,
                             catalog=catalog, fix=fix)
    if code == "duplicate" and has_span:
        return fix(f"Remove the repeated “{said}”", _cut(prompt, start, end))
    if code == "conflicting_modifiers" and has_span:
        return fix(f"Remove “{said}”", _cut(prompt, start, end))
    if code == "token_budget" and has_span:
        return fix("Remove the part the model ignores", _cut(prompt, start, end))
    return None


def _negation_fix(*, prompt: str, negative_prompt: str, dialect: str | None, catalog: Catalog, fix):
    scan = prompt_scan(text=prompt, catalog=catalog)
    body = prompt[: scan.body_end]
    rewritten, moved = negation_rewrite(body)
    if not moved:
        return None
    label = f"Move “{moved}” to the negative prompt"
    if dialect == "midjourney":
        params = _MJ_NO_PARAM_RE.sub("", prompt[scan.body_end :]).strip()
        negative = ", ".join(p for p in (scan.negative_prompt, moved) if p)
        return fix(label, " ".join(p for p in (rewritten, params, f"--no {negative}") if p))
    negative = ", ".join(p for p in (negative_prompt.strip(), moved) if p)
    return fix(label, rewritten + prompt[scan.body_end :], negative)


# -- builder state: what a preset, a history entry and the /create query string hold ---------

BUILDER_FIELDS = ("subject", "modifiers", "negative_prompt", "dialect", "seed", "size", "steps",
                  "guidance", "n")


def _number(value, *, field: str, low: float, high: float, whole: bool) -> int | float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None or not math.isfinite(number) or (whole and not number.is_integer()) \
            or not low <= number <= high:
        kind = "a whole number" if whole else "a number"
        raise ValidationFailed(f"`{field}` must be {kind} from {low:g} to {high:g}.",
                               code="invalid_param", details={"field": field, "value": str(value)[:40]})
    return int(number) if whole else number


def builder_state_clean(*, data: Mapping, catalog: Catalog) -> tuple[dict, list[ValidationFailed]]:
    """The builder's state from untrusted data, and the problems found. A field with a
    problem is left out, so a page can still render the rest; an API raises the first."""
    state: dict = {}
    errors: list[ValidationFailed] = []

    def attempt(field: str, parse) -> None:
        if data.get(field) is None:
            return
        try:
            value = parse(data[field])
        except ValidationFailed as exc:
            errors.append(exc)
            return
        if value not in (None, "", []):
            state[field] = value

    def text(field: str):
        return lambda v: text_check(value=str(v), field=field).strip()

    def modifiers(value):
        items = value if isinstance(value, list | tuple) else str(value).split(",")
        choices = modifier_choices(items)
        unknown = list(dict.fromkeys(c.slug for c in choices if c.slug not in catalog))
        if unknown:
            errors.append(ValidationFailed(f"Unknown modifier(s): {', '.join(unknown)}",
                                           code="unknown_modifier", details={"slugs": unknown}))
        bad = [c.slug for c in choices if c.slug in catalog and not 0 < c.weight <= MAX_WEIGHT]
        if bad:
            errors.append(ValidationFailed(f"Weights must be above 0 and at most {MAX_WEIGHT:g}.",
                                           code="invalid_weight", details={"slugs": bad}))
        return _modifier_strings(c for c in choices if c.slug in catalog and c.slug not in bad)

    def dialect(value):
        if value not in DIALECTS:
            raise ValidationFailed(f"Unknown dialect {str(value)[:40]!r}.", code="unknown_dialect",
                                   details={"dialect": str(value)[:40], "allowed": list(DIALECTS)})
        return value

    def size(value):
        match = _SIZE_RE.match(str(value))
        if not match:
            raise ValidationFailed("`size` must look like 64x64.", code="invalid_size",
                                   details={"field": "size"})
        return f"{int(match.group(1))}x{int(match.group(2))}"

    attempt("subject", text("subject"))
    attempt("modifiers", modifiers)
    attempt("negative_prompt", text("negative_prompt"))
    attempt("dialect", dialect)
    attempt("seed", lambda v: _number(v, field="seed", low=0, high=MAX_SEED, whole=True))
    attempt("size", size)
    attempt("steps", lambda v: _number(v, field="steps", low=1, high=MAX_STEPS, whole=True))
    attempt("guidance", lambda v: _number(v, field="guidance", low=0, high=MAX_GUIDANCE, whole=False))
    attempt("n", lambda v: _number(v, field="n", low=1, high=MAX_IMAGES, whole=True))
    return state, errors


def prompt_restate(*, text: str, catalog: Catalog) -> dict:
    """A builder state from a finished prompt: its modifiers go to the menus, the rest of
    its phrases stay in the subject, its parameters to the parameter fields."""
    parsed = prompt_parse(text=text_check(value=text, field="prompt"), catalog=catalog)
    state: dict = {}
    subject = ", ".join(p for p in (parsed.subject, *parsed.unrecognized) if p)
    if subject:
        state["subject"] = subject
    choices = [ModifierChoice(m.slug, m.weight) for m in parsed.modifiers if 0 < m.weight <= MAX_WEIGHT]
    if choices:
        state["modifiers"] = _modifier_strings(choices)
    if parsed.negative_prompt:
        state["negative_prompt"] = parsed.negative_prompt
    params = parsed.params
    for key in ("seed", "steps", "guidance"):
        if isinstance(params.get(key), int | float) and not isinstance(params.get(key), bool):
            state[key] = params[key]
    if params.get("width") and params.get("height"):
        state["size"] = f"{params['width']}x{params['height']}"
    cleaned, _ = builder_state_clean(data=state, catalog=catalog)
    return cleaned


# -- presets and history -----------------------------------------------------------------------


@transaction.atomic
def preset_save(*, user, name: str, state: Mapping, catalog: Catalog) -> Preset:
    """Save the builder's (partial) state under a name; the same name replaces it."""
    name = " ".join(text_check(value=str(name), field="name", max_chars=PRESET_NAME_MAX).split())
    if not name:
        raise ValidationFailed("A preset needs a name.", code="invalid_name", details={"field": "name"})
    cleaned, errors = builder_state_clean(data=state, catalog=catalog)
    if errors:
        raise errors[0]
    if not cleaned:
        raise ValidationFailed("There is nothing to save yet: choose a subject or modifiers first.",
                               code="empty_preset")
    existing = Preset.objects.select_for_update().filter(owner=user, name=name).first()
    if existing is not None:
        existing.state = cleaned
        existing.save(update_fields=["state"])
        return existing
    if Preset.objects.filter(owner=user).count() >= PRESETS_MAX:
        raise ValidationFailed(f"You can keep at most {PRESETS_MAX} presets; delete one first.",
                               code="too_many_presets", details={"max": PRESETS_MAX})
    return Preset.objects.create(owner=user, name=name, state=cleaned)


def preset_delete(*, user, preset_id: int) -> None:
    deleted, _ = Preset.objects.filter(owner=user, pk=preset_id).delete()
    if not deleted:
        # Someone else's preset is as absent as one that never existed.
        raise NotFound("No such preset.", details={"id": preset_id})


@transaction.atomic
def history_record(*, user, prompt: str, negative_prompt: str = "", dialect: str = "plain",
                   state: Mapping | None = None) -> PromptHistory | None:
    """Remember a prompt the user composed (in the builder, or for a generation).

    The same prompt twice in a row is one entry; only the newest HISTORY_KEEP stay.
    Returns the entry, or None for an empty prompt."""
    prompt = text_check(value=prompt, field="prompt").strip()
    negative_prompt = text_check(value=negative_prompt or "", field="negative_prompt").strip()
    if not prompt:
        return None
    if dialect not in DIALECTS:
        dialect = "plain"
    # History must never fail the action it records: a state with problems keeps its good parts.
    cleaned, _ = builder_state_clean(data=state or {}, catalog=catalog_get())
    latest = PromptHistory.objects.select_for_update().filter(owner=user).order_by("-created_at", "-id").first()
    if latest is not None and (latest.prompt, latest.negative_prompt, latest.dialect) == (prompt, negative_prompt, dialect):
        return latest
    entry = PromptHistory.objects.create(owner=user, prompt=prompt, negative_prompt=negative_prompt,
                                         dialect=dialect, state=cleaned)
    keep = PromptHistory.objects.filter(owner=user).order_by("-created_at", "-id").values_list("pk", flat=True)[:HISTORY_KEEP]
    PromptHistory.objects.filter(owner=user).exclude(pk__in=list(keep)).delete()
    return entry
