from django.apps import AppConfig


class AtelierSiteConfig(AppConfig):
    name = "atelier_site"
    label = "atelier_site"
    verbose_name = "Atelier"
