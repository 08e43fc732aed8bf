"""Gallery pages: browse and search, one image, remix, likes, owner settings, reports,
collections, profiles and import. Each view parses the request, calls one selector or
service, and renders; domain errors become a 404 or a message on the page."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gallery import export, selectors, services
from gallery.models import Collection, Report
from generation.models import Image, Job
from prompts.errors import AtelierError, NotFound
from prompts.selectors import catalog_get


def _not_found_as_404(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            raise Http404("Not found.") from None

    return wrapper


def form_post(fallback: str):
    """A form posted by a logged-in user. Anything the user may not see is a 404; any other
    domain error becomes a message on `fallback` (formatted with the URL's arguments)."""

    def decorate(view):
        @login_required
        @require_POST
        @wraps(view)
        def wrapper(request, **kwargs):
            try:
                return view(request, **kwargs)
            except NotFound:
                raise Http404("Not found.") from None
            except AtelierError as exc:
                messages.error(request, exc.message)
                return redirect(fallback.format(**kwargs))

        return wrapper

    return decorate


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _back(request, fallback: str):
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return redirect(target)
    return redirect(fallback)


# -- browse -----------------------------------------------------------------------------


def _sort_links(query: selectors.ImageQuery) -> list[dict]:
    labels = [("new", "Newest"), ("top_day", "Top today"), ("top_week", "Top this week"),
              ("top_all", "Top all time"), ("trending", "Trending")]
    if query.q:
        labels.insert(0, ("relevance", "Best match"))
    links = []
    for sort, label in labels:
        params = {**query.as_params(), "sort": sort}
        if sort == selectors.default_sort(query.q):
            params.pop("sort")
        links.append({"sort": sort, "label": label, "url": "/gallery" + (f"?{urlencode(params)}" if params else ""),
                      "current": sort == query.sort})
    return links


def _filter_chips(query: selectors.ImageQuery) -> list[dict]:
    """The active filters, each with a link that drops it."""
    base = query.as_params()
    catalog = catalog_get()
    chips = []

    def without(key: str, value: str | None = None) -> str:
        params = dict(base)
        if key == "modifier" and value:
            rest = [slug for slug in query.modifiers if slug != value]
            params["modifier"] = ",".join(rest)
        else:
            params[key] = ""
        params = {k: v for k, v in params.items() if v}
        return "/gallery" + (f"?{urlencode(params)}" if params else "")

    for slug in query.modifiers:
        entry = catalog.get(slug)
        chips.append({"label": entry.name if entry else slug, "kind": entry.category if entry else "modifier",
                      "url": without("modifier", slug)})
    if query.model:
        chips.append({"label": query.model, "kind": "model", "url": without("model")})
    if query.mode:
        chips.append({"label": dict(Job.Mode.choices).get(query.mode, query.mode), "kind": "mode",
                      "url": without("mode")})
    if query.has_remixes:
        chips.append({"label": "Has remixes", "kind": "filter", "url": without("has_remixes")})
    if query.author:
        chips.append({"label": query.author, "kind": "author", "url": without("author")})
    return chips


def _next_url(path: str, query: selectors.ImageQuery, cursor: str | None) -> str:
    if not cursor:
        return ""
    return f"{path}?{urlencode({**query.as_params(), 'cursor': cursor})}"


@require_GET
def gallery_browse(request):
    fragment = request.GET.get("fragment") == "1"
    params = request.GET.copy()
    params.pop("fragment", None)
    error, status = "", 200
    try:
        query = selectors.image_query_parse(params, strict=False)
        page = selectors.images_list(user=request.user, query=query, cursor=params.get("cursor") or None)
    except AtelierError as exc:
        query, page = selectors.ImageQuery(), selectors.ImagePage(items=[], next_cursor=None)
        error, status = exc.message, exc.status
    next_url = _next_url("/gallery", query, page.next_cursor)
    if fragment:
        return render(request, "gallery/_cards.html", {"images": page.items, "next_url": next_url}, status=status)
    return render(request, "gallery/browse.html", {
        "images": page.items, "next_url": next_url, "query": query, "error": error,
        "sort_links": _sort_links(query), "filter_chips": _filter_chips(query),
        "catalog": catalog_get(), "modes": Job.Mode.choices,
        "models": selectors.models_in_use(),
    }, status=status)


# -- one image --------------------------------------------------------------------------


@require_GET
@_not_found_as_404
def image_page(request, image_id: int):
    user = request.user
    image = selectors.image_get(user=user, image_id=image_id)
    mine = selectors.is_owner(user, image)
    state = selectors.image_remix_state(user=user, image=image)
    context = {
        "image": image, "is_owner": mine,
        "parameters": selectors.image_parameters(user=user, image=image),
        "modifiers": selectors.image_modifiers(image=image),
        "lineage": selectors.image_lineage(user=user, image=image),
        "derived": selectors.image_derived(user=user, image=image),
        "similar": [] if image.hidden else selectors.images_similar(image=image),
        "liked": bool(selectors.liked_ids(user=user, image_ids=[image.pk])),
        "remix_url": selectors.remix_builder_url(state),
        "report_reasons": Report.Reason.choices,
        "visibilities": Image.Visibility.choices,
        "collections": selectors.collections_for_owner(user=user) if user.is_authenticated else [],
        "in_collections": selectors.collections_containing(user=user, image=image),
        "collection_visibilities": Collection.Visibility.choices,
    }
    return render(request, "gallery/image.html", context)


@require_GET
@_not_found_as_404
def image_remix(request, image_id: int):
    image = selectors.image_get(user=request.user, image_id=image_id)
    return redirect(selectors.remix_builder_url(selectors.image_remix_state(user=request.user, image=image)))


@require_GET
@_not_found_as_404
def image_download(request, image_id: int):
    image = selectors.image_get(user=request.user, image_id=image_id)
    response = HttpResponse(export.png_for_viewer(user=request.user, image=image), content_type="image/png")
    response["Content-Disposition"] = f'attachment; filename="{export.download_name(image)}"'
    return response


@form_post("/i/{image_id}")
def image_like(request, image_id: int):
    """Toggle; `liked=1|0` sets it outright (what a stale page meant to do)."""
    wanted = request.POST.get("liked")
    if wanted == "1":
        state = services.like_add(user=request.user, image_id=image_id)
    elif wanted == "0":
        state = services.like_remove(user=request.user, image_id=image_id)
    else:
        state = services.like_toggle(user=request.user, image_id=image_id)
    if _wants_json(request):
        return JsonResponse({"image_id": state.image_id, "liked": state.liked, "like_count": state.like_count})
    return _back(request, f"/i/{image_id}")


@form_post("/i/{image_id}")
def image_settings(request, image_id: int):
    services.image_update(user=request.user, image_id=image_id, visibility=request.POST.get("visibility"),
                          withheld=request.POST.getlist("withheld"))
    messages.success(request, "Saved.")
    return redirect(f"/i/{image_id}")


@form_post("/i/{image_id}")
def image_delete(request, image_id: int):
    services.image_delete(user=request.user, image_id=image_id)
    messages.success(request, "The image was deleted.")
    return redirect("/me/images")


@form_post("/i/{image_id}")
def image_report(request, image_id: int):
    services.report_create(user=request.user, image_id=image_id, reason=request.POST.get("reason", ""),
                           note=request.POST.get("note", ""))
    messages.success(request, "Thank you. A moderator will look at this image.")
    return redirect(f"/i/{image_id}")


@form_post("/i/{image_id}")
def image_collect(request, image_id: int):
    """Add to one of my collections, or to a new one named in `title`."""
    chosen = request.POST.get("collection") or "new"
    if chosen == "new":
        collection = services.collection_create(user=request.user, title=request.POST.get("title", ""),
                                                visibility=request.POST.get("visibility") or "public")
    elif chosen.isdigit():
        collection = selectors.collection_get(user=request.user, collection_id=int(chosen))
    else:
        raise Http404("No such collection.")
    services.collection_item_add(user=request.user, collection_id=collection.pk, image_id=image_id)
    messages.success(request, f"Added to “{collection.title}”.")
    return redirect(f"/i/{image_id}")


# -- collections ------------------------------------------------------------------------


@require_GET
@_not_found_as_404
def collection_page(request, collection_id: int):
    collection = selectors.collection_get(user=request.user, collection_id=collection_id)
    images = selectors.collection_images(user=request.user, collection=collection)
    return render(request, "gallery/collection.html", {
        "collection": collection, "images": images,
        "is_owner": export.is_owner_of(request.user, collection),
        "visibilities": Collection.Visibility.choices,
    })


@require_GET
@_not_found_as_404
def collection_download(request, collection_id: int):
    collection = selectors.collection_get(user=request.user, collection_id=collection_id)
    return FileResponse(export.collection_zip(user=request.user, collection=collection), as_attachment=True,
                        filename=f"collection-{collection.pk}.zip", content_type="application/zip")


@form_post("/c/{collection_id}")
def collection_edit(request, collection_id: int):
    services.collection_update(user=request.user, collection_id=collection_id,
                               title=request.POST.get("title"), description=request.POST.get("description"),
                               visibility=request.POST.get("visibility"))
    messages.success(request, "Saved.")
    return redirect(f"/c/{collection_id}")


@form_post("/c/{collection_id}")
def collection_delete(request, collection_id: int):
    services.collection_delete(user=request.user, collection_id=collection_id)
    messages.success(request, "The collection was deleted; its images stay in the gallery.")
    return redirect("/me/collections")


@form_post("/c/{collection_id}")
def collection_remove(request, collection_id: int, image_id: int):
    services.collection_item_remove(user=request.user, collection_id=collection_id, image_id=image_id)
    return _back(request, f"/c/{collection_id}")


@login_required
@require_http_methods(["GET", "POST"])
def collections_mine(request):
    form = {"title": "", "description": "", "visibility": "public"}
    error = ""
    if request.method == "POST":
        form = {key: request.POST.get(key, "") for key in form}
        try:
            collection = services.collection_create(user=request.user, title=form["title"],
                                                    description=form["description"],
                                                    visibility=form["visibility"] or "public")
            return redirect(f"/c/{collection.pk}")
        except AtelierError as exc:
            error = exc.message
    return render(request, "gallery/collections.html", {
        "collections": selectors.collections_for_owner(user=request.user), "form": form, "error": error,
        "visibilities": Collection.Visibility.choices,
    }, status=422 if error else 200)


# -- people -----------------------------------------------------------------------------


@require_GET
@_not_found_as_404
def profile_page(request, username: str):
    profile = selectors.profile_get(username=username)
    query = selectors.ImageQuery(author=profile.user.username)
    fragment = request.GET.get("fragment") == "1"
    try:
        page = selectors.images_list(user=request.user, query=query, cursor=request.GET.get("cursor") or None)
    except AtelierError as exc:
        return render(request, "400.html", {"message": exc.message}, status=exc.status)
    next_url = ""
    if page.next_cursor:
        next_url = f"/u/{profile.user.username}?{urlencode({'cursor': page.next_cursor})}"
    if fragment:
        return render(request, "gallery/_cards.html", {"images": page.items, "next_url": next_url})
    return render(request, "gallery/profile.html", {
        "profile": profile, "images": page.items, "next_url": next_url,
        "collections": selectors.collections_public(owner=profile.user),
        "is_me": request.user.is_authenticated and request.user.pk == profile.user.pk,
    })


# -- import -----------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def import_page(request):
    error, status = "", 200
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            error, status = "Choose an image file to import.", 400
        elif upload.size > services.MAX_IMPORT_BYTES:
            error, status = "The file is larger than 10 MB.", 400
        else:
            try:
                image = services.image_import(user=request.user, data=upload.read())
            except AtelierError as exc:
                error, status = exc.message, exc.status
            else:
                messages.success(request, f"Imported from {image.source_tool or 'another tool'}.")
                return redirect(reverse("gallery_image", args=[image.pk]))
    return render(request, "gallery/import.html", {"error": error}, status=status)
