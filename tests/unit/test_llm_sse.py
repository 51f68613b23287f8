"""The incremental SSE parser: framing, fields, and events split across chunks anywhere."""

from __future__ import annotations

from collections.abc import AsyncIterator

from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.llm.sse import SSEEvent, SSEParser, aiter_sse


def parse_chunks(chunks: list[bytes]) -> list[SSEEvent]:
    parser = SSEParser()
    events = [e for chunk in chunks for e in parser.feed(chunk)]
    return events + parser.flush()


def test_single_event_with_lf() -> None:
    assert parse_chunks([b'data: {"a":1}\n\n']) == [SSEEvent(b'{"a":1}')]


def test_crlf_and_lone_cr_line_endings_are_equivalent() -> None:
    expected = [SSEEvent(b"x", "ping"), SSEEvent(b"y")]
    assert parse_chunks([b"event: ping\r\ndata: x\r\n\r\ndata: y\r\n\r\n"]) == expected
    assert parse_chunks([b"event: ping\rdata: x\r\rdata: y\r\r"]) == expected


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    assert parse_chunks([b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n"]) == [
        SSEEvent(b"a"),
        SSEEvent(b"b"),
    ]


def test_multi_line_data_joins_with_newline() -> None:
    assert parse_chunks([b"data: line1\ndata: line2\ndata:line3\n\n"]) == [
        SSEEvent(b"line1\nline2\nline3")
    ]


def test_comments_and_unknown_fields_are_ignored() -> None:
    chunks = [b": keep-alive\n\n:another\nretry: 100\nfoo: bar\ndata: x\n\n"]
    assert parse_chunks(chunks) == [SSEEvent(b"x")]


def test_event_name_applies_to_one_event_only() -> None:
    events = parse_chunks([b"event: message_start\ndata: 1\n\ndata: 2\n\n"])
    assert [(e.event, e.data) for e in events] == [("message_start", b"1"), ("message", b"2")]


def test_blank_lines_without_data_dispatch_nothing() -> None:
    assert parse_chunks([b"\n\n\nevent: x\n\n"]) == []


def test_field_without_colon_and_without_space() -> None:
    assert parse_chunks([b"data\ndata:x\n\n"]) == [SSEEvent(b"\nx")]


def test_only_one_leading_space_is_stripped() -> None:
    assert parse_chunks([b"data:  two spaces\n\n"]) == [SSEEvent(b" two spaces")]


def test_id_is_remembered_across_events() -> None:
    events = parse_chunks([b"id: 7\ndata: a\n\ndata: b\n\n"])
    assert [e.id for e in events] == ["7", "7"]


def test_trailing_event_without_blank_line_is_flushed() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: [DONE]") == []
    assert parser.flush() == [SSEEvent(b"[DONE]")]
    assert parser.flush() == []


def test_every_split_point_gives_the_same_events() -> None:
    stream = (
        b'event: content_block_delta\r\ndata: {"t":"a"}\r\n\r\n'
        b": ping\n\ndata: x\ndata: y\n\nevent: e\rdata: z\r\r"
    )
    expected = parse_chunks([stream])
    assert len(expected) == 3
    for i in range(len(stream) + 1):
        for j in range(i, len(stream) + 1):
            assert parse_chunks([stream[:i], stream[i:j], stream[j:]]) == expected


async def test_aiter_sse_reads_an_async_byte_stream() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for piece in (b"da", b"ta: 1\n", b"\nda", b"ta: 2"):
            yield piece

    assert [e.data async for e in aiter_sse(chunks())] == [b"1", b"2"]


_line_end = st.sampled_from([b"\n", b"\r\n", b"\r"])
_value = st.binary(max_size=12).filter(lambda b: b"\r" not in b and b"\n" not in b)
_event = st.tuples(
    st.one_of(st.none(), st.sampled_from(["ping", "message_start", "error"])),
    st.lists(_value, min_size=1, max_size=3),
    _line_end,
)


@settings(max_examples=300, deadline=None)
@given(events=st.lists(_event, max_size=6), cuts=st.lists(st.integers(0, 400), max_size=8))
def test_random_streams_and_random_chunking_agree(
    events: list[tuple[str | None, list[bytes], bytes]], cuts: list[int]
) -> None:
    stream = b""
    expected: list[SSEEvent] = []
    for name, lines, eol in events:
        if name:
            stream += b"event: " + name.encode() + eol
        for line in lines:
            stream += b"data: " + line + eol
        stream += eol
        expected.append(SSEEvent(b"\n".join(lines), name or "message"))
    points = sorted({min(c, len(stream)) for c in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    assert parse_chunks(chunks) == expected
