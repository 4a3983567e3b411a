"""The floor's SMS client: Africa's Talking's messaging API, one new connection per call, as
the product's backend makes it (apps/notifications/sms.py: requests.post, no session)."""

import requests
from django.conf import settings


def send(*, to: str, message: str) -> str:
    """Send ``message`` to ``to`` (+254...); the gateway's messageId."""
    response = requests.post(
        f"{settings.AFRICASTALKING_BASE_URL}/version1/messaging",
        data={"username": settings.AFRICASTALKING_USERNAME, "to": to, "message": message},
        headers={"apiKey": settings.AFRICASTALKING_API_KEY, "Accept": "application/json"},
        timeout=settings.SERVICE_TIMEOUT,
    )
    response.raise_for_status()
    return response.json()["SMSMessageData"]["Recipients"][0]["messageId"]
