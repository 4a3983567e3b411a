"""A document's file and progress, for staff: the file needs a staff login and a link's
signed token (DOCUMENT_LINK_HOURS), so a forwarded mail opens nothing for anyone else, and an
expired link says so."""

from django.contrib.admin.views.decorators import staff_member_required
from django.core.files.storage import default_storage
from django.http import FileResponse, JsonResponse

from apps.documents.files import link_valid
from apps.documents.models import CONTENT_TYPES
from apps.documents.selectors import document_get, document_progress


def _refused(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": {"code": status, "message": message}}, status=status)


@staff_member_required
def download(request, document_id):
    document = document_get(document_id=document_id)
    if document is None:
        return _refused("No such document.", 404)
    if not link_valid(request.GET.get("t", ""), document.pk):
        return _refused("This link has expired or is not valid; ask for a new one in admin.", 403)
    if document.state != document.State.READY or not document.file.name:
        return _refused(f"This document is {document.state}, not ready.", 409)
    if not default_storage.exists(document.file.name):
        return _refused("This document's file has been deleted.", 410)
    return FileResponse(
        default_storage.open(document.file.name, "rb"),
        as_attachment=True,
        filename=document.filename,
        content_type=CONTENT_TYPES[document.format],
    )


@staff_member_required
def progress(request, document_id):
    document = document_get(document_id=document_id)
    if document is None:
        return _refused("No such document.", 404)
    return JsonResponse(document_progress(document))
