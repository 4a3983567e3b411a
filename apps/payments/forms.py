"""The forms staff fill in on the Suspense admin's intermediate pages."""

from django import forms
from django.core.exceptions import ValidationError

from apps.accounts.phone import normalize_phone
from apps.payments import selectors


class ApplyToPaymentForm(forms.Form):
    reference = forms.CharField(
        max_length=12, help_text="The pending payment this money pays (its reference)."
    )


class ApplyAsPurchaseForm(forms.Form):
    phone = forms.CharField(max_length=20, help_text="Who gets the package.")
    package = forms.ChoiceField(help_text="Its price must be the amount held.")
    router = forms.CharField(
        max_length=64,
        required=False,
        help_text="The hotspot (router name or identity); may be empty with one router.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["package"].choices = [
            (p.code, f"{p.name} (KES {p.price})") for p in selectors.package_list_on_sale()
        ]

    def clean_phone(self) -> str:
        try:
            return normalize_phone(self.cleaned_data["phone"])
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None
