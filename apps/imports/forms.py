"""The admin's upload form."""

from django import forms
from django.conf import settings


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="Members file",
        help_text=(
            "CSV (UTF-8) or XLSX with the columns phone, name, upline_phone, pending, "
            f"withdrawable; at most {settings.IMPORT_MAX_BYTES // (1 << 20)} MB."
        ),
    )
