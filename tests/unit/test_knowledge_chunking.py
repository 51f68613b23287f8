"""Chunking with the model's own tokenizer: budgets, overlap, boundaries, positions."""

from __future__ import annotations

import itertools
from pathlib import Path

from handlers.knowledge.chunking import Chunk, chunk_sections, token_splitter
from handlers.knowledge.parsers import Section, parse_file
from runtime.embeddings.tokenizer import count_tokens, load_tokenizer

DATA = Path(__file__).parents[1] / "data" / "knowledge"
SPLIT = token_splitter(load_tokenizer())


def _chunks(sections: list[Section], size: int = 64, overlap: int = 16) -> list[Chunk]:
    return chunk_sections(sections, size=size, overlap=overlap, count=count_tokens, split=SPLIT)


def _sentences(n: int) -> str:
    return " ".join(f"Sentence number {i} talks about topic {i % 7}." for i in range(n))


def test_chunks_stay_within_the_token_budget_heading_included() -> None:
    sections = [Section(_sentences(60), heading="Guide > Setup")]
    chunks = _chunks(sections)
    assert len(chunks) > 5
    for chunk in chunks:
        assert count_tokens([chunk.embed_text])[0] <= 64
        assert chunk.embed_text.startswith("Guide > Setup\n")
        assert chunk.meta == {"heading": "Guide > Setup"}
    assert [c.index for c in chunks] == list(range(len(chunks)))


def test_neighbouring_chunks_overlap_by_whole_sentences() -> None:
    chunks = _chunks([Section(_sentences(40))], size=60, overlap=20)
    for before, after in itertools.pairwise(chunks):
        # The next chunk starts inside the previous one, at a sentence start.
        first_sentence = after.text.split(". ", 1)[0] + "."
        assert first_sentence in before.text
        assert before.text.index(first_sentence) > 0
        assert count_tokens([before.text[before.text.index(first_sentence) :]])[0] <= 20
    # Every sentence survives somewhere.
    joined = " ".join(c.text for c in chunks)
    assert all(f"Sentence number {i} " in joined for i in range(40))


def test_a_sentence_longer_than_the_budget_is_cut_at_token_boundaries() -> None:
    words = " ".join(f"w{i}" for i in range(400))
    chunks = _chunks([Section(words)], size=50, overlap=10)
    assert len(chunks) > 5
    assert all(count_tokens([c.text])[0] <= 50 for c in chunks)
    assert chunks[0].text.startswith("w0 ")
    assert chunks[-1].text.endswith("w399")


def test_positions_are_not_mixed_and_rows_are_packed_with_their_range() -> None:
    sections = [
        Section("Page one text.", page=1),
        Section("Page two text.", page=2),
        *[Section(f"name: item {i}; price: {i}", row=i) for i in range(1, 6)],
    ]
    chunks = _chunks(sections, size=200, overlap=0)
    assert [c.meta for c in chunks] == [{"page": 1}, {"page": 2}, {"row_start": 1, "row_end": 5}]
    assert chunks[2].text.count("name: item") == 5


def test_markdown_file_chunks_keep_each_heading_path() -> None:
    sections = parse_file(DATA / "zephyr_reactor.md", "zephyr_reactor.md")
    chunks = _chunks(sections, size=200, overlap=30)
    coolant = [c for c in chunks if "gallium" in c.text]
    assert len(coolant) == 1
    assert coolant[0].meta["heading"] == "Zephyr-9 Research Reactor > Design > Coolant"
    assert coolant[0].embed_text.startswith("Zephyr-9 Research Reactor > Design > Coolant\n")
