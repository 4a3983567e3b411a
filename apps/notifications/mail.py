"""Mail through Django's email machinery (EMAIL_BACKEND: SMTP, or any backend such as
django-anymail's), with each failure sorted into the outcomes of outcomes.py.

For SMTP: a connection that cannot be opened, or a 4xx answer, means the server took
nothing (NotSent, retried); a refused recipient or a 5xx is a refusal; a connection lost
during the send is Ambiguous. Other backends' errors (an HTTP API's) are Ambiguous too: only
SMTP's answers say for sure that nothing was taken. EMAIL_TIMEOUT bounds a hung server."""

import contextlib
import smtplib
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from apps.notifications.outcomes import Accepted, Ambiguous, NotSent, Refused

provider = "email"


def send(*, to: str, subject: str, body: str, html: str, key: str) -> Accepted | Refused:
    message_id = make_msgid(domain="conveyor")
    message = EmailMultiAlternatives(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={"Message-ID": message_id, "X-Conveyor-Notification": key},
    )
    if html:
        message.attach_alternative(html, "text/html")
    connection = get_connection(fail_silently=False)
    try:
        connection.open()
    except (OSError, smtplib.SMTPException) as exc:  # refused, unreachable, TLS, login
        raise NotSent(f"no connection to the mail server: {exc}") from exc
    try:
        connection.send_messages([message])
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if all(400 <= code < 500 for code in codes):  # greylisted: try again later
            raise NotSent(f"the mail server deferred the recipient: {exc.recipients}") from exc
        return Refused(reason="RecipientRefused", detail=str(exc.recipients)[:200])
    except smtplib.SMTPResponseException as exc:
        if 400 <= exc.smtp_code < 500:
            raise NotSent(
                f"the mail server deferred it: {exc.smtp_code} {exc.smtp_error!r}"
            ) from exc
        return Refused(reason=f"SMTP{exc.smtp_code}", detail=repr(exc.smtp_error)[:200])
    except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as exc:
        raise Ambiguous(f"the mail server went away during the send: {exc}") from exc
    finally:
        with contextlib.suppress(OSError, smtplib.SMTPException):
            connection.close()
    return Accepted(provider_id=message_id)
