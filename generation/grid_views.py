"""The comparison grid pages: `/create/grid` (plan, see the cost, run) and its result."""

from __future__ import annotations

import secrets

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.files.storage import default_storage
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render

from generation import grids
from generation.credits import credits_balance
from prompts.errors import AtelierError, ValidationFailed
from prompts.selectors import catalog_get

DEFAULT_X = "medium"


def _seed(value: str | None) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise ValidationFailed("The seed must be a whole number.", code="invalid_seed", details={"field": "seed"})
    return int(value)


def _form(data, catalog) -> dict:
    """The form's state from GET or POST. An axis starts with its defaults, and again
    whenever its category changes (the form says which category its ticks were for)."""
    x = data.get("x") or DEFAULT_X
    y = data.get("y") or ""
    state = {"subject": (data.get("subject") or "").strip()[:grids.MAX_SUBJECT], "x": x, "y": y,
             "seed": (data.get("seed") or "").strip()[:12]}
    for axis, slug in (("x", x), ("y", y)):
        category = catalog.category(slug) if slug else None
        if category is None:
            picked = []
        elif data.get(f"{axis}_for") == slug:
            members = {m.slug for m in category.modifiers}
            picked = [s for s in data.getlist(f"{axis}m") if s in members]
        else:
            picked = grids.axis_defaults(category)
        state[f"{axis}m"] = picked
        state[f"{axis}_category"] = category
    return state


def grid_page(request):
    if "csrfmiddlewaretoken" in request.GET:
        # "Update choices" GETs the form that also carries the run button's CSRF token:
        # keep the token out of addresses, histories and logs.
        query = request.GET.copy()
        del query["csrfmiddlewaretoken"]
        return redirect(f"{request.path}?{query.urlencode()}")
    catalog = catalog_get()
    data = request.POST if request.method == "POST" else request.GET
    state = _form(data, catalog)
    error = None
    status = 200
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        try:
            plan = grids.grid_plan(catalog=catalog, subject=state["subject"], x_category=state["x"],
                                   x_modifiers=data.getlist("xm"), y_category=state["y"] or None,
                                   y_modifiers=data.getlist("ym"), seed=_seed(state["seed"]))
            grid_id = grids.grid_create(user=request.user, plan=plan)
        except AtelierError as exc:
            error, status = exc, exc.status
        else:
            return redirect("grid_result", grid_id=grid_id)
    if not state["seed"]:
        state["seed"] = str(secrets.randbelow(100_000))
    cells = len(state["xm"]) * (len(state["ym"]) if state["y_category"] else 1)
    balance = credits_balance(user=request.user) if request.user.is_authenticated else None
    return render(request, "generation/grid.html", {
        "form": state, "categories": catalog.categories, "error": error, "cells": cells,
        "axes": [
            {"key": "x", "legend": "Across (columns)", "selected": state["x"], "category": state["x_category"],
             "picked": state["xm"], "optional": False},
            {"key": "y", "legend": "Down (rows), optional", "selected": state["y"], "category": state["y_category"],
             "picked": state["ym"], "optional": True},
        ],
        "max_cells": grids.MAX_CELLS, "balance": balance,
    }, status=status)


def _labels(catalog) -> dict[str, str]:
    return {m.slug: m.name for m in catalog}


@login_required
def grid_result(request, grid_id: str):
    try:
        grid = grids.grid_get(user=request.user, grid_id=grid_id)
    except AtelierError:
        raise Http404("No such grid.") from None
    catalog = catalog_get()
    labels = _labels(catalog)
    sheet = grids.grid_sheet_ensure(grid=grid, labels=labels)
    return render(request, "generation/grid.html", {
        "grid": grid, "sheet_url": default_storage.url(sheet) if sheet else "",
        "x_category": catalog.category(grid.x_category), "y_category": catalog.category(grid.y_category or ""),
        "columns": [[catalog.get(s) for s in slugs] for slugs in grid.columns],
        "rows": [(slugs and catalog.get(slugs[0]), cells) for slugs, cells in zip(grid.rows, grid.cells, strict=True)],
    })


@login_required
def grid_status(request, grid_id: str):
    """The cells' states for the result page's polling."""
    try:
        grid = grids.grid_get(user=request.user, grid_id=grid_id)
    except AtelierError as exc:
        return JsonResponse(exc.as_dict(), status=exc.status)
    cells = []
    for row in grid.cells:
        for cell in row:
            if cell is None:
                continue
            image = cell.image
            cells.append({
                "job": cell.job.pk, "state": cell.job.state, "step": cell.job.progress_step,
                "total": cell.job.progress_total,
                "image": {"id": image.pk, "url": default_storage.url(image.thumb_small or image.file)} if image else None,
            })
    return JsonResponse({"id": grid.id, "finished": grid.finished, "counts": grid.counts, "cells": cells})
