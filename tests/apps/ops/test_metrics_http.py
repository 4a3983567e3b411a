"""/metrics without a worker: the depth gauge follows the queue's length in Redis, and
strangers are refused."""

import pytest
from django.test import Client

from tests.support.factories import MemberFactory
from tests.support.probes import record
from tests.support.prometheus import sample


@pytest.mark.django_db
def test_the_depth_gauge_follows_the_queue_length(redis_client, empty_queues, clean_metrics):
    staff = Client()
    staff.force_login(MemberFactory(is_staff=True))
    for n in (3, 7):
        while redis_client.llen("maturation") < n:
            record.apply_async(args=["probe:depth"], queue="maturation")
        text = staff.get("/metrics").content.decode()
        assert sample(text, "conveyor_queue_depth", queue="maturation") == redis_client.llen(
            "maturation"
        )
        assert sample(text, "conveyor_queue_oldest_wait_seconds", queue="maturation") >= 0


@pytest.mark.django_db
@pytest.mark.parametrize("header", [None, "Bearer wrong", "Bearer ", "Basic c2NyYXBlLW1l"])
def test_metrics_refuse_strangers(settings, header):
    settings.METRICS_TOKEN = "scrape-me"
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = Client().get("/metrics", **extra)
    assert response.status_code == 401 and b"conveyor_" not in response.content


@pytest.mark.django_db
def test_metrics_refuse_members_who_are_not_staff():
    member = Client()
    member.force_login(MemberFactory())
    assert member.get("/metrics").status_code == 401
