import os
from pathlib import Path

import pytest

# EMBEDDED_WEIGHTS_DIR lets a candidate (say, a training checkpoint) face these tests before it ships.
WEIGHTS_DIR = Path(os.environ.get("EMBEDDED_WEIGHTS_DIR")
                   or Path(__file__).resolve().parents[3] / "generation" / "embedded" / "weights")
WEIGHTS_FILE = WEIGHTS_DIR / "unet" / "diffusion_pytorch_model.safetensors"

needs_weights = pytest.mark.skipif(
    not WEIGHTS_FILE.exists(),
    reason=f"the shipped weights are absent ({WEIGHTS_FILE}); run `python manage.py train_embedded`",
)


@pytest.fixture(scope="module")
def pipe():
    if not WEIGHTS_FILE.exists():
        pytest.skip(f"the shipped weights are absent ({WEIGHTS_FILE})")
    import torch

    from generation.embedded.pipeline import AtelierPipeline

    torch.set_num_threads(2)
    pipeline = AtelierPipeline.from_pretrained(str(WEIGHTS_DIR))
    pipeline.set_progress_bar_config(disable=True)
    return pipeline
