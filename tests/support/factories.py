"""factory_boy factories for the models the tests make most: build one with
``XFactory()``, override any field by keyword."""

import uuid
from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from apps.accounts.models import Member
from apps.engagement.models import Activity
from apps.ops.models import AdminEvent, FailedTask
from apps.payments.models import Package
from apps.provisioning.models import Router
from tests.support.routers import PASSWORD, USERNAME


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


class PackageFactory(factory.django.DjangoModelFactory):
    """The suite's package: an hour at 2M/2M for KES 50, capped at 5 GiB."""

    class Meta:
        model = Package
        django_get_or_create = ("code",)

    code = "1h"
    name = "Normal 1 Hour"
    price = Decimal("50")
    duration = timedelta(hours=1)
    rate_limit = "2M/2M"
    data_cap_bytes = 5 * 2**30


class PaymentFactory(factory.django.DjangoModelFactory):
    """A PENDING STK payment for ``package`` (pass one: the suite's ``package`` fixture)."""

    class Meta:
        model = "payments.Payment"

    phone = factory.Sequence(lambda n: f"2547{n:08d}")
    amount = factory.SelfAttribute("package.price")
    reference = factory.Sequence(lambda n: f"HSF{n:05d}")


class RouterFactory(factory.django.DjangoModelFactory):
    """A router at a RouterOS simulator: pass ``port=router_sim.port``."""

    class Meta:
        model = Router

    name = factory.Sequence(lambda n: f"Router {n}")
    host = "127.0.0.1"
    username = USERNAME
    password = PASSWORD


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    title = factory.Sequence(lambda n: f"Survey {n}")
    kind = Activity.Kind.SURVEY
    reward = Decimal("7.50")


class AdminEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AdminEvent

    type = AdminEvent.Type.PAYMENT_FAILED
    payload = factory.LazyFunction(lambda: {"error": "boom"})
