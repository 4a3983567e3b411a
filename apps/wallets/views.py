"""Members' API for their wallet (a bearer token, as every members' view)."""

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from apps.accounts.views import member_required
from apps.common.http import json_view
from apps.wallets.selectors import wallet_get


@require_GET
@json_view
@member_required
def wallet(request):
    """The member's balances."""
    found = wallet_get(member_id=request.member.pk)
    return JsonResponse(
        {
            "currency": "KES",
            "pending": str(found.pending),
            "withdrawable": str(found.withdrawable),
        }
    )
