"""Receipts: every fulfilled payment gets a numbered PDF, made on the documents queue by a real
worker after the normal path (callback or webhook, fulfilment, payment_processed), read back
with pypdf; drawn again to the same bytes; on the portal's API; the catch-up command; admin."""

import base64
import hashlib
import io
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import pypdf
import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection

from apps.ops.models import FailedTask
from apps.payments.models import Payment, Receipt, StkRequest
from apps.payments.services import receipt_make
from apps.payments.services.receipts import vat_included
from devstack.processes import wait_for
from tests.support import bodies
from tests.support.workers import ProbeWorker

pytestmark = pytest.mark.django_db(transaction=True)

# The seller, the same in this process and in the worker's.
SELLER = {
    "RECEIPT_OPERATOR_NAME": "Kibanda WiFi Ltd",
    "RECEIPT_OPERATOR_ADDRESS": "Moi Avenue 12, Nairobi",
    "RECEIPT_OPERATOR_TAX_PIN": "P051234567X",
}
PAID_AT = datetime(2025, 3, 14, 7, 15, 47, tzinfo=UTC)  # 10:15 in Nairobi


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    return tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def storage(settings, media):
    settings.MEDIA_ROOT = str(media)
    for name, value in SELLER.items():
        setattr(settings, name, value)


@pytest.fixture
def documents_worker(django_db_setup, tmp_path, media, empty_queues):
    """A real worker on the payments and documents queues (not provisioning: its jobs wait and
    are purged), storing into this module's media folder. One per test, so the tests that read
    the documents queue find their messages there, not taken."""
    process = ProbeWorker(
        tmp_path, queue_names=["payments", "documents"], env={"MEDIA_ROOT": str(media), **SELLER}
    ).start()
    yield process
    process.stop()


@pytest.fixture
def fulfilled(package):
    """A fulfilled payment, as fulfilment leaves one, at fixed times."""

    def make(**fields) -> Payment:
        values = {
            "package": package,
            "phone": "254712345678",
            "amount": package.price,
            "reference": "HS" + uuid.uuid4().hex[:6].upper(),
            "status": Payment.Status.FULFILLED,
            "mpesa_receipt": "T" + uuid.uuid4().hex[:9].upper(),
            "paid_at": PAID_AT,
            "fulfilled_at": PAID_AT,
            **fields,
        }
        return Payment.objects.create(**values)

    return make


@pytest.fixture
def documents_queue(redis_client):
    """The tasks waiting in the documents queue: [(task name, kwargs)]."""

    def read() -> list[tuple[str, dict]]:
        messages = [json.loads(m) for m in redis_client.lrange("documents", 0, -1)]
        return [
            (m["headers"]["task"], json.loads(base64.b64decode(m["body"]))[1]) for m in messages
        ]

    return read


def text_of(receipt: Receipt) -> str:
    with default_storage.open(receipt.file, "rb") as handle:
        pages = pypdf.PdfReader(io.BytesIO(handle.read())).pages
    assert len(pages) == 1
    return pages[0].extract_text()


def stored_bytes(receipt: Receipt) -> bytes:
    with default_storage.open(receipt.file, "rb") as handle:
        return handle.read()


def made(payment_id) -> Receipt:
    return wait_for(
        lambda: Receipt.objects.filter(payment_id=payment_id, generated_at__isnull=False).first(),
        timeout=60,
        what="the receipt",
    )


def pay_by_stk(post, payment: Payment) -> str:
    StkRequest.objects.create(payment=payment, checkout_request_id="ws_CO_RCPT01")
    body = bodies.stk_success("ws_CO_RCPT01", receipt="TRC4K9ZQ2M")
    assert post("/hooks/stk/test-hooks/", body).status_code == 200
    return "TRC4K9ZQ2M"


def pay_by_paybill(post, payment: Payment) -> str:
    body = bodies.c2b(trans_id="TRC7H2LQ9X", amount="50.00", bill_ref=payment.reference)
    assert post("/hooks/c2b/confirm/test-hooks/", body).status_code == 200
    return "TRC7H2LQ9X"


def pay_by_card(post, payment: Payment) -> str:
    session = {
        "id": "cs_test_rcpt",
        "object": "checkout.session",
        "payment_status": "paid",
        "client_reference_id": str(payment.pk),
        "payment_intent": "pi_3RcptTest",
        "amount_total": 5000,
        "currency": "kes",
    }
    payload = bodies.stripe_event("evt_rcpt", "checkout.session.completed", session)
    signature = bodies.stripe_signature(payload, settings.STRIPE_WEBHOOK_SECRET)
    assert post("/hooks/stripe/", payload, HTTP_STRIPE_SIGNATURE=signature).status_code == 200
    return "pi_3RcptTest"


