"""Evaluate the embedded model on prompts it never saw in training.

Every prompt asks for (colour, kind, setting) triples that `data.is_held_out` kept out
of the training set. Each task's prompts are also rendered by the renderer and scored
by the same analyzer first: that is the analyzer's own accuracy, printed before the
model's, so a reader knows how far to trust the numbers.

    python manage.py eval_embedded              # 400 images
    python manage.py eval_embedded --images 40  # a quick look
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from generation.embedded import captions, model, model_card
from generation.embedded.analyzer import SHIPPED_PATH, STYLE_FAMILY, Analyzer, Detection
from generation.embedded.data import is_held_out
from generation.embedded.renderer import (
    CLASHES,
    COLOURS,
    KINDS,
    MEDIUMS,
    MOODS,
    RELATIONS,
    SETTINGS,
    STYLES,
    ObjectSpec,
    SceneSpec,
    render_scene,
)
from prompts.composer import indefinite_article

REPO_ROOT = Path(__file__).resolve().parents[2]
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
EVAL_DIR = REPO_ROOT / "var" / "eval"

TARGETS = {"single object": 0.95, "colour": 0.85, "shape": None, "counting": 0.6, "position": 0.5,
           "colour attribution": 0.5, "medium": 0.7, "style": 0.7, "mood": 0.7}
STYLE_TASK_LABELS = MEDIUMS + STYLES + MOODS


@dataclass(frozen=True)
class Case:
    kind: str  # "single", "counting", "pair" or "style"
    spec: SceneSpec
    prompt: str


def _plural(kind: str) -> str:
    return "fish" if kind == "fish" else kind + "s"


def _setting_words(setting: str | None) -> str:
    return f" {captions.SETTING_PHRASES[setting][0]}" if setting else ""


def _held_out_triples(held_out: bool = True) -> list[tuple[str, str, str | None]]:
    return [(c, k, s) for s in (None,) + SETTINGS for k in KINDS for c in COLOURS
            if is_held_out(c, k, s) == held_out and c not in CLASHES[s]]


def _single_case(c: str, k: str, s: str | None) -> Case:
    return Case("single", SceneSpec(objects=(ObjectSpec(k, c),), setting=s), f"{_thing(c, k)}{_setting_words(s)}")


def build_control_cases(n_images: int, seed: int = 0) -> list[Case]:
    """Single-object prompts for triples the model DID see in training: beside the held-out
    score, it tells drawing failures (both low) from failures to compose (only held-out low)."""
    rng = random.Random(seed + 7919)
    triples = _held_out_triples(held_out=False)
    return [_single_case(*rng.choice(triples)) for _ in range(n_images)]


def _thing(colour: str, kind: str) -> str:
    """'an orange house': the article the builder's composer would write."""
    return f"{indefinite_article(colour)} {colour} {kind}"


