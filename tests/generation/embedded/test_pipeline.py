"""The shipped weights, through AtelierPipeline: determinism, modes, sizes, errors, and
two behaviours a user would notice (colour and medium follow the prompt)."""

import colorsys

import numpy as np
import pytest
import torch
from PIL import Image

from generation.embedded.pipeline import outpaint_canvas

STEPS = 12


def _seed(n=7):
    return torch.Generator().manual_seed(n)


def test_same_seed_gives_identical_pixels(pipe):
    a = pipe("a yellow star in the night sky", num_inference_steps=STEPS, generator=_seed()).images[0]
    b = pipe("a yellow star in the night sky", num_inference_steps=STEPS, generator=_seed()).images[0]
    assert np.array_equal(np.asarray(a), np.asarray(b))


def test_each_mode_returns_the_right_size(pipe):
    base = pipe("a green tree in a meadow", num_inference_steps=STEPS, num_images_per_prompt=2,
                generator=_seed()).images
    assert [im.size for im in base] == [(64, 64), (64, 64)]
    wide = pipe("a boat at the seaside", width=128, height=96, num_inference_steps=4, generator=_seed()).images[0]
    assert wide.size == (128, 96)
    variation = pipe("a green tree in a meadow", image=base[0], strength=0.5, num_inference_steps=STEPS,
                     generator=_seed()).images[0]
    assert variation.size == (64, 64)
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 64))
    edit = pipe("a red heart in a meadow", image=base[0], mask_image=mask, num_inference_steps=STEPS,
                generator=_seed()).images[0]
    assert edit.size == (64, 64)
    # Outside the mask the source survives exactly.
    assert np.array_equal(np.asarray(edit)[:, 40:], np.asarray(base[0])[:, 40:])
    outpainted = pipe.outpaint("a green tree in a meadow", image=base[0], width=96, height=96,
                               num_inference_steps=STEPS, generator=_seed()).images[0]
    assert outpainted.size == (96, 96)
    assert np.array_equal(np.asarray(outpainted)[16:80, 16:80], np.asarray(base[0]))


def test_outpaint_canvas_marks_only_the_new_border():
    image = Image.new("RGB", (64, 64), (200, 10, 10))
    canvas, mask = outpaint_canvas(image, width=128, height=96, left=0, top=16)
    m = np.asarray(mask)
    assert canvas.size == mask.size == (128, 96)
    assert (m[16:80, :64] == 0).all() and m[:, 64:].min() == 255 and m[:16].min() == 255


def test_unsupported_size_lists_the_supported_ones(pipe):
    with pytest.raises(ValueError, match="64, 96, 128"):
        pipe("a red circle", width=100, height=64)
    assert pipe.limits.sizes == (64, 96, 128)
    assert pipe.limits.max_tokens == 64


def test_mask_of_another_size_is_refused(pipe):
    image = Image.new("RGB", (64, 64), "white")
    with pytest.raises(ValueError, match="mask is 32x32 but the image is 64x64"):
        pipe("a red circle", image=image, mask_image=Image.new("L", (32, 32), 255))


def test_too_long_prompt_reads_only_the_first_64_tokens(pipe):
    long_prompt = "red circle " * 60
    short, _ = pipe.encode_prompt([long_prompt])
    assert short.shape[1] == 64
    first = pipe(long_prompt, num_inference_steps=STEPS, generator=torch.Generator().manual_seed(3)).images[0]
    again = pipe(long_prompt + " and more words", num_inference_steps=STEPS,
                 generator=torch.Generator().manual_seed(3)).images[0]
    assert first.tobytes() == again.tobytes()  # what lies past the limit changes nothing


def test_callback_can_cancel(pipe):
    seen = []

    def stop_after_two(p, step, timestep, kwargs):
        seen.append(step)
        return {"interrupt": step == 1}

    out = pipe("a red circle", num_inference_steps=STEPS, callback_on_step_end=stop_after_two)
    assert seen == [0, 1] and out.interrupted


def _dominant_hue_is_red(image: Image.Image) -> bool:
    a = np.asarray(image.convert("RGB"), float) / 255
    hsv = np.array([colorsys.rgb_to_hsv(*p) for p in a.reshape(-1, 3)])
    vivid = hsv[(hsv[:, 1] > 0.45) & (hsv[:, 2] > 0.3)]
    if len(vivid) < 40:
        return False
    hist = np.bincount((vivid[:, 0] * 12).astype(int) % 12, minlength=12)
    hist[0] += hist[11]  # red wraps around 0
    hist[11] = 0
    return hist.argmax() == 0


