from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "apps.imports"
    label = "imports"
    verbose_name = "Imports"

    def ready(self) -> None:
        from apps.imports.selectors import imports_panel
        from apps.ops import panels

        panels.register("imports", "Member imports", imports_panel)
