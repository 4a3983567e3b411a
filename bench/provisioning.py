"""Provisioning throughput: subscriptions put on a router per second by the provisioning pool
(the queue table's size unless --shape says otherwise) against the RouterOS simulator at its
default latency (5 ms per reply), and the share of each job spent in RouterOS round trips
(from the pool's log: router_ms of subscription.provisioned against duration_ms of
task.finish)."""

import re
import time
import uuid

from django.db import transaction

from apps.accounts.services import member_get_or_create_by_phone
from apps.payments.models import Package, Payment
from apps.provisioning.models import Subscription
from apps.provisioning.services import subscription_create_for_payment
from config.celery import app
from devstack.processes import wait_for

TASK = "tasks.provisioning.provision_subscription"


def run(stack, count: int, pool: int) -> list[dict]:
    # Whatever earlier benchmarks left to provision goes first, or it would be counted here.
    wait_for(
        lambda: not Subscription.objects.filter(status="pending").exists(),
        timeout=900,
        interval=1,
        what="the provisioning backlog to drain",
    )
    # From here this process publishes to the stack's broker (Celery's own after-fork reset).
    app.conf.broker_url = stack.env["REDIS_URL"]
    app._after_fork()
    package = Package.objects.get(code="1h")
    tag = uuid.uuid4().hex[:4].upper()
    subscriptions = []
    with transaction.atomic():  # the jobs are sent when it commits, all at once
        for i in range(count):
            payment = Payment.objects.create(
                package=package,
                phone=f"2547{i:08d}",
                amount=package.price,
                status="fulfilled",
                reference=f"HP{tag}{i:04d}",
            )
            member, _ = member_get_or_create_by_phone(phone=payment.phone)
            subscriptions.append(subscription_create_for_payment(payment=payment, member=member))
        started = time.perf_counter()
    ids = [s.pk for s in subscriptions]
    wait_for(
        lambda: Subscription.objects.filter(pk__in=ids, status="provisioned").count() == count,
        timeout=600,
        interval=0.2,
        what="every subscription to be provisioned",
    )
    elapsed = time.perf_counter() - started
    router_ms, task_ms = _timings(stack.var / "log" / "worker-provisioning.log")
    share = sum(router_ms) / sum(task_ms) if task_ms else float("nan")
    return [
        {
            "measure": "provisioning: subscriptions put on the router per second",
            "value": round(count / elapsed, 1),
            "setup": f"{count} subscriptions, provisioning pool of {pool}, the RouterOS "
            "simulator at 5 ms per reply",
        },
        {
            "measure": "provisioning: share of a job spent in RouterOS round trips",
            "value": f"{share:.0%}",
            "setup": f"connect, login, profile and user commands: {_mean(router_ms):.0f} ms of "
            f"{_mean(task_ms):.0f} ms per job (means)",
        },
    ]


def _timings(log_path) -> tuple[list[float], list[float]]:
    text = log_path.read_text(errors="replace")
    router = [float(m) for m in re.findall(r"subscription\.provisioned .*router_ms=([\d.]+)", text)]
    tasks = [
        float(m) for m in re.findall(rf"task\.finish .*name={TASK} .*duration_ms=([\d.]+)", text)
    ]
    return router, tasks


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")
