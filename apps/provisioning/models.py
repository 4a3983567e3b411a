from django.db import models
from django.db.models.functions import Now
from django.utils import timezone

from apps.common.crypto import EncryptedTextField


class Router(models.Model):
    """A MikroTik router reached over the RouterOS API (plain 8728, TLS 8729)."""

    name = models.CharField(max_length=100, unique=True)
    identity = models.CharField(
        max_length=100,
        blank=True,
        help_text="Its RouterOS identity (/system identity), which the hotspot login page "
        "passes as $(identity): a purchase may name the router by it or by its name.",
    )
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(default=8728)
    use_tls = models.BooleanField(
        default=False, help_text="api-ssl; then the port is usually 8729."
    )
    username = models.CharField(
        max_length=100, help_text="A router user in a group with api, read, write."
    )
    password = EncryptedTextField()
    is_active = models.BooleanField(
        default=True, help_text="New subscriptions go to active routers."
    )
    last_seen_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    resources = models.JSONField(default=dict, blank=True, help_text="/system/resource/print.")
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["identity"], condition=~models.Q(identity=""), name="router_identity_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.host}:{self.port})"


class Subscription(models.Model):
    """Access bought by one payment: credentials, a validity window, a router.

    PENDING -> PROVISIONED -> EXPIRED, or FAILED with the error (a retry can still
    provision it). Transitions are conditional updates, like payments'.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        PROVISIONED = "provisioned"
        EXPIRED = "expired"
        FAILED = "failed"

    payment = models.OneToOneField(
        "payments.Payment", on_delete=models.PROTECT, related_name="subscription"
    )
    member = models.ForeignKey(
        "accounts.Member", on_delete=models.PROTECT, related_name="subscriptions"
    )
    package = models.ForeignKey("payments.Package", on_delete=models.PROTECT)
    router = models.ForeignKey(Router, null=True, blank=True, on_delete=models.PROTECT)
    username = models.CharField(max_length=64, unique=True)
    password = EncryptedTextField()
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    provisioned_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The expiry sweep: live subscriptions by end.
            models.Index(
                fields=["ends_at"],
                name="subscription_live_idx",
                condition=models.Q(status__in=["pending", "provisioned", "failed"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.username} ({self.get_status_display()})"


# FreeRADIUS's own tables (mods-config/sql/main/postgresql/schema.sql): same names, same
# columns (nullable text where FreeRADIUS has it), so a stock rlm_sql reads them.


class RadiusRow(models.Model):
    class Meta:
        abstract = True

    def __str__(self) -> str:
        who = getattr(self, "username", "") or getattr(self, "groupname", "")
        return (
            f"{who} {getattr(self, 'attribute', '')} {getattr(self, 'op', '')} "
            f"{getattr(self, 'value', '')}".strip()
        )


class RadCheck(RadiusRow):
    """Per-user check items: Cleartext-Password, Expiration, Simultaneous-Use."""

    username = models.TextField(default="", db_default="")
    attribute = models.TextField(default="", db_default="")
    op = models.CharField(max_length=2, default="==", db_default="==")
    value = models.TextField(default="", db_default="")

    class Meta:
        db_table = "radcheck"
        indexes = [models.Index(fields=["username", "attribute"], name="radcheck_username")]


class RadReply(RadiusRow):
    """Per-user reply attributes: Mikrotik-Rate-Limit, Session-Timeout, data cap."""

    username = models.TextField(default="", db_default="")
    attribute = models.TextField(default="", db_default="")
    op = models.CharField(max_length=2, default="=", db_default="=")
    value = models.TextField(default="", db_default="")

    class Meta:
        db_table = "radreply"
        indexes = [models.Index(fields=["username", "attribute"], name="radreply_username")]


class RadUserGroup(RadiusRow):
    username = models.TextField(default="", db_default="")
    groupname = models.TextField(default="", db_default="")
    priority = models.IntegerField(default=0, db_default=0)

    class Meta:
        db_table = "radusergroup"
        indexes = [models.Index(fields=["username"], name="radusergroup_username")]


class RadGroupCheck(RadiusRow):
    groupname = models.TextField(default="", db_default="")
    attribute = models.TextField(default="", db_default="")
    op = models.CharField(max_length=2, default="==", db_default="==")
    value = models.TextField(default="", db_default="")

    class Meta:
        db_table = "radgroupcheck"
        indexes = [models.Index(fields=["groupname", "attribute"], name="radgroupcheck_groupname")]


class RadGroupReply(RadiusRow):
    groupname = models.TextField(default="", db_default="")
    attribute = models.TextField(default="", db_default="")
    op = models.CharField(max_length=2, default="=", db_default="=")
    value = models.TextField(default="", db_default="")

    class Meta:
        db_table = "radgroupreply"
        indexes = [models.Index(fields=["groupname", "attribute"], name="radgroupreply_groupname")]


class RadAcct(RadiusRow):
    """Accounting FreeRADIUS writes (sessions; acctstoptime NULL while one is open)."""

    radacctid = models.BigAutoField(primary_key=True)
    acctsessionid = models.TextField()
    acctuniqueid = models.TextField(unique=True)
    username = models.TextField(null=True)
    realm = models.TextField(null=True)
    nasipaddress = models.GenericIPAddressField()
    nasportid = models.TextField(null=True)
    nasporttype = models.TextField(null=True)
    acctstarttime = models.DateTimeField(null=True)
    acctupdatetime = models.DateTimeField(null=True)
    acctstoptime = models.DateTimeField(null=True)
    acctinterval = models.BigIntegerField(null=True)
    acctsessiontime = models.BigIntegerField(null=True)
    acctauthentic = models.TextField(null=True)
    connectinfo_start = models.TextField(null=True)
    connectinfo_stop = models.TextField(null=True)
    acctinputoctets = models.BigIntegerField(null=True)
    acctoutputoctets = models.BigIntegerField(null=True)
    calledstationid = models.TextField(null=True)
    callingstationid = models.TextField(null=True)
    acctterminatecause = models.TextField(null=True)
    servicetype = models.TextField(null=True)
    framedprotocol = models.TextField(null=True)
    framedipaddress = models.GenericIPAddressField(null=True)
    framedipv6address = models.GenericIPAddressField(null=True)
    framedipv6prefix = models.TextField(null=True)
    framedinterfaceid = models.TextField(null=True)
    delegatedipv6prefix = models.TextField(null=True)
    class_field = models.TextField(null=True, db_column="class")

    class Meta:
        db_table = "radacct"
        indexes = [
            models.Index(fields=["acctstarttime", "username"], name="radacct_start_user_idx")
        ]


class RadPostAuth(RadiusRow):
    """FreeRADIUS's log of authentication answers."""

    id = models.BigAutoField(primary_key=True)
    username = models.TextField()
    pass_field = models.TextField(null=True, db_column="pass")
    reply = models.TextField(null=True)
    calledstationid = models.TextField(null=True)
    callingstationid = models.TextField(null=True)
    authdate = models.DateTimeField(default=timezone.now, db_default=Now())
    class_field = models.TextField(null=True, db_column="class")

    class Meta:
        db_table = "radpostauth"
        indexes = [models.Index(fields=["username"], name="radpostauth_username_idx")]
