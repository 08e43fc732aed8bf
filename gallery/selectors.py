"""Reads for the gallery: listings with keyset pagination, one image with its lineage,
similar images, profiles and collections.

Who sees what:
- a *listing* (the gallery, search, similar images, a profile, a collection shown to
  others, the remix tree) holds public images that no moderator hid, plus, where noted,
  the viewer's own;
- a *link* (`/i/<id>`) reaches any image that `Image.visible_to` allows: unlisted ones
  too, and hidden or private ones for their owner only.

Pages go by keyset, never OFFSET: the cursor holds the sort key of the last row shown
(and the moment a time window was measured from, so page 2 of "top today" ranks by the
same window as page 1), signed with SECRET_KEY so nobody can forge one.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.files.storage import default_storage
from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from gallery.diff import prompt_diff_html, prompt_diff_json
from gallery.metadata import a1111_parse
from gallery.models import Collection, CollectionItem, ImageModifier, Like
from gallery.search import images_search
from gallery.search import images_similar as search_similar
from generation.imagefiles import png_metadata_read
from generation.models import Image, Job
from prompts.errors import AtelierError, NotFound, ValidationFailed
from prompts.parser import prompt_parse
from prompts.selectors import catalog_get

SORTS = ("new", "top_day", "top_week", "top_all", "trending", "relevance")
SEARCH_MODES = ("hybrid", "keyword", "semantic")
FILTERS = ("modifier", "model", "mode", "has_remixes", "author")
PAGING = ("cursor", "limit")
QUERY_PARAMS = frozenset(("q", "search", "sort", *FILTERS, *PAGING))
PAGE_SIZE = 30
SEARCH_RESULTS_MAX = 200  # a search ranks at most this many images; pages walk through them
MAX_QUERY_CHARS = 1000
TOP_WINDOWS = {"top_day": timedelta(days=1), "top_week": timedelta(days=7)}
# Trending: each like in the last 48 hours counts, newer ones more: 4 in the last 6 hours,
# 2 in the last day, 1 before that. Integer scores keep the keyset exact.
TRENDING_STEPS = ((timedelta(hours=48), 1), (timedelta(hours=24), 1), (timedelta(hours=6), 2))
PARENT_CHAIN_MAX = 32
REMIX_TREE_DEPTH = 4
REMIX_TREE_MAX_NODES = 120
SIMILAR_COUNT = 12
_CURSOR_SALT = "gallery.cursor"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


class InvalidCursor(AtelierError):
    status = 400
    code = "invalid_cursor"


# -- who may see what -------------------------------------------------------------------


def images_listable() -> QuerySet[Image]:
    """Images any listing may show: public and not hidden by a moderator."""
    return Image.objects.filter(visibility=Image.Visibility.PUBLIC, hidden=False)


def listable_for(user) -> Q:
    """Listable images, plus the viewer's own (their unlisted, private and hidden ones)."""
    condition = Q(visibility=Image.Visibility.PUBLIC, hidden=False)
    if user is not None and user.is_authenticated:
        condition |= Q(owner_id=user.pk)
    return condition


def reachable_for(user) -> Q:
    """Images the viewer can open by link: `Image.visible_to` as a query."""
    condition = Q(hidden=False) & ~Q(visibility=Image.Visibility.PRIVATE)
    if user is not None and user.is_authenticated:
        condition |= Q(owner_id=user.pk)
    return condition


def image_get(*, user, image_id: int) -> Image:
    """One image by link: 404 unless `Image.visible_to(user)`."""
    image = (Image.objects.select_related("owner", "parent", "remix_of__owner", "job")
             .filter(pk=image_id).first())
    if image is None or not image.visible_to(user):
        raise NotFound("No such image.")
    return image


def is_owner(user, image: Image) -> bool:
    return user is not None and user.is_authenticated and user.pk == image.owner_id


def withheld_for(user, image: Image) -> frozenset[str]:
    """Fields this viewer may not see: what the owner withholds, unless the viewer is the owner."""
    return frozenset() if is_owner(user, image) else frozenset(image.withheld or ())


