"""`python manage.py generate "<prompt>"`: images from the configured model, as PNGs with
the same metadata as the site's images, through the same backend interface."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from generation import imagefiles
from generation.backends import GenerationRequest, backend_get, backend_limits
from generation.services import _model_label


class Command(BaseCommand):
    help = "Generate images from a prompt with the configured model (GENERATION_MODEL)."

    def add_arguments(self, parser):
        parser.add_argument("prompt")
        parser.add_argument("--negative", default="")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("-n", type=int, default=4, dest="n")
        parser.add_argument("--steps", type=int, default=None)
        parser.add_argument("--guidance", type=float, default=None)
        parser.add_argument("--size", default=None, help="WxH; the model's native size by default")
        parser.add_argument("--out", default="var/generated")

    def handle(self, *args, prompt, negative, seed, n, steps, guidance, size, out, **options):
        limits = backend_limits()
        width, height = limits.default_size
        if size:
            try:
                width, height = (int(v) for v in size.lower().split("x"))
            except ValueError:
                raise CommandError("--size must look like 64x64") from None
        if (width, height) not in limits.sizes:
            raise CommandError(f"size {width}x{height} is not supported; allowed: "
                               + ", ".join(f"{w}x{h}" for w, h in limits.sizes))
        steps = steps or limits.default_steps
        guidance = guidance if guidance is not None else limits.default_guidance
        if not limits.steps[0] <= steps <= limits.steps[1]:
            raise CommandError(f"--steps must be between {limits.steps[0]} and {limits.steps[1]}")
        if not 1 <= n <= limits.max_images:
            raise CommandError(f"-n must be between 1 and {limits.max_images}")
        backend = backend_get()
        request = GenerationRequest(mode="text2img", prompt=prompt, negative_prompt=negative, seed=seed, width=width,
                                    height=height, steps=steps, guidance=guidance, num_images=n)
        try:
            images = backend.generate(request, on_step=lambda step, total: False)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        for index, picture in enumerate(images):
            meta = imagefiles.ImageMetadata(
                prompt=prompt, negative_prompt=negative, steps=steps, sampler=backend.sampler, cfg_scale=guidance,
                seed=seed + index, width=picture.width, height=picture.height, model=_model_label(backend.name),
                recipe={"mode": "text2img", "prompt": prompt, "negative_prompt": negative, "seed": seed + index,
                        "width": width, "height": height, "steps": steps, "guidance": guidance,
                        "model": backend.name, "index": index},
            )
            path = folder / f"{seed}-{index}.png"
            path.write_bytes(imagefiles.png_encode(picture, metadata=meta))
            self.stdout.write(str(path))
