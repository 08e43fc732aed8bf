"""Read the generation recipe that another tool embedded in an uploaded image.

Four writers are understood, tried in this order (the first one present wins):

- Atelier's own `atelier` PNG chunk: ``{"version": 1, "recipe": {...}}``.
- InvokeAI: the `invokeai_metadata` chunk (3.x and later), or `sd-metadata` (2.x).
- ComfyUI: the `prompt` chunk (the API graph), with `workflow` (the UI graph) as a
  fallback for text the API graph does not carry.
- AUTOMATIC1111 (and the tools that copy its layout): the `parameters` PNG chunk, or in
  a JPEG/WebP the EXIF UserComment.

Everything here handles untrusted input: every number is range-checked and every text is
capped, so a recipe that comes out is one the rest of Atelier can show and reuse. One
validation step (`_recipe`) does that for all four readers, so they only find values.
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from prompts.errors import AtelierError

__all__ = [
    "MAX_TEXT_LENGTH",
    "ImportedRecipe",
    "MetadataError",
    "a1111_parse",
    "atelier_parse",
    "comfyui_parse",
    "invokeai_parse",
    "metadata_read",
]

MAX_TEXT_LENGTH = 10_000
MAX_STEPS = 1000
MAX_SIDE = 65_535  # the largest side JPEG can encode; anything bigger is not a real recipe
MAX_CFG_SCALE = 100.0
MAX_SEED = 2**64 - 1  # ComfyUI's widest seed
# A raw chunk (a ComfyUI workflow can be a few hundred KB) is refused past this size
# before any parsing; Pillow already stops PNG text chunks at 1 MB.
_MAX_CHUNK_LENGTH = 2_000_000
_MAX_EXTRA_DEPTH = 32
_NO_METADATA = "no generation metadata found"

_CHUNK_NAMES = ("atelier", "invokeai_metadata", "sd-metadata", "prompt", "workflow", "parameters")
_EXIF_IFD = 0x8769
_USER_COMMENT = 0x9286


@dataclass(frozen=True)
class ImportedRecipe:
    tool: str  # "automatic1111" | "comfyui" | "invokeai" | "atelier"
    prompt: str
    negative_prompt: str = ""
    steps: int | None = None
    sampler: str | None = None
    cfg_scale: float | None = None
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    model: str | None = None
    extra: dict = field(default_factory=dict)  # other key/values, kept verbatim

    def texts(self) -> list[str]:
        """Every non-empty text the recipe carries, prompt and negative prompt first.

        Sampler, model and everything in `extra` (keys included) come from the same
        untrusted file and may be shown on a page, so the content policy sees them too.
        """
        found = [self.prompt, self.negative_prompt, self.sampler or "", self.model or ""]
        found.extend(_strings(self.extra))
        return [text for text in found if text]


class MetadataError(AtelierError):
    status = 400
    code = "malformed_metadata"


def _malformed(field_name: str, reason: str) -> MetadataError:
    return MetadataError(f"malformed metadata: {field_name} {reason}",
                         code="malformed_metadata", details={"field": field_name})


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


# -- validation, shared by every reader ---------------------------------------------------


def _text(field_name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _malformed(field_name, "must be text")
    text = str(value).replace("\0", "")
    if len(text) > MAX_TEXT_LENGTH:
        raise _malformed(field_name, f"is longer than {MAX_TEXT_LENGTH} characters")
    return text


def _integer(field_name: str, value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise _malformed(field_name, "must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d{1,30}", value.strip()):
        return int(value.strip())
    raise _malformed(field_name, "must be an integer")


def _bounded(field_name: str, value: Any, low: int, high: int) -> int | None:
    number = _integer(field_name, value)
    if number is not None and not low <= number <= high:
        raise _malformed(field_name, f"must be between {low} and {high}, not {number}")
    return number


def _cfg_scale(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError(value)
        number = float(value)
    except ValueError:
        raise _malformed("cfg_scale", "must be a number") from None
    if not math.isfinite(number) or not 0 <= number <= MAX_CFG_SCALE:
        raise _malformed("cfg_scale", f"must be between 0 and {MAX_CFG_SCALE:g}, not {value}")
    return number


def _extra(value: Any, field_name: str, depth: int = 0) -> Any:
    if depth > _MAX_EXTRA_DEPTH:
        raise _malformed(field_name, f"is nested more than {_MAX_EXTRA_DEPTH} levels deep")
    if isinstance(value, str):
        return _text(field_name, value)
    if isinstance(value, dict):
        return {_text(field_name, key) if isinstance(key, str) else key:
                _extra(item, f"{field_name}.{key}", depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_extra(item, field_name, depth + 1) for item in value]
    return value


def _recipe(tool: str, *, prompt: Any, negative_prompt: Any = "", steps: Any = None,
            sampler: Any = None, cfg_scale: Any = None, seed: Any = None, width: Any = None,
            height: Any = None, model: Any = None, extra: dict | None = None) -> ImportedRecipe:
    return ImportedRecipe(
        tool=tool,
        prompt=_text("prompt", prompt).strip(),
        negative_prompt=_text("negative_prompt", negative_prompt).strip(),
        steps=_bounded("steps", steps, 1, MAX_STEPS),
        sampler=_text("sampler", sampler).strip() or None,
        cfg_scale=_cfg_scale(cfg_scale),
        seed=_bounded("seed", seed, 0, MAX_SEED),
        width=_bounded("width", width, 1, MAX_SIDE),
        height=_bounded("height", height, 1, MAX_SIDE),
        model=_text("model", model).strip() or None,
        extra={key: _extra(value, f"extra.{key}") for key, value in (extra or {}).items()},
    )


def _json_object(field_name: str, text: str) -> dict:
    if len(text) > _MAX_CHUNK_LENGTH:
        raise _malformed(field_name, f"is longer than {_MAX_CHUNK_LENGTH} characters")
    try:
        data = json.loads(text.replace("\0", ""))
    except (ValueError, RecursionError):
        raise _malformed(field_name, "is not valid JSON") from None
    if not isinstance(data, dict):
        raise _malformed(field_name, "must be a JSON object")
    return data


# -- the image ----------------------------------------------------------------------------


def metadata_read(image: Image.Image) -> ImportedRecipe:
    """The recipe embedded in an already decoded image, from the first writer found."""
    chunks = _text_chunks(image)
    if "atelier" in chunks:
        return atelier_parse(chunks["atelier"])
    if "invokeai_metadata" in chunks:
        return invokeai_parse(chunks["invokeai_metadata"])
    if "sd-metadata" in chunks:
        return invokeai_parse(chunks["sd-metadata"])
    if "prompt" in chunks:
        return comfyui_parse(chunks["prompt"], chunks.get("workflow"))
    parameters = chunks.get("parameters", "")
    if parameters.strip():
        # A `parameters` chunk is A1111's by name, so even bare prompt text counts.
        return a1111_parse(parameters)
    comment = _user_comment(image)
    # A UserComment can be any camera's note: only A1111's settings line makes it a recipe.
    if comment is not None and _a1111_split(comment)[2] is not None:
        return a1111_parse(comment)
    raise MetadataError(_NO_METADATA, code="no_metadata")


def _text_chunks(image: Image.Image) -> dict[str, str]:
    merged: dict = dict(image.info)
    # PngImageFile.text also holds the chunks written after the pixel data.
    png_text = getattr(image, "text", None)
    if isinstance(png_text, dict):
        merged.update(png_text)
    chunks: dict[str, str] = {}
    for name in _CHUNK_NAMES:
        value = merged.get(name)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str):
            chunks[name] = value
    return chunks


def _user_comment(image: Image.Image) -> str | None:
    try:
        exif = image.getexif()
        raw = exif.get_ifd(_EXIF_IFD).get(_USER_COMMENT) or exif.get(_USER_COMMENT)
    except (OSError, ValueError, SyntaxError, struct.error):
        return None  # unreadable EXIF is no metadata, not an error in the upload
    if isinstance(raw, str):
        return raw
    if not isinstance(raw, bytes | bytearray):
        return None
    header, body = bytes(raw[:8]), bytes(raw[8:])
    if header == b"UNICODE\0":
        return _utf16_decode(body)
    if header in (b"ASCII\0\0\0", b"\0" * 8):
        # Some writers put UTF-8 under the ASCII header; UTF-8 reads true ASCII unchanged.
        return body.decode("utf-8", "replace")
    return None


def _utf16_decode(body: bytes) -> str:
    if body[:2] == b"\xfe\xff":
        return body[2:].decode("utf-16-be", "replace")
    if body[:2] == b"\xff\xfe":
        return body[2:].decode("utf-16-le", "replace")
    # Without a byte-order mark, mostly-Latin text shows its order in the zero bytes:
    # "a" is 00 61 in big-endian, 61 00 in little-endian. Big-endian (what A1111 writes
    # through piexif) wins a tie, e.g. for text with no Latin letters at all.
    body = body[: len(body) - len(body) % 2]
    even_zeros, odd_zeros = body[0::2].count(0), body[1::2].count(0)
    return body.decode("utf-16-le" if odd_zeros > even_zeros else "utf-16-be", "replace")


# -- AUTOMATIC1111 ------------------------------------------------------------------------

_NEGATIVE_PREFIX = "Negative prompt:"
# One `Key: value` item of the settings line; a value with a comma, colon or newline is
# written as a JSON string, so the quoted form is tried first.
_PAIR_RE = re.compile(r'\s*(\w[\w \-/]*?):\s*("(?:\\.|[^\\"])*"|[^,]*?)\s*(?:,|$)')
_CORE_KEYS = {"steps", "sampler", "cfg scale", "seed", "size"}
_SIZE_RE = re.compile(r"\s*(\d{1,9})\s*x\s*(\d{1,9})\s*")


def a1111_parse(text: str) -> ImportedRecipe:
    """An A1111 infotext: prompt lines, a `Negative prompt:` part, a settings line."""
    if len(text) > _MAX_CHUNK_LENGTH:
        raise _malformed("parameters", f"is longer than {_MAX_CHUNK_LENGTH} characters")
    prompt, negative, pairs = _a1111_split(text.replace("\0", ""))
    values: dict[str, Any] = {}
    extra: dict[str, str] = {}
    for key, value in pairs or []:
        name = key.casefold()
        if name == "size":
            match = _SIZE_RE.fullmatch(value)
            if not match:
                raise _malformed("size", f"must look like 512x768, not {value[:40]!r}")
            values["width"], values["height"] = match.group(1), match.group(2)
        elif name in ("steps", "sampler", "seed", "model"):
            values[name] = value
        elif name == "cfg scale":
            values["cfg_scale"] = value
        else:
            extra[key] = value
    return _recipe("automatic1111", prompt=prompt, negative_prompt=negative, extra=extra, **values)


def _a1111_split(text: str) -> tuple[str, str, list[tuple[str, str]] | None]:
    """(prompt, negative prompt, settings pairs or None when there is no settings line)."""
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    pairs = _a1111_pairs(lines[-1]) if lines else None
    if pairs is not None:
        lines.pop()
    prompt_lines: list[str] = []
    negative_lines: list[str] | None = None
    for line in lines:
        if negative_lines is None and line.lstrip().startswith(_NEGATIVE_PREFIX):
            negative_lines = [line.lstrip()[len(_NEGATIVE_PREFIX):]]
        elif negative_lines is None:
            prompt_lines.append(line)
        else:
            negative_lines.append(line)
    return "\n".join(prompt_lines), "\n".join(negative_lines or []), pairs


def _a1111_pairs(line: str) -> list[tuple[str, str]] | None:
    """The settings line's pairs, or None when the line is prompt text instead.

    A line counts only if it is made of `Key: value` items from end to end and names
    Steps (A1111 always writes it) or two of the core settings, so a last prompt line
    like "style: oil painting" stays prompt.
    """
    line = line.strip()
    pairs: list[tuple[str, str]] = []
    position = 0
    while position < len(line):
        match = _PAIR_RE.match(line, position)
        if match is None or match.end() == position:
            return None
        key, value = match.group(1).strip(), match.group(2)
        if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
            value = _json_string(value)
        pairs.append((key, value))
        position = match.end()
    names = {key.casefold() for key, _ in pairs}
    if "steps" in names or len(names & _CORE_KEYS) >= 2:
        return pairs
    return None


def _json_string(quoted: str) -> str:
    try:
        value = json.loads(quoted)
    except ValueError:
        return quoted  # not JSON after all: keep the text as written
    return value if isinstance(value, str) else quoted


# -- ComfyUI ------------------------------------------------------------------------------

_SAMPLER_TYPES = frozenset({"KSampler", "KSamplerAdvanced", "SamplerCustom", "SamplerCustomAdvanced"})
# SamplerCustomAdvanced keeps its settings on the nodes plugged into these inputs.
_SAMPLER_PARTS = ("guider", "sigmas", "sampler", "noise")
_TEXT_INPUTS = ("text", "text_g", "text_l", "prompt")
_STRING_INPUTS = ("value", "string", "text", "prompt", "text_g", "text_l")
_PRIMITIVE_INPUTS = ("value", "seed", "noise_seed", "int", "float", "number", "string", "text")
_CHECKPOINT_INPUTS = ("ckpt_name", "unet_name", "model_name")
_LATENT_INPUTS = ("latent_image", "samples", "latent")
_MAX_DEPTH = 64  # no walk along links goes deeper or visits more nodes than this


def comfyui_parse(prompt_json: str, workflow_json: str | None) -> ImportedRecipe:
    """The recipe of a ComfyUI API graph (the `prompt` chunk).

    The sampler node is the centre: its inputs are followed, link by link, to the prompt
    texts, the checkpoint (through LoRA and other model patches), and the empty latent
    that sets the size. When a hires-fix graph has several samplers, the one that starts
    from an empty latent (the first pass) is the recipe. Missing pieces are left None.
    """
    nodes = _json_object("prompt", prompt_json)
    widgets: dict[str, list] = {}
    if workflow_json is not None:
        ui_nodes = _json_object("workflow", workflow_json).get("nodes")
        for node in ui_nodes if isinstance(ui_nodes, list) else []:
            if isinstance(node, dict) and isinstance(node.get("widgets_values"), list):
                widgets[str(node.get("id"))] = node["widgets_values"]
    return _ComfyGraph(nodes, widgets).recipe()


def _node_order(node_id: str) -> tuple[int, int, str]:
    return (0, int(node_id), "") if node_id.isdigit() else (1, 0, node_id)


class _ComfyGraph:
    def __init__(self, nodes: dict, widgets: dict[str, list]) -> None:
        self.nodes = {str(key): node for key, node in nodes.items() if isinstance(node, dict)}
        self.widgets = widgets

    # graph access

    @staticmethod
    def class_type(node: dict) -> str:
        value = node.get("class_type")
        return value if isinstance(value, str) else ""

    @staticmethod
    def inputs(node: dict) -> dict:
        value = node.get("inputs")
        return value if isinstance(value, dict) else {}

    @staticmethod
    def is_link(value: Any) -> bool:
        return (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str | int)
                and not isinstance(value[0], bool) and isinstance(value[1], int))

    def target(self, value: Any) -> tuple[str, dict, int] | None:
        """(node id, node, output index) when `value` is a link `[node_id, index]`."""
        if self.is_link(value):
            node = self.nodes.get(str(value[0]))
            if node is not None:
                return str(value[0]), node, value[1]
        return None

    def is_sampler(self, node: dict) -> bool:
        kind = self.class_type(node)
        inputs = self.inputs(node)
        return kind in _SAMPLER_TYPES or ("Sampler" in kind and ("positive" in inputs or "guider" in inputs))

    def setting(self, sampler: dict, name: str) -> Any:
        """A sampler input as written, looked up on its guider/sigmas/... parts too."""
        inputs = self.inputs(sampler)
        if name in inputs:
            return inputs[name]
        for part in _SAMPLER_PARTS:
            linked = self.target(inputs.get(part))
            if linked is not None and name in self.inputs(linked[1]):
                return self.inputs(linked[1])[name]
        return None

    def literal(self, value: Any, depth: int = 0) -> Any:
        """A literal input value, following links to primitive nodes (PrimitiveInt...)."""
        if not self.is_link(value):
            return value
        linked = self.target(value)
        if linked is None or depth > _MAX_DEPTH:
            return None  # a link to a node the graph does not have, or a loop
        inputs = self.inputs(linked[1])
        for name in _PRIMITIVE_INPUTS:
            if name in inputs:
                return self.literal(inputs[name], depth + 1)
        literals = [item for item in inputs.values() if not self.is_link(item)]
        return literals[0] if len(literals) == 1 else None

    def string(self, value: Any, seen: set[str]) -> str | None:
        if isinstance(value, str):
            return value
        linked = self.target(value)
        if linked is None or linked[0] in seen or len(seen) > _MAX_DEPTH:
            return None
        seen.add(linked[0])
        inputs = self.inputs(linked[1])
        for name in _STRING_INPUTS:
            if name in inputs:
                found = self.string(inputs[name], seen)
                if found is not None:
                    return found
        literals = [item for item in inputs.values() if isinstance(item, str)]
        return literals[0] if len(literals) == 1 else None

    # the recipe

    def recipe(self) -> ImportedRecipe:
        samplers = [(node_id, node) for node_id, node in self.nodes.items() if self.is_sampler(node)]
        if not samplers:
            return _recipe("comfyui", prompt="")
        samplers.sort(key=lambda item: (not self.from_empty_latent(item[1]), _node_order(item[0])))
        sampler = samplers[0][1]

        positive = self.setting(sampler, "positive")
        if positive is None:
            positive = self.setting(sampler, "conditioning")  # BasicGuider
        loras: list[dict] = []
        model = self.model(self.setting(sampler, "model"), loras)
        width, height = self.size(self.inputs(sampler).get("latent_image"))
        seed = self.setting(sampler, "seed")
        if seed is None:
            seed = self.setting(sampler, "noise_seed")

        extra: dict[str, Any] = {}
        for name in ("scheduler", "denoise"):
            value = self.literal(self.setting(sampler, name))
            if value is not None:
                extra[name] = value
        if loras:
            extra["loras"] = loras[::-1]  # found from the sampler outwards; list them as applied
        return _recipe(
            "comfyui",
            prompt="\n".join(self.texts(positive)),
            negative_prompt="\n".join(self.texts(self.setting(sampler, "negative"))),
            steps=self.literal(self.setting(sampler, "steps")),
            sampler=self.literal(self.setting(sampler, "sampler_name")),
            cfg_scale=self.literal(self.setting(sampler, "cfg")),
            seed=self.literal(seed),
            width=width,
            height=height,
            model=model,
            extra=extra,
        )

    def texts(self, value: Any, seen: set[str] | None = None) -> list[str]:
        """The prompt texts behind a conditioning link, through combine/ControlNet nodes.

        `seen` holds the nodes already walked: a node reached twice (a cycle, or both
        inputs of a combine node from one encoder) is read once.
        """
        seen = set() if seen is None else seen
        linked = self.target(value)
        if linked is None or linked[0] in seen or len(seen) > _MAX_DEPTH:
            return []
        node_id, node, output = linked
        seen.add(node_id)
        inputs = self.inputs(node)
        found: list[str] = []
        for name in _TEXT_INPUTS:
            text = self.string(inputs.get(name), set(seen))
            if text is not None and text not in found:
                found.append(text)
        if found:
            return found
        if "positive" in inputs and "negative" in inputs:
            # e.g. ControlNetApplyAdvanced: output 0 is the positive side, 1 the negative.
            return self.texts(inputs["negative" if output == 1 else "positive"], seen)
        for name, item in inputs.items():
            if name.startswith("conditioning"):
                found.extend(text for text in self.texts(item, seen) if text not in found)
        if not found and "TextEncode" in self.class_type(node):
            # The UI graph keeps a text encoder's text as its first widget.
            found = [item for item in self.widgets.get(node_id, []) if isinstance(item, str)][:1]
        return found

    def model(self, value: Any, loras: list[dict], seen: set[str] | None = None) -> str | None:
        seen = set() if seen is None else seen
        linked = self.target(value)
        if linked is None or linked[0] in seen or len(seen) > _MAX_DEPTH:
            return None
        seen.add(linked[0])
        inputs = self.inputs(linked[1])
        for name in _CHECKPOINT_INPUTS:
            name_value = self.literal(inputs.get(name))
            if isinstance(name_value, str):
                return name_value
        lora = self.literal(inputs.get("lora_name"))
        if isinstance(lora, str):
            entry: dict[str, Any] = {"name": lora}
            for strength in ("strength_model", "strength_clip"):
                if strength in inputs:
                    entry[strength] = self.literal(inputs[strength])
            loras.append(entry)
        return self.model(inputs.get("model"), loras, seen)

    def latent_chain(self, value: Any) -> Iterator[dict]:
        """The nodes a latent input comes through, stopping at another sampler."""
        for _ in range(_MAX_DEPTH):
            linked = self.target(value)
            if linked is None or self.is_sampler(linked[1]):
                return
            yield linked[1]
            inputs = self.inputs(linked[1])
            value = next((inputs[name] for name in _LATENT_INPUTS if name in inputs), None)

    def from_empty_latent(self, sampler: dict) -> bool:
        return any("Empty" in self.class_type(node) and "Latent" in self.class_type(node)
                   for node in self.latent_chain(self.inputs(sampler).get("latent_image")))

    def size(self, value: Any) -> tuple[Any, Any]:
        for node in self.latent_chain(value):
            inputs = self.inputs(node)
            if "width" in inputs and "height" in inputs:
                return self.literal(inputs["width"]), self.literal(inputs["height"])
        return None, None


# -- InvokeAI -----------------------------------------------------------------------------

_INVOKEAI_FIELDS = frozenset({"positive_prompt", "negative_prompt", "seed", "steps", "cfg_scale",
                              "scheduler", "width", "height", "model"})
_INVOKEAI_LEGACY_FIELDS = frozenset({"prompt", "seed", "steps", "cfg_scale", "sampler", "width", "height"})


def invokeai_parse(metadata_json: str) -> ImportedRecipe:
    """InvokeAI's `invokeai_metadata` (3.x+) or its older `sd-metadata` (2.x) JSON."""
    data = _json_object("invokeai_metadata", metadata_json)
    if isinstance(data.get("image"), dict):
        return _invokeai_legacy(data)
    model = data.get("model")
    if isinstance(model, dict):
        model = model.get("model_name") or model.get("name")
    return _recipe(
        "invokeai",
        prompt=data.get("positive_prompt"),
        negative_prompt=data.get("negative_prompt"),
        steps=data.get("steps"),
        sampler=data.get("scheduler"),  # InvokeAI calls its samplers schedulers
        cfg_scale=data.get("cfg_scale"),
        seed=data.get("seed"),
        width=data.get("width"),
        height=data.get("height"),
        model=model,
        extra={key: value for key, value in data.items() if key not in _INVOKEAI_FIELDS},
    )


