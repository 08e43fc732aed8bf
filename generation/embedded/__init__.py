"""Atelier's embedded text-to-image model: a small pixel-space diffusion model trained
from scratch on a CPU on a synthetic world (renderer.py, captions.py), served by
AtelierPipeline (pipeline.py) from the weights in weights/."""
