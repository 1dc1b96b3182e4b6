"""Upload handling that never holds a whole file in memory and stops at the size cap.

Django's multipart parser hands each chunk to the handler as it arrives; this handler writes it
to a temporary file, hashes it on the way, and stops the request as soon as the total crosses the
cap. A declared Content-Length above the cap is refused before a byte of the body is read.
"""

from __future__ import annotations

import hashlib

from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, QueryDict
from django.utils.datastructures import MultiValueDict

# The multipart envelope (boundaries, headers, the CSRF field) around the file itself.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class CappedUploadHandler(FileUploadHandler):
    """Stream one file to a temporary file; stop the upload once it passes `max_bytes`."""

    def __init__(self, request: HttpRequest, max_bytes: int) -> None:
        super().__init__(request)
        self.max_bytes = max_bytes
        self.received = 0
        self.too_large = False
        self.sha256 = hashlib.sha256()
        # Not called `file`: Django's parser closes any handler's `file` attribute itself.
        self.temp_file: TemporaryUploadedFile | None = None

    def handle_raw_input(
        self,
        input_data: object,
        META: dict,
        content_length: int,
        boundary: bytes,
        encoding: str | None = None,
    ) -> tuple[QueryDict, MultiValueDict] | None:
        if content_length and content_length > self.max_bytes + MULTIPART_OVERHEAD_BYTES:
            # Answer "no data" without reading the body; the view sees `too_large`.
            self.too_large = True
            return QueryDict(), MultiValueDict()
        return None

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        if self.temp_file is not None:  # one file per request: a second one is ignored
            raise StopUpload(connection_reset=False)
        self.temp_file = TemporaryUploadedFile(
            self.file_name, self.content_type, 0, self.charset, self.content_type_extra
        )

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            self.too_large = True
            self._discard()
            raise StopUpload(connection_reset=True)
        self.sha256.update(raw_data)
        self.temp_file.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> TemporaryUploadedFile | None:
        if self.temp_file is None:
            return None
        self.temp_file.seek(0)
        self.temp_file.size = file_size
        self.temp_file.sha256 = self.sha256.hexdigest()
        return self.temp_file

    def upload_interrupted(self) -> None:
        self._discard()

    def _discard(self) -> None:
        if self.temp_file is not None:
            self.temp_file.close()  # a TemporaryUploadedFile deletes itself on close
            self.temp_file = None
