"""Where a document's bytes live: a work file while it is made (appended a chunk at a time,
so a resumed run truncates it to the last saved chunk and goes on), then Django's storage
(STORAGES["default"]: the file system, or S3 through django-storages)."""

import hashlib
import os
from pathlib import Path

from django.conf import settings
from django.core import signing
from django.core.files import File
from django.core.files.storage import default_storage

LINK_SALT = "conveyor.documents.link"


def work_path(name: str) -> Path:
    """The work file ``name`` (a document's id and format), its folder made."""
    folder = Path(settings.DOCUMENTS_WORK_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def work_open(path: Path, size: int):
    """The work file for appending after its first ``size`` bytes: what a run killed after
    its last saved chunk wrote beyond them is cut off."""
    handle = open(path, "a+b")  # noqa: SIM115 - the caller closes it
    handle.truncate(size)
    handle.seek(size)
    return handle


def store(path: Path, name: str) -> tuple[str, int, str]:
    """Put the finished work file into storage as ``name``: (the stored name, its size,
    its SHA-256). The work file is removed."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
        handle.seek(0)
        stored = default_storage.save(name, File(handle))
    size = path.stat().st_size
    os.unlink(path)
    return stored, size, digest.hexdigest()


def stored_delete(name: str) -> None:
    if name and default_storage.exists(name):
        default_storage.delete(name)


def link_token(document_id) -> str:
    """A download link's token: signed, and valid for DOCUMENT_LINK_HOURS."""
    return signing.TimestampSigner(salt=LINK_SALT).sign(str(document_id))


def link_valid(token: str, document_id) -> bool:
    try:
        value = signing.TimestampSigner(salt=LINK_SALT).unsign(
            token, max_age=settings.DOCUMENT_LINK_HOURS * 3600
        )
    except signing.BadSignature:  # SignatureExpired is one
        return False
    return value == str(document_id)
