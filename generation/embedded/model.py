"""Configuration of the embedded model: a small pixel-space UNet conditioned on MiniLM.

The UNet sees images through a 4x4 pixel-unshuffle (64x64x3 -> 16x16x48): the cost of a
diffusion step on a CPU is dominated by the highest resolution, and our bold world's
shapes survive folding each 4x4 block into channels (each position of the UNet predicts
its 4x4 block of pixels). On this 2-core CPU a training step at batch 64 measured 1.9 s
at 4x4 against 5.1 s for the first weights' 2x2 layout, so a 2-hour budget sees about
three times the samples. Weights saved with another patch size still load: the patch
is read from the UNet's input channels. Text reaches the
UNet twice: every token's MiniLM state through cross-attention at 8x8, and their mean
(the sentence embedding) added to the timestep embedding, which steers every block.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, DPMSolverMultistepScheduler, UNet2DConditionModel

NATIVE_SIZE = 64
SUPPORTED_SIZES = (64, 96, 128)  # sides; the UNet is convolutional, 64 is what it was trained at
PATCH = 4
MAX_TOKENS = 64
TEXT_DIM = 384
NUM_TRAIN_TIMESTEPS = 1000
PREDICTION_TYPE = "v_prediction"
BETA_SCHEDULE = "squaredcos_cap_v2"
# Sampling defaults for the shipped weights: the site, `generate`, the evaluation, the benchmark
# and the samples sheet use these unless told otherwise.
DEFAULT_STEPS = 25
DEFAULT_GUIDANCE = 4.0

_D, _CD, _U, _CU = "DownBlock2D", "CrossAttnDownBlock2D", "UpBlock2D", "CrossAttnUpBlock2D"


# ("Shipped base" in the run notes below means the 18,145-step base weights shipped until 2026-12-08;
# the base weights since then, 28,391 steps, score single object 0.71 / 0.63 on eval seeds 0 / 1.)
# Architectures besides the shipped one ("base"), for runs that can afford to train them (a
# GPU run trains two side by side: device_train.sh). Inference cost, timed on this 2-core CPU
# (UNet alone, 25 steps at batch 8, 2026-11-27): base 3.19 s; "wide" 3.03 s with 8.71M
# parameters (34.8 MB of fp32 safetensors, under the 40 MB the repo allows) against 6.38M.
# The CPU recipe with "wide" (105 min, 17,817 steps, 2026-11-27) ended at a lower training loss
# (0.0144 against base's 0.0194) and cleaner backgrounds but drew worse shapes on the held-out
# evaluation (single object 0.46 vs 0.60, shape 0.38 vs 0.59, counting 0.575 vs 0.600), so
# base still ships. Like the head-width run noted in unet_config, it had fewer, wider heads:
# the likelier cause than the channels (not separated: that needs another run).
VARIANTS = {
    "base": {},
    # 64/112/160 channels, heads 16 dims wide: more width at 16x16, where shapes are drawn.
    "wide": {"block_out_channels": (64, 112, 160), "attention_head_dim": (4, 7, 10)},
    # 64 channels at 16x16 only, base's 32 heads elsewhere: tests the 16x16 capacity with the
    # heads held. 6.75M parameters; on this CPU sampling +8% and a training step +7% over base.
    # CPU run (2026-12-07, Intel Xeon, 85 min, 15,387 steps, final loss 0.0165 against base's
    # 0.0194): single object 0.53, shape 0.51, position 0.20, attribution 0.00, medium 0.70,
    # mood 0.77 (shipped base: 0.60 / 0.59 / 0.22 / 0.01 / 0.78 / 0.80). On one set of 168
    # single-object prompts (12 per kind) both drew 50-51% of the kinds right, failing the same
    # thin ones (star, tree, sun, flower, fish). Not shipped: like "wide", a lower loss, no
    # better shapes, so capacity at 16x16 is not what limits them.
    "broad": {"block_out_channels": (64, 96, 144)},
    # A 2x2 pixel-unshuffle (32x32x12) with a cheap 32-channel level at 32x32 above base's three:
    # each UNet position draws a 2x2 block, so star points, sun rays and fins (1-3 px, inside one
    # 4x4 block of base) are drawn across positions, not inside one. Cross-attention stays at 8x8
    # and 4x4. 6.32M parameters; a training step at batch 16 measured 2.45 it/s against base's
    # 3.20 in the same micro-benchmark on this CPU (Intel Xeon, 2026-12-07): 1.3x the cost;
    # sampling 4 images at 25 steps 1.58 s against base's 1.40 s (1.13x, inside the 2 s bar).
    # CPU run (2026-12-07, AMD EPYC, 105 min, 13,604 steps at ~2.2 it/s, final loss 0.0125 against
    # base's 0.0194): clean backgrounds without the 4x4 grain, but shapes drawn as blobs. Held-out
    # single object 0.45, shape 0.42, counting 0.69, position 0.20, attribution 0.02, medium 0.74,
    # style 0.94, mood 0.80; seen control single 0.46 (shipped base 0.60 / 0.59 / 0.60 / 0.22 /
    # 0.01 / 0.78 / 0.97 / 0.80). Star 1/20, tree 0/8, flower 0/13, sun 2/16 drawn right. Not
    # shipped: the fourth change that lowers the loss and draws shapes no better, so neither the
    # 16x16 capacity nor the 4x4 patch is what fails the thin kinds; the kind word is not steering
    # the outline (colour, from the same caption, scores 0.96).
    "p2": {"sample_size": NATIVE_SIZE // 2, "in_channels": 12, "out_channels": 12,
           "block_out_channels": (32, 48, 96, 144), "down_block_types": (_D, _D, _CD, _CD),
           "up_block_types": (_CU, _CU, _U, _U)},
}


def unet_config(*, tiny: bool = False, variant: str = "base") -> dict:
    if variant not in VARIANTS:
        raise ValueError(f"unknown UNet variant {variant!r}; known: {', '.join(VARIANTS)}")
    channels = (16, 32, 32) if tiny else (48, 96, 144)
    config = dict(
        sample_size=NATIVE_SIZE // PATCH,
        in_channels=3 * PATCH * PATCH,
        out_channels=3 * PATCH * PATCH,
        block_out_channels=channels,
        # Cross-attention at 8x8 and 4x4: at 16x16 it tripled the step's cost on a CPU.
        down_block_types=(_D, _CD, _CD),
        up_block_types=(_CU, _CU, _U),
        layers_per_block=1,
        norm_num_groups=16,
        cross_attention_dim=TEXT_DIM,
        # diffusers reads `attention_head_dim` as the number of heads (a naming quirk it keeps for
        # old checkpoints): these weights run 32 heads of 3-4 dimensions. A 105-min run with
        # heads 32-36 wide (3 and 4 heads, 2026-11-27) sampled 34% faster and placed pairs better
        # (position 0.31 vs 0.22) but drew worse shapes (single object 0.44 vs 0.60, counting
        # 0.575 vs 0.600), so it did not ship; the MODEL_CARD's head width reads this config.
        attention_head_dim=8 if tiny else 32,
        class_embed_type="projection",
        projection_class_embeddings_input_dim=TEXT_DIM,
    )
    if not tiny:
        config.update(VARIANTS[variant])
    return config


def build_unet(*, tiny: bool = False, variant: str = "base") -> UNet2DConditionModel:
    return UNet2DConditionModel(**unet_config(tiny=tiny, variant=variant))


def build_noise_scheduler() -> DDPMScheduler:
    """The forward process used in training."""
    return DDPMScheduler(
        num_train_timesteps=NUM_TRAIN_TIMESTEPS, beta_schedule=BETA_SCHEDULE,
        prediction_type=PREDICTION_TYPE, clip_sample=False,
    )


def build_sampling_scheduler() -> DPMSolverMultistepScheduler:
    """The sampler shipped with the weights (same noise schedule as training)."""
    return DPMSolverMultistepScheduler(
        num_train_timesteps=NUM_TRAIN_TIMESTEPS, beta_schedule=BETA_SCHEDULE,
        prediction_type=PREDICTION_TYPE, algorithm_type="dpmsolver++", solver_order=2,
        lambda_min_clipped=-5.1, thresholding=False, timestep_spacing="trailing",
    )


def patch_of(unet: UNet2DConditionModel) -> int:
    """The pixel-unshuffle factor these weights were trained with (3·p² input channels)."""
    return round((unet.config.in_channels / 3) ** 0.5)


def to_unet_space(images: torch.Tensor, patch: int = PATCH) -> torch.Tensor:
    """(B, 3, H, W) in [-1, 1] -> (B, 3·p², H/p, W/p), channels-last (mkldnn's convolutions
    ran ~20% faster that way on this CPU)."""
    return F.pixel_unshuffle(images, patch).contiguous(memory_format=torch.channels_last)


def from_unet_space(x: torch.Tensor, patch: int = PATCH) -> torch.Tensor:
    return F.pixel_shuffle(x.contiguous(), patch)


def pooled_text(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of the token states over real tokens: MiniLM's sentence embedding."""
    m = mask.to(states.dtype).unsqueeze(-1)
    return (states * m).sum(1) / m.sum(1).clamp(min=1)


def denoise(unet: UNet2DConditionModel, x: torch.Tensor, t: torch.Tensor, states: torch.Tensor,
            mask: torch.Tensor) -> torch.Tensor:
    """The UNet's prediction for images `x` (B, 3, H, W) at timesteps `t`."""
    patch = patch_of(unet)
    out = unet(
        to_unet_space(x, patch), t, encoder_hidden_states=states,
        encoder_attention_mask=mask, class_labels=pooled_text(states, mask),
    ).sample
    return from_unet_space(out, patch)
