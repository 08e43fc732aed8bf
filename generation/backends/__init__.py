"""One interface over every model: the embedded one and any local diffusers checkpoint.

A worker process loads its backend once, lazily, on the first task that needs it (not in
`worker_process_init`, which Celery kills after a few seconds). `GENERATION_MODEL` picks
it: `embedded` (the default) or the path of a diffusers checkpoint folder. Nothing is ever
downloaded: a missing model fails the job with a clear message.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import PIL.Image
from django.conf import settings

from prompts.errors import AtelierError


class ModelUnavailable(AtelierError):
    status = 503
    code = "model_unavailable"


class GenerationInterrupted(Exception):
    """The job was canceled while the pipeline ran."""


@dataclass(frozen=True)
class Limits:
    sizes: tuple[tuple[int, int], ...]  # allowed (width, height)
    default_size: tuple[int, int]
    steps: tuple[int, int]
    default_steps: int
    guidance: tuple[float, float]
    default_guidance: float
    token_limit: int
    max_images: int = 4

    def as_dict(self) -> dict:
        return {
            "sizes": [f"{w}x{h}" for w, h in self.sizes],
            "default_size": f"{self.default_size[0]}x{self.default_size[1]}",
            "steps": list(self.steps),
            "default_steps": self.default_steps,
            "guidance": list(self.guidance),
            "default_guidance": self.default_guidance,
            "token_limit": self.token_limit,
            "max_images": self.max_images,
        }


@dataclass
class GenerationRequest:
    mode: str
    prompt: str
    negative_prompt: str
    seed: int
    width: int
    height: int
    steps: int
    guidance: float
    num_images: int
    strength: float | None = None
    image: PIL.Image.Image | None = None  # prepared source at (width, height)
    mask: PIL.Image.Image | None = None  # "L", 255 = repaint, at (width, height)
    extra: dict = field(default_factory=dict)


# on_step(step, total) -> True to stop (cancel)
StepCallback = Callable[[int, int], bool]


# The names people know from the "parameters" text other tools write, for the schedulers
# diffusers ships; anything else is recorded by its class name.
_SAMPLER_NAMES = {
    "DDIMScheduler": "DDIM",
    "PNDMScheduler": "PLMS",
    "LMSDiscreteScheduler": "LMS",
    "EulerDiscreteScheduler": "Euler",
    "EulerAncestralDiscreteScheduler": "Euler a",
    "HeunDiscreteScheduler": "Heun",
    "KDPM2DiscreteScheduler": "DPM2",
    "KDPM2AncestralDiscreteScheduler": "DPM2 a",
    "DPMSolverSinglestepScheduler": "DPM++ SDE",
    "UniPCMultistepScheduler": "UniPC",
}


def sampler_label(scheduler) -> str:
    """What a pipeline's scheduler is called in an image's metadata ("DPM++ 2M Karras")."""
    cls = type(scheduler).__name__
    config = getattr(scheduler, "config", {}) or {}
    if cls == "DPMSolverMultistepScheduler":
        algorithm = config.get("algorithm_type", "dpmsolver++")
        order = config.get("solver_order", 2)
        if algorithm in ("dpmsolver++", "sde-dpmsolver++"):
            name = f"DPM++ {order}M" + (" SDE" if algorithm.startswith("sde") else "")
        else:
            name = f"DPM-Solver {order}M"
    else:
        name = _SAMPLER_NAMES.get(cls, cls)
    if config.get("use_karras_sigmas"):
        name += " Karras"
    return name


class Backend:
    name: str
    limits: Limits
    sampler: str = "unknown"

    def generate(self, request: GenerationRequest, *, on_step: StepCallback) -> list[PIL.Image.Image]:
        raise NotImplementedError


_lock = threading.Lock()
_loaded: dict[str, Backend] = {}


def backend_name() -> str:
    return settings.GENERATION_MODEL or "embedded"


def is_embedded_model(name: str) -> bool:
    """`embedded`, or a folder holding weights of Atelier's own pipeline (e.g. a retrained copy)."""
    if name == "embedded":
        return True
    index = Path(name) / "model_index.json"
    try:
        return json.loads(index.read_text()).get("_class_name") == "AtelierPipeline"
    except (OSError, ValueError):
        return False


def backend_limits(name: str | None = None) -> Limits:
    """The limits without loading weights (the web process validates requests with them)."""
    name = name or backend_name()
    if is_embedded_model(name):
        from generation.backends.embedded import EMBEDDED_LIMITS

        return EMBEDDED_LIMITS
    from generation.backends.diffusers_backend import checkpoint_limits

    return checkpoint_limits(name)


def backend_get(name: str | None = None) -> Backend:
    """The loaded backend for this process, loading it on first use."""
    name = name or backend_name()
    with _lock:
        if name not in _loaded:
            if is_embedded_model(name):
                from generation.backends.embedded import WEIGHTS, EmbeddedBackend

                _loaded[name] = EmbeddedBackend(WEIGHTS if name == "embedded" else Path(name))
            else:
                from generation.backends.diffusers_backend import DiffusersBackend

                _loaded[name] = DiffusersBackend(name)
        return _loaded[name]
