"""Train the embedded model from scratch on the synthetic world.

    python -m generation.embedded.train                 # the shipped weights (CPU, < 2 h)
    python -m generation.embedded.train --tiny --steps 3
    python -m generation.embedded.train --resume        # continue from var/train-ckpt

The data set (renders + frozen MiniLM token states of their captions) is built first and
cached under var/, so the loop spends its CPU on the UNet alone.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from generation.embedded import data, model

REPO_ROOT = Path(__file__).resolve().parents[2]
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
VAR_DIR = REPO_ROOT / "var"


@dataclass
class TrainConfig:
    steps: int = 20000
    batch_size: int = 16
    lr: float = 8e-4
    warmup: int = 150
    weight_decay: float = 0.01
    ema_decay: float = 0.998
    caption_dropout: float = 0.1
    min_snr_gamma: float = 5.0
    num_images: int = 30000
    captions_per_image: int = 2
    seed: int = 0
    threads: int = 2
    tiny: bool = False
    checkpoint_minutes: float = 4.0
    # The shipped run's budget: stop (and still export) after this long; the learning rate
    # decays over whichever of steps and minutes runs out first.
    max_minutes: float | None = 105.0

    @classmethod
    def tiny_config(cls, steps: int) -> TrainConfig:
        return cls(steps=steps, batch_size=4, warmup=1, num_images=16, captions_per_image=1, tiny=True,
                   checkpoint_minutes=0.0, max_minutes=None)


def _lr_at(step: int, cfg: TrainConfig, elapsed: float = 0.0) -> float:
    """Linear warmup, then cosine decay to 10%. With a time budget, progress is whichever
    of steps and time is further along, so a run cut short by the clock still ends cool."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    if cfg.max_minutes:
        progress = max(progress, elapsed / (cfg.max_minutes * 60))
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


class TrainingSet:
    """The cached data set, in memory: uint8 images and fp16 token states."""

    def __init__(self, root: Path, captions_per_image: int):
        self.images = np.load(root / "images.npy")
        self.states = np.load(root / "states.npy")
        self.lengths = np.load(root / "lengths.npy").astype(np.int64)
        self.empty = np.load(root / "empty.npy")
        self.captions_per_image = captions_per_image
        self.width = self.states.shape[1]

    def batch(self, rng: np.random.Generator, size: int, dropout: float):
        idx = rng.integers(0, len(self.images), size)
        cap = idx * self.captions_per_image + rng.integers(0, self.captions_per_image, size)
        images = torch.from_numpy(self.images[idx]).permute(0, 3, 1, 2).float() / 127.5 - 1
        states = self.states[cap].astype(np.float32)
        lengths = self.lengths[cap].copy()
        drop = rng.random(size) < dropout
        # A dropped caption becomes the empty prompt: exactly what the pipeline feeds as
        # the unconditional branch of classifier-free guidance.
        states[drop] = 0
        states[drop, : len(self.empty)] = self.empty
        lengths[drop] = len(self.empty)
        mask = (np.arange(self.width)[None, :] < lengths[:, None]).astype(np.float32)
        return images, torch.from_numpy(states), torch.from_numpy(mask)


def _save_checkpoint(path: Path, *, unet, ema, opt, step: int, rng, cfg: TrainConfig, elapsed: float, losses):
    tmp = path.with_suffix(".tmp")
    torch.save({"unet": unet.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "step": step,
                "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(), "config": asdict(cfg),
                "elapsed": elapsed, "losses": losses}, tmp)
    os.replace(tmp, path)


