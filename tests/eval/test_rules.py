"""Each published scoring rule, pinned with hand-made cases (and the official quirks kept on purpose)."""

from __future__ import annotations

import pytest

from aura.eval.rules import (
    normalize_answer,
    ovo_choice_correct,
    ovo_count_correct,
    ovo_yes_no_correct,
    pa_first_in_window,
    pa_iou,
    pa_precision,
    pt_stayed_silent,
    says_yes,
    sb_option_correct,
    sb_proactive_correct,
)
from aura.eval.types import clock_seconds, span_seconds


def test_ovo_rec_counts_the_digits_of_the_answer() -> None:
    assert ovo_count_correct("3 times", 3)
    assert ovo_count_correct("They did it 12 times.", 12)
    assert not ovo_count_correct("3 times", 4)
    assert not ovo_count_correct("3 or 4", 3)  # digits are joined: "34"
    assert not ovo_count_correct("three", 3)
    assert not ovo_count_correct(None, 0)
    assert ovo_count_correct("0", 0)


def test_ovo_ssr_crr_yes_no_rule() -> None:
    assert ovo_yes_no_correct("Yes.", 1)
    assert ovo_yes_no_correct("No, not yet", 0)
    assert ovo_yes_no_correct("Y", 1) and ovo_yes_no_correct("N", 0)
    assert not ovo_yes_no_correct("Y", 0) and not ovo_yes_no_correct("N", 1)
    assert not ovo_yes_no_correct("Yes.", 0)
    assert not ovo_yes_no_correct("yes", 1)  # the official check is case-sensitive
    assert not ovo_yes_no_correct(None, 1)


def test_ovo_choice_is_a_case_sensitive_substring() -> None:
    assert ovo_choice_correct("B", "B")
    assert ovo_choice_correct("The answer is C.", "C")
    assert not ovo_choice_correct("b", "B")
    assert not ovo_choice_correct(None, "A")
    assert not ovo_choice_correct("", "A")


def test_streamingbench_option_is_the_first_character() -> None:
    assert sb_option_correct("B", "B")
    assert sb_option_correct("  B. a dog", "B")
    assert not sb_option_correct("The answer is B", "B")
    assert not sb_option_correct("b", "B")
    assert not sb_option_correct("", "A") and not sb_option_correct(None, "A")


def test_streamingbench_proactive_needs_time_within_2s_and_the_output() -> None:
    assert sb_proactive_correct(12.0, 10.0, "Goal!", "goal")
    assert sb_proactive_correct(8.0, 10.0, "GOAL by red", "Goal")
    assert sb_proactive_correct(11.5, 10.0, "Goal", "Goal")
    assert not sb_proactive_correct(12.5, 10.0, "Goal", "Goal")  # 2.5 s late
    assert not sb_proactive_correct(7.4, 10.0, "Goal", "Goal")  # 2.6 s early
    assert not sb_proactive_correct(10.0, 10.0, "A save", "Goal")  # on time, wrong output
    assert not sb_proactive_correct(None, 10.0, None, "Goal")
    assert says_yes("Yes, now.") and says_yes("yes") and not says_yes("no") and not says_yes(None)


def test_omnimmi_proactive_alerting_rules() -> None:
    assert pa_first_in_window([6.0, 20.0], 5, 9)
    assert not pa_first_in_window([3.0, 6.0], 5, 9)  # the first alert was a false alarm
    assert not pa_first_in_window([], 5, 9)
    assert pa_precision([6.0, 7.0, 20.0], 5, 9) == pytest.approx(2 / 3)
    assert pa_precision([], 5, 9) == 0.0
    assert pa_iou([6.0, 8.0], 5, 9) == pytest.approx(2 / 4)
    assert pa_iou([1.0, 20.0], 5, 9) == pytest.approx(4 / 19)
    assert pa_iou([], 5, 9) == 0.0


def test_omnimmi_turn_taking_silence() -> None:
    assert pt_stayed_silent("") and pt_stayed_silent("<2> background") and pt_stayed_silent(1)
    assert not pt_stayed_silent("Sure, I can help.") and not pt_stayed_silent(0)
    assert pt_stayed_silent(None)


def test_times_and_spans() -> None:
    assert clock_seconds("00:03:10") == 190
    assert clock_seconds("0:02:22") == 142
    assert clock_seconds("01:05") == 65
    assert clock_seconds(12.5) == 12.5
    for bad in ("soon", "-1", True, None, -3):
        with pytest.raises(ValueError):
            clock_seconds(bad)
    assert span_seconds("1.5 -- 3.0") == (1.5, 3.0)
    assert span_seconds([5, 9]) == (5.0, 9.0)
    for bad in ("3 -- 1", [9], "7"):
        with pytest.raises(ValueError):
            span_seconds(bad)


def test_normalize_answer() -> None:
    assert normalize_answer("The  Blue, car!") == "blue car"
