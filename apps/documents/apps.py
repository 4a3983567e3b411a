from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "apps.documents"
    label = "documents"
    verbose_name = "Documents"

    def ready(self) -> None:
        from apps.documents.selectors import documents_panel
        from apps.ops import panels

        panels.register("documents", "Reports and exports", documents_panel)
