"""`manage.py import_members`: queue, wait with progress, write the error report; --no-wait,
--status, --resume, --undo, --inline; a bad file refused with exit status 1."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.accounts.models import Member
from apps.imports.models import Import
from apps.imports.services import import_fail
from tests.apps.imports.conftest import csv_bytes, finished

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LINES = ["0712300001,Root,,10,0", "0712300002,Kid,0712300001,0,0", "0712300003,Bad,,x,0"]


def members_file(tmp_path, lines=LINES, name="members.csv"):
    path = tmp_path / name
    path.write_bytes(csv_bytes(lines))
    return path


def command(*args) -> str:
    out = StringIO()
    call_command("import_members", *map(str, args), stdout=out)
    return out.getvalue()


def test_the_command_waits_prints_progress_and_writes_the_report(documents_worker, tmp_path):
    report = tmp_path / "errors.csv"
    out = command(members_file(tmp_path), "--report", report)
    imp = Import.objects.get()
    assert f"import {imp.pk}: " in out and "% (staged" in out
    assert f"import {imp.pk} done: 3 rows, 2 created, 0 unchanged, 1 refused" in out
    assert f"error report (row, column, value, reason): {report}" in out
    lines = report.read_text(encoding="utf-8-sig").splitlines()
    assert lines == [
        "row,column,value,reason",
        '4,pending,x,"not an amount in KES (digits and a decimal point, e.g. 1500.50)"',
    ]
    assert "undone: 2 members" in command("--undo", imp.pk)
    assert not Member.objects.exists()


def test_no_wait_then_status(documents_worker, tmp_path):
    out = command(members_file(tmp_path), "--no-wait", "--report", tmp_path / "r.csv")
    imp = Import.objects.get()
    assert out.strip() == f"import {imp.pk} queued"
    finished(imp)
    assert f"import {imp.pk} done: 3 rows, 2 created" in command("--status", imp.pk)


def test_a_bad_file_exits_1_with_its_message(tmp_path):
    path = tmp_path / "members.csv"
    path.write_bytes("phone,name\n0712300001,Zoë\n".encode("latin-1"))
    with pytest.raises(CommandError) as refused:
        command(path)
    assert refused.value.returncode == 1
    assert 'not UTF-8 (byte 0xEB on line 2, byte 25 of the file): save it as "CSV UTF-8' in str(
        refused.value
    )
    assert not Import.objects.exists()


def test_a_failed_import_resumes_from_where_it_stopped(documents_worker, tmp_path):
    out = command(members_file(tmp_path), "--no-wait")
    imp = finished(Import.objects.get())
    assert "queued" in out
    Import.objects.filter(pk=imp.pk).update(state="running", phase="report")
    import_fail(import_id=imp.pk, error="OperationalError: the database went away")
    with pytest.raises(CommandError, match="failed: OperationalError"):
        command("--status", imp.pk)

    out = command("--resume", imp.pk, "--report", tmp_path / "again.csv")

    assert f"import {imp.pk} done" in out and (tmp_path / "again.csv").exists()


def test_inline_runs_it_here_without_a_worker(tmp_path):
    out = command(members_file(tmp_path), "--inline", "--report", tmp_path / "r.csv")
    assert "done: 3 rows, 2 created, 0 unchanged, 1 refused" in out
    assert Member.objects.get(phone="254712300002").referred_by.phone == "254712300001"
