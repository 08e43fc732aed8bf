from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Load every app's initial data (idempotent): the modifier catalog, policy rules, ..."

    def handle(self, *args, **options):
        call_command("load_catalog", stdout=self.stdout)
