"""Admin's payment, subscription and member pages link to the timeline of every task run of
the entity and of those it led to (a payment's prompts and its subscription)."""

from urllib.parse import parse_qs, urlparse

import pytest
from django.utils import timezone

from apps.payments.models import StkRequest
from apps.provisioning.models import Subscription
from tests.support.factories import MemberFactory, PackageFactory, PaymentFactory

pytestmark = pytest.mark.django_db


def linked_tags(page: bytes) -> list[str]:
    html = page.decode()
    start = html.index("/admin/ops/timeline/?")
    url = html[start : html.index('"', start)].replace("&amp;", "&")
    return parse_qs(urlparse(url).query)["tag"][0].split()


def test_a_payment_a_subscription_and_a_member_link_to_their_timelines(staff_client):
    member = MemberFactory()
    payment = PaymentFactory(member=member, package=PackageFactory())
    stk = StkRequest.objects.create(
        payment=payment, checkout_request_id="ws_CO_1", merchant_request_id="m-1"
    )
    now = timezone.now()
    subscription = Subscription.objects.create(
        payment=payment,
        member=member,
        package=payment.package,
        username="u1",
        password="p",
        starts_at=now,
        ends_at=now,
    )

    page = staff_client.get(f"/admin/payments/payment/{payment.pk}/change/")
    assert linked_tags(page.content) == [
        f"payment:{payment.pk}",
        f"stk_request:{stk.pk}",
        f"subscription:{subscription.pk}",
    ]
    page = staff_client.get(f"/admin/provisioning/subscription/{subscription.pk}/change/")
    assert linked_tags(page.content) == [f"subscription:{subscription.pk}", f"payment:{payment.pk}"]
    page = staff_client.get(f"/admin/accounts/member/{member.pk}/change/")
    assert linked_tags(page.content) == [
        f"member:{member.pk}",
        f"payment:{payment.pk}",
        f"subscription:{subscription.pk}",
    ]
