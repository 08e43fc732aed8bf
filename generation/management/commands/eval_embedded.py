from django.core.management.base import BaseCommand

from generation.embedded import evaluate


class Command(BaseCommand):
    help = "Evaluate the embedded model on held-out prompts and print accuracy per task."

    def add_arguments(self, parser):
        evaluate.add_arguments(parser)

    def handle(self, *args, **options):
        evaluate.run(options, log=self.stdout.write)
