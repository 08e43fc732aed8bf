"""Reads a 64x64 image of the synthetic world back into objects and a style.

- Colour segmentation: every pixel goes to the nearest of the 11 object colours or of the
  setting's background colours (sampled from the renderer); connected regions of one
  object colour above a minimum area are objects.
- Shape classifier: a small MLP on each region's normalised 16x16 silhouette, fitted on
  regions that the same segmentation finds in rendered scenes.
- Style classifier: a tiny CNN fitted on rendered scenes with one transform each.

Both classifiers are fitted on renderer output only (never on the model's output) and
the analyzer's accuracy on rendered ground truth is measured before it judges the model.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import ndimage
from torch import nn

from generation.embedded.renderer import (
    COLOURS,
    ERAS,
    KINDS,
    LIGHTINGS,
    MEDIUMS,
    MOODS,
    SETTINGS,
    STYLES,
    ObjectSpec,
    SceneSpec,
    background,
    render_scene,
    render_scene_with_masks,
)

COLOUR_NAMES = tuple(COLOURS)
SHIPPED_PATH = Path(__file__).resolve().parent / "analyzer.safetensors"
MIN_AREA = 18  # pixels at 64x64; the smallest rendered object covers about 60
STYLE_LABELS = ("none",) + MEDIUMS + STYLES + ERAS + MOODS + LIGHTINGS
STYLE_FAMILY = {**{s: "medium" for s in MEDIUMS}, **{s: "style" for s in STYLES}, **{s: "era" for s in ERAS},
                **{s: "mood" for s in MOODS}, **{s: "lighting" for s in LIGHTINGS}}


@dataclass(frozen=True)
class Detection:
    colour: str
    kind: str
    area: int
    cx: float  # centroid, fraction of the width
    cy: float


def background_palette(setting: str | None, samples: int = 6, k: int = 8) -> np.ndarray:
    """The main colours of a setting's background (k-means over a few renders)."""
    pixels = []
    for seed in range(samples):
        bg = background(setting, np.random.default_rng(seed), 64)
        pixels.append(bg.reshape(-1, 3))
    pixels = np.concatenate(pixels) * 255
    rng = np.random.default_rng(0)
    centres = pixels[rng.choice(len(pixels), k, replace=False)]
    for _ in range(12):
        d = ((pixels[:, None] - centres[None]) ** 2).sum(-1)
        lab = d.argmin(1)
        for j in range(k):
            if (lab == j).any():
                centres[j] = pixels[lab == j].mean(0)
    return centres


_BG_CACHE: dict[str | None, np.ndarray] = {}


def _bg(setting):
    if setting not in _BG_CACHE:
        _BG_CACHE[setting] = background_palette(setting)
    return _BG_CACHE[setting]


def segment(image: Image.Image, setting: str | None) -> np.ndarray:
    """Per-pixel label: index into COLOUR_NAMES, or -1 for background."""
    a = np.asarray(image.convert("RGB").resize((64, 64), Image.BOX), dtype=np.float64)
    obj = np.array([COLOURS[c] for c in COLOUR_NAMES], float)
    bg = _bg(setting)
    d_obj = ((a[..., None, :] - obj) ** 2).sum(-1)
    d_bg = ((a[..., None, :] - bg) ** 2).sum(-1).min(-1)
    label = d_obj.argmin(-1)
    # Background wins ties and near-ties: a colour must be clearly an object colour.
    is_bg = d_bg <= d_obj.min(-1) * 1.15 + 150
    label[is_bg] = -1
    return label


def silhouette(mask: np.ndarray, size: int = 16) -> np.ndarray:
    """The region cropped to its bounding box (kept square), resized to size x size."""
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    side = max(y1 - y0, x1 - x0)
    cy, cx = (y0 + y1) / 2, (x0 + x1) / 2
    canvas = np.zeros((side + 2, side + 2), np.float32)
    oy, ox = int(round(side / 2 + 1 - (y1 - y0) / 2)), int(round(side / 2 + 1 - (x1 - x0) / 2))
    canvas[oy:oy + y1 - y0, ox:ox + x1 - x0] = mask[y0:y1, x0:x1]
    del cy, cx
    im = Image.fromarray((canvas * 255).astype(np.uint8)).resize((size, size), Image.BILINEAR)
    return np.asarray(im, np.float32) / 255.0


