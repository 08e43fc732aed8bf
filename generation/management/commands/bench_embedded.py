from django.core.management.base import BaseCommand

from generation.embedded import bench


class Command(BaseCommand):
    help = "Time the embedded model (4 images, native size, 25 steps) and report peak memory."

    def add_arguments(self, parser):
        bench.add_arguments(parser)

    def handle(self, *args, **options):
        bench.run(options, log=self.stdout.write)