# -- the query --------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageQuery:
    q: str = ""
    search: str = "hybrid"
    sort: str = "new"
    modifiers: tuple[str, ...] = ()
    model: str = ""
    mode: str = ""
    has_remixes: bool = False
    author: str = ""

    def fingerprint(self) -> str:
        """Binds a cursor to the query it was made for."""
        data = json.dumps([self.q, self.search, self.sort, self.modifiers, self.model, self.mode,
                           self.has_remixes, self.author], ensure_ascii=True)
        return hashlib.sha256(data.encode()).hexdigest()[:16]

    def as_params(self) -> dict[str, str]:
        """The non-default parts, as query-string parameters (for links to the next page)."""
        params = {"q": self.q, "search": self.search if self.q and self.search != "hybrid" else "",
                  "sort": self.sort if self.sort != default_sort(self.q) else "",
                  "modifier": ",".join(self.modifiers), "model": self.model, "mode": self.mode,
                  "has_remixes": "1" if self.has_remixes else "", "author": self.author}
        return {key: value for key, value in params.items() if value}


def default_sort(q: str) -> str:
    return "relevance" if q else "new"


def search_text_clean(value: str) -> str:
    """A search string anyone may type: NULs and other control characters out, length capped."""
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in value or "")
    return " ".join(text.split())[:MAX_QUERY_CHARS]


def _choice(name: str, value: str, allowed) -> str:
    if value not in allowed:
        raise ValidationFailed(f"{name} must be one of {', '.join(allowed)}; got {value[:40]!r}.",
                               code="invalid_filter", details={"field": name, "allowed": list(allowed)})
    return value


def _values(params: Mapping, name: str) -> list[str]:
    if hasattr(params, "getlist"):
        return [str(v) for v in params.getlist(name)]
    value = params.get(name)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def _value(params: Mapping, name: str) -> str:
    values = _values(params, name)
    return values[-1].strip() if values else ""


def image_query_parse(params: Mapping, *, strict: bool) -> ImageQuery:
    """Read q/search/sort and the filters. `strict` (the API) refuses unknown parameters
    with 422 unknown_filter; pages ignore them (a tracking parameter is no error there)."""
    if strict:
        unknown = sorted(set(params.keys()) - QUERY_PARAMS)
        if unknown:
            raise ValidationFailed(
                f"Unknown filter{'s' if len(unknown) > 1 else ''}: {', '.join(u[:40] for u in unknown)}. "
                f"Known: {', '.join(sorted(QUERY_PARAMS))}.",
                code="unknown_filter", details={"unknown": unknown[:20], "known": sorted(QUERY_PARAMS)})
    q = search_text_clean(_value(params, "q"))
    search = _choice("search", _value(params, "search") or "hybrid", SEARCH_MODES)
    sort = _choice("sort", _value(params, "sort") or default_sort(q), SORTS)
    if sort == "relevance" and not q:
        raise ValidationFailed("sort=relevance needs a search (q).", code="invalid_filter",
                               details={"field": "sort"})
    modifiers: list[str] = []
    for raw in _values(params, "modifier"):
        for slug in raw.split(","):
            slug = slug.strip().lower()
            if slug and slug not in modifiers:
                modifiers.append(slug[:80])
    mode = _value(params, "mode")
    if mode:
        _choice("mode", mode, Job.Mode.values)
    has_remixes = _value(params, "has_remixes").lower()
    if has_remixes not in _TRUE + _FALSE:
        raise ValidationFailed("has_remixes must be true or false.", code="invalid_filter",
                               details={"field": "has_remixes"})
    return ImageQuery(q=q, search=search, sort=sort, modifiers=tuple(modifiers[:8]),
                      model=_value(params, "model")[:200], mode=mode, has_remixes=has_remixes in _TRUE,
                      author=_value(params, "author")[:150])


def page_size(value: Any, *, default: int = PAGE_SIZE) -> int:
    if value in (None, ""):
        return min(default, settings.API_MAX_PAGE_SIZE)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationFailed("limit must be a whole number.", code="invalid_filter",
                               details={"field": "limit"}) from None
    return max(1, min(number, settings.API_MAX_PAGE_SIZE))


