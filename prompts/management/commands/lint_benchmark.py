import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from prompts.catalog import Catalog
from prompts.composer import DIALECTS
from prompts.linter.benchmark import benchmark_format, benchmark_run


class Command(BaseCommand):
    help = (
        "Score the prompt linter on PartiPrompts (a TSV with Prompt, Category, Challenge, "
        "Note): code shares per challenge, recalls, Basic false warnings, median ms."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The TSV, e.g. ../shared/data/partiprompts.tsv")
        parser.add_argument(
            "--model", default="embedded", help="Tokenizer profile (default: embedded)."
        )
        parser.add_argument("--dialect", default="plain", choices=DIALECTS)
        parser.add_argument(
            "--from-files",
            action="store_true",
            help="Use the catalog YAML files rather than the database's catalog.",
        )
        parser.add_argument(
            "--json", dest="as_json", action="store_true", help="Print the raw result as JSON."
        )
        parser.add_argument(
            "--show-missed",
            action="store_true",
            help="List the prompts each recall missed and the Basic rows that drew a warning.",
        )

    def handle(self, *args, path, model, dialect, from_files, as_json, show_missed, **options):
        tsv = Path(path)
        if not tsv.is_file():
            raise CommandError(f"No such file: {tsv}")
        result = benchmark_run(tsv, catalog=self._catalog(from_files), model=model, dialect=dialect)
        if as_json:
            self.stdout.write(json.dumps(result, indent=2, ensure_ascii=False))
            return
        self.stdout.write(benchmark_format(result))
        if show_missed:
            for name, entry in result["recalls"].items():
                for prompt in entry["missed"]:
                    self.stdout.write(f"missed {name}: {prompt}")
            for prompt in result["basic_warnings"]["examples"]:
                self.stdout.write(f"Basic with a warning: {prompt}")

    def _catalog(self, from_files: bool) -> Catalog:
        if not from_files:
            from django.db import DatabaseError

            from prompts.selectors import catalog_get

            try:
                catalog = catalog_get()
            except DatabaseError as exc:
                self.stderr.write(f"The database is not ready ({exc}); using the catalog files.")
            else:
                if len(catalog):
                    return catalog
                self.stderr.write(
                    "The database holds no catalog (run load_catalog); using the files."
                )
        return Catalog.from_files()
