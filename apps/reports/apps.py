from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "apps.reports"
    label = "reports"
    verbose_name = "Reports"

    def ready(self) -> None:
        from apps.reports.services import register_summary
        from apps.reports.sources import register_sources

        register_sources()
        register_summary()
