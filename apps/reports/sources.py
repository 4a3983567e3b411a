"""The reports and exports staff can ask for, each a documents Source: its columns, its rows
a chunk at a time in key order (constant memory: the chunk, never the table), its count.

Reports take a date range (local dates, inclusive) on the rows' creation time; exports take
everything. The members export has the import's columns, so its file imports again."""

from django.db.models import F, Q

from apps.accounts.models import Member
from apps.commissions.models import CommissionLedger
from apps.documents.services import window
from apps.documents.sources import Source, register
from apps.payments.models import Payment
from apps.provisioning.models import Subscription
from apps.wallets.models import Earning


def _dated(queryset, params: dict, field: str = "created_at"):
    if not params:
        return queryset
    start, end = window(params)
    return queryset.filter(**{f"{field}__gte": start, f"{field}__lt": end})


def _by_id(queryset, fields: tuple[str, ...]):
    """rows(params, after, limit) and count(params) of a queryset read in id order."""

    def rows(params: dict, after, limit: int):
        chunk = _dated(queryset, params).order_by("pk")
        if after is not None:
            chunk = chunk.filter(pk__gt=after)
        return [(row[0], row[1:]) for row in chunk.values_list("pk", *fields)[:limit]]

    def count(params: dict) -> int:
        return _dated(queryset, params).count()

    return rows, count


def _payment_rows(params: dict, after, limit: int):
    """Payments in time order: the key is (created_at, id), ids being random."""
    chunk = _dated(Payment.objects.all(), params).order_by("created_at", "pk")
    if after is not None:
        at, pk = after
        chunk = chunk.filter(Q(created_at__gt=at) | Q(created_at=at, pk__gt=pk))
    values = chunk.values_list("created_at", "pk", *PAYMENT_FIELDS)[:limit]
    return [([row[0].isoformat(), str(row[1])], (str(row[1]), *row[2:])) for row in values]


PAYMENT_COLUMNS = (
    "id",
    "created",
    "phone",
    "package",
    "amount (KES)",
    "method",
    "status",
    "M-Pesa receipt",
    "Stripe reference",
    "paid",
    "fulfilled",
)
PAYMENT_FIELDS = (
    "created_at",
    "phone",
    "package__name",
    "amount",
    "method",
    "status",
    "mpesa_receipt",
    "stripe_reference",
    "paid_at",
    "fulfilled_at",
)


def _count(queryset):
    return lambda params: _dated(queryset, params).count()


def _with_rows(name, title, columns, queryset, fields, *, dated=True, kind="report"):
    rows, count = _by_id(queryset, fields)
    return Source(name, title, columns, rows, count, dated=dated, kind=kind)


COMMISSION_FIELDS = (
    "created_at",
    "beneficiary__phone",
    "source_member__phone",
    "source_kind",
    "level",
    "rate",
    "base_amount",
    "amount",
    "status",
    "processed_at",
)
COMMISSION_COLUMNS = (
    "created",
    "beneficiary",
    "from member",
    "cause",
    "level",
    "rate",
    "base (KES)",
    "amount (KES)",
    "status",
    "processed",
)
EARNING_FIELDS = (
    "created_at",
    "member__phone",
    "source_kind",
    "source_id",
    "amount",
    "status",
    "matures_at",
    "matured_at",
)
EARNING_COLUMNS = (
    "created",
    "member",
    "cause",
    "cause id",
    "amount (KES)",
    "status",
    "matures",
    "matured",
)


def _ledger_rows(params: dict, after, limit: int):
    """Both ledgers, earnings first then commissions: the key is [ledger, id]."""
    ledger, last = after if after is not None else ("earnings", None)
    out = []
    if ledger == "earnings":
        rows, _ = _by_id(Earning.objects.all(), EARNING_FIELDS)
        out = [(["earnings", pk], ("earning", *row, "")) for pk, row in rows(params, last, limit)]
        if len(out) == limit:
            return out
        last = None
    rows, _ = _by_id(CommissionLedger.objects.all(), LEDGER_COMMISSION_FIELDS)
    more = rows(params, last, limit - len(out))
    return out + [(["commissions", pk], ("commission", *row[:6], "", *row[6:])) for pk, row in more]


LEDGER_COMMISSION_FIELDS = (
    "created_at",
    "beneficiary__phone",
    "source_kind",
    "source_id",
    "amount",
    "status",
    "processed_at",
    "level",
)
LEDGER_COLUMNS = ("ledger", *EARNING_COLUMNS[:-2], "due", "settled", "level")


def register_sources() -> None:
    register(
        Source(
            "payments",
            "Payments",
            PAYMENT_COLUMNS,
            _payment_rows,
            _count(Payment.objects.all()),
        )
    )
    register(
        _with_rows(
            "commissions",
            "Commissions",
            COMMISSION_COLUMNS,
            CommissionLedger.objects.all(),
            COMMISSION_FIELDS,
        )
    )
    register(
        _with_rows(
            "wallets", "Wallet earnings", EARNING_COLUMNS, Earning.objects.all(), EARNING_FIELDS
        )
    )
    register(
        _with_rows(
            "subscriptions",
            "Subscriptions",
            ("created", "phone", "package", "username", "starts", "ends", "status", "router"),
            Subscription.objects.all(),
            (
                "created_at",
                "member__phone",
                "package__name",
                "username",
                "starts_at",
                "ends_at",
                "status",
                "router__name",
            ),
        )
    )
    register(
        _with_rows(
            "members",
            "Members with uplines and balances",
            ("phone", "name", "upline_phone", "pending", "withdrawable"),
            Member.objects.filter(is_staff=False).annotate(
                pending=F("wallet__pending"), withdrawable=F("wallet__withdrawable")
            ),
            ("phone", "name", "referred_by__phone", "pending", "withdrawable"),
            dated=False,
            kind="export",
        )
    )
    register(
        Source(
            "ledgers",
            "Ledgers (earnings and commissions)",
            LEDGER_COLUMNS,
            _ledger_rows,
            lambda params: Earning.objects.count() + CommissionLedger.objects.count(),
            dated=False,
            kind="export",
        )
    )
    register(
        Source(
            "payments_all",
            "All payments",
            PAYMENT_COLUMNS,
            _payment_rows,
            _count(Payment.objects.all()),
            dated=False,
            kind="export",
        )
    )
