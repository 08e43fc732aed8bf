from django.core.management.base import BaseCommand

from generation.embedded import samples


class Command(BaseCommand):
    help = "Draw a labelled sheet of the embedded model's samples across the builder's menus."

    def add_arguments(self, parser):
        samples.add_arguments(parser)

    def handle(self, *args, **options):
        samples.run(options, log=self.stdout.write)
