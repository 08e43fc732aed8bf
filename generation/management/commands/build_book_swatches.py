from django.core.management.base import BaseCommand, CommandError

from generation.backends import ModelUnavailable
from generation.swatches import swatches_build
from prompts.selectors import catalog_get


class Command(BaseCommand):
    help = ("Render the prompt book's swatch strips (one per modifier the embedded model knows) and the "
            "denoising strips of the chapters' ```steps blocks. Builds only what the current weights and "
            "catalog lack, so it is cheap to rerun; old builds are deleted.")

    def add_arguments(self, parser):
        parser.add_argument("--steps", type=int, default=None,
                            help="Denoising steps per picture (default: the model's default).")
        parser.add_argument("--force", action="store_true", help="Render everything again.")
        parser.add_argument("--keep-old", action="store_true", help="Keep the strips of older weights or catalogs.")

    def handle(self, *args, steps=None, force=False, keep_old=False, verbosity=1, **options):
        catalog = catalog_get()
        if not len(catalog):
            raise CommandError("The catalog is empty: run `manage.py load_catalog` first.")
        log = self.stdout.write if verbosity > 1 else (lambda _: None)
        try:
            result = swatches_build(catalog=catalog, steps=steps, force=force, prune=not keep_old, log=log)
        except (ModelUnavailable, ValueError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Swatches {result.digest}: {result.modifiers_built} modifier strips and {result.denoising_built} "
            f"denoising strips rendered, {result.skipped} already there, {result.pruned} old files deleted "
            f"({result.seconds:.1f} s)."
        )
