"""Names that say what they mean: ``settled_at`` is when a payment failed or was cancelled
(``failed_at``), and the STK push is stored as "stk_push" rather than "mpesa" (paybill is
M-Pesa too). Data kept: the column is renamed, the stored values rewritten both ways."""

from django.db import migrations, models

RENAMED_METHODS = {"mpesa": "stk_push"}


def _rename_methods(apps, mapping: dict[str, str]) -> None:
    Payment = apps.get_model("payments", "Payment")
    for old, new in mapping.items():
        Payment.objects.filter(method=old).update(method=new)


def forwards(apps, schema_editor):
    _rename_methods(apps, RENAMED_METHODS)


def backwards(apps, schema_editor):
    _rename_methods(apps, {new: old for old, new in RENAMED_METHODS.items()})


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0001_initial"),
    ]

    operations = [
        migrations.RenameField(model_name="payment", old_name="settled_at", new_name="failed_at"),
        migrations.AlterField(
            model_name="payment",
            name="failed_at",
            field=models.DateTimeField(
                blank=True, help_text="When it failed or was cancelled.", null=True
            ),
        ),
        migrations.AlterField(
            model_name="payment",
            name="method",
            field=models.CharField(
                choices=[
                    ("stk_push", "M-Pesa STK push"),
                    ("paybill", "M-Pesa paybill (C2B)"),
                    ("stripe", "Stripe"),
                ],
                default="stk_push",
                max_length=8,
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