# -- cursors ----------------------------------------------------------------------------


def cursor_encode(payload: dict) -> str:
    """Opaque: URL-safe base64 of the JSON payload, HMAC-signed with SECRET_KEY."""
    return signing.dumps(payload, salt=_CURSOR_SALT, compress=False)


def cursor_decode(cursor: str, *, query: ImageQuery) -> dict:
    try:
        payload = signing.loads(cursor, salt=_CURSOR_SALT)
    except (signing.BadSignature, ValueError, UnicodeError):
        raise InvalidCursor("This cursor is invalid: use the next_cursor of a previous page.") from None
    if not isinstance(payload, dict) or payload.get("f") != query.fingerprint() or payload.get("k") != query.sort:
        raise InvalidCursor("This cursor belongs to another query or sort order.")
    return payload


def _cursor_number(payload: dict, key: str) -> float:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidCursor("This cursor is invalid.")
    return value


def _cursor_time(payload: dict, key: str) -> datetime:
    value = payload.get(key)
    moment = parse_datetime(value) if isinstance(value, str) else None
    if moment is None:
        raise InvalidCursor("This cursor is invalid.")
    return moment


# -- listings ---------------------------------------------------------------------------


@dataclass
class ImagePage:
    items: list[Image]
    next_cursor: str | None
    query: ImageQuery = field(default_factory=ImageQuery)


def _filtered(qs: QuerySet[Image], query: ImageQuery) -> QuerySet[Image]:
    for slug in query.modifiers:
        # A subquery, not a join: a join would multiply rows under the like counts.
        qs = qs.filter(pk__in=ImageModifier.objects.filter(slug=slug).values("image_id"))
    if query.model:
        qs = qs.filter(model=query.model)
    if query.mode:
        qs = qs.filter(mode=query.mode)
    if query.has_remixes:
        qs = qs.filter(remix_count__gt=0)
    if query.author:
        qs = qs.filter(owner__username=query.author)
    return qs


def _likes_since(since: datetime) -> Count:
    return Count("likes", filter=Q(likes__created_at__gte=since))


def images_list(*, user, query: ImageQuery, cursor: str | None = None, limit: int = PAGE_SIZE,
                now: datetime | None = None) -> ImagePage:
    """One page of the gallery: listable images, filtered, sorted, after `cursor`."""
    payload = cursor_decode(cursor, query=query) if cursor else None
    qs = _filtered(images_listable(), query)
    if query.q:
        qs = _search_restricted(qs, query)
        if query.sort == "relevance":
            return _relevance_page(qs, query, payload, limit)
    now = now or timezone.now()
    sort = query.sort
    if sort == "new":
        qs = qs.order_by("-created_at", "-id")
        if payload:
            moment, last = _cursor_time(payload, "t"), _cursor_number(payload, "id")
            # `t <= moment AND (t < moment OR id < last)`: the same rows as the plain OR, but
            # the leading bound lets PostgreSQL start the index range at the cursor (the OR
            # alone read every newer row first: 960 ms instead of 7 ms 800k rows deep at 1M).
            qs = qs.filter(Q(created_at__lte=moment) & (Q(created_at__lt=moment) | Q(pk__lt=last)))
        key = lambda image: {"t": image.created_at.isoformat(), "id": image.pk}  # noqa: E731
        extra: dict = {}
    elif sort == "top_all":
        qs = qs.order_by("-like_count", "-id")
        if payload:
            value, last = _cursor_number(payload, "v"), _cursor_number(payload, "id")
            qs = qs.filter(Q(like_count__lte=value) & (Q(like_count__lt=value) | Q(pk__lt=last)))
        key = lambda image: {"v": image.like_count, "id": image.pk}  # noqa: E731
        extra = {}
    else:
        anchor = _cursor_time(payload, "at") if payload else now
        if sort == "trending":
            score = sum((_likes_since(anchor - age) * weight for age, weight in TRENDING_STEPS[1:]),
                        _likes_since(anchor - TRENDING_STEPS[0][0]))
        else:
            score = _likes_since(anchor - TOP_WINDOWS[sort])
        qs = qs.annotate(score=score).order_by("-score", "-id")
        if payload:
            value, last = _cursor_number(payload, "v"), _cursor_number(payload, "id")
            qs = qs.filter(Q(score__lt=value) | Q(score=value, pk__lt=last))
        key = lambda image: {"v": image.score, "id": image.pk}  # noqa: E731
        extra = {"at": anchor.isoformat()}
    rows = list(qs.select_related("owner")[: limit + 1])
    items, more = rows[:limit], len(rows) > limit
    next_cursor = None
    if more and items:
        next_cursor = cursor_encode({"k": sort, "f": query.fingerprint(), **extra, **key(items[-1])})
    return ImagePage(items=items, next_cursor=next_cursor, query=query)


