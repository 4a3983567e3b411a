"""Members' API sign-in: phone and password in, a bearer token out."""

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from apps.accounts.phone import normalize_phone
from apps.accounts.tokens import token_issue, token_member
from apps.common.http import BadRequest, client_ip, json_view, rate_limit, read_json_object


@csrf_exempt  # no cookie is involved: the answer is a token the client keeps
@require_POST
@json_view
def token(request):
    """POST {"phone", "password"} -> {"token", "expires_in"}; 401 for wrong credentials.

    Limited per address and per phone; while the limiter's Redis is down sign-in answers 503
    rather than let password guessing run unlimited (tokens already issued keep working)."""
    ip = client_ip(request)
    rate_limit("sign-ins", "address", ip, settings.SIGN_IN_RATE_PER_IP, when_unavailable="refuse")
    _, data = read_json_object(request, settings.REQUEST_MAX_BYTES)
    phone, password = data.get("phone"), data.get("password")
    if not isinstance(phone, str) or not isinstance(password, str) or not password:
        raise BadRequest("phone and password are required, as text.", code="invalid_credentials")
    try:
        phone = normalize_phone(phone)
    except ValidationError as exc:
        raise BadRequest(exc.messages[0], field="phone", code="invalid_phone") from None
    rate_limit(
        "sign-ins",
        "phone number",
        phone,
        settings.SIGN_IN_RATE_PER_PHONE,
        when_unavailable="refuse",
    )
    member = authenticate(request, phone=phone, password=password)
    if member is None:
        raise BadRequest(
            "The phone number or password is wrong.", status=401, code="invalid_credentials"
        )
    return JsonResponse({"token": token_issue(member), "expires_in": settings.API_TOKEN_MAX_AGE})


def member_required(view):
    """Let a request through with ``request.member`` set from its bearer token; 401 else."""

    def wrapped(request, *args, **kwargs):
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        member = token_member(credentials.strip()) if scheme.lower() == "bearer" else None
        if member is None:
            raise BadRequest(
                "Sign in first: send Authorization: Bearer <token> from /api/auth/token/.",
                status=401,
                code="unauthenticated",
                headers={"WWW-Authenticate": 'Bearer realm="conveyor"'},
            )
        request.member = member
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped
