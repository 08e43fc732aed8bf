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
    # A ceiling the CPU budget (max_minutes) always reaches first: the run trains for its whole
    # budget at whatever speed the machine has. The shipped run reached 28,391 steps (4.51 it/s,
    # Intel Xeon with AMX); under the old ceiling of 20,000 an AMD EPYC reached 18,145 (2.88 it/s),
    # and those weights scored single object 0.55 / 0.48 against these 0.71 / 0.63 (eval seeds
    # 0 / 1, same machine), so the samples seen, not the ceiling, should end the run.
    steps: int = 40000
    batch_size: int = 16
    lr: float = 8e-4
    warmup: int = 150
    weight_decay: float = 0.01
    ema_decay: float = 0.998
    caption_dropout: float = 0.1
    min_snr_gamma: float = 5.0
    # ("Shipped" in the run notes below: the 18,145-step weights shipped until 2026-12-08.)
    # A floor under that weight. Min-SNR in its v-prediction form weighs the v-loss
    # min(snr, 5) / (snr + 1): 0.20 at t=700, 0.02 at 900 and 0 at 999, so t >= 700 gets 6.4% of
    # the total weight on the cosine schedule; yet re-noising rendered objects and denoising them
    # (`eval_embedded --kind-probe`) showed the shipped weights lose the object's kind there (kept
    # 31/42 from strength 0.5, 22/42 from 0.9), and the sampler's first step, at t=999, runs on an output trained with weight 0.
    # A floor of 0.2 gives t >= 700 15.8% of the weight and t=999 a weight of 0.2; it also lifts
    # the least noisy end (t < 150, weighed 0 to 0.2 by Min-SNR, where the last detail is drawn).
    # Off by default: the 105-min CPU run at 0.2 (2026-12-08, AMD EPYC, 17,623 steps against the
    # shipped run's 18,145) drew worse: single object 0.47, shape 0.46, medium 0.46, mood 0.53,
    # position 0.30 (shipped 0.60 / 0.59 / 0.78 / 0.80 / 0.22), and `eval_embedded --kind-probe`
    # kept fewer kinds from high noise, 16/42 at strength 0.9 against the shipped weights' 22/42.
    # On a second evaluation seed too: single object 0.38, shape 0.34 (shipped 0.48 / 0.46).
    # More weight on high noise does not teach this model to lay the outlines out.
    weight_floor: float = 0.0
    # Per-pixel loss weight on objects (their drawn pixels, dilated by 2 px) against 1 on the
    # background, each image's weights normalised to mean 1. Shapes are a small share of the
    # pixels; a run whose loss fell mostly on backgrounds and textures drew blobbier shapes.
    # Off by default: a 105-min CPU run with 4 (2026-12-07, a slow machine: 9,216 steps against
    # the shipped run's 18,145) scored single object 0.39, medium 0.44, mood 0.40 (shipped 0.60,
    # 0.78, 0.80) and position 0.30 (0.22); not yet compared at an equal step count.
    object_weight: float = 1.0
    num_images: int = 30000
    captions_per_image: int = 2
    seed: int = 0
    threads: int = 2
    tiny: bool = False
    checkpoint_minutes: float = 4.0
    # Where the UNet trains ("cpu", or "cuda" on a GPU machine: bf16 autocast there), the
    # slim MiniLM to encode captions with where the package is missing (data.export_slim_encoder),
    # and the processes that render the scenes (default: `threads`).
    device: str = "cpu"
    variant: str = "base"  # model.VARIANTS
    encoder: str | None = None
    render_workers: int | None = None
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
    """The cached data set, in memory on `device`: uint8 images and fp16 token states. Batches
    are drawn with a numpy generator (the same draws on any device) and gathered there."""

    def __init__(self, root: Path, captions_per_image: int, device: str | torch.device = "cpu",
                 object_masks: bool = False):
        def load(name: str, dtype=None) -> torch.Tensor:
            array = np.load(root / name)
            return torch.from_numpy(array.astype(dtype) if dtype else array).to(self.device)

        self.device = torch.device(device)
        self.images = load("images.npy")
        # Only an object-weighted loss reads them: 4 kB a scene, 0.5 GB on a GPU at 120k scenes.
        self.masks = load("masks.npy") if object_masks else None
        self.states = load("states.npy")
        self.lengths = load("lengths.npy", np.int64)
        self.empty = load("empty.npy").float()
        self.captions_per_image = captions_per_image
        self.width = self.states.shape[1]

    def batch(self, rng: np.random.Generator, size: int, dropout: float):
        idx = rng.integers(0, len(self.images), size)
        cap = idx * self.captions_per_image + rng.integers(0, self.captions_per_image, size)
        drop = rng.random(size) < dropout
        idx, cap, drop = (torch.from_numpy(a).to(self.device) for a in (idx, cap, drop))
        images = self.images[idx].permute(0, 3, 1, 2).float() / 127.5 - 1
        states = self.states[cap].float()
        lengths = self.lengths[cap].clone()
        # A dropped caption becomes the empty prompt: exactly what the pipeline feeds as
        # the unconditional branch of classifier-free guidance.
        states[drop] = 0
        states[drop, : len(self.empty)] = self.empty
        lengths[drop] = len(self.empty)
        mask = (torch.arange(self.width, device=self.device)[None, :] < lengths[:, None]).float()
        return images, states, mask, None if self.masks is None else self.masks[idx]


