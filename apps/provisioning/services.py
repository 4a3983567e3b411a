"""Writes of the provisioning domain."""

import logging

log = logging.getLogger("conveyor.provisioning")


def subscription_create_for_payment(*, payment, member) -> None:
    """The hand-off from payments: called once per paid payment, inside the transaction
    that marks it FULFILLED (so it must only write the database and enqueue on commit).

    Subscriptions, credentials, RADIUS rows and the router job arrive with the
    provisioning issue; until then the hand-off is recorded in the log only.
    """
    log.info(
        "provisioning.handoff payment=%s member=%s package=%s",
        payment.pk,
        member.pk,
        payment.package.code,
    )
