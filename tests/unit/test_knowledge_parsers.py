"""Parsers: each format to sections with the page, heading path or row a citation needs."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest

from handlers.knowledge.parsers import ParseFailure, is_supported, parse_file

DATA = Path(__file__).parents[1] / "data" / "knowledge"


def text_pdf(pages: list[str]) -> bytes:
    """A minimal valid PDF with one line of Helvetica text per page (offsets computed)."""
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    font = 3 + 2 * len(pages)
    for i, text in enumerate(pages):
        content = f"BT /F1 12 Tf 20 100 Td ({text}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = BytesIO(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def _write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_markdown_sections_carry_their_heading_path_and_ignore_code_fences() -> None:
    sections = parse_file(DATA / "zephyr_reactor.md", "zephyr_reactor.md")
    headings = [s.heading for s in sections]
    assert headings[0] == "Zephyr-9 Research Reactor"
    assert "Zephyr-9 Research Reactor > Design > Coolant" in headings
    assert "Zephyr-9 Research Reactor > Safety" in headings
    coolant = next(s for s in sections if s.heading and s.heading.endswith("Coolant"))
    assert "gallium" in coolant.text


def test_markdown_hash_lines_inside_code_are_not_headings(tmp_path: Path) -> None:
    md = b"# Guide\n\nRun this:\n\n```sh\n# not a heading\nmake\n```\n\n## Next\nmore"
    sections = parse_file(_write(tmp_path, "g.md", md), "g.md")
    assert [s.heading for s in sections] == ["Guide", "Guide > Next"]
    assert "# not a heading" in sections[0].text


def test_html_drops_scripts_and_styles_and_follows_headings() -> None:
    sections = parse_file(DATA / "cooling_systems.html", "cooling_systems.html")
    text = " ".join(s.text for s in sections)
    assert "console.log" not in text
    assert "font-family" not in text
    sodium = next(s for s in sections if "sodium" in s.text)
    assert sodium.heading == "Cooling systems in power plants > Sodium-cooled designs"


def test_pdf_pages_are_numbered_and_encrypted_pdfs_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "two.pdf", text_pdf(["First page words", "Second page words"]))
    sections = parse_file(path, "two.pdf")
    assert [(s.page, s.text.strip()) for s in sections] == [
        (1, "First page words"),
        (2, "Second page words"),
    ]
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(path))
    writer.encrypt("secret")
    out = BytesIO()
    writer.write(out)
    with pytest.raises(ParseFailure) as locked:
        parse_file(_write(tmp_path, "locked.pdf", out.getvalue()), "locked.pdf")
    assert locked.value.reason == "encrypted_pdf"
    with pytest.raises(ParseFailure) as broken:
        parse_file(_write(tmp_path, "bad.pdf", b"%PDF-1.4 garbage"), "bad.pdf")
    assert broken.value.reason == "parse_error"


def test_docx_paragraphs_group_under_heading_styles_and_tables_become_rows(
    tmp_path: Path,
) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Handbook", level=1)
    document.add_paragraph("Welcome aboard.")
    document.add_heading("Leave", level=2)
    document.add_paragraph("Twenty-five days a year.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Role", "Days"
    table.cell(1, 0).text, table.cell(1, 1).text = "Engineer", "25"
    path = tmp_path / "h.docx"
    document.save(str(path))
    sections = parse_file(path, "h.docx")
    assert [(s.heading, s.text) for s in sections[:2]] == [
        ("Handbook", "Welcome aboard."),
        ("Handbook > Leave", "Twenty-five days a year."),
    ]
    assert sections[2].text == "Role | Days\nEngineer | 25"
    assert sections[2].extra == {"table": True}


def test_csv_and_json_become_one_section_per_row(tmp_path: Path) -> None:
    rows = parse_file(DATA / "planets.csv", "planets.csv")
    assert rows[4].row == 5
    assert rows[4].text.startswith("name: Jupiter; type: gas giant")
    faq = parse_file(DATA / "faq.json", "faq.json")
    assert [s.row for s in faq] == [1, 2]
    assert "Forgot password" in faq[0].text
    obj = parse_file(_write(tmp_path, "o.json", b'{"a": {"b": 1}, "c": "d"}'), "o.json")
    assert [(s.heading, s.text) for s in obj] == [("a", "a: b: 1"), ("c", "c: d")]
    lines = parse_file(_write(tmp_path, "l.json", b'{"x": 1}\n{"x": 2}\n'), "l.json")
    assert [s.text for s in lines] == ["x: 1", "x: 2"]
    with pytest.raises(ParseFailure) as bad:
        parse_file(_write(tmp_path, "bad.json", b"{nope"), "bad.json")
    assert bad.value.reason == "parse_error"


def test_text_encodings_and_refusals(tmp_path: Path) -> None:
    utf16 = parse_file(_write(tmp_path, "u.txt", "héllo wörld".encode("utf-16")), "u.txt")
    assert utf16[0].text == "héllo wörld"
    latin = parse_file(_write(tmp_path, "l.txt", "café".encode("latin-1")), "l.txt")
    assert latin[0].text == "café"
    with pytest.raises(ParseFailure) as empty:
        parse_file(_write(tmp_path, "e.md", b"\n\n   \n"), "e.md")
    assert empty.value.reason == "empty_text"
    with pytest.raises(ParseFailure) as odd:
        parse_file(_write(tmp_path, "x.exe", b"MZ"), "x.exe")
    assert odd.value.reason == "unsupported_type"
    assert is_supported("A.PDF")
    assert not is_supported("notes")
