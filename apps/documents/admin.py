"""Documents in admin: the list with progress, a request form, each document's live progress
and its download link. Rows are written only by the documents services."""

from django.contrib import admin, messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from apps.common.errors import ApplicationError
from apps.documents.files import link_token
from apps.documents.forms import DocumentRequestForm
from apps.documents.models import Document
from apps.documents.services import document_request


def download_url(document: Document) -> str:
    url = reverse("documents:download", kwargs={"document_id": document.pk})
    return f"{url}?t={link_token(document.pk)}"


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "format",
        "state",
        "progress",
        "done",
        "size",
        "created_at",
        "file_link",
    )
    list_filter = ("state", "format", "source")
    search_fields = ("title", "id")
    readonly_fields = [f.name for f in Document._meta.fields]
    change_form_template = "admin/documents/document/change_form.html"
    change_list_template = "admin/documents/document/change_list.html"

    def has_add_permission(self, request) -> bool:
        return False  # asked for through the request page, made by the queue

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="progress")
    def progress(self, obj: Document) -> str:
        return format_html(
            '<progress max="100" value="{}"></progress> {}%', obj.percent, obj.percent
        )

    @admin.display(description="file")
    def file_link(self, obj: Document) -> str:
        if obj.state != Document.State.READY:
            return "-"
        return format_html('<a href="{}">download</a>', download_url(obj))

    def get_urls(self):
        ask = path(
            "request/",
            self.admin_site.admin_view(self.request_view),
            name="documents_document_request",
        )
        return [ask, *super().get_urls()]

    def request_view(self, request):
        form = DocumentRequestForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                document, new = document_request(
                    source=data["source"],
                    fmt=data["format"],
                    since=data["since"],
                    until=data["until"],
                    requested_by_id=request.user.pk,
                )
            except ApplicationError as exc:
                form.add_error(None, str(exc))
            else:
                if not new:
                    messages.info(request, "The same request is being made already: this is it.")
                return redirect(reverse("admin:documents_document_change", args=[document.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Ask for a report or export",
            "form": form,
        }
        return TemplateResponse(request, "admin/documents/document/request.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        document = self.get_object(request, object_id)
        extra = {**(extra_context or {})}
        if document is not None:
            extra["progress_url"] = reverse("documents:progress", args=[document.pk])
            extra["download_url"] = download_url(document)
        return super().change_view(request, object_id, form_url, extra)