@pytest.mark.parametrize(
    "method, pay, money_label",
    [
        (Payment.Method.STK_PUSH, pay_by_stk, "M-Pesa receipt"),
        (Payment.Method.PAYBILL, pay_by_paybill, "M-Pesa receipt"),
        (Payment.Method.STRIPE, pay_by_card, "Stripe reference"),
    ],
)
def test_a_payment_paid_the_normal_way_gets_its_receipt_from_the_worker(
    documents_worker, post, package, method, pay, money_label
):
    payment = Payment.objects.create(
        package=package, phone="254712345678", amount=50, reference="HSRCPT01", method=method
    )
    reference = pay(post, payment)
    receipt = made(payment.pk)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.FULFILLED
    assert receipt.number == f"CNV-{receipt.pk:08d}"
    assert receipt.file.startswith("receipts/") and receipt.file.endswith(f"{receipt.number}.pdf")

    text = text_of(receipt)
    for expected in (
        receipt.number,
        money_label,
        reference,
        "HSRCPT01",
        "Normal 1 Hour",
        "KES 50.00",
        "VAT 16%",
        "KES 6.90",
        "KES 43.10",
        "254712***678",
        "Kibanda WiFi Ltd",
        "Moi Avenue 12, Nairobi",
        "PIN P051234567X",
    ):
        assert expected in text, expected
    assert "254712345678" not in text  # the phone is masked
    data = stored_bytes(receipt)
    assert (len(data), hashlib.sha256(data).hexdigest()) == (receipt.size, receipt.sha256)

    # Drawn again in this process, from the same rows: the worker's bytes exactly.
    again = receipt_make(payment_id=payment.pk)
    assert (again.number, again.file, again.sha256) == (
        receipt.number,
        receipt.file,
        receipt.sha256,
    )
    assert stored_bytes(again) == data
    assert not FailedTask.objects.exists()


def test_drawing_a_receipt_again_gives_the_same_bytes_under_the_same_name(fulfilled, settings):
    payment = fulfilled()
    first = receipt_make(payment_id=payment.pk)
    data = stored_bytes(first)
    assert first.file == f"receipts/2025/03/{first.number}.pdf"
    assert data.startswith(b"%PDF-")

    # What the sale was stays as it was: a renamed package or a new VAT rate changes nothing.
    payment.package.name = "Renamed"
    payment.package.save()
    settings.RECEIPT_VAT_RATE = Decimal("0.14")
    again = receipt_make(payment_id=payment.pk)
    assert (again.pk, again.number, again.sha256) == (first.pk, first.number, first.sha256)
    assert stored_bytes(again) == data
    assert again.generated_at > first.generated_at

    # A lost or damaged file is drawn again, to the same bytes, under the same name.
    default_storage.delete(first.file)
    assert receipt_make(payment_id=payment.pk).sha256 == first.sha256
    with default_storage.open(first.file, "wb") as handle:
        handle.write(b"damaged")
    assert receipt_make(payment_id=payment.pk).file == first.file
    assert stored_bytes(first) == data
    assert default_storage.listdir("receipts/2025/03")[1] == [f"{first.number}.pdf"]


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (SQLite lets one writer in at a time); CI runs it there",
)
def test_receipts_made_at_once_for_one_payment_are_one_receipt(fulfilled):
    payment = fulfilled()
    start = threading.Barrier(4)

    def make():
        start.wait()
        try:
            return receipt_make(payment_id=payment.pk).number
        finally:
            connection.close()  # this thread's own

    with ThreadPoolExecutor(4) as pool:
        numbers = list(pool.map(lambda _: make(), range(4)))
    (receipt,) = Receipt.objects.filter(payment=payment)
    assert numbers == [receipt.number] * 4


def test_vat_is_inside_the_price_rounded_half_up_and_absent_at_a_zero_rate(fulfilled, settings):
    assert vat_included(Decimal("50.00"), Decimal("0.16")) == Decimal("6.90")
    assert vat_included(Decimal("1000.00"), Decimal("0.16")) == Decimal("137.93")
    assert vat_included(Decimal("1.40"), Decimal("0.6")) == Decimal("0.53")  # 0.525, half up

    settings.RECEIPT_VAT_RATE = Decimal("0")
    text = text_of(receipt_make(payment_id=fulfilled().pk))
    assert "VAT" not in text and "Total paid" in text and "KES 50.00" in text


