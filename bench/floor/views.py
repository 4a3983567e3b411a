"""The floor's three views: a purchase, Daraja's STK callback that pays it, and Africa's
Talking's delivery report for its SMS."""

import json
from decimal import Decimal

from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from bench.floor import tasks
from bench.floor.models import Purchase

PRICES = {"1h": Decimal("10.00"), "1d": Decimal("50.00")}


@csrf_exempt
@require_POST
def purchase(request):
    """One INSERT, one message: 202 with the purchase's id."""
    try:
        body = json.loads(request.body)
        phone, amount = str(body["phone"]), PRICES[body["package"]]
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": "bad_request"}, status=400)
    row = Purchase.objects.create(phone=phone, amount=amount)
    tasks.push.delay(row.id)
    return JsonResponse({"id": row.id}, status=202)


@csrf_exempt
@require_POST
def stk_callback(request, purchase_id: int):
    """One conditional UPDATE; the fulfil message only when it moved the row (a repeated
    callback changes nothing). A failed payment is acknowledged and leaves the row pending."""
    try:
        stk = json.loads(request.body)["Body"]["stkCallback"]
        receipt = None
        if stk["ResultCode"] == 0:
            items = {item["Name"]: item.get("Value") for item in stk["CallbackMetadata"]["Item"]}
            receipt = str(items["MpesaReceiptNumber"])
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"ResultCode": 1, "ResultDesc": "Rejected: bad body"}, status=400)
    if receipt is not None and Purchase.objects.filter(
        id=purchase_id, status=Purchase.Status.PENDING
    ).update(status=Purchase.Status.PAID, receipt=receipt, paid_at=timezone.now()):
        tasks.fulfil.delay(purchase_id)
    return JsonResponse({"ResultCode": 0, "ResultDesc": "Accepted"})


@csrf_exempt
@require_POST
def sms_report(request):
    """A delivery report (form-encoded): one conditional UPDATE when it says Success; a
    duplicate changes nothing. 200 for every report, as the product's hook answers."""
    message_id, status = request.POST.get("id"), request.POST.get("status")
    if not message_id or not status:
        return HttpResponse("A report needs id and status.", status=400)
    if status == "Success":
        Purchase.objects.filter(message_id=message_id, sms_delivered_at=None).update(
            sms_delivered_at=timezone.now()
        )
    return HttpResponse("ok")
