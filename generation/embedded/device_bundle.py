"""Train the embedded model on a lent GPU machine: what travels there, and what comes back.

Such a machine (see README, "Retraining on a GPU") has PyTorch, transformers and
sentence-transformers but not diffusers nor our MiniLM package, reaches no package index,
and takes a working tree of at most 64 MiB (ours is about 29 MB) while returning files
of at most 16 MiB each. So:

    python -m generation.embedded.device_bundle build        # here: var/device (~29 MB)
    bash generation/embedded/device_train.sh                  # there: trains, packs into $OUT
    python -m generation.embedded.device_bundle unpack DIR var/weights-gpu-base --name base  # here

`build` writes a slim MiniLM (fp16, only the word rows our captions use: data.export_slim_encoder)
and the wheels the machine lacks; `pack` tars a run's folder into parts that come back;
`unpack` joins them into a weights folder that loads like the shipped one.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import tarfile
from importlib.metadata import version
from pathlib import Path

from generation.embedded import data
from generation.embedded.train import TrainConfig, write_pipeline_files

REPO_ROOT = Path(__file__).resolve().parents[2]
BUNDLE_DIR = REPO_ROOT / "var" / "device"
# The GPU run's data set size (device_train.sh's NUM_IMAGES default is the same number).
GPU_NUM_IMAGES = 120_000
# Wheels the GPU machine's image lacks (its package list is in the device tool's KINDS.md).
WHEELS = ("diffusers", "importlib_metadata")
PART_BYTES = 15 * 2**20  # files come back at most 16 MiB each
UNET_FILE = "diffusion_pytorch_model.safetensors"
TREE_LIMIT = 64 * 2**20


def build(out_dir: Path = BUNDLE_DIR, *, num_images: int = GPU_NUM_IMAGES, seed: int = 0,
          wheels: bool = True, log=print) -> dict:
    """The slim encoder, covering every caption of the GPU run's data set (and those of two
    other seeds, for margin), and the missing wheels for the machine's Python 3.12."""
    # Every number a caption's `--seed 1234` can hold (each may be one word piece of its own).
    texts = [" ".join(str(n) for n in range(i, i + 100)) for i in range(0, 10_000, 100)]
    per_image = TrainConfig().captions_per_image
    for s in (seed, seed + 1, seed + 2):
        texts += data.scene_plan(num_images if s == seed else 20_000, per_image, s)[2]
    info = data.export_slim_encoder(out_dir / "minilm", texts)
    log(f"slim MiniLM: {info['kept_ids']} word rows, {info['bytes'] / 1e6:.1f} MB in {out_dir / 'minilm'}")
    if wheels:
        whl = out_dir / "whl"
        shutil.rmtree(whl, ignore_errors=True)
        specs = [f"{name}=={version(name)}" for name in WHEELS]
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.12", "--implementation", "cp",
                        "--platform", "manylinux2014_x86_64", "-d", str(whl), *specs], check=True)
        log(f"wheels: {', '.join(sorted(p.name for p in whl.iterdir()))}")
    bundle = sum(p.stat().st_size for p in out_dir.rglob("*") if p.is_file())
    tracked = _tracked_bytes()
    log(f"bundle {bundle / 2**20:.1f} MiB + tracked files {tracked / 2**20:.1f} MiB = "
        f"{(bundle + tracked) / 2**20:.1f} MiB of the {TREE_LIMIT / 2**20:.0f} MiB that travel")
    if bundle + tracked > TREE_LIMIT:
        raise SystemExit("the working tree would not travel: over 64 MiB")
    return {"bundle_bytes": bundle, "tracked_bytes": tracked, **info}


def _tracked_bytes() -> int:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True).stdout
    return sum((REPO_ROOT / n).stat().st_size for n in names.decode().split("\0") if n and (REPO_ROOT / n).is_file())


def pack(weights: Path, out: Path, name: str, part_bytes: int = PART_BYTES) -> list[Path]:
    """On the GPU machine: the run's folder (weights, training.json, its log: whatever the run
    left) as a tar in parts `NAME.tar.partN` small enough to come back."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(weights, arcname=".")
    blob = buffer.getvalue()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for i in range(0, len(blob), part_bytes):
        part = out / f"{name}.tar.part{i // part_bytes}"
        part.write_bytes(blob[i:i + part_bytes])
        written.append(part)
    return written


def unpack(parts: Path, weights: Path, name: str) -> Path:
    """Here: the weights folder (unet/, scheduler/, model_index.json, training.json) of run
    `name` from `pack`'s parts; refused where the parts are missing or the run left no weights."""
    chunks = sorted(parts.glob(f"{name}.tar.part*"), key=lambda p: int(p.name.rsplit(".part", 1)[1]))
    if not chunks:
        raise SystemExit(f"no {name}.tar.part* files in {parts}")
    weights.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(b"".join(p.read_bytes() for p in chunks))) as tar:
        tar.extractall(weights, filter="data")
    if not (weights / "unet" / UNET_FILE).exists():
        log = weights / "train.log"
        tail = log.read_text()[-2000:] if log.exists() else "(no log)"
        raise SystemExit(f"run {name} left no weights; its log ends:\n{tail}")
    write_pipeline_files(weights)
    json.loads((weights / "training.json").read_text())  # fails loudly on a truncated copy
    return weights


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write var/device: slim MiniLM and wheels")
    b.add_argument("--out", type=Path, default=BUNDLE_DIR)
    b.add_argument("--num-images", type=int, default=GPU_NUM_IMAGES)
    b.add_argument("--no-wheels", action="store_true")
    p = sub.add_parser("pack", help="(on the GPU machine) a run's folder as returnable parts")
    p.add_argument("weights", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--name", required=True)
    u = sub.add_parser("unpack", help="join returned parts into a weights folder")
    u.add_argument("parts", type=Path)
    u.add_argument("weights", type=Path)
    u.add_argument("--name", required=True)
    args = parser.parse_args(argv)
    if args.command == "build":
        build(args.out, num_images=args.num_images, wheels=not args.no_wheels)
    elif args.command == "pack":
        for path in pack(args.weights, args.out, args.name):
            print(path, path.stat().st_size)
    else:
        print(unpack(args.parts, args.weights, args.name))


if __name__ == "__main__":
    main()
