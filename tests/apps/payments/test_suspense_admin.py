"""The Suspense admin's actions, as staff use them: CSRF enforced on every POST, the apply
pages ending in a payment fulfilled once by a real worker."""

from decimal import Decimal

import pytest
from django.test import Client

from apps.ops.models import AdminEvent
from apps.payments.models import Payment, Suspense
from devstack.processes import wait_for
from tests.support.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/admin/payments/suspense/"


@pytest.fixture
def staff_browser(db):
    """A staff session whose POSTs must carry the CSRF token, as a browser's do."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(MemberFactory(is_staff=True, is_superuser=True))
    assert client.get(URL).status_code == 200  # sets the csrftoken cookie
    return client


def token(client: Client) -> str:
    return client.cookies["csrftoken"].value


def held(receipt: str = "TADM1234AB", amount=Decimal("50"), **fields) -> Suspense:
    return Suspense.objects.create(
        receipt=receipt, amount=amount, reason="unmatched", raw_callback="{}", **fields
    )


def processed(payment_id) -> int:
    return AdminEvent.objects.filter(
        type=AdminEvent.Type.PAYMENT_PROCESSED, payload__payment__id=str(payment_id)
    ).count()


@pytest.mark.parametrize("action", ["apply_to_payment", "apply_as_purchase", "mark_refunded"])
def test_every_action_without_the_csrf_token_is_forbidden(staff_browser, pending, action):
    row = held(reference=pending.reference)
    form = {"action": action, "_selected_action": [row.pk], "apply": "1"}
    answer = staff_browser.post(URL, {**form, "reference": pending.reference})
    assert answer.status_code == 403
    row.refresh_from_db()
    pending.refresh_from_db()
    assert row.resolved_at is None and pending.status == "pending"


def test_apply_to_a_payment_with_the_token_ends_fulfilled_once(worker, staff_browser, pending):
    row = held(reference=pending.reference)
    page = staff_browser.post(
        URL,
        {
            "action": "apply_to_payment",
            "_selected_action": [row.pk],
            "csrfmiddlewaretoken": token(staff_browser),
        },
    )
    assert page.status_code == 200
    assert b"HSKX7P2Q" in page.content  # the pending payment its reference names, proposed
    assert page.context["form"].initial["reference"] == "HSKX7P2Q"

    form = {
        "action": "apply_to_payment",
        "_selected_action": [row.pk],
        "apply": "1",
        "reference": "hskx7p2q",
        "csrfmiddlewaretoken": token(staff_browser),
    }
    assert staff_browser.post(URL, form).status_code == 302
    again = staff_browser.post(URL, form, follow=True)  # a double click
    assert b"already applied to payment HSKX7P2Q" in again.content

    payment = wait_for(
        lambda: (p := Payment.objects.get(pk=pending.pk)).status == "fulfilled" and p,
        timeout=60,
        what="the payment to be fulfilled by the worker",
    )
    assert payment.mpesa_receipt == "TADM1234AB"
    assert processed(payment.pk) == 1
    row.refresh_from_db()
    assert (row.resolution, row.applied_to_id) == ("applied", payment.pk)
    assert row.resolved_by.is_staff


def test_apply_as_a_purchase_and_mark_refunded_from_the_pages(worker, staff_browser, package):
    row = held()
    page = staff_browser.post(
        URL,
        {
            "action": "apply_as_purchase",
            "_selected_action": [row.pk],
            "csrfmiddlewaretoken": token(staff_browser),
        },
    )
    assert page.status_code == 200
    assert page.context["form"].initial["package"] == package.code  # the price of the amount
    form = {
        "action": "apply_as_purchase",
        "_selected_action": [row.pk],
        "apply": "1",
        "phone": "0712000222",
        "package": package.code,
        "router": "",
        "csrfmiddlewaretoken": token(staff_browser),
    }
    assert staff_browser.post(URL, form).status_code == 302
    payment = wait_for(
        lambda: (
            (p := Payment.objects.filter(phone="254712000222").first())
            and p.status == "fulfilled"
            and p
        ),
        timeout=60,
        what="the new purchase to be fulfilled",
    )
    assert payment.mpesa_receipt == "TADM1234AB" and processed(payment.pk) == 1

    other = held(receipt="TADM5678CD")
    answer = staff_browser.post(
        URL,
        {
            "action": "mark_refunded",
            "_selected_action": [other.pk],
            "csrfmiddlewaretoken": token(staff_browser),
        },
        follow=True,
    )
    assert b"1 suspense entry marked refunded" in answer.content
    other.refresh_from_db()
    assert other.resolution == "refunded" and other.resolved_by.is_staff
    assert Payment.objects.count() == 1