def regions(label: np.ndarray) -> list[tuple[str, np.ndarray]]:
    out = []
    for ci, colour in enumerate(COLOUR_NAMES):
        m = label == ci
        if m.sum() < MIN_AREA:
            continue
        m = ndimage.binary_opening(m, iterations=1) | (ndimage.binary_erosion(m) & m)
        lab, n = ndimage.label(m)
        for j in range(1, n + 1):
            r = lab == j
            if r.sum() >= MIN_AREA:
                out.append((colour, ndimage.binary_fill_holes(r)))
    return out


def _shape_features(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    extra = np.array([mask.sum() / (h * w), h / (h + w), mask.sum() / 4096 * 10], np.float32)
    return np.concatenate([silhouette(mask).ravel(), extra])


class _MLP(nn.Module):
    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_in, 128), nn.ReLU(), nn.Linear(128, n_out))

    def forward(self, x):
        return self.net(x)


class _StyleCNN(nn.Module):
    def __init__(self, n_out: int):
        super().__init__()
        c = 24
        self.net = nn.Sequential(
            nn.Conv2d(3, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c, 2 * c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * c, 3 * c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(3 * c, 4 * c, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        # Global colour statistics make the grading transforms (moods, eras) easy to see.
        self.head = nn.Linear(4 * c + 12, n_out)

    def forward(self, x):
        stats = torch.cat([x.mean((2, 3)), x.std((2, 3)), x.amax((2, 3)), x.amin((2, 3))], 1)
        return self.head(torch.cat([self.net(x), stats], 1))


def _random_objects(rng: random.Random, setting, n_max=4):
    r = rng.random()
    colours = [c for c in COLOUR_NAMES]
    if r < 0.4:
        return dict(objects=(ObjectSpec(rng.choice(KINDS), rng.choice(colours), rng.choice(("small", "medium", "large"))),),
                    place=rng.choice((None, "left", "right", "top", "bottom", "centre")))
    if r < 0.7:
        return dict(objects=(ObjectSpec(rng.choice(KINDS), rng.choice(colours)),) * rng.randint(2, n_max))
    a = ObjectSpec(rng.choice(KINDS), rng.choice(colours))
    b = ObjectSpec(rng.choice([k for k in KINDS if k != a.kind]), rng.choice(colours))
    return dict(objects=(a, b), relation=rng.choice(("above", "below", "left of", "right of", "next to")))


def _soften(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Augmentation: the model's samples are softer and noisier than the renders."""
    im = Image.fromarray(a)
    from PIL import ImageFilter

    if rng.random() < 0.6:
        im = im.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.0))))
    out = np.asarray(im, np.float32) + rng.normal(0, rng.uniform(0, 8), a.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


class Analyzer:
    def __init__(self, shape_net: _MLP, style_net: _StyleCNN):
        self.shape_net = shape_net.eval()
        self.style_net = style_net.eval()

    # ------------------------------------------------------------------ fitting

    @classmethod
    def fit(cls, *, shape_scenes: int = 2500, style_per_label: int = 120, seed: int = 0, log=print) -> Analyzer:
        torch.manual_seed(seed)
        rng = random.Random(seed)
        nrng = np.random.default_rng(seed)
        # Shapes: regions found by the segmentation in renders, labelled by the renderer's masks.
        feats, ys = [], []
        for i in range(shape_scenes):
            setting = rng.choice((None,) + SETTINGS)
            spec = SceneSpec(setting=setting, **_random_objects(rng, setting))
            image, masks = render_scene_with_masks(spec, seed=10_000 + i)
            arr = np.asarray(image)
            if rng.random() < 0.5:
                arr = _soften(arr, nrng)
            for colour, region in regions(segment(Image.fromarray(arr), setting)):
                owners = np.bincount(masks[region], minlength=len(spec.objects) + 1)
                k = owners.argmax()
                if k == 0 or owners[k] < 0.7 * region.sum():
                    continue
                obj = spec.objects[k - 1]
                if obj.colour != colour:
                    continue
                feats.append(_shape_features(region))
                ys.append(KINDS.index(obj.kind))
        x = torch.tensor(np.stack(feats))
        y = torch.tensor(ys)
        shape_net = _MLP(x.shape[1], len(KINDS))
        _fit(shape_net, x, y, epochs=60, lr=3e-3, batch=128)
        log(f"analyzer: shape classifier fitted on {len(ys)} regions")

        imgs, labels = [], []
        for li, label in enumerate(STYLE_LABELS):
            for j in range(style_per_label):
                setting = rng.choice((None,) + SETTINGS)
                fam = STYLE_FAMILY.get(label)
                spec = SceneSpec(setting=setting, **_random_objects(rng, setting), **({fam: label} if fam else {}))
                arr = np.asarray(render_scene(spec, seed=20_000 + li * 1000 + j))
                imgs.append(_soften(arr, nrng) if rng.random() < 0.5 else arr)
                labels.append(li)
        xs = torch.tensor(np.stack(imgs)).permute(0, 3, 1, 2).float() / 255.0
        style_net = _StyleCNN(len(STYLE_LABELS))
        _fit(style_net, xs, torch.tensor(labels), epochs=14, lr=2e-3, batch=64)
        log(f"analyzer: style classifier fitted on {len(labels)} renders")
        return cls(shape_net, style_net)

    def save(self, path: Path) -> None:
        from safetensors.torch import save_file

        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {f"shape.{k}": v for k, v in self.shape_net.state_dict().items()}
        tensors |= {f"style.{k}": v for k, v in self.style_net.state_dict().items()}
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(path))

    @classmethod
    def load(cls, path: Path = SHIPPED_PATH) -> Analyzer:
        from safetensors.torch import load_file

        state = load_file(str(path))
        shape_net = _MLP(16 * 16 + 3, len(KINDS))
        shape_net.load_state_dict({k[6:]: v for k, v in state.items() if k.startswith("shape.")})
        style_net = _StyleCNN(len(STYLE_LABELS))
        style_net.load_state_dict({k[6:]: v for k, v in state.items() if k.startswith("style.")})
        return cls(shape_net, style_net)

    @classmethod
    def load_shipped(cls) -> Analyzer:
        """The analyzer fitted by `python -m generation.embedded.analyzer`, shipped in the repo."""
        return cls.load(SHIPPED_PATH)

    @classmethod
    def load_or_fit(cls, path: Path, log=print) -> Analyzer:
        if path.exists():
            return cls.load(path)
        analyzer = cls.fit(log=log)
        analyzer.save(path)
        return analyzer

    # ------------------------------------------------------------------ reading

    @torch.no_grad()
    def detect(self, image: Image.Image, setting: str | None) -> list[Detection]:
        found = regions(segment(image, setting))
        if not found:
            return []
        x = torch.tensor(np.stack([_shape_features(r) for _, r in found]))
        kinds = self.shape_net(x).argmax(1).tolist()
        out = []
        for (colour, r), k in zip(found, kinds, strict=True):
            ys, xs = np.nonzero(r)
            out.append(Detection(colour, KINDS[k], int(r.sum()), float(xs.mean() / 64), float(ys.mean() / 64)))
        return sorted(out, key=lambda d: -d.area)

    @torch.no_grad()
    def style_scores(self, images: list[Image.Image]) -> np.ndarray:
        x = torch.tensor(np.stack([np.asarray(im.convert("RGB").resize((64, 64), Image.BOX)) for im in images]))
        return self.style_net(x.permute(0, 3, 1, 2).float() / 255.0).softmax(1).numpy()

    def style(self, image: Image.Image, among: tuple[str, ...] | None = None) -> str:
        scores = self.style_scores([image])[0]
        candidates = among or STYLE_LABELS
        return max(candidates, key=lambda s: scores[STYLE_LABELS.index(s)])


def _fit(net: nn.Module, x: torch.Tensor, y: torch.Tensor, *, epochs: int, lr: float, batch: int) -> None:
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * ((len(x) + batch - 1) // batch))
    net.train()
    g = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    net.eval()


if __name__ == "__main__":
    torch.set_num_threads(1)
    Analyzer.fit().save(SHIPPED_PATH)
    print(f"wrote {SHIPPED_PATH}")
