"""Any diffusers checkpoint in a local folder (SD 1.5, SDXL, SD3, FLUX, ...).

Text-to-image through `AutoPipelineForText2Image`; image-to-image and inpainting through
`from_pipe`, so the three share one copy of the weights. CUDA with fp16/bf16 and SDPA when
a GPU is present, float32 on the CPU. Loading never touches the network.
"""

from __future__ import annotations

import json
import threading
from functools import cache
from pathlib import Path

import PIL.Image
import torch

from generation.backends import (
    Backend,
    GenerationInterrupted,
    GenerationRequest,
    Limits,
    ModelUnavailable,
    StepCallback,
    sampler_label,
)


def _native_size(path: Path) -> int:
    """The checkpoint's training resolution, from its configs."""
    index = json.loads((path / "model_index.json").read_text())
    name = index.get("_class_name", "")
    if "XL" in name or "StableDiffusion3" in name or "Flux" in name:
        return 1024
    vae_cfg = path / "vae" / "config.json"
    if vae_cfg.exists():
        sample = json.loads(vae_cfg.read_text()).get("sample_size")
        if isinstance(sample, int) and sample >= 256:
            return sample
    return 512


@cache
def checkpoint_limits(name: str) -> Limits:
    path = Path(name)
    if not (path / "model_index.json").exists():
        raise ModelUnavailable(
            f"GENERATION_MODEL={name!r} is not a local diffusers checkpoint folder (no model_index.json); "
            "models are never downloaded."
        )
    native = _native_size(path)
    step = 64
    sides = [s for s in range(native // 2, native * 2 + 1, step) if s % 64 == 0]
    sizes = tuple((w, h) for w in sides for h in sides if 0.5 <= w / h <= 2)
    token_limit = 77
    tok_cfg = path / "tokenizer" / "tokenizer_config.json"
    if tok_cfg.exists():
        token_limit = int(json.loads(tok_cfg.read_text()).get("model_max_length", 77) or 77)
        if token_limit > 4096:
            token_limit = 77
    return Limits(sizes=sizes, default_size=(native, native), steps=(1, 150), default_steps=30,
                  guidance=(0.0, 20.0), default_guidance=7.0, token_limit=token_limit, max_images=4)


class DiffusersBackend(Backend):
    sampler = "default"

    def __init__(self, name: str):
        from diffusers import (
            AutoPipelineForImage2Image,
            AutoPipelineForInpainting,
            AutoPipelineForText2Image,
        )

        self.name = name
        self.limits = checkpoint_limits(name)
        if torch.cuda.is_available():
            self.device = "cuda"
            self.dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:
            self.device, self.dtype = "cpu", torch.float32
        try:
            self.text2img = AutoPipelineForText2Image.from_pretrained(
                name, torch_dtype=self.dtype, local_files_only=True
            ).to(self.device)
        except (OSError, ValueError) as exc:
            raise ModelUnavailable(f"Could not load the checkpoint at {name}: {exc}") from exc
        # SDPA is the default attention processor in recent diffusers and PyTorch 2.
        self.text2img.set_progress_bar_config(disable=True)
        self._lock = threading.Lock()
        self._img2img = None
        self._inpaint = None
        self._auto = (AutoPipelineForImage2Image, AutoPipelineForInpainting)
        self.sampler = sampler_label(self.text2img.scheduler)

    def _pipe_for(self, mode: str):
        with self._lock:
            if mode == "variation":
                if self._img2img is None:
                    self._img2img = self._auto[0].from_pipe(self.text2img)
                return self._img2img
            if mode in ("edit", "outpaint"):
                if self._inpaint is None:
                    self._inpaint = self._auto[1].from_pipe(self.text2img)
                return self._inpaint
            return self.text2img

    def generate(self, request: GenerationRequest, *, on_step: StepCallback) -> list[PIL.Image.Image]:
        pipe = self._pipe_for(request.mode)
        generator = torch.Generator(self.device).manual_seed(request.seed)
        total = request.steps
        interrupted = {"flag": False}

        def callback(p, step, timestep, kwargs):
            if on_step(step + 1, total):
                interrupted["flag"] = True
                p._interrupt = True
            return kwargs

        kwargs = dict(prompt=request.prompt, negative_prompt=request.negative_prompt or None,
                      num_inference_steps=request.steps, guidance_scale=request.guidance,
                      num_images_per_prompt=request.num_images, generator=generator,
                      callback_on_step_end=callback)
        if request.mode == "text2img":
            kwargs.update(width=request.width, height=request.height)
        elif request.mode == "variation":
            kwargs.update(image=request.image, strength=request.strength or 0.6)
        else:
            kwargs.update(image=request.image, mask_image=request.mask, width=request.width,
                          height=request.height, strength=1.0)
        images = pipe(**kwargs).images
        if interrupted["flag"]:
            raise GenerationInterrupted()
        return list(images)