def _search_hits(qs: QuerySet[Image], query: ImageQuery) -> list:
    return images_search(q=query.q, mode=query.search, limit=SEARCH_RESULTS_MAX, base_queryset=qs)


def _search_restricted(qs: QuerySet[Image], query: ImageQuery) -> QuerySet[Image]:
    if query.sort == "relevance":
        return qs
    # Another order than relevance: the search picks the images, the sort orders them.
    return qs.filter(pk__in=[hit.image_id for hit in _search_hits(qs, query)])


def _relevance_page(qs: QuerySet[Image], query: ImageQuery, payload: dict | None, limit: int) -> ImagePage:
    hits = sorted(((float(hit.score), int(hit.image_id)) for hit in _search_hits(qs, query)),
                  key=lambda pair: (-pair[0], -pair[1]))
    if payload:
        value, last = _cursor_number(payload, "v"), _cursor_number(payload, "id")
        hits = [(score, pk) for score, pk in hits if score < value or (score == value and pk < last)]
    # The search was given the filtered queryset; reading the rows through it again means
    # a search that ignored it could still not leak a hidden or private image.
    rows = {image.pk: image for image in qs.filter(pk__in=[pk for _, pk in hits[: limit + 1]])
            .select_related("owner")}
    ranked = [(score, pk) for score, pk in hits[: limit + 1] if pk in rows]
    page, more = ranked[:limit], len(ranked) > limit or len(hits) > limit + 1
    items = [rows[pk] for _, pk in page]
    for (score, _), image in zip(page, items, strict=True):
        image.score = score
    next_cursor = None
    if more and page:
        next_cursor = cursor_encode({"k": "relevance", "f": query.fingerprint(), "v": page[-1][0], "id": page[-1][1]})
    return ImagePage(items=items, next_cursor=next_cursor, query=query)


def models_in_use(*, limit: int = 50) -> list[str]:
    """The models listable images were made with, for the gallery's filter menu."""
    return list(images_listable().exclude(model="").order_by("model").values_list("model", flat=True)
                .distinct()[:limit])


def liked_ids(*, user, image_ids: list[int]) -> set[int]:
    if user is None or not user.is_authenticated or not image_ids:
        return set()
    return set(Like.objects.filter(user=user, image_id__in=image_ids).values_list("image_id", flat=True))


def images_with_modifier(*, slug: str, sort: str = "top", limit: int = 8) -> list[Image]:
    """Public, visible images whose prompt uses the modifier — examples for the prompt book."""
    if sort not in ("top", "new"):
        raise ValueError(f"sort must be 'top' or 'new', not {sort!r}")
    qs = images_listable().filter(pk__in=ImageModifier.objects.filter(slug=slug).values("image_id"))
    order = ("-like_count", "-created_at", "-id") if sort == "top" else ("-created_at", "-id")
    return list(qs.select_related("owner").order_by(*order)[:limit])


# -- one image --------------------------------------------------------------------------


@dataclass(frozen=True)
class ModifierChip:
    slug: str
    category: str
    name: str
    weight: float = 1.0

    @property
    def url(self) -> str:
        return f"/book/{self.category}/{self.slug}"


