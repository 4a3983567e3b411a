"""Writes of the documents domain: a document asked for, made a chunk at a time, failed,
pruned, re-nudged.

A request is one row (Document); identical requests while it is being made get that row (the
``key`` constraint), so they are one job. tasks.documents.builds.build_document makes it after
commit, without overlapping itself: each chunk's rows, progress and resume point are saved
together, so a run killed at any instant is followed by one that goes on from the last saved
chunk (CSV, XLSX) or starts the file again (PDF), and the file is stored once, when complete.
"""

import hashlib
import json
import logging
import time
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.common.errors import ApplicationError
from apps.documents import files
from apps.documents.models import Document, Format
from apps.documents.sources import source_get
from apps.documents.writers import WRITERS, appended_to, limit_check, writer_open
from apps.ops.services import event_emit

log = logging.getLogger("conveyor.documents")

State = Document.State


def window(params: dict) -> tuple[datetime, datetime]:
    """A request's dates, inclusive and local, as [start, end) instants."""
    since, until = date.fromisoformat(params["since"]), date.fromisoformat(params["until"])
    zone = timezone.get_current_timezone()
    start = datetime.combine(since, datetime.min.time(), zone)
    return start, datetime.combine(until + timedelta(days=1), datetime.min.time(), zone)


def _params(source, since, until) -> dict:
    if not source.dated:
        return {}
    if since is None or until is None:
        raise ApplicationError(f"The {source.title} report needs a date range (since, until).")
    try:
        since, until = (d if isinstance(d, date) else date.fromisoformat(d) for d in (since, until))
    except ValueError:
        raise ApplicationError("Dates are YYYY-MM-DD.") from None
    if since > until:
        raise ApplicationError(f"The range ends ({until}) before it starts ({since}).")
    return {"since": since.isoformat(), "until": until.isoformat()}


def document_request(
    *,
    source: str,
    fmt: str,
    since: date | str | None = None,
    until: date | str | None = None,
    requested_by_id: int | None = None,
    title: str = "",
) -> tuple[Document, bool]:
    """Ask for a file of ``source`` in ``fmt``: (the document, whether it is new). The same
    request while one is queued or running returns that one."""
    found = source_get(source)
    if fmt not in Format.values:
        raise ApplicationError(f"Unknown format {fmt!r}; one of {', '.join(Format.values)}.")
    params = _params(found, since, until)
    limit_check(fmt, found.count(params))
    key = hashlib.sha256(json.dumps([source, fmt, params], sort_keys=True).encode()).hexdigest()
    if title == "":
        span = f", {params['since']} to {params['until']}" if params else ""
        title = f"{found.title}{span}"
    with transaction.atomic():
        if existing := Document.objects.filter(key=key, state__in=Document.ACTIVE).first():
            return existing, False
        try:
            with transaction.atomic():
                document = Document.objects.create(
                    source=source,
                    title=title[:200],
                    format=fmt,
                    params=params,
                    key=key,
                    requested_by_id=requested_by_id,
                )
        except IntegrityError:  # the same request, at the same instant
            return Document.objects.get(key=key, state__in=Document.ACTIVE), False
        _send(document)
    log.info("document.requested id=%s source=%s format=%s", document.pk, source, fmt)
    return document, True


def _send(document: Document) -> None:
    from tasks.documents import builds

    transaction.on_commit(
        lambda: builds.build_document.delay(document_id=str(document.pk)), robust=True
    )


