from decimal import Decimal

from django.db import migrations

# The seed's rates; from here on they are data, edited in admin.
DEFAULT_RATES = {1: Decimal("0.10"), 2: Decimal("0.05"), 3: Decimal("0.02")}


def add_default_rates(apps, schema_editor):
    rate = apps.get_model("commissions", "CommissionRate")
    for level, value in DEFAULT_RATES.items():
        rate.objects.get_or_create(level=level, defaults={"rate": value})


class Migration(migrations.Migration):
    dependencies = [("commissions", "0001_initial")]

    operations = [migrations.RunPython(add_default_rates, migrations.RunPython.noop)]