def _recipe_modifiers(recipe: dict) -> list[tuple[str, float]]:
    found = []
    for item in recipe.get("modifiers") or ():
        if isinstance(item, dict):
            slug, weight = item.get("slug"), item.get("weight", 1)
        else:
            slug, _, weight = str(item).partition(":")
        try:
            weight = float(weight) if weight not in (None, "") else 1.0
        except (TypeError, ValueError):
            weight = 1.0
        if isinstance(slug, str) and slug:
            found.append((slug, weight))
    return found


def image_modifiers(*, image: Image) -> list[ModifierChip]:
    """The catalog modifiers an image uses: its recipe's when the builder made it, else
    what the indexer (or, before indexing, the parser) found in its prompt."""
    catalog = catalog_get()
    chosen = _recipe_modifiers(image.recipe or {})
    if not chosen:
        rows = list(ImageModifier.objects.filter(image=image).values_list("slug", flat=True))
        chosen = [(slug, 1.0) for slug in rows]
    if not chosen and image.prompt:
        chosen = [(m.slug, m.weight) for m in prompt_parse(text=image.prompt[:10_000], catalog=catalog).modifiers]
    chips, seen = [], set()
    for slug, weight in chosen:
        entry = catalog.get(slug)
        if entry is None or slug in seen:
            continue
        seen.add(slug)
        chips.append(ModifierChip(slug=slug, category=entry.category, name=entry.name, weight=weight))
    return chips


@dataclass(frozen=True)
class Parameters:
    model: str
    mode: str
    width: int
    height: int
    steps: int | None
    guidance: float | None
    seed: int | None
    seed_withheld: bool
    sampler: str | None
    negative_prompt: str
    negative_withheld: bool
    strength: float | None = None
    source_tool: str = ""


def _stored_sampler(image: Image) -> str | None:
    """The sampler named in the stored PNG's A1111 line. Generation writes it into the file
    only (the recipe has no sampler), so an image page reads it from there."""
    if not image.file:
        return None
    try:
        with default_storage.open(image.file, "rb") as fh:
            parameters = png_metadata_read(fh.read()).get("parameters", "")
        return a1111_parse(parameters).sampler if parameters else None
    except (OSError, AtelierError, ValueError):
        return None


def image_parameters(*, user, image: Image) -> Parameters:
    recipe = image.recipe or {}
    params = recipe.get("params") if isinstance(recipe.get("params"), dict) else {}
    withheld = withheld_for(user, image)

    def setting(*names):
        for name in names:
            for source in (recipe, params):
                if source.get(name) not in (None, ""):
                    return source[name]
        return None

    return Parameters(
        model=image.model or setting("model") or "", mode=image.mode,
        width=int(setting("width") or image.width), height=int(setting("height") or image.height),
        steps=setting("steps"), guidance=setting("guidance", "cfg_scale"),
        seed=None if "seed" in withheld else (image.seed if image.seed is not None else setting("seed")),
        seed_withheld="seed" in (image.withheld or ()),
        sampler=setting("sampler") or _stored_sampler(image),
        negative_prompt="" if "negative_prompt" in withheld else image.negative_prompt,
        negative_withheld="negative_prompt" in (image.withheld or ()),
        strength=setting("strength"), source_tool=image.source_tool,
    )


# -- lineage ----------------------------------------------------------------------------


@dataclass
class AncestorNode:
    image: Image | None  # None: this viewer may not see it
    image_id: int


@dataclass
class RemixNode:
    image: Image
    diff_html: str
    diff: list[list[str]]
    children: list[RemixNode] = field(default_factory=list)


@dataclass
class Lineage:
    ancestors: list[AncestorNode]  # the source of this image first, the root last
    remix_of: Image | None
    remix_of_hidden: bool
    remixes: list[RemixNode]
    remix_total: int


def _parent_chain(user, image: Image) -> list[AncestorNode]:
    chain, seen = [], {image.pk}
    next_id = image.parent_id
    while next_id and next_id not in seen and len(chain) < PARENT_CHAIN_MAX:
        seen.add(next_id)
        parent = Image.objects.select_related("owner").filter(pk=next_id).first()
        if parent is None:
            break
        chain.append(AncestorNode(image=parent if parent.visible_to(user) else None, image_id=parent.pk))
        next_id = parent.parent_id
    return chain


