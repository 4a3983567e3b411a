"""/admin/ops/metrics/ and its data over HTTP: staff only, and a bad query is a 400 that
says why, never a 500."""

import pytest
from django.test import Client

from apps.ops import metrics
from tests.support.factories import MemberFactory

DATA = "/admin/ops/metrics/data/"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"range": "7d"}, "range"),
        ({"range": ""}, "range"),
        ({"range": "1h", "queue": "nope"}, "queue"),
        ({"queue": "payments\x00"}, "queue"),
    ],
)
def test_a_bad_query_is_a_400_naming_the_field(staff_client, query, field):
    response = staff_client.get(DATA, query)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("bad_query", field)
    assert "must be" in error["message"]


def test_staff_get_the_series_of_a_queue_or_of_all(staff_client, clean_metrics):
    metrics.task_observed(queue="emails", task="t", outcome="succeeded", runtime=0.3, wait=2)
    one = staff_client.get(DATA, {"queue": "emails", "range": "1h"}).json()
    assert (one["queue"], one["range"], one["step"], len(one["t"])) == ("emails", "1h", 1, 60)
    assert one["throughput"][-1] == 1 and one["totals"]["wait_max_s"] == 2
    day = staff_client.get(DATA, {"range": "24h"}).json()
    assert day["queue"] is None and day["step"] == 10 and day["totals"]["done"] == 1
    assert staff_client.get(DATA).json()["range"] == "1h"


@pytest.mark.django_db
def test_the_screen_and_its_data_are_for_staff_only():
    anonymous, member = Client(), Client()
    member.force_login(MemberFactory())
    assert anonymous.get(DATA).status_code == 401
    assert member.get(DATA).status_code == 403
    page = anonymous.get("/admin/ops/metrics/")
    assert page.status_code == 302 and "/admin/login/" in page["Location"]


def test_the_screen_loads_its_chart_library_from_our_static_files(staff_client):
    html = staff_client.get("/admin/ops/metrics/").content.decode()
    assert "ops/vendor/uplot/uPlot.iife.min.js" in html and "ops/metrics.js" in html
    assert "//cdn" not in html and "https://" not in html.split("<body")[1]
    assert 'href="/admin/ops/metrics/"' in staff_client.get("/admin/ops/").content.decode()