def pixel_weights(objects: torch.Tensor, object_weight: float) -> torch.Tensor:
    """(B, H, W) object masks -> (B, 1, H, W) loss weights: `object_weight` on objects and
    the 2 px around them (an outline is drawn by both of its sides), 1 elsewhere, mean 1 per image."""
    near = F.max_pool2d(objects[:, None].float(), kernel_size=5, stride=1, padding=2)
    weights = 1 + (object_weight - 1) * near
    return weights / weights.mean((2, 3), keepdim=True)


def _save_checkpoint(path: Path, *, unet, ema, opt, step: int, rng, cfg: TrainConfig, elapsed: float, losses):
    tmp = path.with_suffix(".tmp")
    torch.save({"unet": unet.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "step": step,
                "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state() if torch.device(cfg.device).type == "cuda" else None,
                "config": asdict(cfg), "elapsed": elapsed, "losses": losses}, tmp)
    os.replace(tmp, path)


def export_weights(ema, out_dir: Path) -> None:
    """Write the diffusers folder: model_index.json, unet/, scheduler/ (safetensors)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if next(ema.parameters()).device.type != "cpu":
        ema = copy.deepcopy(ema).to("cpu")
    ema.save_pretrained(out_dir / "unet", safe_serialization=True)
    write_pipeline_files(out_dir)


def write_pipeline_files(out_dir: Path) -> None:
    """The folder's scheduler/ and model_index.json, beside a trained unet/."""
    model.build_sampling_scheduler().save_pretrained(out_dir / "scheduler")
    index = {
        "_class_name": "AtelierPipeline",
        "_diffusers_version": __import__("diffusers").__version__,
        "scheduler": ["diffusers", "DPMSolverMultistepScheduler"],
        "unet": ["diffusers", "UNet2DConditionModel"],
    }
    (out_dir / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")


def train(cfg: TrainConfig, *, out_dir: Path = WEIGHTS_DIR, data_dir: Path | None = None,
          ckpt_dir: Path | None = None, resume: bool = False, data_only: bool = False, log=print) -> dict:
    device = torch.device(cfg.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {cfg.device}: this machine has no CUDA device (torch {torch.__version__})")
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    if data_dir is None:
        data_dir = VAR_DIR / ("train-data-tiny" if cfg.tiny else "train-data")
    ckpt_dir = ckpt_dir or VAR_DIR / f"train-ckpt{'-tiny' if cfg.tiny else ''}"
    ckpt_dir.mkdir(parents=True, exist_ok=True)

    t_data = time.time()
    workers = cfg.render_workers or (1 if cfg.tiny else cfg.threads)
    data.build_dataset(data_dir, num_images=cfg.num_images, captions_per_image=cfg.captions_per_image,
                       seed=cfg.seed, max_tokens=model.MAX_TOKENS, workers=workers,
                       encoder_dir=Path(cfg.encoder) if cfg.encoder else None, device=cfg.device, log=log)
    data_seconds = time.time() - t_data
    if data_only:
        log(f"data set ready in {data_dir} ({data_seconds:.0f}s)")
        return {"data_dir": str(data_dir), "data_seconds": round(data_seconds)}
    dataset = TrainingSet(data_dir, cfg.captions_per_image, device, object_masks=cfg.object_weight != 1)

    unet = model.build_unet(tiny=cfg.tiny, variant=cfg.variant).to(device, memory_format=torch.channels_last)
    ema = copy.deepcopy(unet).requires_grad_(False)
    noise_scheduler = model.build_noise_scheduler()
    alphas = noise_scheduler.alphas_cumprod
    snr = (alphas / (1 - alphas)).to(device)
    on_gpu = device.type == "cuda"
    torch.backends.cudnn.benchmark = on_gpu  # fixed shapes: let cuDNN pick its fastest convolutions
    bf16 = on_gpu  # mixed precision on a GPU; fp32 (TF32 matmuls) if the first bf16 step fails
    opt = torch.optim.AdamW(unet.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.99),
                            fused=on_gpu or None)
    rng = np.random.default_rng(cfg.seed)
    step, elapsed, losses = 0, 0.0, []
    ckpt_path = ckpt_dir / "last.pt"
    if resume and ckpt_path.exists():
        state = torch.load(ckpt_path, weights_only=False, map_location=device)
        unet.load_state_dict(state["unet"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"].cpu())
        if on_gpu and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"].cpu())
        step, elapsed, losses = state["step"], state["elapsed"], state["losses"]
        log(f"resumed at step {step}")

    n_params = sum(p.numel() for p in unet.parameters())
    log(f"unet: {n_params / 1e6:.2f}M parameters; data: {len(dataset.images)} images, width {dataset.width} tokens")
    unet.train()
    last_ckpt = time.time()
    start = time.time() - elapsed
    bar = tqdm(total=cfg.steps, initial=step, desc="train", mininterval=20 if not cfg.tiny else 0.1,
               dynamic_ncols=False, ncols=100)
    running, window = None, []
    ema_params, unet_params = list(ema.parameters()), list(unet.parameters())
    while step < cfg.steps:
        images, states, mask, objects = dataset.batch(rng, cfg.batch_size, cfg.caption_dropout)
        noise = torch.randn_like(images)
        t = torch.randint(0, model.NUM_TRAIN_TIMESTEPS, (cfg.batch_size,), device=device)
        noisy = noise_scheduler.add_noise(images, noise, t)
        target = noise_scheduler.get_velocity(images, noise, t)
        try:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                pred = model.denoise(unet, noisy, t, states, mask).float()
        except RuntimeError as error:
            if not bf16 or step > 0:
                raise
            log(f"bf16 autocast failed ({error}); training in fp32 with TF32 matmuls instead")
            bf16 = False
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
            continue
        weight = loss_weights(snr[t], cfg.min_snr_gamma, cfg.weight_floor)
        error = F.mse_loss(pred, target, reduction="none")
        if objects is not None:
            error = error * pixel_weights(objects, cfg.object_weight)
        loss = (error.mean((1, 2, 3)) * weight).mean()
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, cfg, time.time() - start)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        decay = min(cfg.ema_decay, (1 + step) / (10 + step))
        with torch.no_grad():
            torch._foreach_lerp_(ema_params, unet_params, 1 - decay)
        step += 1
        # On a GPU, reading the loss waits for the step to finish: read it every tenth step.
        window.append(loss.detach())
        if not on_gpu or cfg.tiny or step % 10 == 0:
            for value in torch.stack(window).tolist():
                running = value if running is None else 0.98 * running + 0.02 * value
            window.clear()
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
        "final_loss": running, "losses": losses,
        "hardware": hardware_summary(device, "bf16 autocast" if bf16 else "fp32, TF32 matmuls"),
        "torch": torch.__version__, "data_width_tokens": dataset.width,
        "composer_captions": json.loads((data_dir / "meta.json").read_text()).get("composer", False),
    }
    (out_dir / "training.json").write_text(json.dumps(stats, indent=2) + "\n")
    from generation.embedded import model_card

    model_card.write(out_dir)
    log(f"done: {step} steps in {elapsed:.0f}s, loss {running:.4f}; weights in {out_dir}")
    return stats


def loss_weights(snr: torch.Tensor, gamma: float, floor: float = 0.0) -> torch.Tensor:
    """Each sample's v-loss weight from its timestep's signal-to-noise ratio: Min-SNR-gamma
    (Hang et al. 2023) in its v-prediction form, min(snr, gamma) / (snr + 1), which spends the
    little compute we have on the timesteps that shape the image; never under `floor`."""
    return (snr.clamp(max=gamma) / (snr + 1)).clamp(min=floor)


def hardware_summary(device: torch.device | str = "cpu", precision: str = "bf16 autocast") -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    if torch.device(device).type == "cuda":
        return f"{torch.cuda.get_device_name(device)} ({precision}), {cpu} with {os.cpu_count()} cores"
    return f"{cpu}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, no GPU"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=int, default=None, help=f"optimizer steps (default {TrainConfig.steps}, a ceiling the {TrainConfig.max_minutes:g}-min budget "
                        "reaches first on a 2-core CPU; 3 with --tiny)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default 2)")
    parser.add_argument("--device", default=None, help="cpu (default) or cuda: where the UNet trains and captions are encoded")
    parser.add_argument("--variant", choices=sorted(model.VARIANTS), default=None,
                        help="UNet architecture (default base, the shipped one)")
    parser.add_argument("--data-only", action="store_true", help="build the data set and stop")
    parser.add_argument("--encoder", type=Path, default=None,
                        help="a slim MiniLM folder (export_slim_encoder) for machines without the package")
    parser.add_argument("--render-workers", type=int, default=None, help="processes rendering the scenes (default: --threads)")
    parser.add_argument("--num-images", type=int, default=None, help="scenes in the data set (default 30000)")
    parser.add_argument("--warmup", type=int, default=None, help="warmup steps (default 150)")
    parser.add_argument("--ema-decay", type=float, default=None, help="EMA decay (default 0.998)")
    parser.add_argument("--object-weight", type=float, default=None,
                        help="loss weight on object pixels against 1 on the background (default 1: every pixel alike)")
    parser.add_argument("--weight-floor", type=float, default=None,
                        help="floor under the Min-SNR loss weight of each timestep (default 0: Min-SNR as published)")
    parser.add_argument("--max-minutes", type=float, default=None, help="training time budget in minutes (default 105: with about 4 min of data, inside the 2-hour bar)")
    parser.add_argument("--tiny", action="store_true", help="a tiny model and data set, for tests")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    parser.add_argument("--out", type=Path, default=None, help=f"weights folder (default {WEIGHTS_DIR})")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--ckpt-dir", type=Path, default=None)


