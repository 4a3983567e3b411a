"""The admin form to ask for a report or export."""

from django import forms

from apps.documents.models import Format
from apps.documents.sources import source_get, sources_all


class DocumentRequestForm(forms.Form):
    source = forms.ChoiceField(label="Report or export")
    format = forms.ChoiceField(choices=Format.choices, initial=Format.CSV)
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = [
            (s.name, f"{s.kind}: {s.title}") for s in sources_all() if s.name != "summary"
        ]

    def clean(self):
        data = super().clean()
        name = data.get("source")
        if name and source_get(name).dated:
            for field in ("since", "until"):
                if not data.get(field):
                    self.add_error(field, "A report needs its dates.")
        return data
