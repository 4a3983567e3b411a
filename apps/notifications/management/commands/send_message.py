"""Send a message to a segment of members from the command line, as staff do in admin
(Broadcasts → Send a message): the same checks (the admin form's), the same broadcast, paced
and counted as a batch. Without --yes it only says whom it would reach; --wait follows the
sends to the end; --status ID shows a broadcast's progress.

The sender is a staff member (--as PHONE) who may add broadcasts, as in admin. Each --yes is
a new broadcast unless --key repeats one: a script that retries with the same key sends once."""

import time
import uuid

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.phone import normalize_phone
from apps.common.errors import ApplicationError
from apps.notifications.forms import StaffMessageForm
from apps.notifications.models import Broadcast, Channel
from apps.notifications.segments import segment_describe
from apps.notifications.selectors import broadcast_progress, staff_sender
from apps.notifications.services import staff_message_send
from apps.notifications.texts import sms_size

FILTERS = ("joined_from", "joined_to", "upline", "has_email", "min_withdrawable")
OPTION_OF = {"__all__": "the segment"}  # the form's errors by option


class Command(BaseCommand):
    help = "Send an SMS or mail to a segment of members (preview unless --yes)."

    def add_arguments(self, parser):
        parser.add_argument("--sms", action="store_true", help="Send it as an SMS.")
        parser.add_argument("--email", action="store_true", help="Send it as a mail.")
        parser.add_argument("--subject", default="", help="The mail's subject.")
        parser.add_argument("--body", help="The text; {name} is each member's name.")
        parser.add_argument("--body-file", help="Read the text from this UTF-8 file.")
        parser.add_argument("--joined-from", default="", help="YYYY-MM-DD, included.")
        parser.add_argument("--joined-to", default="", help="YYYY-MM-DD, included.")
        parser.add_argument("--upline", default="", help="Direct referrals of this phone.")
        parser.add_argument("--has-email", action="store_true", help="Only members with mail.")
        parser.add_argument("--min-withdrawable", default="", help="KES, the least balance.")
        parser.add_argument("--as", dest="sender", help="The sending staff member's phone.")
        parser.add_argument("--key", type=uuid.UUID, help="A UUID: the same key sends once.")
        parser.add_argument("--yes", action="store_true", help="Send (else: preview only).")
        parser.add_argument("--wait", action="store_true", help="Follow the sends to the end.")
        parser.add_argument("--timeout", type=float, default=3600, help="s to wait at most.")
        parser.add_argument("--status", type=int, metavar="ID", help="Show a broadcast.")

    def handle(self, *args, **options):
        if options["status"] is not None:
            self._show(options["status"])
            return
        data = self._checked(options)
        channels = data["channels"]
        reach = data["reach"]
        self.stdout.write(
            f"{' and '.join(Channel(c).label for c in channels)} to "
            f"{reach.reached(channels)} members: {segment_describe(data['segment'])}."
        )
        if Channel.SMS in channels:
            size = sms_size(data["body"])
            self.stdout.write(f"SMS: {size.length} characters, {size.parts} part(s) each.")
        if Channel.EMAIL in channels and reach.without_email:
            self.stdout.write(f"{reach.without_email} of them have no email address.")
        if not options["yes"]:
            self.stdout.write("Nothing sent: add --yes to send it.")
            return
        sender = self._sender(options["sender"])
        message = {name: data[name] for name in ("channels", "subject", "body", "segment")}
        try:
            broadcast, started = staff_message_send(
                **message, token=options["key"] or uuid.uuid4(), sent_by=sender
            )
        except ApplicationError as exc:
            raise CommandError(str(exc)) from exc
        said = "sending" if started else "sent already with this key"
        self.stdout.write(f"Broadcast {broadcast.pk}: {said}, to {broadcast.total} members.")
        if options["wait"]:
            self._follow(broadcast, options["timeout"])

    def _checked(self, options) -> dict:
        if bool(options["body"]) == bool(options["body_file"]):
            raise CommandError("Give the text as --body or --body-file (one of them).")
        body = options["body"]
        if options["body_file"]:
            try:
                with open(options["body_file"], encoding="utf-8") as handle:
                    body = handle.read()
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"Cannot read {options['body_file']}: {exc}") from exc
        channels = [c for c in (Channel.SMS, Channel.EMAIL) if options[c]]
        if not channels:
            raise CommandError("Choose --sms, --email or both.")
        fields = {name: options[name] for name in FILTERS}
        form = StaffMessageForm(
            {**fields, "channels": channels, "subject": options["subject"], "body": body}
        )
        if not form.is_valid():
            problems = [
                f"{OPTION_OF.get(field) or '--' + field.replace('_', '-')}: {error}"
                for field, errors in form.errors.items()
                for error in errors
            ]
            raise CommandError("Not sent. " + " ".join(problems))
        return form.cleaned_data

    def _sender(self, raw: str | None):
        if not raw:
            raise CommandError("--as PHONE: the staff member who sends it (needed with --yes).")
        try:
            return staff_sender(phone=normalize_phone(raw))
        except ValidationError as exc:
            raise CommandError(f"--as: {' '.join(exc.messages)}") from exc
        except ApplicationError as exc:
            raise CommandError(str(exc)) from exc

    def _follow(self, broadcast: Broadcast, timeout: float) -> None:
        deadline, shown = time.monotonic() + timeout, None
        while True:
            progress = broadcast_progress(broadcast_id=broadcast.pk)
            line = _line(progress)
            if line != shown:
                self.stdout.write(line)
                shown = line
            if progress["finished"]:
                if progress["failed"]:
                    raise CommandError(
                        f"{progress['failed']} send(s) failed: retry them from the batch page "
                        f"or `queue_retry_batch {progress['batch']}`."
                    )
                return
            if time.monotonic() > deadline:
                raise CommandError(f"Not done within {timeout:.0f} s; it goes on.")
            time.sleep(0.5)

    def _show(self, broadcast_id: int) -> None:
        try:
            progress = broadcast_progress(broadcast_id=broadcast_id)
        except ApplicationError as exc:
            raise CommandError(str(exc)) from exc
        broadcast = progress["broadcast"]
        self.stdout.write(f"Broadcast {broadcast.pk}: {broadcast.title}")
        self.stdout.write(f"to: {segment_describe(broadcast.segment)}")
        self.stdout.write(_line(progress))


def _line(progress: dict) -> str:
    done, jobs, failed = progress["processed"], progress["jobs"], progress["failed"]
    return (
        f"{progress['state']}: written {progress['done']} of {progress['total']}, "
        f"batch {done} of {jobs} jobs done, {failed} failed"
    )
