"""A labelled sheet of the embedded model's samples across the builder's menus.

    python manage.py samples_embedded                      # var/samples/embedded-samples.png
    python manage.py samples_embedded --out docs/embedded-samples.png

Each row is one menu (colours, shapes, counts, placement, mediums, artists' looks, eras,
moods, lighting); each cell is the model's image for one prompt of that row (one seed per row), with
the prompt's distinguishing words under it. With `--truth`, the renderer's drawing of the
same scene sits beside each row, so a reader sees what the model was aiming at.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont

from generation.embedded import model
from generation.embedded.renderer import ObjectSpec, SceneSpec, render_scene

REPO_ROOT = Path(__file__).resolve().parents[2]
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

# (row title, [(label, prompt, scene the renderer would draw)])
ROWS: list[tuple[str, list[tuple[str, str, SceneSpec]]]] = [
    ("Colour", [(c, f"a {c} circle in a meadow", SceneSpec((ObjectSpec("circle", c),), "meadow"))
                for c in ("red", "orange", "yellow", "green", "blue", "purple")]),
    ("Shape", [(k, f"a red {k} on a snowy field", SceneSpec((ObjectSpec(k, "red"),), "snowy-field"))
               for k in ("square", "triangle", "star", "heart", "house", "boat")]),
    ("Count", [(w, f"{w} yellow {k} in the blue sky", SceneSpec((ObjectSpec(k[:-1] if k != "fish" else k, "yellow"),) * n,
                                                                "blue-sky"))
               for w, n, k in (("one", 1, "stars"), ("two", 2, "stars"), ("three", 3, "stars"), ("four", 4, "stars"),
                               ("two", 2, "hearts"), ("three", 3, "hearts"))]),
    ("Placement", [(f"{a} {r} {b}", f"a {ca} {a} {r} a {cb} {b} in the desert",
                    SceneSpec((ObjectSpec(a, ca), ObjectSpec(b, cb)), "desert", relation=r))
                   for a, ca, r, b, cb in (("circle", "red", "above", "square", "blue"),
                                           ("circle", "red", "below", "square", "blue"),
                                           ("star", "yellow", "left of", "moon", "white"),
                                           ("star", "yellow", "right of", "moon", "white"),
                                           ("tree", "green", "next to", "house", "red"),
                                           ("fish", "orange", "above", "boat", "brown"))]),
    ("Medium", [(m, f"a {p} of a blue house in a meadow",
                 SceneSpec((ObjectSpec("house", "blue"),), "meadow", medium=s))
                for m, p, s in (("watercolor", "watercolor painting", "watercolor"),
                                ("pencil sketch", "pencil sketch", "pencil-sketch"),
                                ("oil painting", "oil painting", "oil-painting"),
                                ("pixel art", "pixel art image", "pixel-art"),
                                ("mosaic", "mosaic", "mosaic"),
                                ("stained glass", "stained glass window", "stained-glass"))]),
    ("Look", [(label, f"a red boat by the seaside, in the style of {name}",
               SceneSpec((ObjectSpec("boat", "red"),), "seaside", style=slug))
              for label, name, slug in (("Mondrian", "Piet Mondrian", "piet-mondrian"),
                                        ("Seurat", "Georges Seurat", "georges-seurat"),
                                        ("Hokusai", "Katsushika Hokusai", "katsushika-hokusai"),
                                        ("Warhol", "Andy Warhol", "andy-warhol"),
                                        ("Rothko", "Mark Rothko", "mark-rothko"),
                                        ("cubism", "cubism", "cubism"))]),
    ("Era · mood", [(label, f"a pink flower in a cozy room, {words}",
                     SceneSpec((ObjectSpec("flower", "pink"),), "cozy-room", **spec))
                    for label, words, spec in (("1920s", "1920s", {"era": "1920s"}),
                                               ("1980s", "1980s", {"era": "1980s"}),
                                               ("victorian", "victorian", {"era": "victorian"}),
                                               ("gloomy", "gloomy mood", {"mood": "gloomy"}),
                                               ("cheerful", "cheerful mood", {"mood": "cheerful"}),
                                               ("mysterious", "mysterious mood", {"mood": "mysterious"}))]),
    ("Lighting", [(label, f"a white moon over the sea, {words}",
                   SceneSpec((ObjectSpec("moon", "white"),), "seaside", lighting=slug))
                  for label, words, slug in (("golden hour", "golden hour", "golden-hour"),
                                             ("moonlight", "moonlight", "moonlight"),
                                             ("backlit", "backlit", "backlit"),
                                             ("neon", "neon lighting", "neon-lighting"))]),
]


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


def sheet(*, weights: Path = WEIGHTS_DIR, seed: int = 0, steps: int = model.DEFAULT_STEPS,
          guidance: float = model.DEFAULT_GUIDANCE,
          cell: int = 128, truth: bool = False, log=print) -> Image.Image:
    """Generate every row's prompts (one image each, seeded) and lay them out with labels."""
    from generation.embedded.pipeline import AtelierPipeline

    pipe = AtelierPipeline.from_pretrained(str(weights))
    pipe.set_progress_bar_config(disable=True)
    title_w, label_h, pad = 120, 18, 6
    columns = max(len(items) for _, items in ROWS) * (2 if truth else 1)
    width = title_w + columns * (cell + pad) + pad
    height = len(ROWS) * (cell + label_h + pad) + pad
    out = Image.new("RGB", (width, height), (250, 250, 248))
    draw = ImageDraw.Draw(out)
    font, title_font = _font(12), _font(15)
    for r, (title, items) in enumerate(ROWS):
        y = pad + r * (cell + label_h + pad)
        draw.text((pad, y + cell // 2 - 8), title, fill=(30, 30, 30), font=title_font)
        prompts = [prompt for _, prompt, _ in items]
        images = pipe(prompts, num_inference_steps=steps, guidance_scale=guidance,
                      generator=torch.Generator().manual_seed(seed + r)).images
        log(f"{title}: {len(images)} images")
        for i, ((label, _, spec), picture) in enumerate(zip(items, images, strict=True)):
            tiles = [picture] + ([render_scene(spec, seed=seed + i)] if truth else [])
            for j, tile in enumerate(tiles):
                x = title_w + (i * len(tiles) + j) * (cell + pad)
                out.paste(tile.convert("RGB").resize((cell, cell), Image.Resampling.NEAREST), (x, y))
                text = label if j == 0 else "renderer"
                draw.text((x, y + cell + 2), text, fill=(70, 70, 70) if j == 0 else (150, 150, 150), font=font)
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=model.DEFAULT_STEPS)
    parser.add_argument("--guidance", type=float, default=model.DEFAULT_GUIDANCE)
    parser.add_argument("--truth", action="store_true", help="put the renderer's drawing beside each sample")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "var" / "samples" / "embedded-samples.png")


def run(options: dict, log=print) -> Path:
    picture = sheet(weights=options["weights"], seed=options["seed"], steps=options["steps"],
                    guidance=options["guidance"], truth=options["truth"], log=log)
    out: Path = options["out"]
    out.parent.mkdir(parents=True, exist_ok=True)
    picture.save(out, optimize=True)
    log(f"wrote {out}")
    return out
