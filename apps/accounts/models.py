from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from apps.accounts.phone import PhoneField, normalize_phone

# A referral chain longer than this is treated as a cycle (commission levels are few).
MAX_UPLINE_DEPTH = 100


class MemberManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, phone: str) -> "Member":
        try:
            phone = normalize_phone(phone)
        except ValidationError:
            raise self.model.DoesNotExist from None
        return super().get_by_natural_key(phone)

    def create_user(self, phone: str, password: str | None = None, **fields) -> "Member":
        member = self.model(phone=phone, **fields)  # full_clean normalizes it
        member.set_password(password)  # None gives an unusable password
        member.full_clean()
        member.save(using=self._db)
        return member

    def create_superuser(self, phone: str, password: str | None = None, **fields) -> "Member":
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(phone, password, **fields)


class Member(AbstractBaseUser, PermissionsMixin):
    """A customer, referrer or staff member, known by phone number (the M-Pesa identity)."""

    phone = PhoneField(unique=True, help_text="254XXXXXXXXX; 07XXXXXXXX is accepted.")
    name = models.CharField(max_length=150, blank=True)
    email = models.EmailField(blank=True)
    referred_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        # Removing an upline must not silently cut the commission chain below it.
        on_delete=models.PROTECT,
        related_name="referrals",
        help_text="The upline who referred this member.",
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Can log into the admin.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = MemberManager()

    USERNAME_FIELD = "phone"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["-date_joined"]

    def __str__(self) -> str:
        return self.name or self.phone

    def clean(self) -> None:
        super().clean()
        self._check_upline()

    def _check_upline(self) -> None:
        upline, depth = self.referred_by, 0
        while upline is not None:
            depth += 1
            if (self.pk is not None and upline.pk == self.pk) or depth > MAX_UPLINE_DEPTH:
                raise ValidationError({"referred_by": "This upline would make a referral cycle."})
            upline = upline.referred_by
