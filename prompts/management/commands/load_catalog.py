from django.core.management.base import BaseCommand

from prompts.services import catalog_load


class Command(BaseCommand):
    help = "Load the modifier catalog from prompts/catalog/data/*.yaml (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Reload even if the files are unchanged.")

    def handle(self, *args, force=False, **options):
        result = catalog_load(force=force)
        if result.skipped:
            self.stdout.write(f"Catalog unchanged ({result.unchanged} modifiers).")
        else:
            self.stdout.write(
                f"Catalog loaded: {result.created} created, {result.updated} updated, "
                f"{result.unchanged} unchanged."
            )