def test_a_red_circle_is_red(pipe):
    images = pipe("a red circle", num_images_per_prompt=4, num_inference_steps=20, generator=_seed(11)).images
    assert sum(_dominant_hue_is_red(im) for im in images) >= 3


def test_style_classifier_tells_pixel_art_from_watercolor(pipe):
    from generation.embedded.analyzer import Analyzer

    analyzer = Analyzer.load_shipped()
    among = ("pixel-art", "watercolor")
    pixel = pipe("pixel art of a blue house in a meadow", num_images_per_prompt=4, num_inference_steps=20,
                 generator=_seed(3)).images
    water = pipe("a watercolor painting of a blue house in a meadow", num_images_per_prompt=4,
                 num_inference_steps=20, generator=_seed(3)).images
    right = sum(analyzer.style(im, among) == "pixel-art" for im in pixel) + \
        sum(analyzer.style(im, among) == "watercolor" for im in water)
    assert right >= 7


def test_larger_text_to_image_counts_every_step_once_across_both_passes(pipe):
    seen = []
    out = pipe("a boat at the seaside", width=128, height=96, num_inference_steps=10, generator=_seed(),
               callback_on_step_end=lambda p, step, t, kw: seen.append(step) or kw)
    assert seen == list(range(10)) and not out.interrupted
    assert out.images[0].size == (128, 96)
    assert pipe.base_size(128, 96) == (64, 48) and pipe.base_size(96, 96) == (64, 64)
    assert pipe.base_size(64, 128) == (32, 64) and pipe.base_size(64, 64) is None
    again = pipe("a boat at the seaside", width=128, height=96, num_inference_steps=10, generator=_seed()).images[0]
    assert again.tobytes() == out.images[0].tobytes()


def test_cancel_in_the_first_pass_of_a_larger_image(pipe):
    out = pipe("a boat at the seaside", width=128, height=128, num_inference_steps=10,
               callback_on_step_end=lambda p, step, t, kw: {"interrupt": step == 2})
    assert out.interrupted and out.images[0].size == (128, 128)


def test_upscale_strength_out_of_range_is_refused(pipe):
    with pytest.raises(ValueError, match="upscale_strength must be between 0 and 1"):
        pipe("a red circle", width=128, height=128, upscale_strength=1.5)


def test_a_large_red_circle_is_one_circle_not_a_tiling(pipe):
    """At 128x128 the 64x64 weights, painting directly, repeat the object across the canvas;
    the default paints the scene at 64 and refines it enlarged, so one circle stays one."""
    from generation.embedded.analyzer import Analyzer

    analyzer = Analyzer.load_shipped()

    def red_objects(image):
        small = image.resize((64, 64), Image.Resampling.BOX)
        return sum(d.colour == "red" for d in analyzer.detect(small, "meadow"))

    kw = dict(width=128, height=128, num_images_per_prompt=4, num_inference_steps=20)
    refined = pipe("a red circle in a meadow", generator=_seed(5), **kw).images
    direct = pipe("a red circle in a meadow", generator=_seed(5), upscale_strength=0, **kw).images
    assert sum(red_objects(im) == 1 for im in refined) >= 3
    assert sum(map(red_objects, direct)) > sum(map(red_objects, refined))


def test_kind_probe_counts_the_kinds_kept_through_image_to_image(pipe):
    from generation.embedded import evaluate
    from generation.embedded.analyzer import Analyzer

    report = evaluate.kind_by_strength(pipe, Analyzer.load_shipped(), strengths=(0.2, 1.0),
                                       kinds=("circle", "heart", "square"), colours=("red",), steps=10)
    assert list(report) == ["0.2", "1"] and report["0.2"]["n"] == 3
    assert set(report["0.2"]["per_kind"]) == {"circle", "heart", "square"}
    assert report["0.2"]["kept"] >= 2  # lightly re-noised, the model keeps the outline it is given
    text = evaluate.format_kind_probe(report)
    assert text.splitlines()[1].startswith("0.2") and f"{report['1']['kept']:>3}/3" in text
