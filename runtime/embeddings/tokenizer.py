"""The tokenizer chunks are measured with: the local model's WordPiece, loaded once."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from runtime.embeddings.export import package_model_dir

if TYPE_CHECKING:
    from tokenizers import Tokenizer

# all-MiniLM-L6-v2 was trained on 256-token inputs ([CLS] and [SEP] included).
LOCAL_MAX_SEQUENCE = 256


@functools.cache
def load_tokenizer() -> Tokenizer:
    """Bare tokenizer (no truncation, no padding) for counting and splitting text."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(package_model_dir() / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def count_tokens(texts: list[str]) -> list[int]:
    """Tokens per text, without the special tokens the model adds."""
    encodings = load_tokenizer().encode_batch(texts, add_special_tokens=False)
    return [len(e.ids) for e in encodings]