def _invokeai_legacy(data: dict) -> ImportedRecipe:
    image = data["image"]
    extra = {key: value for key, value in data.items() if key not in ("image", "model_weights")}
    extra.update((key, value) for key, value in image.items() if key not in _INVOKEAI_LEGACY_FIELDS)
    return _recipe(
        "invokeai",
        prompt=_invokeai_legacy_prompt(image.get("prompt")),
        steps=image.get("steps"),
        sampler=image.get("sampler"),
        cfg_scale=image.get("cfg_scale"),
        seed=image.get("seed"),
        width=image.get("width"),
        height=image.get("height"),
        model=data.get("model_weights"),
        extra=extra,
    )


def _invokeai_legacy_prompt(value: Any) -> Any:
    """2.x wrote a str or a list of weighted parts; several parts use its `text:weight` blend."""
    if not isinstance(value, list):
        return value
    parts = []
    for part in value:
        if not isinstance(part, dict) or not isinstance(part.get("prompt"), str):
            raise _malformed("prompt", "must be text or a list of {prompt, weight}")
        parts.append(part)
    if len(parts) == 1:
        return parts[0]["prompt"]
    return " ".join(f"{part['prompt']}:{part.get('weight', 1)}" for part in parts)


# -- Atelier ------------------------------------------------------------------------------

