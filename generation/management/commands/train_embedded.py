from django.core.management.base import BaseCommand

from generation.embedded import train


class Command(BaseCommand):
    help = "Train the embedded text-to-image model from scratch (CPU, under 2 hours) and write its weights."

    def add_arguments(self, parser):
        train.add_arguments(parser)

    def handle(self, *args, **options):
        train.run(options, log=self.stdout.write)