def config_from_options(options: dict) -> TrainConfig:
    cfg = TrainConfig.tiny_config(options.get("steps") or 3) if options.get("tiny") else TrainConfig()
    for name in ("steps", "batch_size", "lr", "seed", "max_minutes", "threads", "device", "render_workers",
                 "num_images", "warmup", "ema_decay", "variant", "object_weight", "weight_floor"):
        if options.get(name) is not None:
            setattr(cfg, name, options[name])
    if options.get("encoder") is not None:
        cfg.encoder = str(options["encoder"])
    if cfg.object_weight <= 0:
        raise SystemExit(f"--object-weight must be positive (1 weighs objects like the background); got {cfg.object_weight}")
    if not 0 <= cfg.weight_floor <= 1:
        raise SystemExit(f"--weight-floor must be between 0 and 1 (a v-loss weight; Min-SNR's peak is gamma / (gamma + 1), 0.83); got {cfg.weight_floor}")
    return cfg


def run(options: dict, log=print) -> dict:
    cfg = config_from_options(options)
    out = options.get("out") or (VAR_DIR / "weights-tiny" if cfg.tiny else WEIGHTS_DIR)
    if cfg.tiny and out.exists():
        shutil.rmtree(out)
    return train(cfg, out_dir=out, data_dir=options.get("data_dir"), ckpt_dir=options.get("ckpt_dir"),
                 resume=bool(options.get("resume")), data_only=bool(options.get("data_only")), log=log)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    run(vars(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
