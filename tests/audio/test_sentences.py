"""Incremental sentence splitting for streaming TTS."""

from __future__ import annotations

from aura.audio.sentences import SentenceSplitter
from aura.audio.wer import word_error_rate


def feed_all(pieces: list[str]) -> tuple[list[list[str]], list[str]]:
    s = SentenceSplitter(max_chars=60)
    per_piece = [s.feed(p) for p in pieces]
    return per_piece, s.flush()


def test_a_sentence_is_released_once_the_next_piece_shows_its_end() -> None:
    per_piece, rest = feed_all(["The cat", " sat.", " Then it", " left! Why", "?", " Done"])
    assert per_piece == [[], [], ["The cat sat."], ["Then it left!"], [], ["Why?"]]
    assert rest == ["Done"]


def test_decimals_abbreviations_and_quotes_do_not_cut() -> None:
    per_piece, rest = feed_all(['It costs 3.5 dollars, says Dr. Smith. "Really?" ', "yes."])
    assert [x for p in per_piece for x in p] == ["It costs 3.5 dollars, says Dr. Smith.", '"Really?"']
    assert rest == ["yes."]


def test_run_on_text_is_cut_at_a_space_within_the_bound() -> None:
    per_piece, rest = feed_all(["word " * 40])
    released = per_piece[0]
    assert released and all(len(x) <= 60 for x in released)
    assert " ".join(released + rest).split() == ["word"] * 40


def test_word_error_rate() -> None:
    assert word_error_rate("What colour is it?", "what colour is it") == 0.0
    assert word_error_rate("a b c d", "a x c") == 0.5
    assert word_error_rate("", "") == 0.0 and word_error_rate("", "x") == 1.0


def test_a_long_sentence_is_released_at_a_clause_break() -> None:
    s = SentenceSplitter(max_chars=240, clause_chars=40)
    assert s.feed("The red ball rolls to the left") == []
    assert s.feed(", then it bounces") == ["The red ball rolls to the left,"]
    assert s.feed(" off the wall and comes back") == []
    assert s.feed(". Next") == ["then it bounces off the wall and comes back."]
