"""Members' in-app notices (bearer token) and Africa's Talking's delivery reports."""

import hmac
import logging
import re
from urllib.parse import parse_qs

from django.conf import settings
from django.core.paginator import EmptyPage, Paginator
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.views import member_required
from apps.common.errors import ApplicationError
from apps.common.http import (
    BadRequest,
    client_ip,
    ip_allowed,
    json_view,
    read_body,
    read_json_object,
)
from apps.notifications import selectors
from apps.notifications.models import Notification
from apps.notifications.services import (
    notification_mark_read,
    preference_set,
    sms_delivery_report,
)

log = logging.getLogger("conveyor.notifications.http")

PAGE_SIZE = 20
# ASCII digits only, and few of them: str.isdigit() takes "²", which int() refuses, and
# int() refuses more than 4300 digits.
PAGE_NUMBER = re.compile(r"[0-9]{1,9}")
REPORT_MAX_BYTES = 4096  # a report is a handful of short fields
REPORT_CONTENT_TYPE = "application/x-www-form-urlencoded"
# Each field a report may carry, and the longest we take (the columns they land in, or longer
# than any value Africa's Talking sends).
REPORT_FIELDS = {"id": 100, "status": 20, "phoneNumber": 20, "failureReason": 100}
# A member's choices in a PUT; in-app notices are always on, so only true is taken for them.
PREFERENCE_FIELDS = {"in_app", "sms", "email"}


def _notice(n: Notification) -> dict:
    return {
        "id": n.pk,
        "kind": n.kind,
        "text": n.body,
        "created_at": n.created_at.isoformat(),
        "read_at": n.read_at.isoformat() if n.read_at else None,
    }


@require_GET
@json_view
@member_required
def inbox(request):
    """The member's in-app notices, newest first, PAGE_SIZE a page (?page=N), and how many
    are unread."""
    page_number = request.GET.get("page", "1")
    if not PAGE_NUMBER.fullmatch(page_number) or int(page_number) < 1:
        raise BadRequest("page must be a positive whole number.", field="page")
    pages = Paginator(selectors.inbox(member_id=request.member.pk), PAGE_SIZE)
    try:
        page = pages.page(int(page_number))
    except EmptyPage:
        raise BadRequest(
            f"There are {pages.num_pages} pages.", status=404, code="no_such_page"
        ) from None
    return JsonResponse(
        {
            "notifications": [_notice(n) for n in page.object_list],
            "unread": selectors.unread_count(member_id=request.member.pk),
            "page": page.number,
            "pages": pages.num_pages,
            "count": pages.count,
        }
    )


@csrf_exempt  # bearer token, no cookie
@require_POST
@json_view
@member_required
def read(request, notification_id: int):
    """Mark one of the member's notices read; reading it again changes nothing."""
    notice = notification_mark_read(notification_id=notification_id, member_id=request.member.pk)
    if notice is None:
        raise BadRequest("No such notification.", status=404, code="not_found")
    return JsonResponse(_notice(notice))


@csrf_exempt  # bearer token, no cookie
@require_http_methods(["GET", "PUT"])
@json_view
@member_required
def preferences(request):
    """The channels the member wants beside in-app notices: {"sms": bool, "email": bool}; a
    PUT may send back what GET answered ("in_app": true), and a field it leaves out stays."""
    if request.method == "PUT":
        _, data = read_json_object(request, 1024)
        if set(data) - PREFERENCE_FIELDS or not all(isinstance(v, bool) for v in data.values()):
            raise BadRequest('Send {"sms": true|false, "email": true|false}.', code="invalid")
        if data.pop("in_app", True) is not True:
            raise BadRequest("In-app notices cannot be turned off.", code="invalid", field="in_app")
        if data.get("email") and not request.member.email:
            raise BadRequest("Add an email address first.", code="no_email", field="email")
        current = selectors.preference_of(member_id=request.member.pk)
        choice = {"sms": current.sms, "email": current.email, **data}
        preference_set(member_id=request.member.pk, **choice)
    current = selectors.preference_of(member_id=request.member.pk)
    return JsonResponse({"in_app": True, "sms": current.sms, "email": current.email})


@csrf_exempt  # Africa's Talking posts form fields; the secret is in the path
@require_POST
def delivery_report(request, token: str):
    """Africa's Talking's delivery report: 200 once read (an unknown id or a replay changes
    nothing, and the gateway would only send it again on anything else); 4xx for a wrong
    address or a body that is not a report."""
    try:
        _report_guard(request, token)
        fields = _report_fields(request)
        outcome = sms_delivery_report(
            provider_id=fields["id"],
            status=fields["status"],
            phone=fields["phoneNumber"],
            failure_reason=fields["failureReason"],
        )
    except BadRequest as error:
        log.warning(
            "sms.report_refused ip=%s status=%s reason=%s",
            client_ip(request),
            error.status,
            error.message,
        )
        return HttpResponse(error.message, status=error.status, content_type="text/plain")
    except ApplicationError as exc:  # a status that is not one of the gateway's
        log.warning("sms.report_refused ip=%s status=400 reason=%s", client_ip(request), exc)
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    return HttpResponse(outcome, content_type="text/plain")


def _report_guard(request, token: str) -> None:
    expected = settings.SMS_DELIVERY_TOKEN
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        raise BadRequest("Unknown report address.", status=403, code="forbidden")
    if not ip_allowed(client_ip(request), settings.SMS_DELIVERY_ALLOWED_IPS):
        raise BadRequest("This address may not send reports.", status=403, code="forbidden")


def _report_fields(request) -> dict[str, str]:
    raw = read_body(request, REPORT_MAX_BYTES)
    if raw and request.content_type != REPORT_CONTENT_TYPE:
        raise BadRequest(f"Send the report as {REPORT_CONTENT_TYPE}.", status=415)
    try:
        # errors="strict": a percent-escape that is not UTF-8 is refused, not made "\ufffd".
        form = parse_qs(
            raw.decode("utf-8"), strict_parsing=bool(raw), max_num_fields=20, errors="strict"
        )
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("The body is not a form-encoded report in UTF-8.") from None
    fields = {name: (form.get(name) or [""])[0].strip() for name in REPORT_FIELDS}
    if not fields["id"] or not fields["status"]:
        raise BadRequest("A report needs id and status.")
    for name, longest in REPORT_FIELDS.items():
        if len(fields[name]) > longest:
            raise BadRequest(f"{name} is longer than {longest} characters.")
    return fields
