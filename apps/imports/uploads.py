"""An upload handler that keeps at most IMPORT_MAX_BYTES of a file: Django streams an upload
to a temporary file (above FILE_UPLOAD_MAX_MEMORY_SIZE), and this one stops storing once the
limit is passed and drops the file, reading (and discarding) the rest of the request, so a
200 MB upload costs no disk, and the browser gets the page that says why instead of a reset
connection."""

from django.conf import settings
from django.core.files.uploadhandler import SkipFile, TemporaryFileUploadHandler


class LimitedUploadHandler(TemporaryFileUploadHandler):
    def __init__(self, request=None):
        super().__init__(request)
        self.limit = settings.IMPORT_MAX_BYTES
        self.too_large: int | None = None  # bytes received when it was dropped

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.too_large = self.received
            self.file.close()  # a temporary file: closing it deletes it
            raise SkipFile()
        return super().receive_data_chunk(raw_data, start)
