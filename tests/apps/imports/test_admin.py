"""Imports in admin: the upload page (a bad or too large file refused on the page, never a
500), each import's page with its live progress (a staff-only JSON view), the error report,
and the Resume and Undo buttons (POST with CSRF)."""

import re

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from apps.accounts.models import Member
from apps.imports.models import Import
from apps.imports.services import import_fail
from tests.apps.imports.conftest import csv_bytes, finished
from tests.support.factories import MemberFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

UPLOAD = reverse("admin:imports_import_upload")
LINES = ["0712500001,Root,,10,0", "0712500002,Kid,0712500001,0,0", "0712500003,=cmd(),,0,0"]


def upload(client, data: bytes, name: str = "members.csv"):
    return client.post(UPLOAD, {"file": SimpleUploadedFile(name, data, "text/csv")})


def test_an_upload_is_imported_and_its_page_shows_the_progress(staff_client, documents_worker):
    assert staff_client.get(UPLOAD).status_code == 200

    answer = upload(staff_client, csv_bytes(LINES))

    imp = Import.objects.get()
    assert answer.status_code == 302
    assert answer["Location"] == reverse("admin:imports_import_change", args=[imp.pk])
    finished(imp)
    progress = staff_client.get(reverse("admin:imports_import_progress", args=[imp.pk])).json()
    assert {k: progress[k] for k in ("state", "total", "created", "refused", "finished")} == {
        "state": "done",
        "total": 3,
        "created": 2,
        "refused": 1,
        "finished": True,
    }
    page = staff_client.get(answer["Location"]).content.decode()
    assert "Download the error report" in page and "a formula, not a value" in page
    report = staff_client.get(reverse("admin:imports_import_report", args=[imp.pk]))
    text = b"".join(report.streaming_content).decode("utf-8-sig")
    assert (
        text.splitlines()[1]
        == '4,name,\'=cmd(),"a formula, not a value: save the sheet with its values"'
    )


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ("phone,name\n0712500001,Zoë\n".encode("latin-1"), "save it as &quot;CSV UTF-8"),
        (b"PK\x03\x04not really a zip", "damaged"),
        (b"phone,name\n0712500001,A\n", "lacks the columns upline_phone, pending, withdrawable"),
    ],
)
def test_a_bad_file_is_refused_on_the_page(staff_client, data, says):
    answer = upload(staff_client, data)
    assert answer.status_code == 400
    assert says in answer.content.decode()
    assert not Import.objects.exists()


def test_a_file_over_the_limit_is_dropped_as_it_arrives(staff_client, settings):
    settings.IMPORT_MAX_BYTES = 10_000
    answer = upload(staff_client, csv_bytes(LINES * 500))
    assert answer.status_code == 413
    assert "larger than" in answer.content.decode()
    assert not Import.objects.exists()


def test_progress_and_actions_need_staff(staff_client):
    imp = Import.objects.create(filename="m.csv", format="csv", size=1, sha256="0" * 64)
    progress = reverse("admin:imports_import_progress", args=[imp.pk])
    anonymous, member = Client(), Client()
    member.force_login(MemberFactory())
    assert anonymous.get(progress).status_code == 302  # to the login
    assert member.get(progress).status_code == 302
    assert member.post(UPLOAD).status_code == 302
    assert staff_client.get(progress).json()["state"] == "queued"
    assert staff_client.get(reverse("admin:imports_import_undo", args=[imp.pk])).status_code == 405


def test_the_buttons_resume_and_undo(staff_client, documents_worker):
    upload(staff_client, csv_bytes(LINES))
    imp = finished(Import.objects.get())
    page = reverse("admin:imports_import_change", args=[imp.pk])
    Import.objects.filter(pk=imp.pk).update(state="running", phase="report")
    import_fail(import_id=imp.pk, error="the worker was lost")

    staff_client.post(reverse("admin:imports_import_resume", args=[imp.pk]))
    assert finished(imp).state == "done"
    answer = staff_client.post(reverse("admin:imports_import_undo", args=[imp.pk]), follow=True)

    assert answer.redirect_chain[-1][0] == page
    assert f"Import {imp.pk} undone." in answer.content.decode()
    assert not Member.objects.filter(phone__startswith="2547125").exists()
    refused = staff_client.post(reverse("admin:imports_import_undo", args=[imp.pk]), follow=True)
    assert "was undone already" in refused.content.decode()


class Body:
    """A multipart body of ``size`` bytes made as it is read: 200 MB without holding it."""

    def __init__(self, token: str, size: int):
        boundary = "conveyor-upload-boundary"
        self.content_type = f"multipart/form-data; boundary={boundary}"
        self.head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n'
            f'{token}\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n'
        ).encode() + csv_bytes([])
        self.tail = f"\r\n--{boundary}--\r\n".encode()
        self.line = b"0712500001,Root,,10,0\n"
        self.left = size
        self.length = len(self.head) + size + len(self.tail)

    def __len__(self) -> int:
        return self.length

    def __iter__(self):
        yield self.head
        block = self.line * (65_536 // len(self.line))
        while self.left > 0:
            part = block[: self.left]
            self.left -= len(part)
            yield part
        yield self.tail


def test_a_200_mb_upload_is_refused_cleanly(live_server, staff_client, tmp_path):
    session = requests.Session()
    session.cookies.update({k: v.value for k, v in staff_client.cookies.items()})
    form = session.get(live_server.url + UPLOAD, timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    body = Body(token, 200 * 1024 * 1024)

    answer = session.post(
        live_server.url + UPLOAD,
        data=iter(body),
        headers={
            "Content-Type": body.content_type,
            "Content-Length": str(len(body)),
            "Referer": live_server.url + UPLOAD,
        },
        timeout=120,
    )

    assert body.left == 0  # all 200 MB went, and the page came after: no reset connection
    assert answer.status_code == 413
    assert "larger than 50 MB, the most an import takes" in answer.text
    assert not Import.objects.exists()
