"""Streaming multipart upload: the file part goes to disk as it arrives, size-capped."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import multipart

from runtime.errors import BadRequest, PayloadTooLarge
from runtime.security.nul import without_nul

MAX_FIELD_BYTES = 64 * 1024


@dataclass(slots=True)
class Upload:
    """The form: ``file`` saved under ``path`` (removed by the caller) and the text fields."""

    path: Path | None = None
    filename: str | None = None
    size: int = 0
    fields: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


async def receive(
    chunks: AsyncIterator[bytes], content_type: str, folder: Path, limit: int
) -> Upload:
    """Parse ``multipart/form-data`` from ``chunks`` without holding the file in memory."""
    kind, options = multipart.parse_options_header(content_type or "")
    if kind != "multipart/form-data" or not options.get("boundary"):
        raise BadRequest("multipart_required", detail="Send multipart/form-data with a file.")
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    upload = Upload()
    part: multipart.MultipartSegment | None = None
    sink = None
    value = bytearray()
    try:
        with multipart.PushMultipartParser(options["boundary"], max_segment_count=16) as parser:
            async for chunk in chunks:
                for event in parser.parse(chunk):
                    if isinstance(event, multipart.MultipartSegment):
                        part = event
                        if part.name == "file" and part.filename is not None:
                            if upload.path is not None:
                                raise BadRequest("one_file_only", detail="Send one file.")
                            upload.path = folder / f"upload-{uuid.uuid4().hex}"
                            upload.filename = without_nul(part.filename, "file name")
                            sink = upload.path.open("wb")
                        value = bytearray()
                    elif event:
                        if sink is not None:
                            upload.size += len(event)
                            if upload.size > limit:
                                raise PayloadTooLarge(
                                    "dataset_too_large",
                                    detail=f"Datasets are limited to {limit} bytes.",
                                )
                            sink.write(event)
                        else:
                            value += event
                            if len(value) > MAX_FIELD_BYTES:
                                raise BadRequest(
                                    "field_too_large", detail="A form field is too long."
                                )
                    else:
                        if sink is not None:
                            sink.close()
                            sink = None
                        elif part is not None and part.name:
                            text = value.decode("utf-8", "replace")
                            upload.fields[part.name] = without_nul(text, f"field {part.name}")
            parser.parse(b"")
    except multipart.MultipartError as exc:
        upload.discard()
        raise BadRequest("bad_multipart", detail=f"Malformed multipart body: {exc}") from exc
    except BaseException:
        upload.discard()
        raise
    finally:
        if sink is not None:
            sink.close()
    if upload.path is None:
        raise BadRequest("file_required", detail="The form has no `file` part.")
    return upload
