import uuid

import factory
from django.utils import timezone

from apps.accounts.models import Member
from apps.ops.models import FailedTask


class FailedTaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FailedTask

    task_id = factory.LazyFunction(lambda: str(uuid.uuid4()))
    task_name = "tests.support.probes.record"
    queue = "payments"
    args = factory.LazyFunction(lambda: ["probe:x"])
    kwargs = factory.LazyFunction(dict)
    exception_type = "builtins.ValueError"
    exception_message = "boom"
    traceback = "Traceback (most recent call last):\nValueError: boom"
    attempts = 1
    reason = FailedTask.Reason.ERROR
    failed_at = factory.LazyFunction(timezone.now)


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    phone = factory.Sequence(lambda n: f"2547{n:08d}")


class PaymentFactory(factory.django.DjangoModelFactory):
    """A PENDING STK payment for ``package`` (pass one: the suite's ``package`` fixture)."""

    class Meta:
        model = "payments.Payment"

    phone = factory.Sequence(lambda n: f"2547{n:08d}")
    amount = factory.SelfAttribute("package.price")
    reference = factory.Sequence(lambda n: f"HSF{n:05d}")