def build_cases(n_images: int, seed: int = 0) -> list[Case]:
    """Prompts for every task; about 25% single, 20% counting, 25% pairs, 30% style."""
    rng = random.Random(seed)
    triples = _held_out_triples()
    counts = {"single": n_images // 4, "counting": n_images // 5, "pair": n_images // 4}
    counts["style"] = n_images - sum(counts.values())
    cases: list[Case] = []
    for _ in range(counts["single"]):
        cases.append(_single_case(*rng.choice(triples)))
    for i in range(counts["counting"]):
        c, k, s = rng.choice(triples)
        n = i % 4 + 1
        words = f"one {c} {k}" if n == 1 else f"{captions.NUMBER_WORDS[n]} {c} {_plural(k)}"
        cases.append(Case("counting", SceneSpec(objects=(ObjectSpec(k, c),) * n, setting=s), words + _setting_words(s)))
    for i in range(counts["pair"]):
        c1, k1, s = rng.choice(triples)
        c2 = rng.choice([c for c in COLOURS if c != c1 and c not in CLASHES[s]])
        k2 = rng.choice([k for k in KINDS if k != k1])
        rel = RELATIONS[i % len(RELATIONS)]
        spec = SceneSpec(objects=(ObjectSpec(k1, c1), ObjectSpec(k2, c2)), setting=s, relation=rel)
        cases.append(Case("pair", spec, f"{_thing(c1, k1)} {rel} {_thing(c2, k2)}{_setting_words(s)}"))
    for i in range(counts["style"]):
        c, k, s = rng.choice(triples)
        label = STYLE_TASK_LABELS[i % len(STYLE_TASK_LABELS)]
        family = STYLE_FAMILY[label]
        frag = captions.TERMS[label][0]
        subject = f"{_thing(c, k)}{_setting_words(s)}"
        if family == "medium":
            prompt = f"{indefinite_article(frag).capitalize()} {frag} of {subject}"
        elif family == "style":
            prompt = f"{subject}, in the style of {frag}"
        else:
            prompt = f"{subject}, {frag} mood"
        cases.append(Case("style", SceneSpec(objects=(ObjectSpec(k, c),), setting=s, **{family: label}), prompt))
    return cases


# ----------------------------------------------------------------------------- scoring

def _find(dets: list[Detection], colour: str) -> Detection | None:
    return next((d for d in dets if d.colour == colour), None)


def _relation_holds(a: Detection, b: Detection, relation: str) -> bool:
    dx, dy = a.cx - b.cx, a.cy - b.cy
    if relation == "above":
        return dy < -0.1
    if relation == "below":
        return dy > 0.1
    if relation == "left of":
        return dx < -0.1
    if relation == "right of":
        return dx > 0.1
    return abs(dx) > 0.15 or abs(dy) > 0.15  # next to: two separate places


def score(case: Case, image: Image.Image, analyzer: Analyzer,
          dets: list[Detection] | None = None) -> dict[str, bool]:
    """Task -> passed, for one image (`dets`: the analyzer's detections, where already made)."""
    spec = case.spec
    if case.kind == "style":
        label = spec.medium or spec.style or spec.mood
        family = STYLE_FAMILY[label]
        among = tuple(s for s in STYLE_TASK_LABELS if STYLE_FAMILY[s] == family)
        return {family: analyzer.style(image, among) == label}
    if dets is None:
        dets = analyzer.detect(image, spec.setting)
    obj = spec.objects[0]
    if case.kind == "single":
        main = dets[0] if dets else None
        return {
            "single object": any(d.kind == obj.kind for d in dets),
            "shape": main is not None and main.kind == obj.kind,
            "colour": main is not None and main.colour == obj.colour,
        }
    if case.kind == "counting":
        return {"counting": sum(d.colour == obj.colour for d in dets) == spec.count}
    first, second = spec.objects
    a, b = _find(dets, first.colour), _find(dets, second.colour)
    return {
        "position": a is not None and b is not None and _relation_holds(a, b, spec.relation),
        "colour attribution": a is not None and b is not None and a.kind == first.kind and b.kind == second.kind,
    }


PAIR_DIAGNOSTICS = ("both colours present", "first object right", "second object right",
                    "second took the first's colour")


def diagnose_pair(case: Case, dets: list[Detection]) -> dict[str, bool]:
    """Where a two-object image goes wrong, from its detections: a missing colour, a wrong kind,
    or the second object drawn in the first's colour (a binding failure). Not scored; printed
    to steer training."""
    first, second = case.spec.objects
    a, b = _find(dets, first.colour), _find(dets, second.colour)
    return dict(zip(PAIR_DIAGNOSTICS, (
        a is not None and b is not None,
        a is not None and a.kind == first.kind,
        b is not None and b.kind == second.kind,
        b is None and sum(d.colour == first.colour for d in dets) >= 2,
    ), strict=True))


def shape_confusion(singles: list[tuple[Case, list[Detection]]]) -> dict[str, dict]:
    """Per object kind, over single-object images (each with its detections): how often the
    main region was read as that kind, and what it was read as when it was not ("-": no object
    found). Not scored; it says which kinds the model cannot draw, to steer training."""
    asked: dict[str, Counter] = {}
    for case, found in singles:
        asked.setdefault(case.spec.objects[0].kind, Counter())[found[0].kind if found else "-"] += 1
    return {kind: {"n": sum(asked[kind].values()), "right": asked[kind].pop(kind, 0),
                   "read_as": dict(asked[kind].most_common())}
            for kind in KINDS if kind in asked}


def format_confusion(confusion: dict[str, dict]) -> str:
    lines = [f"{'kind':<10} {'drawn':>7}  read as instead"]
    for kind, row in confusion.items():
        wrong = ", ".join(f"{k} {n}" for k, n in list(row["read_as"].items())[:3])
        lines.append(f"{kind:<10} {row['right']:>3}/{row['n']:<3}  {wrong}")
    return "\n".join(lines)


PROBE_STRENGTHS = (0.3, 0.5, 0.7, 0.9)
PROBE_COLOURS = ("red", "blue", "yellow")


def kind_by_strength(pipe, analyzer: Analyzer, *, strengths: tuple[float, ...] = PROBE_STRENGTHS,
                     kinds: tuple[str, ...] = KINDS, colours: tuple[str, ...] = PROBE_COLOURS,
                     setting: str = "meadow", steps: int = model.DEFAULT_STEPS,
                     guidance: float = model.DEFAULT_GUIDANCE, seed: int = 0) -> dict[str, dict]:
    """Where in sampling the model loses an object's kind. Each kind, rendered alone in each
    colour, is re-noised to a strength and denoised by image-to-image with its own caption;
    the analyzer says whether the main object is still that kind. Kept at low strength and lost
    at high means the model details an outline it is given but cannot lay one out from noise.
    Not scored; it steers training (see `TrainConfig.weight_floor`)."""
    cases = [_single_case(c, k, setting) for k in kinds for c in colours]
    renders = [render_scene(case.spec, seed=70_000 + i) for i, case in enumerate(cases)]
    report = {}
    for strength in strengths:
        per_kind: Counter = Counter()
        for i, (case, image) in enumerate(zip(cases, renders, strict=True)):
            generator = torch.Generator().manual_seed(seed * 100_003 + i)
            out = pipe(case.prompt, image=image, strength=strength,
                       num_inference_steps=steps, guidance_scale=guidance, generator=generator).images[0]
            found = analyzer.detect(out, setting)
            kind = case.spec.objects[0].kind
            per_kind[kind] += bool(found) and found[0].kind == kind
        report[f"{strength:g}"] = {"kept": sum(per_kind.values()), "n": len(cases),
                                   "per_kind": {k: per_kind[k] for k in kinds}}
    return report


def format_kind_probe(report: dict[str, dict]) -> str:
    kinds = list(next(iter(report.values()))["per_kind"]) if report else []
    lines = [f"{'strength':<10} {'kept':>7}  " + " ".join(f"{k[:6]:>6}" for k in kinds)]
    for strength, row in report.items():
        lines.append(f"{strength:<10} {row['kept']:>3}/{row['n']:<3}  "
                     + " ".join(f"{row['per_kind'][k]:>6}" for k in kinds))
    return "\n".join(lines)


def tabulate(results: list[dict[str, bool]]) -> list[dict]:
    table: dict[str, list[bool]] = {}
    for r in results:
        for task, ok in r.items():
            table.setdefault(task, []).append(ok)
    order = [t for t in TARGETS if t in table]
    return [{"task": t, "accuracy": float(np.mean(table[t])), "n": len(table[t]), "target": TARGETS[t]} for t in order]


def format_table(rows: list[dict], title: str) -> str:
    lines = [title, f"{'task':<20} {'accuracy':>8} {'n':>5} {'target':>7}"]
    for r in rows:
        target = f"{r['target']:.2f}" if r["target"] is not None else "-"
        lines.append(f"{r['task']:<20} {r['accuracy']:>8.3f} {r['n']:>5} {target:>7}")
    return "\n".join(lines)


def save_grid(images: list[Image.Image], path: Path, columns: int = 16, scale: int = 2) -> None:
    rows = (len(images) + columns - 1) // columns
    side = 64 * scale + 2
    grid = Image.new("RGB", (columns * side, rows * side), "white")
    for i, im in enumerate(images):
        grid.paste(im.resize((64 * scale, 64 * scale), Image.NEAREST), ((i % columns) * side, (i // columns) * side))
    path.parent.mkdir(parents=True, exist_ok=True)
    grid.save(path)


# ----------------------------------------------------------------------------- running

def _generate(pipe, cases: list[Case], *, steps: int, guidance: float, batch: int, seed: int) -> list[Image.Image]:
    images: list[Image.Image] = []
    for i in range(0, len(cases), batch):
        chunk = cases[i:i + batch]
        generator = torch.Generator().manual_seed(seed * 100_003 + i)
        images += pipe([c.prompt for c in chunk], num_inference_steps=steps, guidance_scale=guidance,
                       generator=generator).images
    return images


def evaluate(*, weights: Path = WEIGHTS_DIR, n_images: int = 400, steps: int = model.DEFAULT_STEPS,
             guidance: float = model.DEFAULT_GUIDANCE,
             batch: int = 8, seed: int = 0, out_dir: Path = EVAL_DIR, write_card: bool = True,
             seen_control: int = 0, kind_probe: bool = False, log=print) -> dict:
    from generation.embedded.pipeline import AtelierPipeline

    analyzer = Analyzer.load_or_fit(SHIPPED_PATH, log=log)
    cases = build_cases(n_images, seed)

    truth = [score(c, render_scene(c.spec, seed=50_000 + i), analyzer) for i, c in enumerate(cases)]
    truth_rows = tabulate(truth)
    analyzer_accuracy = float(np.mean([ok for r in truth for ok in r.values()]))
    log(format_table(truth_rows, f"Analyzer on rendered ground truth ({len(cases)} renders): "
                                 f"overall {analyzer_accuracy:.3f}"))

    pipe = AtelierPipeline.from_pretrained(str(weights))
    pipe.set_progress_bar_config(disable=True)
    t0 = time.time()
    images = _generate(pipe, cases, steps=steps, guidance=guidance, batch=batch, seed=seed)
    gen_seconds = time.time() - t0
    results, pairs, singles = [], [], []
    for c, im in zip(cases, images, strict=True):
        dets = None if c.kind == "style" else analyzer.detect(im, c.spec.setting)
        results.append(score(c, im, analyzer, dets=dets))
        if c.kind == "pair":
            pairs.append(diagnose_pair(c, dets))
        elif c.kind == "single":
            singles.append((c, dets))
    rows = tabulate(results)
    log("")
    log(format_table(rows, f"Model on held-out prompts ({len(cases)} images, {steps} steps, "
                           f"guidance {guidance}, {gen_seconds:.0f}s)"))
    diagnostics = {k: float(np.mean([p[k] for p in pairs])) for k in PAIR_DIAGNOSTICS} if pairs else {}
    if diagnostics:
        log(f"\nWhere the {len(pairs)} two-object images go wrong (fractions, not scored):")
        for k, v in diagnostics.items():
            log(f"  {k:<32} {v:.3f}")

    control = {}
    if seen_control:
        control_cases = build_control_cases(seen_control, seed)
        control_images = _generate(pipe, control_cases, steps=steps, guidance=guidance, batch=batch, seed=seed + 1)
        control_dets = [analyzer.detect(im, c.spec.setting) for c, im in zip(control_cases, control_images, strict=True)]
        scored = [score(c, im, analyzer, dets=d)
                  for c, im, d in zip(control_cases, control_images, control_dets, strict=True)]
        singles += list(zip(control_cases, control_dets, strict=True))
        control = {t: float(np.mean([r[t] for r in scored])) for t in ("single object", "shape", "colour")}
        log(f"\nControl: {seen_control} single-object prompts for triples seen in training "
            "(held-out vs seen tells composing from drawing):")
        held = {r["task"]: r["accuracy"] for r in rows}
        for task, value in control.items():
            log(f"  {task:<18} seen {value:.3f}   held-out {held.get(task, float('nan')):.3f}")

    confusion = shape_confusion(singles)
    if confusion:
        log(f"\nShapes in the {len(singles)} single-object images{' (held-out and seen)' if control else ''}, "
            "per kind asked for (not scored):")
        log(format_confusion(confusion))

    probe = {}
    if kind_probe:
        probe = kind_by_strength(pipe, analyzer, steps=steps, guidance=guidance, seed=seed)
        log(f"\nKind kept through image-to-image from a rendered object ({len(KINDS)} kinds x "
            f"{', '.join(PROBE_COLOURS)}, meadow), per strength (not scored):")
        log(format_kind_probe(probe))

    out_dir.mkdir(parents=True, exist_ok=True)
    # One grid, a few images of every task, in case order.
    picks = [i for kind in ("single", "counting", "pair", "style")
             for i in [j for j, c in enumerate(cases) if c.kind == kind][:32]]
    save_grid([images[i] for i in picks], out_dir / "samples.png")
    (out_dir / "prompts.txt").write_text("\n".join(f"{n:3d} {cases[i].prompt}" for n, i in enumerate(picks)) + "\n")
    log(f"\nsample grid: {out_dir / 'samples.png'} (prompts in prompts.txt)")
    report = {"images": len(cases), "steps": steps, "guidance": guidance, "seconds": round(gen_seconds),
              "analyzer_accuracy": analyzer_accuracy, "analyzer_tasks": truth_rows, "tasks": rows,
              "pair_diagnostics": diagnostics, "shape_confusion": confusion,
              **({"seen_control": control} if control else {}),
              **({"kind_by_strength": probe} if probe else {})}
    (out_dir / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n")
    if write_card:
        (weights / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n")
        model_card.write(weights)
    return report


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", type=int, default=400, help="number of images to generate (default 400)")
    parser.add_argument("--steps", type=int, default=model.DEFAULT_STEPS)
    parser.add_argument("--guidance", type=float, default=model.DEFAULT_GUIDANCE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=8, help="prompts per pipeline call")
    parser.add_argument("--weights", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--out", type=Path, default=EVAL_DIR, help="where the grid and the report go")
    parser.add_argument("--no-card", action="store_true", help="do not update the model card")
    parser.add_argument("--seen-control", type=_count, default=0, metavar="N",
                        help="also score N single-object prompts for triples seen in training (a control)")
    parser.add_argument("--kind-probe", action="store_true",
                        help="also re-noise rendered objects to strengths 0.3-0.9 and count the kinds the model keeps")


def run(options: dict, log=print) -> dict:
    return evaluate(weights=Path(options["weights"]), n_images=options["images"], steps=options["steps"],
                    guidance=options["guidance"], seed=options["seed"], batch=options.get("batch") or 8,
                    out_dir=Path(options["out"]),
                    write_card=not options.get("no_card"), seen_control=options.get("seen_control") or 0,
                    kind_probe=bool(options.get("kind_probe")), log=log)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    run(vars(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
