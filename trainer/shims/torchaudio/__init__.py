"""Import placeholder for ``torchaudio``, put on the trainer process's PYTHONPATH only.

LLaMA-Factory 0.9.5 imports torchaudio at module level for its audio plugin, and no
torchaudio release loads against the torch the CPU build uses. Text training never calls
it; any use raises ImportError, which is what LLaMA-Factory expects of a missing package.
"""

from __future__ import annotations


def __getattr__(name: str) -> object:
    raise ImportError(f"torchaudio is not installed (llmforge placeholder; {name!r} unavailable)")
