"""Files to text sections: each with the source metadata a citation needs.

Supported: .txt .md .html .pdf .docx .csv .json. A parser returns ``Section``s (text
plus page / heading path / row) or raises ``ParseFailure`` with a machine-readable
reason; it never guesses past a problem.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

# Extension -> the content type stored with the document.
SUPPORTED_TYPES = {
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".csv": "text/csv",
    ".json": "application/json",
}

HEADING_SEPARATOR = " > "


@dataclass(frozen=True, slots=True)
class Section:
    """A run of text that shares one source position."""

    text: str
    page: int | None = None
    heading: str | None = None
    row: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class ParseFailure(Exception):
    """The file cannot be indexed; ``reason`` is the failure event's reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def extension_of(filename: str) -> str:
    return Path(filename).suffix.lower()


def is_supported(filename: str) -> bool:
    return extension_of(filename) in SUPPORTED_TYPES


def parse_file(path: Path, filename: str) -> list[Section]:
    """All non-empty sections of the file, in reading order."""
    ext = extension_of(filename)
    parser = _PARSERS.get(ext)
    if parser is None:
        raise ParseFailure("unsupported_type", f"{ext or 'no extension'} files are not supported")
    try:
        sections = [s for s in parser(path) if s.text.strip()]
    except ParseFailure:
        raise
    except Exception as exc:  # a malformed file in any of a dozen ways
        raise ParseFailure("parse_error", f"cannot read {filename}: {exc}") from exc
    if not sections:
        raise ParseFailure("empty_text", f"{filename} contains no text to index")
    return sections


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return raw.decode("utf-16")
    if b"\x00" in raw[:8192]:
        raise ParseFailure("unsupported_type", "binary content in a text file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Legacy 8-bit files: keep every byte rather than refuse the document.
        return raw.decode("latin-1")


def parse_text(path: Path) -> Iterator[Section]:
    yield Section(_read_text(path))


_ATX = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def parse_markdown(path: Path) -> Iterator[Section]:
    """One section per heading; the heading path (``A > B > C``) goes with its text."""
    yield from markdown_sections(_read_text(path))


def markdown_sections(text: str) -> Iterator[Section]:
    path: list[tuple[int, str]] = []
    lines: list[str] = []
    in_fence = False

    def flush() -> Section | None:
        body = "\n".join(lines).strip()
        lines.clear()
        heading = HEADING_SEPARATOR.join(t for _, t in path) or None
        return Section(body, heading=heading) if body else None

    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _ATX.match(line)
        if match is None:
            lines.append(line)
            continue
        section = flush()
        if section is not None:
            yield section
        level, title = len(match.group(1)), match.group(2).strip()
        path = [(lvl, t) for lvl, t in path if lvl < level] + [(level, title)]
    section = flush()
    if section is not None:
        yield section


class _HtmlText(HTMLParser):
    """Visible text by heading, dropping scripts, styles and other non-content."""

    _SKIP = frozenset({"script", "style", "noscript", "template", "head", "svg"})
    _BLOCK = frozenset(
        {
            "p",
            "div",
            "li",
            "br",
            "tr",
            "section",
            "article",
            "pre",
            "blockquote",
            "table",
            "ul",
            "ol",
            "dd",
            "dt",
        }
    )
    _HEADINGS = {f"h{i}": i for i in range(1, 7)}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[Section] = []
        self._path: list[tuple[int, str]] = []
        self._parts: list[str] = []
        self._skip = 0
        self._heading: tuple[int, list[str]] | None = None

    def _flush(self) -> None:
        text = re.sub(r"[ \t\r\f\v]+", " ", "".join(self._parts))
        text = re.sub(r"\n\s*\n+", "\n\n", text).strip()
        self._parts.clear()
        if text:
            heading = HEADING_SEPARATOR.join(t for _, t in self._path) or None
            self.sections.append(Section(text, heading=heading))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip += 1
        elif tag in self._HEADINGS and not self._skip:
            self._flush()
            self._heading = (self._HEADINGS[tag], [])
        elif tag in self._BLOCK:
            self._parts.append("\n\n" if tag != "br" else "\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in self._HEADINGS and self._heading is not None:
            level, words = self._heading
            title = " ".join("".join(words).split())
            self._heading = None
            if title:
                self._path = [(lvl, t) for lvl, t in self._path if lvl < level] + [(level, title)]
        elif tag in self._BLOCK:
            self._parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._heading is not None:
            self._heading[1].append(data)
        else:
            self._parts.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def parse_html(path: Path) -> Iterator[Section]:
    parser = _HtmlText()
    parser.feed(_read_text(path))
    parser.close()
    yield from parser.sections


def parse_pdf(path: Path) -> Iterator[Section]:
    """One section per page, numbered from 1. Encrypted files are refused, not guessed."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
    except PdfReadError as exc:
        raise ParseFailure("parse_error", f"not a readable PDF: {exc}") from exc
    if reader.is_encrypted:
        # Even PDFs that open with an empty password are often copy-protected; the
        # owner asked for them not to be extracted, so we do not.
        raise ParseFailure("encrypted_pdf", "the PDF is encrypted; upload an unprotected copy")
    for number, page in enumerate(reader.pages, start=1):
        yield Section(page.extract_text() or "", page=number)


def parse_docx(path: Path) -> Iterator[Section]:
    """Paragraphs grouped under their Heading-styled paragraphs; tables as rows."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except PackageNotFoundError as exc:
        raise ParseFailure("parse_error", "not a Word (.docx) document") from exc
    heading_path: list[tuple[int, str]] = []
    lines: list[str] = []

    def flush() -> Section | None:
        body = "\n".join(lines).strip()
        lines.clear()
        heading = HEADING_SEPARATOR.join(t for _, t in heading_path) or None
        return Section(body, heading=heading) if body else None

    for paragraph in document.paragraphs:
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        level = _heading_level(style)
        if level is None:
            lines.append(paragraph.text)
            continue
        section = flush()
        if section is not None:
            yield section
        title = paragraph.text.strip()
        if title:
            heading_path = [(lvl, t) for lvl, t in heading_path if lvl < level] + [(level, title)]
    section = flush()
    if section is not None:
        yield section
    for table in document.tables:
        rows = [" | ".join(cell.text.strip() for cell in row.cells) for row in table.rows]
        yield Section("\n".join(rows), extra={"table": True})


def _heading_level(style: str) -> int | None:
    if style == "Title":
        return 1
    match = re.match(r"Heading (\d)", style)
    return int(match.group(1)) if match else None


def _row_text(row: dict[str, Any] | list[Any] | Any) -> str:
    if isinstance(row, dict):
        return "; ".join(f"{k}: {_scalar(v)}" for k, v in row.items() if v not in (None, ""))
    if isinstance(row, list):
        return "; ".join(_scalar(v) for v in row if v not in (None, ""))
    return _scalar(row)


def _scalar(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def parse_csv(path: Path) -> Iterator[Section]:
    """One section per row, as ``column: value`` pairs so each row reads on its own."""
    text = _read_text(path)
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    for number, row in enumerate(reader, start=1):
        row.pop(None, None)  # type: ignore[call-overload,unused-ignore]  # cells past the header
        yield Section(_row_text(row), row=number)


def parse_json(path: Path) -> Iterator[Section]:
    """An array: one section per item; an object: one per top-level key; JSON Lines too."""
    text = _read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        lines = [line for line in text.splitlines() if line.strip()]
        try:
            data = [json.loads(line) for line in lines]
        except json.JSONDecodeError as exc:
            raise ParseFailure("parse_error", f"invalid JSON: {exc}") from exc
    if isinstance(data, list):
        for number, item in enumerate(data, start=1):
            yield Section(_row_text(item), row=number)
    elif isinstance(data, dict):
        for key, value in data.items():
            yield Section(f"{key}: {_row_text(value)}", heading=str(key))
    else:
        yield Section(_scalar(data))


_PARSERS: dict[str, Callable[[Path], Iterator[Section]]] = {
    ".txt": parse_text,
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".html": parse_html,
    ".htm": parse_html,
    ".pdf": parse_pdf,
    ".docx": parse_docx,
    ".csv": parse_csv,
    ".json": parse_json,
}