_ATELIER_FIELDS = frozenset({"prompt", "negative_prompt", "steps", "sampler", "guidance", "cfg_scale",
                             "seed", "width", "height", "model"})


def atelier_parse(chunk: str) -> ImportedRecipe:
    """Atelier's own chunk, ``{"version": 1, "recipe": {...}}``; other recipe keys
    (modifiers, ...) go to `extra`. Settings nested under `params` are read too."""
    data = _json_object("atelier", chunk)
    if data.get("version") != 1:
        raise _malformed("atelier", f"has unsupported version {str(data.get('version'))[:20]!r}")
    recipe = data.get("recipe")
    if not isinstance(recipe, dict):
        raise _malformed("atelier", "has no recipe object")
    params = recipe.get("params") if isinstance(recipe.get("params"), dict) else {}

    def setting(name: str) -> Any:
        return recipe[name] if recipe.get(name) is not None else params.get(name)

    guidance = setting("guidance")
    return _recipe(
        "atelier",
        prompt=recipe.get("prompt"),
        negative_prompt=recipe.get("negative_prompt"),
        steps=setting("steps"),
        sampler=setting("sampler"),
        cfg_scale=guidance if guidance is not None else setting("cfg_scale"),
        seed=setting("seed"),
        width=setting("width"),
        height=setting("height"),
        model=setting("model"),
        extra={key: value for key, value in recipe.items() if key not in _ATELIER_FIELDS},
    )
