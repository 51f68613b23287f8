"""Receive a multipart upload straight to disk: type checked first, size capped, hashed.

The body is parsed as it streams (never held in memory); an unsupported type is
refused at the part's headers, before a byte is written, and an oversize file is cut
off at the limit with its partial file removed.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from litestar import Request
from multipart import (
    MultipartSegment,
    ParserError,
    PushMultipartParser,
    parse_options_header,
)

from handlers.knowledge.parsers import SUPPORTED_TYPES, extension_of
from runtime.errors import BadRequest, PayloadTooLarge, ProblemError

# Room for the multipart framing around the file itself.
_FRAMING = 64 * 1024
FILE_FIELD = "file"


class UnsupportedMediaType(ProblemError):
    def __init__(self, detail: str) -> None:
        super().__init__(415, "unsupported_file_type", "Unsupported media type", detail)


@dataclass(frozen=True, slots=True)
class StoredUpload:
    filename: str
    content_type: str
    path: Path
    size: int
    sha256: str


def clean_filename(raw: str) -> str:
    """The last path component, without control characters, at most 255 characters."""
    name = re.split(r"[\\/]", raw)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[-255:] or "upload"


async def receive_upload(
    request: Request[Any, Any, Any], into: Path, max_bytes: int
) -> StoredUpload:
    """Store the ``file`` part as a temporary file in ``into``; the caller renames it."""
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get("boundary")
    if kind != "multipart/form-data" or not boundary:
        raise BadRequest("multipart_required", detail="Send the file as multipart/form-data.")
    announced = request.headers.get("content-length")
    if announced and announced.isdigit() and int(announced) > max_bytes + _FRAMING:
        raise PayloadTooLarge("file_too_large", detail=f"Files are limited to {max_bytes} bytes.")
    os.makedirs(into, exist_ok=True)
    temp = into / f".upload-{uuid.uuid4().hex}.part"
    try:
        return await _receive(request, boundary, temp, max_bytes)
    except BaseException:
        with suppress(OSError):
            temp.unlink()
        raise


async def _receive(
    request: Request[Any, Any, Any], boundary: str, temp: Path, max_bytes: int
) -> StoredUpload:
    digest = hashlib.sha256()
    size = 0
    target: IO[bytes] | None = None
    stored: StoredUpload | None = None
    segment: MultipartSegment | None = None
    try:
        with PushMultipartParser(boundary, max_segment_count=16) as parser:
            async for chunk in request.stream():
                for part in parser.parse(chunk):
                    if isinstance(part, MultipartSegment):
                        segment = part
                        if stored is None and part.name == FILE_FIELD and part.filename:
                            _check_type(part.filename)
                            target = temp.open("wb")
                    elif part:
                        if target is None:
                            continue  # other form fields are not used
                        size += len(part)
                        if size > max_bytes:
                            raise PayloadTooLarge(
                                "file_too_large", detail=f"Files are limited to {max_bytes} bytes."
                            )
                        digest.update(part)
                        target.write(part)
                    elif target is not None and segment is not None:
                        target.close()
                        target = None
                        filename = clean_filename(segment.filename)
                        stored = StoredUpload(
                            filename=filename,
                            content_type=SUPPORTED_TYPES[extension_of(filename)],
                            path=temp,
                            size=size,
                            sha256=digest.hexdigest(),
                        )
            if not parser.closed:
                raise BadRequest("invalid_multipart", detail="The multipart body ended early.")
    except ParserError as exc:
        raise BadRequest("invalid_multipart", detail=f"Malformed multipart body: {exc}") from exc
    finally:
        if target is not None:
            target.close()
    if stored is None:
        raise BadRequest("file_required", detail="Attach the document as the 'file' field.")
    if stored.size == 0:
        raise BadRequest("empty_file", detail="The file is empty.")
    return stored


def _check_type(filename: str) -> None:
    ext = extension_of(filename)
    if ext not in SUPPORTED_TYPES:
        known = ", ".join(sorted(SUPPORTED_TYPES))
        raise UnsupportedMediaType(
            f"{ext or 'Files without an extension'} cannot be indexed; use {known}."
        )
