"""Imports in admin: an upload page, each import's live progress (a small staff-only JSON view
the page polls), its first refused rows and error report, and Resume and Undo buttons. Rows
are written only by the imports services."""

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from apps.common.errors import ApplicationError
from apps.documents.admin import DocumentAdmin
from apps.imports.forms import ImportUploadForm
from apps.imports.models import Import
from apps.imports.selectors import import_get, import_progress, import_refusals
from apps.imports.services import import_resume, import_start, import_undo, report_open
from apps.imports.uploads import LimitedUploadHandler
from apps.wallets.admin import ReadOnlyAdmin


@admin.register(Import)
class ImportAdmin(ReadOnlyAdmin):
    """Added through the upload page, changed by its runs, undone (not deleted: its rows are
    the record of what it did)."""

    list_display = ("id", "filename", "state", "phase", "progress", "total", "created")
    list_display += ("unchanged", "refused", "created_at", "report_link")
    list_filter = ("state", "phase", "format")
    search_fields = ("filename", "sha256")
    change_form_template = "admin/imports/import/change_form.html"
    change_list_template = "admin/imports/import/change_list.html"

    progress = DocumentAdmin.progress  # the same bar: an import has a percent too

    @admin.display(description="error report")
    def report_link(self, obj: Import) -> str:
        if not obj.report:
            return "-"
        return format_html('<a href="{}">download</a>', _url("report", obj))

    def get_urls(self):
        view = self.admin_site.admin_view
        own = [
            path("upload/", view(self.upload_view), name="imports_import_upload"),
        ]
        for name in ("progress", "report", "resume", "undo"):
            page = view(getattr(self, f"{name}_view"))
            own.append(path(f"<int:import_id>/{name}/", page, name=f"imports_import_{name}"))
        return own + super().get_urls()

    @method_decorator(csrf_exempt)  # checked below, once the upload handler is in place
    def upload_view(self, request):
        # The handler must be set before anything reads the body, CSRF's check included
        # (Django's docs on changing upload handlers on the fly).
        handler = LimitedUploadHandler(request)
        request.upload_handlers = [handler]
        return csrf_protect(self._upload)(request, handler)

    def _upload(self, request, handler):
        if not request.user.has_perm("imports.add_import"):
            raise PermissionDenied
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        status, refused = 200, ""
        if request.method == "POST":
            if handler.too_large:
                form, refused, status = ImportUploadForm(), _too_large(), 413
            elif form.is_valid():
                upload = form.cleaned_data["file"]
                try:
                    imp, new = import_start(
                        handle=upload.file, filename=upload.name, requested_by_id=request.user.pk
                    )
                except ApplicationError as exc:
                    form.add_error("file", str(exc))
                    status = 400
                else:
                    if not new:
                        messages.info(request, "This file's import is unfinished: this is it.")
                    return redirect(reverse("admin:imports_import_change", args=[imp.pk]))
            else:
                status = 400
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import members",
            "form": form,
            "refused": refused,
        }
        return TemplateResponse(request, "admin/imports/import/upload.html", context, status=status)

    def progress_view(self, request, import_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            return JsonResponse(import_progress(import_get(import_id=import_id)))
        except ApplicationError as exc:
            return JsonResponse({"error": str(exc)}, status=404)

    def report_view(self, request, import_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            imp = import_get(import_id=import_id)
        except ApplicationError as exc:
            return JsonResponse({"error": str(exc)}, status=404)
        if not imp.report:
            return JsonResponse({"error": "This import has no refused rows."}, status=404)
        return FileResponse(
            report_open(imp),
            as_attachment=True,
            filename=f"import-{imp.pk}-errors.csv",
            content_type="text/csv; charset=utf-8",
        )

    def resume_view(self, request, import_id):
        done = "sent again: it goes on from its last chunk"
        return self._act(request, import_id, import_resume, done)

    def undo_view(self, request, import_id):
        return self._act(request, import_id, import_undo, "undone")

    def _act(self, request, import_id, service, done: str):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("imports.change_import"):
            messages.error(request, "You may not change imports.")
        else:
            try:
                service(import_id=import_id)
            except ApplicationError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, f"Import {import_id} {done}.")
        return redirect(reverse("admin:imports_import_change", args=[import_id]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        imp = self.get_object(request, object_id)
        extra = {**(extra_context or {})}
        if imp is not None:
            extra.update(
                progress_url=_url("progress", imp),
                report_url=_url("report", imp),
                resume_url=_url("resume", imp),
                undo_url=_url("undo", imp),
                refusals=import_refusals(imp),
                resumable=imp.state in Import.ACTIVE
                or (imp.state == Import.State.FAILED and imp.pruned_at is None),
                undoable=imp.state in (Import.State.DONE, Import.State.FAILED)
                and imp.pruned_at is None,
            )
        return super().change_view(request, object_id, form_url, extra)


def _url(name: str, imp: Import) -> str:
    return reverse(f"admin:imports_import_{name}", args=[imp.pk])


def _too_large() -> str:
    return (
        f"The file is larger than {settings.IMPORT_MAX_BYTES // (1 << 20)} MB, the most an "
        "import takes: split it into several files."
    )
