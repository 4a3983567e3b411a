"""Admin's Send a message (Broadcasts → Send a message): the form, then a confirm step with
how many members the segment matches (and how many of them have no email address), then the
send. Each preview gets a new token, carried by its confirm form: posting that form twice
starts one broadcast; editing the message after a send previews a new one."""

import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from apps.common.errors import ApplicationError
from apps.notifications.forms import StaffMessageForm
from apps.notifications.models import Channel
from apps.notifications.segments import segment_describe
from apps.notifications.services import staff_message_send, staff_message_sent
from apps.notifications.texts import sms_size

TEMPLATES = "admin/notifications/broadcast"


def send_message_view(model_admin, request):
    if not model_admin.has_send_permission(request):
        raise PermissionDenied
    stage = request.POST.get("stage", "") if request.method == "POST" else ""
    if stage == "send" and (done := _sent_before(request.POST.get("token", ""))):
        return _to_broadcast(request, done, started=False)
    if stage == "edit":  # back from the confirm step, with what was written
        initial = {**request.POST.dict(), "channels": request.POST.getlist("channels")}
        form = StaffMessageForm(initial=initial)
    elif stage in ("preview", "send"):
        form = StaffMessageForm(request.POST)
        if form.is_valid() and stage == "preview":
            return _confirm(model_admin, request, form)
        if form.is_valid():
            response = _send(request, form)
            if response is not None:
                return response
    else:
        form = StaffMessageForm()
    return _page(model_admin, request, "send.html", form=form)


def _confirm(model_admin, request, form):
    data = form.cleaned_data
    channels = data["channels"]
    return _page(
        model_admin,
        request,
        "confirm.html",
        form=form,
        token=uuid.uuid4(),
        reach=data["reach"],
        reached=data["reach"].reached(channels),
        by_email=Channel.EMAIL in channels,
        sms=sms_size(data["body"]) if Channel.SMS in channels else None,
        segment=segment_describe(data["segment"]),
        channel_names=" and ".join(Channel(c).label for c in channels),
    )


def _send(request, form):
    data = form.cleaned_data
    if data["token"] is None:
        form.add_error(None, "This confirmation is not valid: preview the message again.")
        return None
    message = {name: data[name] for name in ("channels", "subject", "body", "segment", "token")}
    try:
        broadcast, started = staff_message_send(**message, sent_by=request.user)
    except ApplicationError as exc:
        form.add_error(None, str(exc))
        return None
    return _to_broadcast(request, broadcast, started=started)


def _sent_before(raw_token: str):
    try:
        return staff_message_sent(token=uuid.UUID(raw_token))
    except ValueError:
        return None


def _to_broadcast(request, broadcast, *, started: bool):
    if started:
        text = f"Sending to {broadcast.total} members: broadcast {broadcast.pk}."
        messages.success(request, text)
    else:
        messages.info(request, f"This message was sent already: broadcast {broadcast.pk}.")
    return redirect(reverse("admin:notifications_broadcast_change", args=[broadcast.pk]))


def _page(model_admin, request, template: str, **context):
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": opts,
        "title": "Send a message",
        "crumbs": [
            (reverse("admin:app_list", args=[opts.app_label]), opts.app_config.verbose_name),
            (reverse("admin:notifications_broadcast_changelist"), "Broadcasts"),
        ],
        **context,
    }
    return TemplateResponse(request, f"{TEMPLATES}/{template}", context)