def document_build(*, document_id, budget_seconds: float) -> dict | None:
    """Make the document until it is done or the budget is spent: the next run's arguments,
    or None once it is stored (or was not there to make)."""
    document = Document.objects.filter(pk=document_id, state__in=Document.ACTIVE).first()
    if document is None:
        return None
    source = source_get(document.source)
    path = files.work_path(f"{document.pk}.{document.format}")
    size = document.cursor.get("size", 0)
    work = appended_to(document.format, path)
    if document.state == State.QUEUED or not document.cursor or _lost(work, size):
        _start(document, source)
    writer = writer_open(
        document.format,
        path,
        columns=source.columns,
        title=document.title,
        size=document.cursor.get("size", 0) if _resumable(document) else 0,
    )
    after = document.cursor.get("after") if _resumable(document) else None
    done = document.done if _resumable(document) else 0
    deadline = time.monotonic() + budget_seconds
    while rows := source.rows(document.params, after, settings.DOCUMENT_CHUNK):
        writer.write([row for _, row in rows])
        after, done = rows[-1][0], done + len(rows)
        cursor = {"after": after, "size": writer.position()} if writer.resumable else {}
        Document.objects.filter(pk=document.pk).update(
            done=done, cursor=cursor, updated_at=timezone.now()
        )
        if writer.resumable and time.monotonic() > deadline:
            writer.close()
            return {"document_id": str(document.pk)}
    writer.finish()
    _finish(document, path, done)
    return None


def _lost(path, size: int) -> bool:
    """The work file lacks bytes its saved chunks wrote (another machine, a wiped folder)."""
    return size > 0 and (not path.exists() or path.stat().st_size < size)


def _resumable(document: Document) -> bool:
    return WRITERS[document.format].resumable


def _start(document: Document, source) -> None:
    document.total = source.count(document.params)
    limit_check(document.format, document.total)
    document.state, document.started_at = State.RUNNING, timezone.now()
    document.done, document.cursor = 0, {"after": None, "size": 0}
    document.save(update_fields=["total", "state", "started_at", "done", "cursor", "updated_at"])


def _finish(document: Document, path, done: int) -> None:
    name = f"documents/{timezone.localtime(document.created_at):%Y/%m}/{document.pk}/"
    stored, size, digest = files.store(path, name + document.filename)
    with transaction.atomic():
        document.refresh_from_db()
        document.file.name, document.size, document.sha256 = stored, size, digest
        document.state, document.done, document.finished_at = State.READY, done, timezone.now()
        document.save()
        event_emit(
            type="document_ready",
            payload={
                "document_id": str(document.pk),
                "title": document.title,
                "rows": done,
                "requested_by_id": document.requested_by_id,
                "link": document_link(document),
            },
        )
    log.info("document.ready id=%s rows=%s bytes=%s", document.pk, done, size)


def document_link(document: Document) -> str:
    """The staff-only download address, valid for DOCUMENT_LINK_HOURS."""
    from django.urls import reverse

    path = reverse("documents:download", kwargs={"document_id": document.pk})
    return f"{settings.SITE_URL.rstrip('/')}{path}?t={files.link_token(document.pk)}"


def document_fail(*, document_id, error: str) -> None:
    """The build failed for good: the request is settled and may be asked again."""
    Document.objects.filter(pk=document_id, state__in=Document.ACTIVE).update(
        state=State.FAILED, error=error[:2000], finished_at=timezone.now()
    )
    for fmt in Format.values:
        path = files.work_path(f"{document_id}.{fmt}")
        for work in {path, appended_to(fmt, path)}:
            work.unlink(missing_ok=True)
    log.warning("document.failed id=%s error=%s", document_id, error)


def documents_reconcile(*, idle_minutes: float = 15) -> int:
    """Send again the documents that have made no progress for ``idle_minutes``: their message
    was lost, or their run died; a build that is still running is not overlapped (its lock)."""
    stale = Document.objects.filter(
        state__in=Document.ACTIVE,
        updated_at__lt=timezone.now() - timedelta(minutes=idle_minutes),
    )
    ids = list(stale.values_list("pk", flat=True)[:100])
    for pk in ids:
        with transaction.atomic():
            _send(Document(pk=pk))
    if ids:
        log.warning("documents.renudged count=%s", len(ids))
    return len(ids)


def documents_prune(*, days: float | None = None) -> int:
    """Delete the documents older than ``days`` (DOCUMENT_KEEP_DAYS) and their files."""
    keep = settings.DOCUMENT_KEEP_DAYS if days is None else days
    old = Document.objects.filter(created_at__lt=timezone.now() - timedelta(days=keep)).exclude(
        state__in=Document.ACTIVE
    )
    count = 0
    for document in old.iterator():
        files.stored_delete(document.file.name)
        document.delete()
        count += 1
    return count
