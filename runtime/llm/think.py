"""Split inline ``<think>…</think>`` reasoning from content, incrementally or in one shot."""

from __future__ import annotations

OPEN = "<think>"
CLOSE = "</think>"

_START, _THINK, _AFTER, _CONTENT = range(4)


def split_think(text: str) -> tuple[str, str]:
    """The whole-text rule the incremental splitter must agree with.

    A reasoning block only counts at the start of the text (leading whitespace allowed);
    it runs to the first ``</think>`` or, when that never comes, to the end. Whitespace
    right after ``</think>`` is dropped so content reads the same as from providers that
    send reasoning in a separate field.
    """
    body = text.lstrip()
    if not body.startswith(OPEN):
        return "", text
    reasoning, closed, content = body[len(OPEN) :].partition(CLOSE)
    return reasoning, content.lstrip() if closed else ""


class ThinkSplitter:
    """Feed text chunks, get ``(reasoning, content)`` pieces; tags may split anywhere.

    Only a possible tag prefix is ever held back (at most seven characters), so text is
    forwarded as soon as it can no longer be part of a tag.
    """

    __slots__ = ("_held", "_state")

    def __init__(self, *, started: bool = False) -> None:
        # started=True: the chat template already opened the block in the prompt (some
        # DeepSeek-R1 / QwQ deployments), so the output begins inside the reasoning.
        self._state = _THINK if started else _START
        self._held = ""

    def feed(self, text: str) -> tuple[str, str]:
        state = self._state
        if state == _CONTENT:
            return "", text
        if self._held:
            text = self._held + text
            self._held = ""
        if state == _START:
            body = text.lstrip()
            if not body or (len(body) < len(OPEN) and OPEN.startswith(body)):
                self._held = text  # still undecided: whitespace or a partial "<think>"
                return "", ""
            if not body.startswith(OPEN):
                self._state = _CONTENT
                return "", text
            self._state = _THINK
            text = body[len(OPEN) :]
            state = _THINK
        if state == _THINK:
            end = text.find(CLOSE)
            if end < 0:
                # Hold back a suffix that could begin "</think>": it starts at the last "<".
                lt = text.rfind("<", max(0, len(text) - len(CLOSE) + 1))
                if lt >= 0 and CLOSE.startswith(text[lt:]):
                    self._held = text[lt:]
                    return text[:lt], ""
                return text, ""
            reasoning = text[:end]
            self._state = _AFTER
            rest = text[end + len(CLOSE) :].lstrip()
            if rest:
                self._state = _CONTENT
            return reasoning, rest
        # _AFTER: dropping whitespace between "</think>" and the answer.
        rest = text.lstrip()
        if rest:
            self._state = _CONTENT
        return "", rest

    def finish(self) -> tuple[str, str]:
        """End of text: whatever was held back was not a tag after all."""
        held, self._held = self._held, ""
        if not held:
            return "", ""
        if self._state == _THINK:
            return held, ""
        if self._state == _START:
            self._state = _CONTENT
            return "", held
        return "", ""
