from django.core.management import call_command
from django.core.management.base import BaseCommand

from prompts.services import policy_rules_load


class Command(BaseCommand):
    help = "Load every app's initial data (idempotent): the modifier catalog and the policy rules."

    def handle(self, *args, **options):
        call_command("load_catalog", stdout=self.stdout)
        added = policy_rules_load()
        self.stdout.write(f"Policy rules: {added} added." if added else "Policy rules unchanged.")
