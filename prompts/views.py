"""The builder page, /create: menus of modifiers, a live preview, advice, Generate.

Everything works without JavaScript: the state lives in the query string, the Preview
button GETs /create with it, and the server composes and reviews the prompt. The live
parts (`builder.js`) call the same services through the API.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from prompts import services
from prompts.catalog import Catalog
from prompts.composer import DIALECTS, ComposeError
from prompts.errors import AtelierError
from prompts.linter.findings import LintError
from prompts.selectors import catalog_get, history_for_user, presets_for_user
from prompts.tokens import TokenizerError

DIALECT_LABELS = {"plain": "Plain", "sd": "Stable Diffusion", "midjourney": "Midjourney"}
WEIGHTS = tuple(round(0.5 + i / 10, 1) for i in range(16))  # 0.5 … 2.0
HISTORY_ON_PAGE = 20
_SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


def builder(request: HttpRequest) -> HttpResponse:
    if "csrfmiddlewaretoken" in request.GET:
        # The no-JS Preview submits the form that also carries Generate's CSRF token:
        # keep the token out of addresses, histories and logs.
        query = request.GET.copy()
        del query["csrfmiddlewaretoken"]
        return redirect(f"{request.path}?{query.urlencode()}" if query else request.path)

    catalog = catalog_get()
    state, errors = _state_from_query(request.GET, catalog)
    remix_of = _remix_of(request.GET.get("remix_of"))
    submitted = "preview" in request.GET
    keep_seed = request.GET.get("keep_seed") == "1" if submitted else True
    if remix_of and not keep_seed:
        state.pop("seed", None)

    preview = None
    if state.get("subject") or state.get("modifiers"):
        try:
            preview = services.prompt_preview(
                subject=state.get("subject", ""), modifiers=state.get("modifiers", []),
                negative_prompt=state.get("negative_prompt", ""), dialect=state.get("dialect", "plain"),
                params=_dialect_params(state), catalog=catalog)
        except (AtelierError, ComposeError, LintError, TokenizerError) as exc:
            errors.append(getattr(exc, "message", None) or str(exc))
    if preview and submitted and request.user.is_authenticated:
        services.history_record(user=request.user, prompt=preview["prompt"],
                                negative_prompt=preview["negative_prompt"],
                                dialect=state.get("dialect", "plain"), state=state)

    extra = {"remix_of": remix_of} if remix_of else {}
    context = {
        "state": state,
        "dialect": state.get("dialect", "plain"),
        "dialects": [(d, DIALECT_LABELS[d]) for d in DIALECTS],
        "categories": _menus(catalog, state),
        "chosen": _chosen(catalog, state),
        "modifier_count": len(catalog),
        "preview": _preview_context(preview, state, extra) if preview else None,
        "errors": errors,
        "remix_of": remix_of,
        "keep_seed": keep_seed,
        "login_url": f"{reverse(settings.LOGIN_URL)}?{urlencode({'next': builder_url(state, extra)})}",
    }
    if request.user.is_authenticated:
        context["presets"] = [
            {"preset": p, "url": builder_url(p.state, extra), "state_json": json.dumps(p.state)}
            for p in presets_for_user(user=request.user)
        ]
        context["history"] = [
            {"entry": h, "url": _history_url(h, extra), "state_json": json.dumps(h.state)}
            for h in history_for_user(user=request.user, limit=HISTORY_ON_PAGE)
        ]
    return render(request, "prompts/builder.html", context)


# -- reading the query string ---------------------------------------------------------------


def _state_from_query(query, catalog: Catalog) -> tuple[dict, list[str]]:
    """The builder's state from /create's query: the prefill names (`m`, `negative`) and the
    form's own names (`modifiers`, `negative_prompt`) both work; `prompt` is parsed into
    subject and menus, and the explicit fields override what it gave."""
    errors: list[str] = []
    data: dict = {}
    if query.get("prompt"):
        try:
            data = services.prompt_restate(text=query["prompt"], catalog=catalog)
        except AtelierError as exc:
            errors.append(exc.message)
    if "subject" in query:
        data["subject"] = query["subject"]
    if "m" in query or "modifiers" in query:
        data["modifiers"] = [
            part for item in query.getlist("m") + query.getlist("modifiers") for part in item.split(",")
            if part.strip()
        ]
    for name, field in (("negative", "negative_prompt"), ("negative_prompt", "negative_prompt")):
        if name in query:
            data[field] = query[name]
    for field in ("dialect", "seed", "size", "steps", "guidance", "n"):
        if query.get(field):
            data[field] = query[field]
    state, problems = services.builder_state_clean(data=data, catalog=catalog)
    errors.extend(problem.message for problem in problems)
    return state, errors


def _remix_of(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _dialect_params(state: dict) -> dict:
    """Midjourney writes the seed and the aspect ratio into the prompt."""
    params: dict = {}
    if state.get("dialect") != "midjourney":
        return params
    if state.get("seed") is not None:
        params["seed"] = state["seed"]
    if state.get("size"):
        width, height = state["size"].split("x")
        params["width"], params["height"] = int(width), int(height)
    return params


# -- links that carry a state -------------------------------------------------------------------


def builder_url(state: dict, extra: dict | None = None) -> str:
    """/create with a builder state in its query string (the prefill format)."""
    query = {}
    for field, name in (("subject", "subject"), ("negative_prompt", "negative"), ("dialect", "dialect"),
                        ("seed", "seed"), ("size", "size"), ("steps", "steps"), ("guidance", "guidance"),
                        ("n", "n")):
        if state.get(field) not in (None, ""):
            query[name] = state[field]
    if state.get("modifiers"):
        query["m"] = ",".join(state["modifiers"])
    query.update(extra or {})
    return f"/create?{urlencode(query)}" if query else "/create"


def _history_url(entry, extra: dict) -> str:
    if entry.state.get("subject") or entry.state.get("modifiers"):
        return builder_url(entry.state, extra)
    # An entry recorded without a recipe (a hand-written prompt): parse it on arrival.
    query = {"prompt": entry.prompt, "dialect": entry.dialect, **extra}
    if entry.negative_prompt:
        query["negative"] = entry.negative_prompt
    return f"/create?{urlencode(query)}"


# -- shaping the page -------------------------------------------------------------------------


def _weights(state: dict) -> dict[str, float]:
    out = {}
    for item in state.get("modifiers", []):
        slug, _, weight = item.partition(":")
        out[slug] = float(weight) if weight else 1.0
    return out


def _menus(catalog: Catalog, state: dict) -> list[dict]:
    weights = _weights(state)
    menus = []
    for index, category in enumerate(catalog.categories):
        chosen = sum(1 for m in category.modifiers if m.slug in weights)
        menus.append({
            "category": category,
            "modifiers": [{"entry": m, "checked": m.slug in weights} for m in category.modifiers],
            "chosen": chosen,
            "open": chosen > 0 or (index == 0 and not weights),
        })
    return menus


def _chosen(catalog: Catalog, state: dict) -> list[dict]:
    chosen = []
    for slug, weight in _weights(state).items():
        entry = catalog.get(slug)
        options = [
            {"value": slug if w == 1 else f"{slug}:{w:g}", "label": f"×{w:g}", "selected": w == round(weight, 2)}
            for w in sorted({*WEIGHTS, round(weight, 2)})
        ]
        chosen.append({"entry": entry, "weight": weight, "options": options})
    return chosen


def highlight_segments(prompt: str, findings: list[dict]) -> list[dict]:
    """The prompt cut at every finding's edges; each piece marked with the most severe
    finding that covers it and the indexes of all that do."""
    spans = [
        (i, f["start"], f["end"], f["severity"]) for i, f in enumerate(findings)
        if f.get("start") is not None and f.get("end") is not None and 0 <= f["start"] < f["end"] <= len(prompt)
    ]
    bounds = sorted({0, len(prompt), *(s for _, s, _, _ in spans), *(e for _, _, e, _ in spans)})
    segments = []
    for start, end in zip(bounds, bounds[1:], strict=False):
        covering = [(i, sev) for i, s, e, sev in spans if s <= start and end <= e]
        severity = min((sev for _, sev in covering), key=_SEVERITY_RANK.get, default=None)
        segments.append({"text": prompt[start:end], "severity": severity,
                         "ids": " ".join(str(i) for i, _ in covering)})
    return segments


def _preview_context(preview: dict, state: dict, extra: dict) -> dict:
    lint = preview["lint"]
    tokens = lint["tokens"]
    params = {k: v for k, v in state.items() if k in ("dialect", "seed", "size", "steps", "guidance", "n")}
    findings = []
    for index, (finding, fix) in enumerate(zip(lint["findings"], preview["fixes"], strict=True)):
        apply_url = None
        if fix:
            query = {"prompt": fix["prompt"], **params, **extra}
            if state.get("dialect") != "midjourney":
                query["negative"] = fix["negative_prompt"]
            apply_url = f"/create?{urlencode(query)}"
        findings.append({"index": index, **finding, "fix": fix, "apply_url": apply_url})
    return {
        "prompt": preview["prompt"],
        "negative_prompt": preview["negative_prompt"],
        "segments": highlight_segments(preview["prompt"], lint["findings"]),
        "findings": findings,
        "tokens": tokens,
        "token_pct": min(100, round(100 * tokens["count"] / tokens["limit"])) if tokens["limit"] else 0,
        "over": tokens["count"] > tokens["limit"],
    }