def export_weights(ema, out_dir: Path) -> None:
    """Write the diffusers folder: model_index.json, unet/, scheduler/ (safetensors)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ema.save_pretrained(out_dir / "unet", safe_serialization=True)
    model.build_sampling_scheduler().save_pretrained(out_dir / "scheduler")
    index = {
        "_class_name": "AtelierPipeline",
        "_diffusers_version": __import__("diffusers").__version__,
        "scheduler": ["diffusers", "DPMSolverMultistepScheduler"],
        "unet": ["diffusers", "UNet2DConditionModel"],
    }
    (out_dir / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")


def train(cfg: TrainConfig, *, out_dir: Path = WEIGHTS_DIR, data_dir: Path | None = None,
          ckpt_dir: Path | None = None, resume: bool = False, log=print) -> dict:
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    if data_dir is None:
        data_dir = VAR_DIR / ("train-data-tiny" if cfg.tiny else "train-data")
    ckpt_dir = ckpt_dir or VAR_DIR / f"train-ckpt{'-tiny' if cfg.tiny else ''}"
    ckpt_dir.mkdir(parents=True, exist_ok=True)

    t_data = time.time()
    data.build_dataset(data_dir, num_images=cfg.num_images, captions_per_image=cfg.captions_per_image,
                       seed=cfg.seed, max_tokens=model.MAX_TOKENS, workers=1 if cfg.tiny else cfg.threads, log=log)
    dataset = TrainingSet(data_dir, cfg.captions_per_image)
    data_seconds = time.time() - t_data

    unet = model.build_unet(tiny=cfg.tiny).to(memory_format=torch.channels_last)
    ema = copy.deepcopy(unet).requires_grad_(False)
    noise_scheduler = model.build_noise_scheduler()
    alphas = noise_scheduler.alphas_cumprod
    snr = alphas / (1 - alphas)
    opt = torch.optim.AdamW(unet.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.99))
    rng = np.random.default_rng(cfg.seed)
    step, elapsed, losses = 0, 0.0, []
    ckpt_path = ckpt_dir / "last.pt"
    if resume and ckpt_path.exists():
        state = torch.load(ckpt_path, weights_only=False)
        unet.load_state_dict(state["unet"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        step, elapsed, losses = state["step"], state["elapsed"], state["losses"]
        log(f"resumed at step {step}")

    n_params = sum(p.numel() for p in unet.parameters())
    log(f"unet: {n_params / 1e6:.2f}M parameters; data: {len(dataset.images)} images, width {dataset.width} tokens")
    unet.train()
    last_ckpt = time.time()
    start = time.time() - elapsed
    bar = tqdm(total=cfg.steps, initial=step, desc="train", mininterval=20 if not cfg.tiny else 0.1,
               dynamic_ncols=False, ncols=100)
    running = None
    while step < cfg.steps:
        images, states, mask = dataset.batch(rng, cfg.batch_size, cfg.caption_dropout)
        noise = torch.randn_like(images)
        t = torch.randint(0, model.NUM_TRAIN_TIMESTEPS, (cfg.batch_size,))
        noisy = noise_scheduler.add_noise(images, noise, t)
        target = noise_scheduler.get_velocity(images, noise, t)
        pred = model.denoise(unet, noisy, t, states, mask)
        # Min-SNR-gamma weighting (Hang et al. 2023), v-prediction form: spends the
        # little compute we have on the timesteps that shape the image.
        weight = snr[t].clamp(max=cfg.min_snr_gamma) / (snr[t] + 1)
        loss = (F.mse_loss(pred, target, reduction="none").mean((1, 2, 3)) * weight).mean()
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, cfg, time.time() - start)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        decay = min(cfg.ema_decay, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, p in zip(ema.parameters(), unet.parameters(), strict=True):
                pe.lerp_(p, 1 - decay)
        step += 1
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if step % 50 == 0 or cfg.tiny:
            losses.append((step, round(running, 5)))
        bar.set_postfix(loss=f"{running:.4f}", lr=f"{opt.param_groups[0]['lr']:.1e}", refresh=False)
        bar.update(1)
        if cfg.max_minutes and time.time() - start > cfg.max_minutes * 60:
            log(f"stopping at step {step}: --max-minutes {cfg.max_minutes} reached")
            break
        if cfg.checkpoint_minutes and time.time() - last_ckpt > cfg.checkpoint_minutes * 60:
            _save_checkpoint(ckpt_path, unet=unet, ema=ema, opt=opt, step=step, rng=rng, cfg=cfg,
                             elapsed=time.time() - start, losses=losses)
            last_ckpt = time.time()
    bar.close()
    elapsed = time.time() - start
    if cfg.checkpoint_minutes:
        _save_checkpoint(ckpt_path, unet=unet, ema=ema, opt=opt, step=step, rng=rng, cfg=cfg,
                         elapsed=elapsed, losses=losses)
    export_weights(ema, out_dir)
    stats = {
        "config": asdict(cfg), "parameters": n_params, "steps": step, "train_seconds": round(elapsed),
        "data_seconds": round(data_seconds), "it_per_s": round(step / max(elapsed, 1e-9), 3),
        "final_loss": running, "losses": losses, "hardware": hardware_summary(),
        "torch": torch.__version__, "data_width_tokens": dataset.width,
        "composer_captions": json.loads((data_dir / "meta.json").read_text()).get("composer", False),
    }
    (out_dir / "training.json").write_text(json.dumps(stats, indent=2) + "\n")
    from generation.embedded import model_card

    model_card.write(out_dir)
    log(f"done: {step} steps in {elapsed:.0f}s, loss {running:.4f}; weights in {out_dir}")
    return stats


def hardware_summary() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, no GPU"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps (default 20000, which the time budget cuts short on a CPU; 3 with --tiny)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default 2)")
    parser.add_argument("--max-minutes", type=float, default=None, help="training time budget in minutes (default 105: with about 4 min of data, inside the 2-hour bar)")
    parser.add_argument("--tiny", action="store_true", help="a tiny model and data set, for tests")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    parser.add_argument("--out", type=Path, default=None, help=f"weights folder (default {WEIGHTS_DIR})")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--ckpt-dir", type=Path, default=None)


def config_from_options(options: dict) -> TrainConfig:
    cfg = TrainConfig.tiny_config(options.get("steps") or 3) if options.get("tiny") else TrainConfig()
    for name in ("steps", "batch_size", "lr", "seed", "max_minutes", "threads"):
        if options.get(name) is not None:
            setattr(cfg, name, options[name])
    return cfg


def run(options: dict, log=print) -> dict:
    cfg = config_from_options(options)
    out = options.get("out") or (VAR_DIR / "weights-tiny" if cfg.tiny else WEIGHTS_DIR)
    if cfg.tiny and out.exists():
        shutil.rmtree(out)
    return train(cfg, out_dir=out, data_dir=options.get("data_dir"), ckpt_dir=options.get("ckpt_dir"),
                 resume=bool(options.get("resume")), log=log)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    run(vars(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
