"""The embedded model: Atelier's own small pipeline, on the CPU, shipped in the repo."""

from __future__ import annotations

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
from generation.embedded import model as embedded_model

WEIGHTS = Path(__file__).resolve().parent.parent / "embedded" / "weights"
_SIDES = embedded_model.SUPPORTED_SIZES

EMBEDDED_LIMITS = Limits(
    sizes=tuple((w, h) for w in _SIDES for h in _SIDES),
    default_size=(embedded_model.NATIVE_SIZE, embedded_model.NATIVE_SIZE),
    steps=(1, 100),
    default_steps=embedded_model.DEFAULT_STEPS,
    guidance=(0.0, 20.0),
    default_guidance=embedded_model.DEFAULT_GUIDANCE,
    token_limit=embedded_model.MAX_TOKENS,
    max_images=4,
)


class EmbeddedBackend(Backend):
    name = "embedded"
    limits = EMBEDDED_LIMITS

    def __init__(self, weights: Path = WEIGHTS):
        self.name = "embedded" if weights == WEIGHTS else str(weights)
        if not (weights / "model_index.json").exists():
            raise ModelUnavailable(f"The embedded model's weights are missing from {weights}.")
        from generation.embedded.pipeline import AtelierPipeline

        torch.set_num_threads(max(1, torch.get_num_threads()))
        self.pipe = AtelierPipeline.from_pretrained(str(weights))
        self.pipe.set_progress_bar_config(disable=True)
        self.sampler = sampler_label(self.pipe.scheduler)  # DPM++ 2M for the shipped weights

    def generate(self, request: GenerationRequest, *, on_step: StepCallback) -> list[PIL.Image.Image]:
        generator = torch.Generator("cpu").manual_seed(request.seed)
        total = request.steps

        def callback(pipe, step, timestep, kwargs):
            if on_step(step + 1, total):
                pipe._interrupt = True
            return kwargs

        kwargs = dict(
            prompt=request.prompt,
            negative_prompt=request.negative_prompt or None,
            width=request.width,
            height=request.height,
            num_inference_steps=request.steps,
            guidance_scale=request.guidance,
            num_images_per_prompt=request.num_images,
            generator=generator,
            callback_on_step_end=callback,
        )
        if request.mode == "variation":
            kwargs.update(image=request.image, strength=request.strength or 0.6)
        elif request.mode in ("edit", "outpaint"):
            kwargs.update(image=request.image, mask_image=request.mask, strength=1.0)
        output = self.pipe(**kwargs)
        if getattr(output, "interrupted", False):
            raise GenerationInterrupted()
        return list(output.images)
