"""System checks: configuration that would make Daraja refuse every push."""

from django.conf import settings
from django.core.checks import Error, register

from apps.payments.daraja import url_is_filtered


@register()
def callback_url_passes_daraja(app_configs, **kwargs):
    url = f"{settings.DARAJA_CALLBACK_BASE_URL}/hooks/stk/{settings.DARAJA_CALLBACK_TOKEN}/"
    if url_is_filtered(url):
        return [
            Error(
                "The Daraja callback URL contains a word Daraja filters "
                "(mpesa, safaricom, exe, cmd, sql, query): every STK push would be refused.",
                hint="Change DARAJA_CALLBACK_BASE_URL or DARAJA_CALLBACK_TOKEN.",
                id="payments.E001",
            )
        ]
    return []