def _remix_tree(user, image: Image) -> tuple[list[RemixNode], int]:
    roots: list[RemixNode] = []
    frontier: dict[int, tuple[Image, list[RemixNode]]] = {image.pk: (image, roots)}
    total, seen = 0, {image.pk}
    for _depth in range(REMIX_TREE_DEPTH):
        if not frontier or total >= REMIX_TREE_MAX_NODES:
            break
        remixes = Image.objects.filter(remix_of_id__in=list(frontier)).values("pk")  # by the FK's index (see image_derived)
        children = (Image.objects.filter(listable_for(user), pk__in=remixes)
                    .select_related("owner").order_by("created_at", "id")[: REMIX_TREE_MAX_NODES - total])
        next_frontier: dict[int, tuple[Image, list[RemixNode]]] = {}
        for child in children:
            if child.pk in seen:
                continue
            seen.add(child.pk)
            parent, siblings = frontier[child.remix_of_id]
            node = RemixNode(image=child, diff_html=prompt_diff_html(parent.prompt, child.prompt),
                             diff=prompt_diff_json(parent.prompt, child.prompt))
            siblings.append(node)
            next_frontier[child.pk] = (child, node.children)
            total += 1
        frontier = next_frontier
    return roots, total


def image_lineage(*, user, image: Image) -> Lineage:
    remix_of = image.remix_of
    remix_visible = remix_of is not None and remix_of.visible_to(user)
    remixes, total = _remix_tree(user, image)
    return Lineage(ancestors=_parent_chain(user, image), remix_of=remix_of if remix_visible else None,
                   remix_of_hidden=remix_of is not None and not remix_visible, remixes=remixes, remix_total=total)


def images_similar(*, image: Image, limit: int = SIMILAR_COUNT) -> list[Image]:
    """Listable images that look or read like this one (never itself, never hidden ones)."""
    base = images_listable().exclude(pk=image.pk)
    hits = search_similar(image_id=image.pk, limit=limit, base_queryset=base)
    order = [hit.image_id for hit in hits if hit.image_id != image.pk]
    rows = {row.pk: row for row in base.filter(pk__in=order).select_related("owner")}
    return [rows[pk] for pk in order if pk in rows][:limit]


def image_derived(*, user, image: Image, limit: int = 12) -> list[Image]:
    """Variations, edits and outpaints made from this image that the viewer may list."""
    # The children through the parent's own index first (`pk IN (...)`): filtered and
    # sorted as a listing, SQLite walked the listing index over the whole gallery instead
    # (60 ms at 100k images against under 1 ms).
    children = Image.objects.filter(parent=image).values("pk")
    return list(Image.objects.filter(listable_for(user), pk__in=children).select_related("owner")
                .order_by("-created_at", "-id")[:limit])


def image_remix_state(*, user, image: Image) -> dict:
    """The builder's state for a remix: subject, modifiers (`slug` or `slug:weight`),
    negative prompt, dialect, seed, size, steps, guidance and remix_of."""
    recipe = image.recipe or {}
    withheld = withheld_for(user, image)
    parameters = image_parameters(user=user, image=image)
    chosen = _recipe_modifiers(recipe)
    subject = recipe.get("subject") if isinstance(recipe.get("subject"), str) else ""
    parsed = None
    if not chosen and not subject:
        parsed = prompt_parse(text=(image.prompt or "")[:10_000], catalog=catalog_get())
        subject = parsed.subject
        chosen = [(m.slug, m.weight) for m in parsed.modifiers]
    dialect = recipe.get("dialect") if recipe.get("dialect") in ("plain", "sd", "midjourney") else None
    if dialect is None:
        dialect = "sd" if any(weight != 1 for _, weight in chosen) else "plain"
    seen, modifiers = set(), []
    for slug, weight in chosen:
        if slug not in seen:
            seen.add(slug)
            modifiers.append(slug if weight == 1 else f"{slug}:{weight:g}")
    return {
        "subject": subject or "",
        "modifiers": modifiers,
        "prompt": image.prompt,
        "negative_prompt": "" if "negative_prompt" in withheld else image.negative_prompt,
        "dialect": dialect,
        "seed": None if "seed" in withheld else parameters.seed,
        "size": f"{parameters.width}x{parameters.height}",
        "steps": parameters.steps,
        "guidance": parameters.guidance,
        "remix_of": image.pk,
    }


