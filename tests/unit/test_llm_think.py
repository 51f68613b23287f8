"""The <think> splitter: tags split anywhere, whitespace, missing close tag, lone '<'."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from runtime.llm.think import ThinkSplitter, split_think


def feed_all(chunks: list[str], *, started: bool = False) -> tuple[str, str]:
    splitter = ThinkSplitter(started=started)
    reasoning, content = [], []
    for chunk in [*chunks, None]:
        r, c = splitter.finish() if chunk is None else splitter.feed(chunk)
        reasoning.append(r)
        content.append(c)
    return "".join(reasoning), "".join(content)


def test_reasoning_block_then_content() -> None:
    assert split_think("<think>hmm</think>\n\nAnswer") == ("hmm", "Answer")
    assert feed_all(["<think>hmm</think>\n\nAnswer"]) == ("hmm", "Answer")


def test_tags_split_across_chunks_at_any_position() -> None:
    assert feed_all(["<thi", "nk>a", "b</th", "ink>", "c"]) == ("ab", "c")
    assert feed_all(["<", "t", "h", "i", "n", "k", ">", "x", "<", "/", "think", ">", "y"]) == (
        "x",
        "y",
    )


def test_leading_whitespace_before_the_open_tag_is_tolerated() -> None:
    assert feed_all(["\n ", " <think>", "r</think>c"]) == ("r", "c")


def test_missing_close_tag_makes_everything_reasoning() -> None:
    assert feed_all(["<think>still ", "thinking <", "/thi"]) == ("still thinking </thi", "")


def test_text_without_a_block_is_content_untouched() -> None:
    assert feed_all(["  plain ", "text"]) == ("", "  plain text")


def test_a_less_than_that_is_not_a_tag_is_text() -> None:
    assert feed_all(["<b>bold</b>"]) == ("", "<b>bold</b>")
    assert feed_all(["<thinking>x"]) == ("", "<thinking>x")
    assert feed_all(["<think>a < b and c <", "= d</think>ok"]) == ("a < b and c <= d", "ok")


def test_an_open_tag_later_in_the_text_is_content() -> None:
    assert feed_all(["Use ", "<think>", " tags"]) == ("", "Use <think> tags")


def test_started_block_from_the_prompt_template() -> None:
    assert feed_all(["reasoning</th", "ink>answer"], started=True) == ("reasoning", "answer")


def test_only_tag_prefixes_are_held_back() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("<think>abc<") == ("abc", "")
    assert splitter.feed("x") == ("<x", "")
    assert splitter.feed("</think>") == ("", "")
    assert splitter.feed("  ") == ("", "")
    assert splitter.feed(" answer") == ("", "answer")
    assert splitter.feed(" more") == ("", " more")


# Texts built from tag fragments so the fuzzer hits tag boundaries, not only random letters.
_pieces = st.sampled_from(
    ["<think>", "</think>", "<", ">", "/", "think", "<thi", "nk>", "</", " ", "\n", "a", "é", "<b>"]
)
_texts = st.one_of(st.lists(_pieces, max_size=12).map("".join), st.text(max_size=30))


def _split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({min(c, len(text)) for c in cuts})
    return [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]


@settings(max_examples=500, deadline=None)
@given(text=_texts, cuts=st.lists(st.integers(0, 60), max_size=10))
@example(text=" <think>a</think> b", cuts=[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
def test_any_chunking_gives_the_one_shot_result(text: str, cuts: list[int]) -> None:
    assert feed_all(_split(text, cuts)) == split_think(text)


def _squeeze(text: str) -> str:
    return "".join(text.split())


@settings(max_examples=200, deadline=None)
@given(text=_texts, cuts=st.lists(st.integers(0, 60), max_size=10))
def test_nothing_is_lost_but_the_tags_and_whitespace(text: str, cuts: list[int]) -> None:
    reasoning, content = feed_all(_split(text, cuts))
    if not text.lstrip().startswith("<think>"):
        assert (reasoning, content) == ("", text)
        return
    closed = "</think>" in text[text.index("<think>") :]
    rebuilt = "<think>" + reasoning + ("</think>" if closed else "") + content
    assert _squeeze(rebuilt) == _squeeze(text)
