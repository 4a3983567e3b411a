"""Key rotation for secrets at rest: every encrypted field (router and subscription
passwords, and any a later app adds) re-encrypted under the first FIELD_ENCRYPTION_KEYS key.

Safe while the app runs: rows are read in chunks of primary keys, each row is rewritten only
if its stored token is still the one read (a compare-and-swap; an edit in between already
used the first key), and each chunk is its own short transaction. Rows already under the
first key are left as they are, so a second run re-encrypts nothing.
"""

import logging

from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.db.models.functions import Cast
from django.db.models.lookups import Exact

from apps.common.crypto import decrypt, encrypted_fields, is_current
from apps.common.errors import ApplicationError

log = logging.getLogger("conveyor.provisioning")


def secrets_rotate(*, chunk_size: int = 500) -> dict[str, int]:
    """Re-encrypt with the first key what an older key encrypted; how many, per field."""
    return {
        f"{model._meta.label}.{field.name}": _field_rotate(model, field.name, chunk_size)
        for model, field in encrypted_fields()
    }


def _field_rotate(model: type[models.Model], name: str, chunk_size: int) -> int:
    stored = Cast(name, output_field=models.TextField())  # the token, not decrypted
    rows = model._default_manager.order_by("pk")
    rotated, after = 0, None
    while True:
        chunk = rows.filter(pk__gt=after) if after is not None else rows
        tokens = list(chunk.annotate(token=stored).values_list("pk", "token")[:chunk_size])
        if not tokens:
            return rotated
        after = tokens[-1][0]
        with transaction.atomic():
            for pk, token in tokens:
                if token is None or is_current(token):
                    continue
                try:
                    secret = decrypt(token)
                except ImproperlyConfigured as exc:
                    raise ApplicationError(
                        f"{model._meta.label} {pk}: {name} decrypts with no key: {exc}"
                    ) from None
                # Saving the clear text encrypts it with the first key.
                rotated += model._default_manager.filter(Exact(stored, token), pk=pk).update(
                    **{name: secret}
                )
        log.info("secrets.rotated model=%s field=%s upto=%s", model._meta.label, name, after)