def remix_builder_url(state: dict) -> str:
    """/create prefilled with a remix state (parameters left empty are left out)."""
    params = {
        "subject": state.get("subject") or "",
        "m": ",".join(state.get("modifiers") or ()),
        "negative": state.get("negative_prompt") or "",
        "dialect": state.get("dialect") or "",
        "seed": "" if state.get("seed") is None else str(state["seed"]),
        "size": state.get("size") or "",
        "steps": "" if state.get("steps") is None else str(state["steps"]),
        "guidance": "" if state.get("guidance") is None else f"{float(state['guidance']):g}",
        "remix_of": str(state["remix_of"]),
    }
    if not params["subject"] and not params["m"]:
        # Nothing the builder's menus know: hand over the prompt itself.
        params["prompt"] = state.get("prompt") or ""
    return "/create?" + urlencode({key: value for key, value in params.items() if value}, safe=",:")


# -- people -----------------------------------------------------------------------------


@dataclass
class Profile:
    user: Any
    image_count: int
    collection_count: int
    likes_received: int


def profile_get(*, username: str) -> Profile:
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise NotFound("No such person.")
    stats = images_listable().filter(owner=user).aggregate(n=Count("id"), likes=Sum("like_count"))
    collections = Collection.objects.filter(owner=user, visibility=Collection.Visibility.PUBLIC).count()
    return Profile(user=user, image_count=stats["n"] or 0, collection_count=collections,
                   likes_received=stats["likes"] or 0)


COVER_COUNT = 4


def _with_covers(qs: QuerySet[Collection], user) -> QuerySet[Collection]:
    covers = (CollectionItem.objects.filter(image__in=Image.objects.filter(listable_for(user)))
              .select_related("image").order_by("-added_at", "-id"))
    return qs.annotate(item_count=Count("items", distinct=True)).prefetch_related(
        Prefetch("items", queryset=covers[:COVER_COUNT], to_attr="covers"))


def collections_public(*, owner) -> list[Collection]:
    qs = Collection.objects.filter(owner=owner, visibility=Collection.Visibility.PUBLIC)
    return list(_with_covers(qs, None).order_by("-updated_at", "-id"))


def collections_for_owner(*, user) -> list[Collection]:
    return list(_with_covers(Collection.objects.filter(owner=user), user).order_by("-updated_at", "-id"))


def collection_get(*, user, collection_id: int) -> Collection:
    """Public and unlisted collections by link; private ones for their owner only."""
    collection = Collection.objects.select_related("owner").filter(pk=collection_id).first()
    if collection is None:
        raise NotFound("No such collection.")
    mine = user is not None and user.is_authenticated and user.pk == collection.owner_id
    if collection.visibility == Collection.Visibility.PRIVATE and not mine:
        raise NotFound("No such collection.")
    return collection


def collection_images(*, user, collection: Collection, limit: int | None = None) -> list[Image]:
    """The collection's images, most recently added first: for its owner, every image
    they can still open by link (an unlisted one they added too); for anyone else, only
    what a listing may show."""
    mine = user is not None and user.is_authenticated and user.pk == collection.owner_id
    condition = reachable_for(user) if mine else listable_for(user)
    items = (CollectionItem.objects.filter(collection=collection)
             .filter(image__in=Image.objects.filter(condition))
             .select_related("image__owner").order_by("-added_at", "-id"))
    if limit is not None:
        items = items[:limit]
    return [item.image for item in items]


def collections_containing(*, user, image: Image) -> set[int]:
    """Which of the viewer's collections already hold this image (for the Add menu)."""
    if user is None or not user.is_authenticated:
        return set()
    return set(CollectionItem.objects.filter(collection__owner=user, image=image)
               .values_list("collection_id", flat=True))
