"""The operations page shows the latest imports with their progress."""

import pytest

from apps.imports.models import Import
from apps.ops.panels import panel_rows

pytestmark = pytest.mark.django_db


def test_the_operations_page_lists_imports_with_their_progress():
    Import.objects.create(filename="members.csv", format="csv", size=10, sha256="x", total=200)
    (panel,) = [p for p in panel_rows() if p["name"] == "imports"]
    assert "error" not in panel and panel["progress_column"] == 6
    assert panel["rows"][0][0] == "members.csv" and panel["rows"][0][5] == 200
