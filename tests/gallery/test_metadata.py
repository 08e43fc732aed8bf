"""Importing another tool's recipe from an image. Every fixture is built here with Pillow
from the documented formats, so no binary file lives in the repository."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from gallery.metadata import (
    ImportedRecipe,
    MetadataError,
    a1111_parse,
    atelier_parse,
    comfyui_parse,
    invokeai_parse,
    metadata_read,
)

EXIF_IFD = 0x8769
USER_COMMENT = 0x9286

A1111_TEXT = (
    "a lighthouse on a cliff,\n"
    "stormy sea, (dramatic light:1.2)\n"
    "Negative prompt: blurry, lowres\n"
    "watermark\n"
    "Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 3141592653, "
    'Size: 832x1216, Model hash: 31e35c80fc, Model: sd_xl_base_1.0, Lora hashes: "add_detail: '
    '7c6bad76eb54, film: 00aa11", Version: v1.10.1'
)


def _reopen(image: Image.Image, fmt: str, **save) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    buffer.seek(0)
    decoded = Image.open(buffer)
    decoded.load()
    return decoded


def png_with(**chunks: str) -> Image.Image:
    info = PngInfo()
    for key, value in chunks.items():
        info.add_itxt(key, value)
    return _reopen(Image.new("RGB", (8, 8)), "PNG", pnginfo=info)


def with_user_comment(fmt: str, comment: bytes) -> Image.Image:
    exif = Image.Exif()
    exif.get_ifd(EXIF_IFD)[USER_COMMENT] = comment
    return _reopen(Image.new("RGB", (8, 8)), fmt, exif=exif)


def assert_a1111_example(recipe: ImportedRecipe) -> None:
    assert recipe.tool == "automatic1111"
    assert recipe.prompt == "a lighthouse on a cliff,\nstormy sea, (dramatic light:1.2)"
    assert recipe.negative_prompt == "blurry, lowres\nwatermark"
    assert (recipe.steps, recipe.sampler, recipe.cfg_scale) == (28, "DPM++ 2M", 6.5)
    assert (recipe.seed, recipe.width, recipe.height) == (3141592653, 832, 1216)
    assert recipe.model == "sd_xl_base_1.0"
    assert recipe.extra == {
        "Schedule type": "Karras",
        "Model hash": "31e35c80fc",
        "Lora hashes": "add_detail: 7c6bad76eb54, film: 00aa11",
        "Version": "v1.10.1",
    }


# -- AUTOMATIC1111 ------------------------------------------------------------------------


def test_a1111_parameters_chunk_in_png():
    assert_a1111_example(metadata_read(png_with(parameters=A1111_TEXT)))


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
@pytest.mark.parametrize("codec", ["utf-16-be", "utf-16-le"])
def test_a1111_user_comment_in_jpeg_and_webp(fmt, codec):
    image = with_user_comment(fmt, b"UNICODE\0" + A1111_TEXT.encode(codec))
    assert_a1111_example(metadata_read(image))


def test_a1111_user_comment_with_ascii_header():
    image = with_user_comment("JPEG", b"ASCII\0\0\0" + A1111_TEXT.encode("ascii"))
    assert_a1111_example(metadata_read(image))


def test_a1111_user_comment_keeps_non_latin_prompt():
    text = "灯台と嵐の海\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512"
    recipe = metadata_read(with_user_comment("WEBP", b"UNICODE\0" + text.encode("utf-16-be")))
    assert recipe.prompt == "灯台と嵐の海"
    assert recipe.sampler == "Euler a"


def test_a1111_quoted_value_keeps_escaped_quotes_and_commas():
    recipe = a1111_parse('a cat\nSteps: 20, Note: "say \\"hi\\", then: leave", Seed: 5')
    assert recipe.extra == {"Note": 'say "hi", then: leave'}
    assert recipe.seed == 5


def test_a1111_prompt_only_parameters_chunk_is_still_a_prompt():
    recipe = metadata_read(png_with(parameters="a red fox in the snow\nstyle: watercolor"))
    assert recipe.tool == "automatic1111"
    assert recipe.prompt == "a red fox in the snow\nstyle: watercolor"
    assert recipe.steps is None
    assert recipe.extra == {}


def test_a_plain_camera_user_comment_is_no_metadata():
    image = with_user_comment("JPEG", b"ASCII\0\0\0" + b"Holiday in Lisbon")
    with pytest.raises(MetadataError) as caught:
        metadata_read(image)
    assert caught.value.code == "no_metadata"


def test_a1111_settings_line_without_negative_prompt():
    recipe = a1111_parse("a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 512x768")
    assert (recipe.prompt, recipe.negative_prompt) == ("a cat", "")
    assert (recipe.width, recipe.height) == (512, 768)


@pytest.mark.parametrize(
    ("settings_line", "field_name"),
    [
        ("Steps: 0, Seed: 1", "steps"),
        ("Steps: 5000, Seed: 1", "steps"),
        ("Steps: twenty, Seed: 1", "steps"),
        ("Steps: 20, Seed: 1.5", "seed"),
        ("Steps: 20, Seed: -3", "seed"),
        ("Steps: 20, Size: 0x512", "width"),
        ("Steps: 20, Size: large", "size"),
        ("Steps: 20, CFG scale: nan", "cfg_scale"),
    ],
)
def test_a1111_absurd_values_are_malformed(settings_line, field_name):
    with pytest.raises(MetadataError) as caught:
        a1111_parse(f"a cat\n{settings_line}")
    assert caught.value.code == "malformed_metadata"
    assert caught.value.status == 400
    assert caught.value.details["field"] == field_name
    assert field_name in caught.value.message


def test_text_longer_than_the_cap_is_malformed():
    with pytest.raises(MetadataError) as caught:
        a1111_parse("x" * 10_001 + "\nSteps: 20, Seed: 1")
    assert caught.value.details["field"] == "prompt"
    assert a1111_parse("x" * 10_000 + "\nSteps: 20, Seed: 1").prompt == "x" * 10_000


def test_nul_bytes_are_stripped():
    recipe = a1111_parse("a c\0at\nNegative prompt: do\0g\nSteps: 20, Sampler: Eu\0ler")
    assert (recipe.prompt, recipe.negative_prompt, recipe.sampler) == ("a cat", "dog", "Euler")


# -- the round trip -----------------------------------------------------------------------

# Prompt text as people write it, without the colon that could make its last line look
# like a settings line (A1111 itself could not tell those apart either).
_free_text = st.text(
    alphabet=st.sampled_from("abcxyz ABZ0129,.()[]!?'\"-_é灯\n"), min_size=1, max_size=80
).map(lambda text: "\n".join(line.rstrip() for line in text.strip().split("\n")))
# A value A1111 writes unquoted but that starts and ends with a quote reads back as JSON
# (A1111's own reader does the same): the format cannot carry it, so it is left out.
_sampler = (
    st.text(alphabet=st.sampled_from("abEuler +2M,:\"'"), min_size=1, max_size=20)
    .map(str.strip)
    .filter(lambda value: value and not (value[0] == value[-1] == '"'))
)


def _a1111_quote(value: str) -> str:
    # How A1111 writes a value: as a JSON string when it holds a comma, colon or newline.
    return json.dumps(value, ensure_ascii=False) if any(c in value for c in ",:\n") else value


@settings(max_examples=300, deadline=None)
@given(
    prompt=_free_text.filter(bool),
    negative=_free_text,
    steps=st.integers(1, 1000),
    seed=st.integers(0, 2**64 - 1),
    width=st.integers(1, 65_535),
    height=st.integers(1, 65_535),
    sampler=_sampler,
)
def test_a1111_layout_round_trips(prompt, negative, steps, seed, width, height, sampler):
    lines = [prompt]
    if negative:
        lines.append(f"Negative prompt: {negative}")
    lines.append(f"Steps: {steps}, Sampler: {_a1111_quote(sampler)}, Seed: {seed}, Size: {width}x{height}")
    recipe = a1111_parse("\n".join(lines))
    assert recipe.prompt == prompt
    assert recipe.negative_prompt == negative
    assert (recipe.steps, recipe.seed, recipe.width, recipe.height) == (steps, seed, width, height)
    assert recipe.sampler == sampler


# -- ComfyUI ------------------------------------------------------------------------------


def comfy_graph() -> dict:
    """txt2img with a hires-fix second pass, two LoRAs and the prompt in a primitive."""
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "juggernautXL_v9.safetensors"}},
        "10": {"class_type": "LoraLoader",
               "inputs": {"model": ["4", 0], "clip": ["4", 1], "lora_name": "add_detail.safetensors",
                          "strength_model": 0.8, "strength_clip": 0.7}},
        "11": {"class_type": "LoraLoaderModelOnly",
               "inputs": {"model": ["10", 0], "lora_name": "film_grain.safetensors", "strength_model": 0.5}},
        "20": {"class_type": "PrimitiveString", "inputs": {"value": "a lighthouse on a cliff, stormy sea"}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": ["20", 0], "clip": ["10", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry, lowres", "clip": ["10", 1]}},
        "21": {"class_type": "PrimitiveInt", "inputs": {"value": 987654321}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 832, "height": 1216, "batch_size": 1}},
        "3": {"class_type": "KSampler",
              "inputs": {"model": ["11", 0], "positive": ["6", 0], "negative": ["7", 0],
                         "latent_image": ["5", 0], "seed": ["21", 0], "steps": 30, "cfg": 5.5,
                         "sampler_name": "dpmpp_2m", "scheduler": "karras", "denoise": 1.0}},
        "12": {"class_type": "LatentUpscale",
               "inputs": {"samples": ["3", 0], "width": 1248, "height": 1824,
                          "upscale_method": "nearest-exact", "crop": "disabled"}},
        "2": {"class_type": "KSampler",
              "inputs": {"model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0],
                         "latent_image": ["12", 0], "seed": 1, "steps": 12, "cfg": 4.0,
                         "sampler_name": "euler", "scheduler": "normal", "denoise": 0.45}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["2", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": "ComfyUI"}},
    }


def test_comfyui_graph_through_lora_loaders_and_a_primitive():
    image = png_with(prompt=json.dumps(comfy_graph()), workflow=json.dumps({"nodes": [], "links": []}))
    recipe = metadata_read(image)
    assert recipe.tool == "comfyui"
    assert recipe.prompt == "a lighthouse on a cliff, stormy sea"
    assert recipe.negative_prompt == "blurry, lowres"
    # the first pass, which starts from the empty latent, is the recipe
    assert (recipe.steps, recipe.cfg_scale, recipe.sampler) == (30, 5.5, "dpmpp_2m")
    assert (recipe.seed, recipe.width, recipe.height) == (987654321, 832, 1216)
    assert recipe.model == "juggernautXL_v9.safetensors"
    assert recipe.extra["scheduler"] == "karras"
    assert [lora["name"] for lora in recipe.extra["loras"]] == ["add_detail.safetensors", "film_grain.safetensors"]
    assert recipe.extra["loras"][0]["strength_model"] == 0.8


def test_comfyui_sampler_custom_advanced_reads_its_parts():
    graph = {
        "1": {"class_type": "UNETLoader", "inputs": {"unet_name": "flux1-dev.safetensors"}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red fox"}},
        "3": {"class_type": "BasicGuider", "inputs": {"model": ["1", 0], "conditioning": ["2", 0]}},
        "4": {"class_type": "RandomNoise", "inputs": {"noise_seed": 77}},
        "5": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
        "6": {"class_type": "BasicScheduler",
              "inputs": {"model": ["1", 0], "scheduler": "simple", "steps": 20, "denoise": 1.0}},
        "7": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 1024, "height": 768, "batch_size": 1}},
        "8": {"class_type": "SamplerCustomAdvanced",
              "inputs": {"noise": ["4", 0], "guider": ["3", 0], "sampler": ["5", 0],
                         "sigmas": ["6", 0], "latent_image": ["7", 0]}},
    }
    recipe = comfyui_parse(json.dumps(graph), None)
    assert (recipe.prompt, recipe.negative_prompt) == ("a red fox", "")
    assert (recipe.seed, recipe.steps, recipe.sampler) == (77, 20, "euler")
    assert (recipe.width, recipe.height, recipe.model) == (1024, 768, "flux1-dev.safetensors")
    assert recipe.cfg_scale is None
    assert recipe.extra["scheduler"] == "simple"


def test_comfyui_missing_pieces_fall_back_to_none():
    graph = {"3": {"class_type": "KSampler",
                   "inputs": {"positive": ["99", 0], "negative": ["7", 0], "seed": ["98", 0]}},
             "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "ugly"}}}
    recipe = comfyui_parse(json.dumps(graph), None)
    assert (recipe.prompt, recipe.negative_prompt) == ("", "ugly")
    assert (recipe.seed, recipe.steps, recipe.width, recipe.model) == (None, None, None, None)


def test_comfyui_text_missing_from_the_api_graph_comes_from_the_workflow():
    graph = comfy_graph()
    del graph["7"]["inputs"]["text"]
    workflow = {"nodes": [{"id": 7, "type": "CLIPTextEncode", "widgets_values": ["jpeg artifacts"]}]}
    assert comfyui_parse(json.dumps(graph), json.dumps(workflow)).negative_prompt == "jpeg artifacts"


def test_comfyui_links_in_loops_end():
    graph = {
        "1": {"class_type": "KSampler",
              "inputs": {"model": ["2", 0], "positive": ["3", 0], "negative": ["4", 0], "latent_image": ["5", 0]}},
        "2": {"class_type": "LoraLoader", "inputs": {"model": ["2", 0], "lora_name": "loop.safetensors"}},
        "3": {"class_type": "ConditioningCombine", "inputs": {"conditioning_1": ["3", 0], "conditioning_2": ["3", 0]}},
        "4": {"class_type": "CLIPTextEncode", "inputs": {"text": ["6", 0]}},
        "5": {"class_type": "RepeatLatentBatch", "inputs": {"samples": ["5", 0]}},
        "6": {"class_type": "StringLoop", "inputs": {"value": ["6", 0], "text": ["6", 0]}},
    }
    recipe = comfyui_parse(json.dumps(graph), json.dumps({"nodes": "not a list"}))
    assert (recipe.prompt, recipe.negative_prompt, recipe.model, recipe.width) == ("", "", None, None)
    assert recipe.extra["loras"] == [{"name": "loop.safetensors"}]


@pytest.mark.parametrize("prompt_chunk", ["{not json", "[1, 2]", "a cat sitting"])
def test_comfyui_prompt_chunk_that_is_not_a_json_object_is_malformed(prompt_chunk):
    with pytest.raises(MetadataError) as caught:
        metadata_read(png_with(prompt=prompt_chunk))
    assert caught.value.code == "malformed_metadata"
    assert caught.value.details["field"] == "prompt"


# -- InvokeAI -----------------------------------------------------------------------------


def test_invokeai_metadata_chunk():
    metadata = {
        "generation_mode": "sdxl_txt2img", "positive_prompt": "an astronaut riding a horse",
        "negative_prompt": "cartoon", "width": 1024, "height": 1024, "seed": 2024, "steps": 35,
        "cfg_scale": 7.5, "scheduler": "dpmpp_2m_k", "rand_device": "cpu",
        "model": {"key": "abc", "hash": "blake3:00", "name": "Juggernaut XL v9", "base": "sdxl"},
        "loras": [{"model": {"name": "detail"}, "weight": 0.75}], "app_version": "5.4.2",
    }
    recipe = metadata_read(png_with(invokeai_metadata=json.dumps(metadata)))
    assert recipe.tool == "invokeai"
    assert (recipe.prompt, recipe.negative_prompt) == ("an astronaut riding a horse", "cartoon")
    assert (recipe.steps, recipe.sampler, recipe.cfg_scale, recipe.seed) == (35, "dpmpp_2m_k", 7.5, 2024)
    assert (recipe.width, recipe.height, recipe.model) == (1024, 1024, "Juggernaut XL v9")
    assert recipe.extra["loras"] == [{"model": {"name": "detail"}, "weight": 0.75}]
    assert recipe.extra["app_version"] == "5.4.2"
    assert "positive_prompt" not in recipe.extra


def test_invokeai_3_model_name_key():
    recipe = invokeai_parse(json.dumps({"positive_prompt": "a cat",
                                        "model": {"model_name": "sd-1.5", "base_model": "sd-1"}}))
    assert recipe.model == "sd-1.5"


def test_invokeai_legacy_sd_metadata_chunk():
    legacy = {
        "model": "stable diffusion", "model_weights": "stable-diffusion-1.5", "app_version": "2.2.5",
        "image": {"prompt": [{"prompt": "a watercolor fox", "weight": 1.0}], "steps": 50,
                  "cfg_scale": 7.5, "seed": 1234, "width": 512, "height": 768, "sampler": "k_lms",
                  "type": "txt2img", "seamless": False},
    }
    recipe = metadata_read(png_with(**{"sd-metadata": json.dumps(legacy)}))
    assert recipe.tool == "invokeai"
    assert recipe.prompt == "a watercolor fox"
    assert (recipe.steps, recipe.cfg_scale, recipe.seed, recipe.sampler) == (50, 7.5, 1234, "k_lms")
    assert (recipe.width, recipe.height, recipe.model) == (512, 768, "stable-diffusion-1.5")
    assert recipe.extra["type"] == "txt2img"
    assert recipe.extra["app_version"] == "2.2.5"


def test_invokeai_legacy_prompt_as_a_string():
    recipe = invokeai_parse(json.dumps({"image": {"prompt": "a fox", "seed": 1}}))
    assert (recipe.prompt, recipe.seed) == ("a fox", 1)


def test_invokeai_steps_over_the_limit_is_malformed():
    with pytest.raises(MetadataError) as caught:
        invokeai_parse(json.dumps({"positive_prompt": "a cat", "steps": 1001}))
    assert caught.value.details["field"] == "steps"


def test_invokeai_bad_json_is_malformed():
    with pytest.raises(MetadataError) as caught:
        metadata_read(png_with(invokeai_metadata='{"positive_prompt": "a cat",'))
    assert caught.value.code == "malformed_metadata"


# -- Atelier ------------------------------------------------------------------------------

ATELIER_CHUNK = json.dumps({"version": 1, "recipe": {
    "prompt": "a quiet harbour at dawn, oil painting", "negative_prompt": "people",
    "steps": 24, "sampler": "dpmpp_2m", "guidance": 4.5, "seed": 99, "width": 768, "height": 512,
    "model": "atelier-tiny", "modifiers": [{"slug": "oil-painting", "weight": 1.0}],
}})


def test_atelier_chunk_wins_over_every_other_writer():
    image = png_with(atelier=ATELIER_CHUNK, parameters=A1111_TEXT,
                     invokeai_metadata=json.dumps({"positive_prompt": "not this"}),
                     prompt=json.dumps(comfy_graph()))
    recipe = metadata_read(image)
    assert recipe.tool == "atelier"
    assert (recipe.prompt, recipe.negative_prompt) == ("a quiet harbour at dawn, oil painting", "people")
    assert (recipe.steps, recipe.sampler, recipe.cfg_scale, recipe.seed) == (24, "dpmpp_2m", 4.5, 99)
    assert (recipe.width, recipe.height, recipe.model) == (768, 512, "atelier-tiny")
    assert recipe.extra == {"modifiers": [{"slug": "oil-painting", "weight": 1.0}]}


def test_invokeai_wins_over_comfyui_and_a1111():
    image = png_with(parameters=A1111_TEXT, prompt=json.dumps(comfy_graph()),
                     invokeai_metadata=json.dumps({"positive_prompt": "this one"}))
    assert metadata_read(image).tool == "invokeai"


def test_comfyui_wins_over_a1111():
    image = png_with(parameters=A1111_TEXT, prompt=json.dumps(comfy_graph()))
    assert metadata_read(image).tool == "comfyui"


def test_atelier_cfg_scale_key_and_unknown_version():
    recipe = atelier_parse(json.dumps({"version": 1, "recipe": {"prompt": "a cat", "cfg_scale": 7}}))
    assert recipe.cfg_scale == 7.0
    with pytest.raises(MetadataError) as caught:
        atelier_parse(json.dumps({"version": 2, "recipe": {"prompt": "a cat"}}))
    assert caught.value.code == "malformed_metadata"


@pytest.mark.parametrize(
    ("recipe", "field_name"),
    [({"prompt": "a cat", "seed": "abc"}, "seed"), ({"prompt": "a cat", "seed": 1.5}, "seed"),
     ({"prompt": "a cat", "width": -512}, "width"), ({"prompt": "a cat", "steps": 0}, "steps"),
     ({"prompt": ["a", "cat"]}, "prompt"), ({"prompt": "a cat", "model": "m" * 10_001}, "model"),
     ({"prompt": "a cat", "note": "n" * 10_001}, "extra.note"),
     ({"prompt": "a cat", "nested": json.loads("[" * 40 + "1" + "]" * 40)}, "extra.nested")],
)
def test_atelier_absurd_values_name_the_field(recipe, field_name):
    with pytest.raises(MetadataError) as caught:
        atelier_parse(json.dumps({"version": 1, "recipe": recipe}))
    assert caught.value.details["field"] == field_name


# -- nothing to read ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_no_metadata(fmt):
    with pytest.raises(MetadataError) as caught:
        metadata_read(_reopen(Image.new("RGB", (8, 8)), fmt))
    assert caught.value.code == "no_metadata"
    assert caught.value.message == "no generation metadata found"
    assert caught.value.status == 400


def test_an_empty_parameters_chunk_is_no_metadata():
    with pytest.raises(MetadataError) as caught:
        metadata_read(png_with(parameters="  \n"))
    assert caught.value.code == "no_metadata"


def test_texts_lists_every_free_text_for_the_policy_check():
    recipe = a1111_parse("a cat\nNegative prompt: a dog\nSteps: 20, Sampler: Euler, Comment: hello there")
    assert recipe.texts()[:2] == ["a cat", "a dog"]
    assert "hello there" in recipe.texts()
    assert "" not in recipe.texts()


def test_atelier_own_png_reads_back_through_both_chunks():
    from generation.imagefiles import ImageMetadata, a1111_parameters, png_encode

    meta = ImageMetadata(
        prompt="a harbour, at dawn: mist", negative_prompt="people", steps=24, sampler="DPM++ 2M",
        cfg_scale=4.5, seed=99, width=768, height=512, model="atelier-tiny",
        recipe={"prompt": "a harbour, at dawn: mist", "negative_prompt": "people", "steps": 24,
                "sampler": "DPM++ 2M", "guidance": 4.5, "seed": 99, "width": 768, "height": 512,
                "model": "atelier-tiny", "modifiers": ["dawn"]},
    )
    image = Image.open(io.BytesIO(png_encode(Image.new("RGB", (8, 8)), metadata=meta)))
    image.load()
    from_chunk, from_text = metadata_read(image), a1111_parse(a1111_parameters(meta))
    assert from_chunk.tool == "atelier"
    for recipe in (from_chunk, from_text):
        assert (recipe.prompt, recipe.negative_prompt, recipe.steps, recipe.sampler) == (
            "a harbour, at dawn: mist", "people", 24, "DPM++ 2M")
        assert (recipe.cfg_scale, recipe.seed, recipe.width, recipe.height, recipe.model) == (
            4.5, 99, 768, 512, "atelier-tiny")
