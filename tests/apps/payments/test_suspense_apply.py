"""Applying money held in suspense: to a pending payment, as a new purchase, or marking it
refunded; once, whoever asks and however often; and by the reconciler when the push it
answers is saved late."""

import re
import threading
from decimal import Decimal

import pytest
from django.db import connection

from apps.common.errors import ApplicationError
from apps.payments import services
from apps.payments.models import Payment, StkRequest, Suspense
from tests.support import bodies
from tests.support.factories import MemberFactory


@pytest.fixture
def staff(db):
    return MemberFactory(is_staff=True)


def hold(receipt: str = "TSUS1234AB", amount=Decimal("50"), **fields) -> Suspense:
    return Suspense.objects.create(
        receipt=receipt,
        amount=amount,
        reason=fields.pop("reason", Suspense.Reason.UNMATCHED),
        raw_callback=fields.pop("raw_callback", "{}"),
        **fields,
    )


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Call a service; its on-commit work (the enqueue) runs, for real, against Redis."""

    def call(service, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return service(**kwargs)

    return call


def test_applied_to_a_pending_payment_pays_it_with_the_receipt_once(run, pending, staff, queued):
    row = hold()
    payment = run(
        services.suspense_apply, suspense_id=row.pk, payment_id=pending.pk, user_id=staff.pk
    )
    assert payment.pk == pending.pk
    pending.refresh_from_db()
    assert (pending.status, pending.mpesa_receipt) == ("paid", "TSUS1234AB")
    row.refresh_from_db()
    assert row.resolution == Suspense.Resolution.APPLIED
    assert (row.applied_to_id, row.resolved_by_id) == (pending.pk, staff.pk)
    assert row.resolved_at is not None
    assert queued() == [("tasks.payments.fulfil_payment", {"payment_id": str(pending.pk)})]

    with pytest.raises(ApplicationError, match="already applied to payment HSKX7P2Q"):
        run(services.suspense_apply, suspense_id=row.pk, payment_id=pending.pk, user_id=staff.pk)
    assert len(queued()) == 1


def test_a_payment_already_paid_or_closed_is_refused(run, pending, staff, queued):
    for status in ("paid", "fulfilled", "failed"):
        Payment.objects.filter(pk=pending.pk).update(status=status)
        row = hold(receipt=f"TSUS{status[:4].upper()}00")
        with pytest.raises(ApplicationError, match=f"is {status}, not pending"):
            run(
                services.suspense_apply, suspense_id=row.pk, payment_id=pending.pk, user_id=staff.pk
            )
        row.refresh_from_db()
        assert row.resolved_at is None and row.resolution == ""
    assert queued() == []


def test_an_amount_that_differs_is_refused(run, pending, staff, queued):
    row = hold(amount=Decimal("45"))
    with pytest.raises(
        ApplicationError, match=re.escape("holds KES 45.00; payment HSKX7P2Q is for KES 50")
    ):
        run(services.suspense_apply, suspense_id=row.pk, payment_id=pending.pk, user_id=staff.pk)
    pending.refresh_from_db()
    row.refresh_from_db()
    assert pending.status == "pending" and row.resolved_at is None
    assert queued() == []


def test_a_receipt_that_already_paid_another_payment_is_refused(run, pending, paid, staff, queued):
    other, _ = paid()
    Payment.objects.filter(pk=other.pk).update(mpesa_receipt="TSUS1234AB")
    row = hold()
    with pytest.raises(ApplicationError, match="already paid another payment"):
        run(services.suspense_apply, suspense_id=row.pk, payment_id=pending.pk, user_id=staff.pk)
    pending.refresh_from_db()
    row.refresh_from_db()
    assert pending.status == "pending" and row.resolved_at is None  # the claim rolled back
    assert queued() == []


def test_applied_as_a_new_purchase_for_the_package_of_that_price(run, package, staff, queued):
    row = hold()
    payment = run(
        services.suspense_apply_as_purchase,
        suspense_id=row.pk,
        phone="0712 000 111",
        package_code=package.code,
        user_id=staff.pk,
    )
    payment.refresh_from_db()
    assert (payment.phone, payment.package_id, payment.amount) == (
        "254712000111",
        package.pk,
        Decimal("50.00"),
    )
    assert (payment.status, payment.mpesa_receipt, payment.method) == (
        "paid",
        "TSUS1234AB",
        Payment.Method.PAYBILL,
    )
    row.refresh_from_db()
    assert (row.applied_to_id, row.resolved_by_id) == (payment.pk, staff.pk)
    # No STK prompt for money already received: only the hand-off to fulfilment.
    assert queued() == [("tasks.payments.fulfil_payment", {"payment_id": str(payment.pk)})]


def test_a_new_purchase_of_another_price_or_phone_is_refused(run, package, staff, queued):
    row = hold(amount=Decimal("20"))
    with pytest.raises(
        ApplicationError, match=re.escape("holds KES 20.00; Normal 1 Hour costs KES 50")
    ):
        run(
            services.suspense_apply_as_purchase,
            suspense_id=row.pk,
            phone="0712000111",
            package_code=package.code,
            user_id=staff.pk,
        )
    row = hold(receipt="TSUS5678CD")
    with pytest.raises(ApplicationError, match="not a Kenyan mobile number"):
        run(
            services.suspense_apply_as_purchase,
            suspense_id=row.pk,
            phone="12",
            package_code=package.code,
            user_id=staff.pk,
        )
    assert not Payment.objects.exists()
    assert not Suspense.objects.exclude(resolved_at=None).exists()
    assert queued() == []


def test_marked_refunded_once_and_then_not_applied(run, pending, staff, queued):
    row, other = hold(), hold(receipt="TSUS5678CD")
    assert services.suspense_mark_refunded(ids=[row.pk, other.pk], user_id=staff.pk) == 2
    assert services.suspense_mark_refunded(ids=[row.pk], user_id=staff.pk) == 0
    row.refresh_from_db()
    assert (row.resolution, row.resolved_by_id, row.applied_to_id) == (
        Suspense.Resolution.REFUNDED,
        staff.pk,
        None,
    )
    with pytest.raises(ApplicationError, match="already refunded outside Conveyor"):
        run(services.suspense_apply, suspense_id=row.pk, payment_id=pending.pk, user_id=staff.pk)
    pending.refresh_from_db()
    assert pending.status == "pending" and queued() == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("same_payment", [True, False])
def test_two_staff_applying_at_once_apply_once(package, staff, same_payment):
    first = Payment.objects.create(
        package=package, phone="254712345678", amount=package.price, reference="HSRACE01"
    )
    second = (
        first
        if same_payment
        else Payment.objects.create(
            package=package, phone="254712345679", amount=package.price, reference="HSRACE02"
        )
    )
    row = hold()
    barrier, outcomes = threading.Barrier(2), []

    def apply(payment):
        barrier.wait()
        try:
            services.suspense_apply(suspense_id=row.pk, payment_id=payment.pk, user_id=staff.pk)
            outcomes.append("applied")
        except ApplicationError as exc:
            outcomes.append(str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=apply, args=(p,)) for p in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == 2 and outcomes.count("applied") == 1
    [refusal] = [o for o in outcomes if o != "applied"]
    # Refused by whichever check sees the winner first: the row's claim or the payment's.
    assert "was already applied to payment HSRACE0" in refusal or "is paid, not pending" in refusal
    assert Payment.objects.filter(status="paid").count() == 1
    assert Payment.objects.filter(mpesa_receipt="TSUS1234AB").count() == 1
    row.refresh_from_db()
    assert Payment.objects.get(status="paid").pk == row.applied_to_id


def test_the_reconciler_applies_a_callback_whose_push_is_saved_late(
    post, pending, queued, django_capture_on_commit_callbacks
):
    # The callback beats its push's worker, on a URL without the reference: held.
    response = post(
        "/hooks/stk/test-hooks/", bodies.stk_success("ws_CO_slowworker", receipt="TLATE123AB")
    )
    assert response.status_code == 400
    row = Suspense.objects.get(receipt="TLATE123AB")
    assert row.checkout_request_id == "ws_CO_slowworker"
    other = hold(receipt="TLATE456CD", amount=Decimal("49"), checkout_request_id="ws_CO_other")

    def sweep():
        with django_capture_on_commit_callbacks(execute=True):
            return services.payments_reconcile()["suspense_applied"]

    assert sweep() == 0  # no push carries that id yet
    StkRequest.objects.create(payment=pending, checkout_request_id="ws_CO_slowworker")
    StkRequest.objects.create(payment=pending, checkout_request_id="ws_CO_other")
    assert sweep() == 1
    assert sweep() == 0
    pending.refresh_from_db()
    row.refresh_from_db()
    other.refresh_from_db()
    assert (pending.status, pending.mpesa_receipt) == ("paid", "TLATE123AB")
    assert (row.resolution, row.applied_to_id, row.resolved_by_id) == ("applied", pending.pk, None)
    assert other.resolved_at is None  # KES 49 for a KES 50 payment: left for staff
    assert queued() == [("tasks.payments.fulfil_payment", {"payment_id": str(pending.pk)})]
