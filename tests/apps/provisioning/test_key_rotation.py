"""Key rotation: secrets under an older FIELD_ENCRYPTION_KEYS key still decrypt, and
`manage.py rotate_encryption_key` re-encrypts them under the first key, once."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from apps.provisioning import services
from apps.provisioning.models import Router, Subscription
from tests.support.factories import RouterFactory

pytestmark = pytest.mark.django_db

KEY_A, KEY_B = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def stored(table: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT password FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def rotate(**options) -> str:
    out = StringIO()
    call_command("rotate_encryption_key", stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def under_b(settings, paid, django_capture_on_commit_callbacks):
    """Three routers and a subscription whose passwords key B encrypted."""
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    routers = [RouterFactory(password=f"router-secret-{n}") for n in range(3)]
    with django_capture_on_commit_callbacks(execute=False), transaction.atomic():
        payment, member = paid()
        sub = services.subscription_create_for_payment(payment=payment, member=member)
    return routers, sub


def test_an_older_key_still_decrypts_and_rotation_moves_every_secret_to_the_first(
    settings, under_b
):
    routers, sub = under_b
    before = {r.pk: stored("provisioning_router", r.pk) for r in routers}
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A, KEY_B]  # a new key first, the old one kept
    assert Router.objects.get(pk=routers[0].pk).password == "router-secret-0"
    assert Subscription.objects.get(pk=sub.pk).password == sub.password

    report = rotate(chunk_size=2)  # the routers take two chunks
    assert "provisioning.Router.password: 3 re-encrypted" in report
    assert "provisioning.Subscription.password: 1 re-encrypted" in report
    assert "4 re-encrypted in all" in report
    for router in routers:
        token = stored("provisioning_router", router.pk)
        assert token != before[router.pk]
        assert Fernet(KEY_A).decrypt(token.encode()).decode() == router.password
        with pytest.raises(InvalidToken):
            Fernet(KEY_B).decrypt(token.encode())
    Fernet(KEY_A).decrypt(stored("provisioning_subscription", sub.pk).encode())

    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]  # the old key retired
    assert [r.password for r in Router.objects.order_by("pk")] == [
        f"router-secret-{n}" for n in range(3)
    ]
    assert Subscription.objects.get(pk=sub.pk).password == sub.password
    unchanged = stored("provisioning_router", routers[0].pk)
    assert "0 re-encrypted in all" in rotate()
    assert stored("provisioning_router", routers[0].pk) == unchanged


def test_a_secret_no_key_decrypts_stops_rotation_with_its_row(settings, under_b):
    routers, _ = under_b
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]  # key B dropped before rotating: too early
    with pytest.raises(CommandError, match=f"provisioning.Router {routers[0].pk}: password"):
        rotate()
