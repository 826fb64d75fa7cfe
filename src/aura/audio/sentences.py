"""Incremental sentence splitting: text pieces in, complete sentences out as soon as they end."""

from __future__ import annotations

import re

_END = re.compile(r"[.!?…]+[\"')\]]*(?=\s)")
_ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "no"})


class SentenceSplitter:
    """Accumulates decoded text and releases each sentence once its end is certain.

    A sentence ends at ``.``, ``!``, ``?`` or ``…`` followed by whitespace (so "3.5" and a
    trailing "." still waiting for the next piece are not cut), except after a short list of
    abbreviations. Text past ``clause_chars`` without a sentence end is released up to its last
    clause break (", ", "; ", ": ") so speech starts early; past ``max_chars`` it is cut at its
    last space so TTS never waits on an endless run-on. ``flush()`` releases whatever is left.
    """

    def __init__(self, max_chars: int = 240, clause_chars: int = 80) -> None:
        self.max_chars = max_chars
        self.clause_chars = clause_chars
        self._buf = ""

    def feed(self, piece: str) -> list[str]:
        """Add a decoded piece; return the sentences it completed (possibly none)."""
        self._buf += piece
        out: list[str] = []
        start = 0
        for m in _END.finditer(self._buf):
            candidate = self._buf[start : m.end()]
            last_word = candidate.rstrip(".!?…\"')]").rsplit(maxsplit=1)[-1:] or [""]
            if m.group(0).startswith(".") and last_word[0].lower() in _ABBREVIATIONS:
                continue
            if candidate.strip():
                out.append(candidate.strip())
            start = m.end()
        self._buf = self._buf[start:]
        if len(self._buf) > self.clause_chars:  # a long sentence: speak up to its last clause break now
            cut = max(self._buf.rfind(", "), self._buf.rfind("; "), self._buf.rfind(": "))
            if cut >= 20:
                head, self._buf = self._buf[: cut + 1].strip(), self._buf[cut + 2 :]
                out.append(head)
        while len(self._buf) > self.max_chars:
            cut = self._buf.rfind(" ", 0, self.max_chars)
            cut = cut if cut > 0 else self.max_chars
            head, self._buf = self._buf[:cut].strip(), self._buf[cut:].lstrip()
            if head:
                out.append(head)
        return out

    def flush(self) -> list[str]:
        """Release the unfinished tail as a last sentence (if it holds any text)."""
        tail, self._buf = self._buf.strip(), ""
        return [tail] if tail else []

    @property
    def pending(self) -> str:
        """Text received but not yet released as a sentence."""
        return self._buf
