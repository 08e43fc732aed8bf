"""The synthetic world the embedded model is trained on.

A `SceneSpec` (setting, objects, relation, transforms) is drawn with Pillow and
numpy into an RGB image. Everything is bold on purpose: large flat shapes, saturated
colours, and transforms with strong global signatures, so that a model of a few
million parameters can learn it at 64x64 on a CPU.

Rendering is deterministic given (spec, seed). The scene is drawn at WORK_SIZE and
shrunk at the end, which anti-aliases edges for free.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

WORK_SIZE = 128
NATIVE_SIZE = 64

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 35),
    "orange": (245, 130, 20),
    "yellow": (250, 215, 30),
    "green": (40, 160, 50),
    "blue": (35, 75, 215),
    "purple": (130, 50, 175),
    "pink": (245, 120, 185),
    "brown": (120, 70, 35),
    "black": (20, 20, 20),
    "white": (250, 250, 250),
    "grey": (128, 128, 128),
}

KINDS = (
    "circle", "square", "triangle", "star", "heart", "house", "tree",
    "sun", "moon", "flower", "fish", "boat", "mountain", "cloud",
)
SIZES = ("small", "medium", "large")
PLACES = ("left", "right", "top", "bottom", "centre")
RELATIONS = ("above", "below", "left of", "right of", "next to")

SETTINGS = ("blue-sky", "night-sky", "seaside", "desert", "meadow", "snowy-field", "cozy-room", "forest")
MEDIUMS = (
    "watercolor", "pencil-sketch", "oil-painting", "pixel-art", "mosaic",
    "ink-drawing", "stained-glass", "crayon-drawing", "neon-sign",
)
STYLES = ("piet-mondrian", "georges-seurat", "katsushika-hokusai", "andy-warhol", "mark-rothko", "cubism")
ERAS = ("1920s", "1950s", "1980s", "victorian")
MOODS = ("gloomy", "cheerful", "serene", "dramatic", "mysterious")
LIGHTINGS = ("golden-hour", "moonlight", "backlit", "neon-lighting")

# Catalog styles that are another name for one of our looks (the captions have always
# used "pointillism" and "pop art" for Seurat's and Warhol's looks).
STYLE_ALIASES = {"pointillism": "georges-seurat", "pop-art": "andy-warhol"}

KNOWN_SLUGS: frozenset[str] = frozenset(SETTINGS + MEDIUMS + STYLES + tuple(STYLE_ALIASES) + ERAS + MOODS + LIGHTINGS)

# Object colours that a setting's background swallows; the analyzer cannot see them
# there, so held-out evaluation prompts avoid these pairs.
CLASHES: dict[str | None, frozenset[str]] = {
    None: frozenset({"white"}),
    "blue-sky": frozenset({"blue", "white"}),
    "night-sky": frozenset({"black", "blue", "purple", "white"}),  # white: the sky's stars
    "seaside": frozenset({"blue", "yellow", "white"}),
    "desert": frozenset({"orange", "yellow", "brown"}),
    "meadow": frozenset({"green"}),
    "snowy-field": frozenset({"white", "grey"}),
    "cozy-room": frozenset({"brown", "orange"}),
    "forest": frozenset({"green", "brown", "black"}),
}


@dataclass(frozen=True)
class ObjectSpec:
    kind: str
    colour: str
    size: str = "medium"


@dataclass(frozen=True)
class SceneSpec:
    """What to draw. `objects` are drawn left to right / top to bottom.

    - one object, optionally at `place`;
    - 2-4 copies of one object (counting), laid out in a row or a 2x2 grid;
    - two different objects joined by `relation` (objects[0] <relation> objects[1]).
    """

    objects: tuple[ObjectSpec, ...]
    setting: str | None = None
    place: str | None = None
    relation: str | None = None
    medium: str | None = None
    style: str | None = None
    era: str | None = None
    mood: str | None = None
    lighting: str | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def count(self) -> int:
        return len(self.objects)

    @property
    def transforms(self) -> tuple[str, ...]:
        return tuple(s for s in (self.medium, self.style, self.era, self.mood, self.lighting) if s)


# ----------------------------------------------------------------------------- layout

def layout(spec: SceneSpec, rng: np.random.Generator) -> list[tuple[float, float, float]]:
    """Centre x, centre y and radius (fractions of the canvas) for each object."""
    n = spec.count
    j = lambda s: float(rng.uniform(-s, s))  # noqa: E731
    if n == 1:
        r = {"small": 0.14, "medium": 0.2, "large": 0.28}[spec.objects[0].size]
        if spec.place:
            r = min(r, 0.2)
        x, y = {
            "left": (0.27, 0.5), "right": (0.73, 0.5), "top": (0.5, 0.27),
            "bottom": (0.5, 0.73), "centre": (0.5, 0.5), None: (0.5 + j(0.1), 0.5 + j(0.1)),
        }[spec.place]
        return [(x + j(0.03), y + j(0.03), r)]
    if spec.relation:
        r = 0.17
        a, b = {
            "above": ((0.5, 0.27), (0.5, 0.73)),
            "below": ((0.5, 0.73), (0.5, 0.27)),
            "left of": ((0.27, 0.5), (0.73, 0.5)),
            "right of": ((0.73, 0.5), (0.27, 0.5)),
            "next to": ((0.27, 0.5), (0.73, 0.5)),
        }[spec.relation]
        dx, dy = j(0.08), j(0.08)
        return [(a[0] + dx + j(0.02), a[1] + dy + j(0.02), r), (b[0] + dx + j(0.02), b[1] + dy + j(0.02), r)]
    if n == 2:
        y = 0.5 + j(0.1)
        return [(0.28 + j(0.02), y, 0.16), (0.72 + j(0.02), y, 0.16)]
    if n == 3:
        y = 0.5 + j(0.1)
        return [(0.18, y, 0.13), (0.5, y, 0.13), (0.82, y, 0.13)]
    return [(0.28, 0.28, 0.14), (0.72, 0.28, 0.14), (0.28, 0.72, 0.14), (0.72, 0.72, 0.14)]


# ----------------------------------------------------------------------------- shapes

def _shade(rgb, k: float) -> tuple[int, int, int]:
    return tuple(int(max(0, min(255, c * k))) for c in rgb)


def _accent_for(kind: str, colour: str) -> tuple[int, int, int]:
    rgb = COLOURS[colour]
    if kind == "tree":
        return (70, 40, 20) if colour == "brown" else COLOURS["brown"]
    if kind == "flower":
        return COLOURS["orange"] if colour == "yellow" else COLOURS["yellow"]
    if kind == "fish":
        return (250, 250, 250) if colour == "black" else (15, 15, 15)
    if kind == "mountain":
        return (200, 200, 200) if colour == "white" else (250, 250, 250)
    if kind == "house":
        return _shade(rgb, 0.6) if colour not in ("black",) else (90, 90, 90)
    if kind == "boat":
        return (60, 60, 60) if colour == "white" else (245, 245, 240)
    return rgb


def _draw_shape(main: ImageDraw.ImageDraw, accent: ImageDraw.ImageDraw, kind: str,
                cx: float, cy: float, r: float) -> None:
    """Draw `kind` into two L masks: `main` (the named colour) and `accent` (details)."""
    def box(x, y, rr):
        return [x - rr, y - rr, x + rr, y + rr]

    if kind == "circle":
        main.ellipse(box(cx, cy, r), fill=255)
    elif kind == "square":
        main.rectangle(box(cx, cy, r * 0.82), fill=255)
    elif kind == "triangle":
        main.polygon([(cx, cy - r), (cx + r * 0.95, cy + r * 0.75), (cx - r * 0.95, cy + r * 0.75)], fill=255)
    elif kind == "star":
        pts = []
        for i in range(10):
            rr = r if i % 2 == 0 else r * 0.42
            a = -np.pi / 2 + i * np.pi / 5
            pts.append((cx + rr * np.cos(a), cy + rr * np.sin(a) + r * 0.08))
        main.polygon(pts, fill=255)
    elif kind == "heart":
        q = r * 0.5
        main.ellipse(box(cx - q, cy - q * 0.6, q * 1.02), fill=255)
        main.ellipse(box(cx + q, cy - q * 0.6, q * 1.02), fill=255)
        main.polygon([(cx - r * 0.98, cy - q * 0.35), (cx + r * 0.98, cy - q * 0.35), (cx, cy + r)], fill=255)
    elif kind == "house":
        main.rectangle([cx - r * 0.75, cy - r * 0.1, cx + r * 0.75, cy + r * 0.9], fill=255)
        accent.polygon([(cx - r * 0.95, cy - r * 0.1), (cx + r * 0.95, cy - r * 0.1), (cx, cy - r * 0.95)], fill=255)
    elif kind == "tree":
        accent.rectangle([cx - r * 0.16, cy + r * 0.2, cx + r * 0.16, cy + r], fill=255)
        main.ellipse([cx - r * 0.75, cy - r, cx + r * 0.75, cy + r * 0.45], fill=255)
    elif kind == "sun":
        main.ellipse(box(cx, cy, r * 0.58), fill=255)
        for i in range(8):
            a = i * np.pi / 4
            main.line([(cx + r * 0.6 * np.cos(a), cy + r * 0.6 * np.sin(a)),
                       (cx + r * np.cos(a), cy + r * np.sin(a))], fill=255, width=max(2, int(r * 0.16)))
    elif kind == "moon":
        main.ellipse(box(cx, cy, r * 0.9), fill=255)
        main.ellipse(box(cx + r * 0.45, cy - r * 0.2, r * 0.75), fill=0)
    elif kind == "flower":
        for i in range(5):
            a = -np.pi / 2 + i * 2 * np.pi / 5
            main.ellipse(box(cx + r * 0.52 * np.cos(a), cy + r * 0.52 * np.sin(a), r * 0.42), fill=255)
        accent.ellipse(box(cx, cy, r * 0.3), fill=255)
    elif kind == "fish":
        main.ellipse([cx - r * 0.85, cy - r * 0.5, cx + r * 0.45, cy + r * 0.5], fill=255)
        main.polygon([(cx + r * 0.3, cy), (cx + r, cy - r * 0.55), (cx + r, cy + r * 0.55)], fill=255)
        accent.ellipse(box(cx - r * 0.5, cy - r * 0.12, r * 0.12), fill=255)
    elif kind == "boat":
        main.polygon([(cx - r, cy + r * 0.25), (cx + r, cy + r * 0.25), (cx + r * 0.65, cy + r * 0.75),
                      (cx - r * 0.65, cy + r * 0.75)], fill=255)
        accent.polygon([(cx - r * 0.05, cy - r), (cx - r * 0.05, cy + r * 0.15), (cx - r * 0.75, cy + r * 0.15)], fill=255)
        accent.polygon([(cx + r * 0.05, cy - r * 0.8), (cx + r * 0.05, cy + r * 0.15), (cx + r * 0.6, cy + r * 0.15)], fill=255)
    elif kind == "mountain":
        main.polygon([(cx - r * 1.1, cy + r * 0.8), (cx, cy - r * 0.9), (cx + r * 1.1, cy + r * 0.8)], fill=255)
        accent.polygon([(cx, cy - r * 0.9), (cx - r * 0.36, cy - r * 0.32), (cx + r * 0.36, cy - r * 0.32)], fill=255)
    elif kind == "cloud":
        main.ellipse(box(cx - r * 0.5, cy + r * 0.05, r * 0.45), fill=255)
        main.ellipse(box(cx + r * 0.5, cy + r * 0.05, r * 0.45), fill=255)
        main.ellipse(box(cx, cy - r * 0.2, r * 0.58), fill=255)
        main.rectangle([cx - r * 0.5, cy, cx + r * 0.5, cy + r * 0.5], fill=255)
    else:
        raise ValueError(f"unknown object kind {kind!r}")


# ----------------------------------------------------------------------------- backgrounds

def _vgrad(h: int, w: int, top, bottom) -> np.ndarray:
    t = np.linspace(0, 1, h)[:, None, None]
    return (np.array(top, float) * (1 - t) + np.array(bottom, float) * t).repeat(w, axis=1) / 255.0


def background(setting: str | None, rng: np.random.Generator, s: int = WORK_SIZE) -> np.ndarray:
    img = np.empty((s, s, 3))
    yy = np.arange(s)[:, None]
    xx = np.arange(s)[None, :]
    if setting is None:
        img[:] = np.array([236, 234, 228]) / 255.0
    elif setting == "blue-sky":
        img[:] = _vgrad(s, s, (70, 145, 235), (175, 212, 250))
    elif setting == "night-sky":
        img[:] = _vgrad(s, s, (8, 10, 35), (30, 35, 80))
        for _ in range(22):
            x, y = rng.integers(0, s - 2, 2)
            img[y:y + 2, x:x + 2] = 1.0
    elif setting == "seaside":
        h1 = int(s * (0.45 + rng.uniform(-0.04, 0.04)))
        h2 = int(s * 0.72)
        img[:] = _vgrad(s, s, (120, 185, 245), (200, 230, 250))
        img[h1:h2] = _vgrad(h2 - h1, s, (30, 110, 185), (20, 80, 150))
        img[h2:] = np.array([232, 212, 160]) / 255.0
        for k in range(h1 + 4, h2, 7):
            img[k, :][(xx[0] // 6 + k) % 3 == 0] = np.array([170, 210, 240]) / 255.0
    elif setting == "desert":
        img[:] = _vgrad(s, s, (250, 215, 160), (252, 235, 200))
        phase = rng.uniform(0, 6.28)
        horizon = s * 0.5 + s * 0.06 * np.sin(xx / s * 6.28 + phase)
        sand = yy > horizon
        img[sand] = np.array([215, 165, 90]) / 255.0
        dune2 = yy > s * 0.75 + s * 0.05 * np.sin(xx / s * 9 + phase * 2)
        img[dune2] = np.array([190, 135, 70]) / 255.0
    elif setting == "meadow":
        h = int(s * (0.45 + rng.uniform(-0.04, 0.04)))
        img[:] = _vgrad(s, s, (130, 190, 245), (205, 230, 250))
        img[h:] = _vgrad(s - h, s, (120, 190, 70), (70, 145, 45))
        blades = (rng.random((s - h, s)) < 0.08)
        img[h:][blades] *= 0.75
    elif setting == "snowy-field":
        h = int(s * (0.45 + rng.uniform(-0.04, 0.04)))
        img[:] = _vgrad(s, s, (185, 200, 220), (215, 225, 238))
        img[h:] = _vgrad(s - h, s, (250, 251, 253), (225, 235, 248))
    elif setting == "cozy-room":
        h = int(s * 0.7)
        img[:] = np.array([165, 95, 55]) / 255.0
        img[:h][:, (xx[0] // 12) % 2 == 0] = np.array([150, 85, 50]) / 255.0
        img[h:] = np.array([95, 55, 30]) / 255.0
        img[h:][:, (xx[0] // 20) % 2 == 0] *= 0.85
        glow = np.exp(-((xx - s * 0.8) ** 2 + (yy - s * 0.2) ** 2) / (2 * (s * 0.3) ** 2))
        img = img + 0.25 * glow[..., None] * np.array([1.0, 0.8, 0.4])
    elif setting == "forest":
        img[:] = _vgrad(s, s, (35, 85, 45), (20, 55, 30))
        for _ in range(7):
            x = int(rng.integers(0, s))
            wdt = int(rng.integers(4, 9))
            img[:, max(0, x - wdt // 2):x + wdt // 2] = np.array([75, 50, 30]) / 255.0
        for _ in range(10):
            x, y = rng.integers(0, s, 2)
            rr = int(rng.integers(8, 18))
            m = (xx - x) ** 2 + (yy - y * 0.4) ** 2 < rr**2
            img[m] = np.array([50, 110, 50]) / 255.0
        img[int(s * 0.85):] = np.array([45, 40, 25]) / 255.0
    else:
        raise ValueError(f"unknown setting {setting!r}")
    return np.clip(img, 0, 1)


# ----------------------------------------------------------------------------- helpers

def _to_pil(a: np.ndarray) -> Image.Image:
    return Image.fromarray((np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8))


def _from_pil(im: Image.Image) -> np.ndarray:
    return np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0


def _blur(a: np.ndarray, radius: float) -> np.ndarray:
    return _from_pil(_to_pil(a).filter(ImageFilter.GaussianBlur(radius)))


def _lum(a: np.ndarray) -> np.ndarray:
    return a @ np.array([0.299, 0.587, 0.114])


def _edges(a: np.ndarray) -> np.ndarray:
    g = _lum(a)
    c = np.abs(np.diff(a, axis=0, prepend=a[:1])).sum(2) + np.abs(np.diff(a, axis=1, prepend=a[:, :1])).sum(2)
    gx = np.abs(np.diff(g, axis=1, prepend=g[:, :1]))
    gy = np.abs(np.diff(g, axis=0, prepend=g[:1]))
    return np.clip((gx + gy) * 2 + c, 0, 1)


def _saturate(a: np.ndarray, k: float) -> np.ndarray:
    g = _lum(a)[..., None]
    return np.clip(g + (a - g) * k, 0, 1)


def _tint(a: np.ndarray, rgb, k: float) -> np.ndarray:
    return a * (1 - k) + np.array(rgb) / 255.0 * k


def _vignette(s: int, strength: float) -> np.ndarray:
    yy, xx = np.mgrid[0:s, 0:s] / (s - 1) - 0.5
    return (1 - strength * np.clip((xx**2 + yy**2) * 2.2, 0, 1))[..., None]


def _map_ramp(a: np.ndarray, stops: list[tuple[int, int, int]]) -> np.ndarray:
    """Map luminance onto a colour ramp (first stop = dark)."""
    g = np.clip(_lum(a), 0, 1) * (len(stops) - 1)
    i = np.clip(g.astype(int), 0, len(stops) - 2)
    f = (g - i)[..., None]
    st = np.array(stops, float) / 255.0
    return st[i] * (1 - f) + st[i + 1] * f


# ----------------------------------------------------------------------------- transforms

def _medium(a: np.ndarray, medium: str, rng: np.random.Generator, masks: np.ndarray) -> np.ndarray:
    s = a.shape[0]
    if medium == "watercolor":
        b = _blur(a, 2.2)
        b = _saturate(b, 0.85) * 0.7 + 0.3
        rim = _blur(_edges(a)[..., None].repeat(3, 2), 1.5)
        b = b * (1 - 0.35 * rim)
        paper = rng.normal(0, 0.025, (s // 4, s // 4))
        paper = np.kron(paper, np.ones((4, 4)))[..., None]
        return np.clip(b + paper + 0.03, 0, 1)
    if medium == "pencil-sketch":
        e = _blur(_edges(a)[..., None].repeat(3, 2), 0.6)[..., 0]
        g = _lum(a)
        yy, xx = np.mgrid[0:s, 0:s]
        hatch = ((xx + yy) % 5 == 0) & (g < 0.55)
        hatch2 = ((xx - yy) % 5 == 0) & (g < 0.3)
        out = np.full((s, s), 0.95) - 0.75 * np.clip(e * 1.5, 0, 1) - 0.35 * hatch - 0.35 * hatch2
        out = out + rng.normal(0, 0.02, (s, s))
        return np.clip(out, 0, 1)[..., None] * np.array([1.0, 0.99, 0.96])
    if medium == "oil-painting":
        q = np.round(a * 5) / 5
        strokes = rng.normal(0, 1, (s // 4, s))
        strokes = np.kron(strokes, np.ones((4, 1)))
        strokes = _blur(np.repeat(strokes[..., None] * 0.1 + 0.5, 3, 2), 1)[..., 0] - 0.5
        out = _saturate(_blur(q, 1.0), 1.35) + strokes[..., None] * 1.2
        return np.clip(out * 0.95, 0, 1)
    if medium == "pixel-art":
        small = _to_pil(a).resize((16, 16), Image.BOX)
        small = small.quantize(colors=8, method=Image.Quantize.MEDIANCUT).convert("RGB")
        b = _from_pil(small.resize((s, s), Image.NEAREST))
        return _saturate(b, 1.3)
    if medium == "mosaic":
        t = 12
        small = _from_pil(_to_pil(a).resize((s // t + 1, s // t + 1), Image.BOX))
        small = np.clip(small + rng.normal(0, 0.06, small.shape), 0, 1)
        b = np.kron(small, np.ones((t, t, 1)))[:s, :s]
        yy, xx = np.mgrid[0:s, 0:s]
        grout = (yy % t < 2) | (xx % t < 2)
        b[grout] = np.array([0.85, 0.83, 0.78])
        return b
    if medium == "ink-drawing":
        e = _edges(a)
        g = _lum(a)
        ink = (e > 0.2) | (g < 0.25)
        ink = _from_pil(_to_pil(ink[..., None].repeat(3, 2).astype(float)).filter(ImageFilter.MaxFilter(3)))[..., 0] > 0.5
        out = np.where(ink, 0.05, 0.97)
        return np.repeat(out[..., None], 3, 2) * np.array([1.0, 0.98, 0.94])
    if medium == "stained-glass":
        n = 40
        pts = rng.uniform(0, s, (n, 2))
        yy, xx = np.mgrid[0:s, 0:s]
        d = (xx[..., None] - pts[:, 0]) ** 2 + (yy[..., None] - pts[:, 1]) ** 2
        label = d.argmin(-1) * 16 + masks  # split cells along object outlines too
        out = np.zeros_like(a)
        for lab in np.unique(label):
            m = label == lab
            out[m] = a[m].mean(0)
        out = _saturate(out, 1.6) * 1.1
        lead = (np.diff(label, axis=0, prepend=label[:1]) != 0) | (np.diff(label, axis=1, prepend=label[:, :1]) != 0)
        lead = _from_pil(_to_pil(lead[..., None].repeat(3, 2).astype(float)).filter(ImageFilter.MaxFilter(3)))[..., 0] > 0.5
        out[lead] = 0.05
        return np.clip(out, 0, 1)
    if medium == "crayon-drawing":
        b = _saturate(a, 1.2)
        yy, xx = np.mgrid[0:s, 0:s]
        streak = rng.random((s, s)) * 0.6 + 0.4 * ((xx * 2 + yy) % 6 < 3)
        cover = np.clip(streak, 0, 1)[..., None]
        paper = np.array([0.98, 0.97, 0.93])
        out = b * cover + paper * (1 - cover)
        out = out * (1 - 0.6 * _edges(a)[..., None].clip(0, 1))
        return np.clip(out, 0, 1)
    if medium == "neon-sign":
        wall = np.full_like(a, 0.07)
        yy, xx = np.mgrid[0:s, 0:s]
        wall[(yy % 10 == 0) | (((yy // 10) % 2 == 0) & (xx % 20 == 0)) | (((yy // 10) % 2 == 1) & (xx % 20 == 10))] = 0.12
        obj = masks > 0
        outline = obj & ~(_from_pil(_to_pil(obj[..., None].repeat(3, 2).astype(float)).filter(ImageFilter.MinFilter(5)))[..., 0] > 0.5)
        col = np.clip(_saturate(a, 2.0) * 1.3 + 0.15, 0, 1)
        line = np.where(outline[..., None], col, 0)
        glow = _blur(line, 3.0) * 2.2
        return np.clip(wall + glow + line, 0, 1)
    raise ValueError(f"unknown medium {medium!r}")


def _style(a: np.ndarray, style: str, rng: np.random.Generator, masks: np.ndarray) -> np.ndarray:
    s = a.shape[0]
    yy, xx = np.mgrid[0:s, 0:s]
    style = STYLE_ALIASES.get(style, style)
    if style == "piet-mondrian":
        prim = np.array([[0.97, 0.96, 0.92], [0.85, 0.1, 0.1], [0.98, 0.85, 0.1], [0.1, 0.2, 0.7], [0.05, 0.05, 0.05]])
        d = ((a[..., None, :] - prim) ** 2).sum(-1)
        out = prim[d.argmin(-1)]
        xs = sorted(rng.choice(np.arange(16, s - 16), 2, replace=False))
        ys = sorted(rng.choice(np.arange(16, s - 16), 2, replace=False))
        cells = [(0, xs[0], 0, ys[0]), (xs[1], s, ys[1], s), (xs[0], xs[1], ys[1], s)]
        for (x0, x1, y0, y1), c in zip(cells, prim[1:4], strict=True):
            if rng.random() < 0.7:
                region = out[y0:y1, x0:x1]
                keep = masks[y0:y1, x0:x1] > 0
                region[~keep] = c
        for x in xs:
            out[:, x - 2:x + 3] = 0.05
        for y in ys:
            out[y - 2:y + 3, :] = 0.05
        return out
    if style == "georges-seurat":
        out = np.full_like(a, 0.96)
        src = _saturate(a, 1.4)
        n = 2600
        pts = rng.integers(0, s, (n, 2))
        im = _to_pil(out)
        dr = ImageDraw.Draw(im)
        for x, y in pts:
            c = np.clip(src[y, x] + rng.normal(0, 0.08, 3), 0, 1)
            dr.ellipse([x - 1.6, y - 1.6, x + 1.6, y + 1.6], fill=tuple(int(v * 255) for v in c))
        return _from_pil(im)
    if style == "katsushika-hokusai":
        stops = [(20, 30, 70), (35, 65, 120), (90, 130, 165), (225, 215, 185), (245, 238, 215)]
        out = _map_ramp(a, stops)
        out = out * 0.8 + a * 0.2
        waves = (np.sin(xx / 6.0 + 3 * np.sin(yy / 9.0)) > 0.92) & (yy > s * 0.55) & (masks == 0)
        out[waves] = np.array([0.96, 0.94, 0.88])
        out[_edges(a) > 0.3] = np.array([0.08, 0.1, 0.2])
        return out
    if style == "andy-warhol":
        h = s // 2
        small = _from_pil(_to_pil(a).resize((h, h), Image.BOX))
        g = _lum(small)
        pops = [((255, 40, 140), (255, 230, 0)), ((0, 200, 230), (255, 90, 20)),
                ((120, 230, 40), (200, 30, 200)), ((255, 150, 0), (20, 60, 230))]
        out = np.zeros_like(a)
        order = rng.permutation(4)
        for k, (oy, ox) in enumerate([(0, 0), (0, h), (h, 0), (h, h)]):
            bg, fg = pops[order[k]]
            thresh = np.median(g)
            panel = np.where((g < thresh)[..., None] | (np.abs(g - thresh) < 0.02)[..., None],
                             np.array(fg) / 255.0, np.array(bg) / 255.0)
            out[oy:oy + h, ox:ox + h] = panel
        return out
    if style == "mark-rothko":
        cols = [a[: s // 3].mean((0, 1)), a[s // 3: 2 * s // 3].mean((0, 1)), a[2 * s // 3:].mean((0, 1))]
        ground = _saturate(np.array(cols[1])[None, None], 1.8)[0, 0] * 0.6
        out = np.broadcast_to(ground, a.shape).copy()
        c1 = np.clip(_saturate(np.array(cols[0])[None, None], 2.0)[0, 0] * 1.1, 0, 1)
        c2 = np.clip(_saturate(np.array(cols[2])[None, None], 2.0)[0, 0] * 0.9, 0, 1)
        out[int(s * 0.1):int(s * 0.47), int(s * 0.12):int(s * 0.88)] = c1
        out[int(s * 0.55):int(s * 0.9), int(s * 0.12):int(s * 0.88)] = c2
        out = _blur(out, 3.0) + rng.normal(0, 0.015, a.shape)
        return np.clip(out, 0, 1)
    if style == "cubism":
        n = 7
        region = np.zeros((s, s), int)
        for _ in range(n):
            p = rng.uniform(0, s, 2)
            ang = rng.uniform(0, np.pi)
            side = ((xx - p[0]) * np.sin(ang) - (yy - p[1]) * np.cos(ang)) > 0
            region = region * 2 + side
        out = np.empty_like(a)
        for lab in np.unique(region):
            m = region == lab
            shift = rng.integers(-6, 7, 2)
            shifted = np.roll(a, tuple(shift), axis=(0, 1))
            out[m] = shifted[m] * rng.uniform(0.7, 1.15)
        muted = _tint(_saturate(out, 0.6), (150, 120, 80), 0.3)
        bound = (np.diff(region, axis=0, prepend=region[:1]) != 0) | (np.diff(region, axis=1, prepend=region[:, :1]) != 0)
        muted[bound] = np.array([0.15, 0.12, 0.1])
        return np.clip(muted, 0, 1)
    raise ValueError(f"unknown style {style!r}")


def _era(a: np.ndarray, era: str, rng: np.random.Generator) -> np.ndarray:
    s = a.shape[0]
    if era == "1920s":
        out = _map_ramp(a, [(40, 25, 15), (140, 100, 60), (235, 215, 175)])
        out = out * _vignette(s, 0.5) + rng.normal(0, 0.03, (s, s, 1))
        return np.clip(out, 0, 1)
    if era == "1950s":
        out = _tint(_saturate(a, 0.75), (250, 235, 225), 0.4) + np.array([0.02, -0.01, 0.02])
        return np.clip(out, 0, 1)
    if era == "1980s":
        yy = np.linspace(0, 1, s)[:, None, None]
        grad = np.array([0.45, 0.05, 0.55]) * (1 - yy) + np.array([0.95, 0.3, 0.55]) * yy
        out = a * 0.55 + grad * 0.45
        out = _saturate(out, 1.5)
        yy2, xx2 = np.mgrid[0:s, 0:s]
        grid = (yy2 > s * 0.75) & (((yy2 - int(s * 0.75)) % 6 == 0) | ((xx2 - s // 2) % 12 == 0))
        out[grid] = np.array([0.1, 0.95, 0.95])
        return np.clip(out, 0, 1)
    if era == "victorian":
        out = _tint(_saturate(a, 0.55), (70, 55, 35), 0.35) * 0.85
        out = out * _vignette(s, 0.45)
        f = 7
        out[:f], out[-f:], out[:, :f], out[:, -f:] = (0.42, 0.3, 0.12), (0.42, 0.3, 0.12), (0.42, 0.3, 0.12), (0.42, 0.3, 0.12)
        out[f - 2:f, f - 2:-f + 2] = out[-f:-f + 2, f - 2:-f + 2] = 0.8, 0.65, 0.25
        out[f - 2:-f + 2, f - 2:f] = out[f - 2:-f + 2, -f:-f + 2] = 0.8, 0.65, 0.25
        return np.clip(out, 0, 1)
    raise ValueError(f"unknown era {era!r}")


def _mood(a: np.ndarray, mood: str, rng: np.random.Generator) -> np.ndarray:
    s = a.shape[0]
    if mood == "gloomy":
        return np.clip(_tint(_saturate(a, 0.35), (70, 80, 95), 0.35) * 0.7, 0, 1)
    if mood == "cheerful":
        return np.clip(_tint(_saturate(a, 1.4) * 1.1 + 0.05, (255, 230, 150), 0.12), 0, 1)
    if mood == "serene":
        out = _tint(_blur(a, 0.8), (170, 215, 220), 0.3)
        return np.clip(0.5 + (out - 0.5) * 0.75 + 0.08, 0, 1)
    if mood == "dramatic":
        out = 0.5 + (_saturate(a, 1.2) - 0.5) * 1.7
        return np.clip(out * _vignette(s, 0.85), 0, 1)
    if mood == "mysterious":
        out = _tint(a * 0.55, (60, 30, 90), 0.35)
        yy = np.linspace(0, 1, s)[:, None, None]
        fog = 0.25 * yy * np.array([0.6, 0.55, 0.75])
        return np.clip(out + fog, 0, 1)
    raise ValueError(f"unknown mood {mood!r}")


def _lighting(a: np.ndarray, lighting: str, rng: np.random.Generator, masks: np.ndarray) -> np.ndarray:
    s = a.shape[0]
    yy, xx = np.mgrid[0:s, 0:s] / (s - 1)
    if lighting == "golden-hour":
        side = rng.choice([0.0, 1.0])
        glow = np.clip(1 - np.abs(xx - side) * 1.2, 0, 1)[..., None]
        out = _tint(a, (255, 170, 60), 0.35) * (0.85 + 0.3 * glow) + glow * np.array([0.25, 0.12, 0.0])
        return np.clip(out, 0, 1)
    if lighting == "moonlight":
        out = _tint(_saturate(a, 0.3) * 0.55, (40, 60, 120), 0.35)
        mx, my = rng.uniform(0.2, 0.8), 0.15
        spot = np.exp(-((xx - mx) ** 2 + (yy - my) ** 2) / 0.08)[..., None]
        return np.clip(out + spot * np.array([0.25, 0.3, 0.4]), 0, 1)
    if lighting == "backlit":
        obj = masks > 0
        cy, cx = (np.argwhere(obj).mean(0) / (s - 1)) if obj.any() else (0.5, 0.5)
        halo = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 0.06)[..., None]
        out = a * 0.8 + halo * np.array([1.0, 0.95, 0.8]) * 0.8
        sil = _blur(obj[..., None].repeat(3, 2).astype(float), 1.0)
        out = out * (1 - 0.75 * sil) + a * 0.2 * sil
        return np.clip(out, 0, 1)
    if lighting == "neon-lighting":
        left = np.array([1.0, 0.1, 0.8])
        right = np.array([0.1, 0.9, 1.0])
        light = left * (1 - xx[..., None]) + right * xx[..., None]
        out = a * 0.35 + a * light * 0.9 + 0.05 * light
        return np.clip(out, 0, 1)
    raise ValueError(f"unknown lighting {lighting!r}")


# ----------------------------------------------------------------------------- entry points

def render_scene_with_masks(spec: SceneSpec, seed: int, size: int = NATIVE_SIZE) -> tuple[Image.Image, np.ndarray]:
    """Render `spec`; also return the object label map (0 = background, k = objects[k-1])
    drawn before any transform, at `size`."""
    rng = np.random.default_rng(seed)
    s = WORK_SIZE
    img = background(spec.setting, rng, s)
    labels = np.zeros((s, s), np.int64)
    for k, (obj, (fx, fy, fr)) in enumerate(zip(spec.objects, layout(spec, rng), strict=True), start=1):
        main_m = Image.new("L", (s, s), 0)
        acc_m = Image.new("L", (s, s), 0)
        _draw_shape(ImageDraw.Draw(main_m), ImageDraw.Draw(acc_m), obj.kind, fx * s, fy * s, fr * s)
        main = np.asarray(main_m) > 127
        acc = (np.asarray(acc_m) > 127) & ~main if obj.kind in ("tree",) else np.asarray(acc_m) > 127
        img[main] = np.array(COLOURS[obj.colour]) / 255.0
        img[acc] = np.array(_accent_for(obj.kind, obj.colour)) / 255.0
        labels[main | acc] = k
    if spec.medium:
        img = _medium(img, spec.medium, rng, labels)
    if spec.style:
        img = _style(img, spec.style, rng, labels)
    if spec.era:
        img = _era(img, spec.era, rng)
    if spec.mood:
        img = _mood(img, spec.mood, rng)
    if spec.lighting:
        img = _lighting(img, spec.lighting, rng, labels)
    out = _to_pil(img)
    lab = Image.fromarray(labels.astype(np.uint8))
    if size != s:
        out = out.resize((size, size), Image.BOX if size < s else Image.BICUBIC)
        lab = lab.resize((size, size), Image.NEAREST)
    return out, np.asarray(lab).astype(np.int64)


def render_scene(spec: SceneSpec, seed: int, size: int = NATIVE_SIZE) -> Image.Image:
    return render_scene_with_masks(spec, seed, size)[0]