def test_a_card_payment_shows_its_stripe_reference(fulfilled):
    card = fulfilled(method=Payment.Method.STRIPE, mpesa_receipt=None, stripe_reference="pi_3Qx")
    text = text_of(receipt_make(payment_id=card.pk))
    assert "Stripe reference" in text and "pi_3Qx" in text and "M-Pesa" not in text


def test_the_api_links_the_receipt_once_made_and_serves_it(client, fulfilled):
    payment = fulfilled()
    state = client.get(f"/api/payments/{payment.pk}/").json()
    assert state["receipt_pdf"] is None
    assert state["receipt"] == payment.mpesa_receipt  # the M-Pesa receipt, as it always was
    url = f"/api/payments/{payment.pk}/receipt.pdf"
    before = client.get(url)
    assert before.status_code == 404
    assert before.json()["error"]["code"] == "not_found"

    receipt = receipt_make(payment_id=payment.pk)
    state = client.get(f"/api/payments/{payment.pk}/").json()
    assert state["receipt_pdf"] == {"number": receipt.number, "url": url}
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{receipt.number}.pdf"'
    assert b"".join(response.streaming_content) == stored_bytes(receipt)

    default_storage.delete(receipt.file)  # storage lost it: a 404, never a 500
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("key", ["not-a-uuid", str(uuid.uuid4())])
def test_a_bad_id_is_a_json_404(client, db, key):
    for url in (f"/api/payments/{key}/receipt.pdf", f"/api/payments/{key}/"):
        response = client.get(url)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_missing_enqueues_only_the_receipts_not_made(
    fulfilled, package, documents_queue, empty_queues
):
    done = fulfilled()
    receipt_make(payment_id=done.pk)
    never, unfinished = fulfilled(), fulfilled()
    Receipt.objects.create(payment=unfinished, number="CNV-X", package_name="x", vat_rate=0)
    fulfilled(status=Payment.Status.PAID, fulfilled_at=None)  # not fulfilled: no receipt yet
    out = io.StringIO()
    call_command("receipts_make", "--missing", stdout=out)
    assert out.getvalue() == "2 receipts enqueued.\n"
    queued = documents_queue()
    assert {name for name, _ in queued} == {"tasks.documents.receipts.make_receipt"}
    assert sorted(kwargs["payment_id"] for _, kwargs in queued) == sorted(
        str(p.pk) for p in (never, unfinished)
    )

    call_command("receipts_make", "--missing", stdout=io.StringIO())
    assert len(documents_queue()) == 2  # one waits per payment, however often asked


def test_payments_given_are_made_at_once_and_bad_ids_are_a_clear_error(fulfilled):
    payment = fulfilled()
    out = io.StringIO()
    call_command("receipts_make", "--payment", str(payment.pk), stdout=out)
    receipt = Receipt.objects.get(payment=payment)
    assert out.getvalue() == f"{receipt.number} {receipt.file} sha256={receipt.sha256}\n"

    paid = fulfilled(status=Payment.Status.PAID, fulfilled_at=None)
    other, unknown = fulfilled(), uuid.uuid4()
    with pytest.raises(CommandError) as error:
        call_command(
            "receipts_make",
            *("--payment", str(other.pk), "--payment", str(unknown)),
            *("--payment", str(paid.pk), "--payment", "HSKX7P2Q"),
        )
    assert str(error.value) == (
        f"No receipt made. HSKX7P2Q: not a payment id; {unknown}: no such payment; "
        f"{paid.pk}: paid, not fulfilled."
    )
    assert not Receipt.objects.filter(payment=other).exists()  # nothing made
    with pytest.raises(CommandError, match="Give --payment ID"):
        call_command("receipts_make")


def test_the_admin_links_the_receipt_and_regenerates_it_on_the_queue(
    staff_client, fulfilled, documents_queue, empty_queues
):
    payment = fulfilled()
    page = staff_client.get(f"/admin/payments/payment/{payment.pk}/change/")
    assert "not made yet" in page.content.decode()
    receipt = receipt_make(payment_id=payment.pk)
    page = staff_client.get(f"/admin/payments/payment/{payment.pk}/change/")
    assert f'/api/payments/{payment.pk}/receipt.pdf">{receipt.number}</a>' in page.content.decode()

    paid = fulfilled(status=Payment.Status.PAID, fulfilled_at=None)
    response = staff_client.post(
        "/admin/payments/payment/",
        {"action": "regenerate_receipt", "_selected_action": [payment.pk, paid.pk]},
        follow=True,
    )
    assert "1 receipt will be made again" in response.content.decode()
    queued = [("tasks.documents.receipts.make_receipt", {"payment_id": str(payment.pk)})]
    assert documents_queue() == queued
