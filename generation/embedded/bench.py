"""How fast the embedded model is on this machine, and how much memory it needs.

    python manage.py bench_embedded   # median seconds for 4 images, 64x64, 25 steps; peak RSS
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from pathlib import Path

import torch

from generation.embedded import model, model_card
from generation.embedded.train import hardware_summary

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def bench(*, weights: Path = WEIGHTS_DIR, images: int = 4, steps: int = model.DEFAULT_STEPS,
          guidance: float = model.DEFAULT_GUIDANCE,
          repeats: int = 5, write_card: bool = True, log=print) -> dict:
    from generation.embedded.pipeline import AtelierPipeline

    pipe = AtelierPipeline.from_pretrained(str(weights))
    pipe.set_progress_bar_config(disable=True)
    prompt = "a red circle above a blue square in a meadow"
    pipe(prompt, num_images_per_prompt=images, num_inference_steps=2)  # warm-up
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        pipe(prompt, num_images_per_prompt=images, num_inference_steps=steps, guidance_scale=guidance,
             generator=torch.Generator().manual_seed(i))
        times.append(time.perf_counter() - t0)
    report = {"images": images, "size": 64, "steps": steps, "guidance": guidance, "repeats": repeats,
              "median_seconds": statistics.median(times), "all_seconds": [round(t, 3) for t in times],
              "peak_rss_mb": peak_rss_mb(), "threads": torch.get_num_threads(), "hardware": hardware_summary()}
    log(f"{images} images, 64x64, {steps} steps, guidance {guidance}: median {report['median_seconds']:.2f} s "
        f"over {repeats} runs ({', '.join(f'{t:.2f}' for t in times)})")
    log(f"peak RSS with the model loaded: {report['peak_rss_mb']:.0f} MB")
    if write_card:
        (weights / "bench.json").write_text(json.dumps(report, indent=2) + "\n")
        model_card.write(weights)
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-card", action="store_true", help="do not update the model card")


def run(options: dict, log=print) -> dict:
    return bench(weights=Path(options["weights"]), repeats=options["repeats"], write_card=not options.get("no_card"),
                 log=log)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    run(vars(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
