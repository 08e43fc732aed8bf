"""Time the gallery's reads on the current database: p50/p95 server time and queries.

Pages go through Django's test client (middleware, API or view, serialisation: what a
request costs the server, without the network); search and similar images are also
timed as the bare `images_search`/`images_similar` calls. The naive `icontains` search is
the baseline the index is there to beat. Semantic timings include embedding the query
(the per-process query cache is cleared before each run). Seed data first with
`seed_gallery --images N`.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable

import numpy as np
from django.core import signing
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Q
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import Resolver404, resolve

from gallery.models import ImageSearch
from gallery.search import images_search, images_similar, query_vector, query_vectors_forget
from gallery.search.scope import public_images
from gallery.search.vectors import NPROBE, embeddings_iterate, ivf_index_get, vector_search
from generation.models import Image

QUERIES = (
    "watercolor fox", "cyberpunk city at night", "hokusai wave", "oil painting of an old fisherman",
    "cozy cabin in the snow", "lighthouse golden hour", "pixel art dragon", "misty forest", "portrait baroque",
    "tiny robot drinking tea", "a castle in the fog", "koi pond", "art nouveau", "steam locomotive at dawn",
    "watercolour owl", "hokusia", "neon jellyfish", "moonlit harbor", "ancient cathedral", "samurai in the rain",
    "bouquet of tulips still life", "abandoned greenhouse", "polar bear", "snowy chalet by firelight",
)
PAGE = 50
RECALL_QUERIES = 5
# The naive baseline scans the whole table; it gets fewer runs past this many images.
NAIVE_FULL_RUNS_UNTIL = 200_000


class Command(BaseCommand):
    help = "Print p50/p95 server time and query counts for browsing, searching and image pages."

    def add_arguments(self, parser):
        parser.add_argument("--runs", type=int, default=40, help="Timed runs per operation (default 40).")
        parser.add_argument("--deep", type=float, default=0.9,
                            help="How far into the newest-first listing the deep page starts (default 0.9).")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--no-recall", dest="recall", action="store_false",
                            help="Skip measuring the IVF index's recall against an exact scan (slow at 1M).")

    def handle(self, *args, **options):
        runs = options["runs"]
        if runs < 1:
            raise CommandError("--runs must be at least 1")
        rng = random.Random(options["seed"])
        total = Image.objects.count()
        listable = public_images()
        listable_count = listable.count()
        if listable_count < 2:
            raise CommandError("Too few public images to benchmark: run `manage.py seed_gallery --images N` first.")
        sample_ids = self._sample_ids(listable, rng)
        self.client = Client()
        self.addresses = (f"10.{a}.{b}.{c}" for a, b, c in itertools.product(range(256), repeat=3))
        use_api = self._routes("/api/v1/images")
        use_page = self._routes("/i/1")
        index = ivf_index_get()

        rows: list[tuple[str, list[float], int]] = []

        def measure(name: str, call: Callable[[int], object], n: int = runs, *, forget=False, warmup: int = 2):
            for i in range(warmup):
                call(i)
            times, queries = [], 0
            for i in range(n):
                if forget:
                    query_vectors_forget()
                with CaptureQueriesContext(connection) as captured:
                    started = time.perf_counter()
                    call(i)
                    times.append((time.perf_counter() - started) * 1000)
                queries = max(queries, len(captured.captured_queries))
            rows.append((name, times, queries))
            self.stdout.write(f"  {name}: done", ending="\n")

        query = lambda i: QUERIES[i % len(QUERIES)]  # noqa: E731
        depth = int((listable_count - 1) * options["deep"])
        anchor = listable.order_by("-created_at", "-id").values_list("created_at", "id")[depth]
        if use_api:
            measure("browse: first page (API)", lambda i: self._get("/api/v1/images", sort="new", limit=PAGE))
            cursor = self._deep_cursor(anchor)
            measure(f"browse: deep, row {depth:,} (API cursor)",
                    lambda i: self._get("/api/v1/images", sort="new", limit=PAGE, cursor=cursor))
        measure("browse: first page (ORM keyset)", lambda i: self._browse(listable, None))
        measure(f"browse: deep, row {depth:,} (ORM keyset)", lambda i: self._browse(listable, anchor))
        for mode in ("keyword", "semantic", "hybrid"):
            measure(f"{mode} search (images_search, {PAGE})",
                    lambda i, mode=mode: images_search(q=query(i), mode=mode, limit=PAGE), forget=mode != "keyword")
            if use_api:
                measure(f"{mode} search (API page)",
                        lambda i, mode=mode: self._get("/api/v1/images", q=query(i), search=mode, limit=PAGE),
                        forget=mode != "keyword")
        measure("similar images (images_similar, 12)",
                lambda i: images_similar(image_id=sample_ids[i % len(sample_ids)], limit=12))
        if use_page:
            measure("image page (/i/<id>)", lambda i: self._get(f"/i/{sample_ids[i % len(sample_ids)]}"))
        naive_runs = runs if total <= NAIVE_FULL_RUNS_UNTIL else max(3, runs // 8)
        measure(f"naive icontains search ({PAGE})",
                lambda i: list(listable.filter(prompt__icontains=query(i)).order_by("-created_at", "-id")
                               .values_list("id", flat=True)[:PAGE]), n=naive_runs, warmup=1)

        recall = self._ivf_recall(rng) if index is not None and options["recall"] else None
        indexed = ImageSearch.objects.count()
        ivf = f"IVF {index.lists} lists" if index is not None else "exact vector scan (no IVF)"
        self.stdout.write("")
        self.stdout.write(f"Gallery benchmark: {connection.vendor}, {total:,} images ({listable_count:,} public, "
                          f"{indexed:,} indexed), {ivf}, {runs} runs per row")
        self.stdout.write(f"{'operation':<46}{'p50 ms':>9}{'p95 ms':>9}{'queries':>9}")
        for name, times, queries in rows:
            p50, p95 = np.percentile(times, [50, 95])
            self.stdout.write(f"{name:<46}{p50:>9.1f}{p95:>9.1f}{queries:>9}")
        if recall is not None:
            self.stdout.write(f"semantic recall@10 of the IVF probe vs an exact scan: {recall:.2f} "
                              f"({RECALL_QUERIES} queries, nprobe {NPROBE})")

    @staticmethod
    def _ivf_recall(rng: random.Random) -> float:
        """Share of the exact top 10 that the IVF probe finds, over a few queries (all
        images, one streaming pass over every stored vector for the exact answer). Seeded
        images share prompts, so a probed hit counts when it scores as high as the exact
        10th: which of several equal vectors comes back does not matter."""
        queries = rng.sample(QUERIES, RECALL_QUERIES)
        vectors = np.stack([query_vector(q) for q in queries])
        best_scores = np.zeros((len(queries), 0), dtype=np.float32)
        for _, batch in embeddings_iterate():
            scores = np.concatenate([best_scores, vectors @ batch.T], axis=1)
            best_scores = -np.sort(-scores, axis=1)[:, :10]
        everything = Image.objects.all()
        found = 0
        for vector, exact in zip(vectors, best_scores, strict=True):
            probed = vector_search(vector=vector, limit=10, base_queryset=everything)
            found += sum(score >= exact[-1] - 1e-4 for _, score in probed)
        return found / (10 * len(queries))

    @staticmethod
    def _sample_ids(listable, rng: random.Random) -> list[int]:
        low, high = listable.order_by("id").values_list("id", flat=True)[:1][0], listable.order_by("-id").values_list(
            "id", flat=True)[:1][0]
        ids: list[int] = []
        for _ in range(64):
            found = listable.filter(id__gte=rng.randint(low, high)).order_by("id").values_list("id", flat=True)[:1]
            ids.extend(found)
        return ids

    @staticmethod
    def _routes(path: str) -> bool:
        try:
            resolve(path)
        except Resolver404:
            return False
        return True

    def _get(self, path: str, **params):
        # A fresh client address per request: the benchmark measures pages, not the throttle.
        response = self.client.get(path, params, REMOTE_ADDR=next(self.addresses))
        if response.status_code != 200:
            raise CommandError(f"GET {path} {params} answered {response.status_code}: {response.content[:300]!r}")
        return response

    def _deep_cursor(self, anchor) -> str:
        """The API's own next_cursor, moved to `depth` rows down (the cursor holds the
        sort key of the last row shown, so this is the page a reader would get there)."""
        first = self._get("/api/v1/images", sort="new", limit=PAGE).json()
        cursor = first.get("next_cursor")
        if not cursor:
            raise CommandError("The first page has no next_cursor; seed more images.")
        created_at, image_id = anchor
        payload = signing.loads(cursor, salt="gallery.cursor")
        payload.update({"t": created_at.isoformat(), "id": image_id})
        return signing.dumps(payload, salt="gallery.cursor", compress=False)

    @staticmethod
    def _browse(listable, anchor) -> list:
        """Keyset pagination by (created_at, id), written so the index range starts at
        the cursor: `created_at <= t AND (created_at < t OR id < last)`."""
        qs = listable.order_by("-created_at", "-id")
        if anchor is not None:
            created_at, image_id = anchor
            qs = qs.filter(Q(created_at__lte=created_at) & (Q(created_at__lt=created_at) | Q(id__lt=image_id)))
        return list(qs.select_related("owner")[:PAGE])
