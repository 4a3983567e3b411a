"""Fulfilment: a PAID payment becomes a member's subscription and their upline's
commissions, in one transaction, once."""

import logging

from django.db import transaction
from django.utils import timezone

from apps.accounts.services import member_get_or_create_by_phone
from apps.commissions.models import CommissionLedger
from apps.commissions.services import commissions_record
from apps.common.errors import ApplicationError
from apps.ops.models import AdminEvent
from apps.payments import selectors
from apps.payments.models import Payment
from apps.payments.services.transitions import Status, mask_phone, payment_event_emit

log = logging.getLogger("conveyor.payments")


def payment_fulfil(*, payment_id) -> bool:
    """PAID -> FULFILLED with the hand-off to provisioning and the buyer's upline
    commissions, all in one transaction, once."""
    from apps.provisioning.services import subscription_create_for_payment

    with transaction.atomic():
        payment = (
            Payment.objects.select_for_update(of=("self",))
            .select_related("package")
            .filter(pk=payment_id)
            .first()
        )
        if payment is None:
            raise ApplicationError(f"No payment {payment_id}.")
        if payment.status != Status.PAID:
            return False
        member, created = member_get_or_create_by_phone(phone=payment.phone)
        subscription_create_for_payment(payment=payment, member=member)
        commissions_record(
            source_member_id=member.pk,
            source_kind=CommissionLedger.Source.PURCHASE,
            source_id=payment.pk,
            base=payment.amount,
        )
        payment.status, payment.member = Status.FULFILLED, member
        payment.fulfilled_at = timezone.now()
        payment.save(update_fields=["status", "member", "fulfilled_at", "updated_at"])
        payment_event_emit(
            type=AdminEvent.Type.PAYMENT_PROCESSED,
            payment=payment,
            user={
                "id": member.pk,
                "phone_number": mask_phone(member.phone),
                "is_new": created,
            },
        )
    log.info("payment.fulfilled id=%s member=%s", payment.pk, member.pk)
    return True


def payment_fulfil_failed(*, payment_id, error: str) -> bool:
    """fulfil_payment gave up: the money is in (the payment stays PAID), staff must act.
    Marked once, and staff told once: a second report of the same failure changes nothing."""
    with transaction.atomic():
        marked = Payment.objects.filter(
            pk=payment_id, status=Status.PAID, fulfil_failed_at=None
        ).update(fulfil_failed_at=timezone.now())
        if marked:
            payment = selectors.payment_get(payment_id=payment_id)
            payment_event_emit(type=AdminEvent.Type.PAYMENT_FAILED, payment=payment, error=error)
    if marked:
        log.error("payment.fulfil_failed id=%s error=%s", payment_id, error)
    return bool(marked)
