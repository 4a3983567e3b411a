"""The form of admin's Send a message: the text, its channels, and the segment's filters."""

from datetime import date

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from apps.accounts.phone import normalize_phone
from apps.notifications.models import Channel
from apps.notifications.segments import member_phone_exists, segment_build, segment_reach
from apps.notifications.texts import SUBJECT_MAX, TEXT_MAX, message_errors, sms_size

# Dates outside these are typos, and the far ones overflow once converted to UTC.
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)


class _DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self):
        super().__init__(format="%Y-%m-%d")


class StaffMessageForm(forms.Form):
    channels = forms.MultipleChoiceField(
        choices=[(Channel.SMS, "SMS"), (Channel.EMAIL, "Email")],
        widget=forms.CheckboxSelectMultiple,
        help_text="Both: everyone gets the SMS, and those with an address the mail too.",
    )
    subject = forms.CharField(max_length=SUBJECT_MAX, required=False, help_text="Mail only.")
    body = forms.CharField(
        label="Message",
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80}),
    )
    joined_from = forms.DateField(required=False, widget=_DateInput())
    joined_to = forms.DateField(required=False, widget=_DateInput(), help_text="Included.")
    upline = forms.CharField(
        label="Referred by",
        max_length=20,
        required=False,
        help_text="The upline's phone (0712345678, +254712345678, …): their direct referrals.",
    )
    has_email = forms.BooleanField(label="Only members with an email address", required=False)
    min_withdrawable = forms.DecimalField(
        label="Withdrawable balance at least (KES)",
        required=False,
        min_value=0,
        max_digits=12,
        decimal_places=2,
    )
    token = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        parts, gsm, other = settings.STAFF_SMS_MAX_PARTS, sms_size(""), sms_size("\u2019")
        self.fields["body"].help_text = (
            f"{{name}} is each member's name. As an SMS, at most {gsm.most} characters "
            f"({parts} parts), {other.most} with an emoji or a curly quote."
        )

    def fieldsets(self) -> list[tuple[str, list]]:
        """The page's two parts: what is said, and to whom."""
        who = ["joined_from", "joined_to", "upline", "has_email", "min_withdrawable"]
        return [
            ("Message", [self[name] for name in ("channels", "subject", "body")]),
            ("To the active members who…", [self[name] for name in who]),
        ]

    def clean_body(self) -> str:
        return self.cleaned_data["body"].replace("\r\n", "\n")

    def clean_joined_from(self):
        return self._date("joined_from")

    def clean_joined_to(self):
        return self._date("joined_to")

    def clean_upline(self) -> str:
        raw = self.cleaned_data["upline"]
        if not raw:
            return ""
        try:
            phone = normalize_phone(raw)
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None
        if not member_phone_exists(phone=phone):
            raise forms.ValidationError(f"No member has the phone {phone}.")
        return phone

    def clean(self) -> dict:
        data = super().clean()
        channels = data.get("channels") or []
        checks = message_errors(
            channels=channels, subject=data.get("subject", ""), body=data.get("body", "")
        )
        for field, problem in checks.items():
            if field not in self.errors:
                self.add_error(field, problem)
        since, until = data.get("joined_from"), data.get("joined_to")
        if since and until and since > until:
            self.add_error("joined_to", "This is before the first day.")
        if self.errors:
            return data
        data["segment"] = segment_build(
            joined_from=since,
            joined_to=until,
            upline=data["upline"],
            has_email=data["has_email"],
            min_withdrawable=data["min_withdrawable"],
        )
        data["reach"] = reach = segment_reach(segment=data["segment"])
        if not reach.members:
            self.add_error(None, "No active member matches these filters.")
        elif not reach.reached(channels):
            self.add_error(
                None, f"None of the {reach.members} members these filters match has an email."
            )
        return data

    def _date(self, name: str):
        value = self.cleaned_data[name]
        if value and not EARLIEST <= value <= LATEST:
            raise forms.ValidationError(f"Pick a day from {EARLIEST} to {LATEST}.")
        return value
