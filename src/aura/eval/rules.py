"""Answer-matching rules of the three benchmarks, reimplemented from their published definitions.

Pure functions, one rule each, pinned by hand-made cases in ``tests/eval/test_rules.py``.
They are deliberately as lenient or as strict as the official scorers are (for instance
OVO-Bench's multiple-choice check is a case-sensitive substring test), so that numbers are
comparable with published tables; ``docs/evaluation.md`` lists each rule and its quirks.
"""

from __future__ import annotations

import re

# ---------------------------------------------------------------------------- OVO-Bench


def ovo_choice_correct(response: str | None, letter: str) -> bool:
    """OVO backward/real-time: the ground-truth option letter occurs in the response (case-sensitive)."""
    return response is not None and letter in response


def ovo_count_correct(response: str | None, count: int) -> bool:
    """OVO REC: all digits of the response, joined, equal the count ("3 times" -> 3; "3 or 4" -> 34)."""
    if response is None:
        return False
    return "".join(re.findall(r"\d+", response)) == str(count)


def ovo_yes_no_correct(response: str | None, label: int) -> bool:
    """OVO SSR/CRR: a bare "Y"/"N" matches label 1/0; otherwise "Yes"/"No" must occur (case-sensitive)."""
    if response is None:
        return False
    if (response == "N" and label == 0) or (response == "Y" and label == 1):
        return True
    return ("No" if label == 0 else "Yes") in response


# ---------------------------------------------------------------------------- StreamingBench


def sb_option_correct(response: str | None, answer: str) -> bool:
    """StreamingBench multiple choice: the response's first character is the answer letter.

    Leading whitespace is skipped; an empty response (the model stayed silent) is wrong.
    """
    text = (response or "").lstrip()
    return bool(text) and text[0] == answer


SB_PROACTIVE_TOLERANCE_S = 2.0
"""StreamingBench proactive output: an answer counts within this many seconds of the ground truth."""


def sb_proactive_correct(answer_time: float | None, gt_time: float, text: str | None, expected: str) -> bool:
    """StreamingBench proactive: answered within 2 s of the ground-truth time, containing the expected output.

    The expected output is matched case-insensitively. No answer at all is wrong.
    """
    if answer_time is None or text is None:
        return False
    if abs(answer_time - gt_time) > SB_PROACTIVE_TOLERANCE_S:
        return False
    return expected.strip().lower() in text.lower()


def says_yes(response: str | None) -> bool:
    """StreamingBench's polling test: "yes" occurs in the lower-cased response."""
    return response is not None and "yes" in response.strip().lower()


# ---------------------------------------------------------------------------- OmniMMI


def pa_first_in_window(times: list[float], start: float, end: float) -> bool:
    """OmniMMI proactive alerting: the first response time lies inside [start, end]."""
    return bool(times) and start <= times[0] <= end


def pa_precision(times: list[float], start: float, end: float) -> float:
    """OmniMMI PA precision: the share of response times inside [start, end] (0 with no response)."""
    if not times:
        return 0.0
    return sum(start <= t <= end for t in times) / len(times)


def pa_iou(times: list[float], start: float, end: float) -> float:
    """OmniMMI PA IoU of [first response, last response] with the ground-truth span (0 with none)."""
    if not times:
        return 0.0
    s, e = times[0], times[-1]
    union = max(e, end) - min(s, start)
    if union <= 0:
        return 1.0 if s == start and e == end else 0.0
    return max(0.0, min(e, end) - max(s, start)) / union


def pt_stayed_silent(pred: str | int | float | None) -> bool:
    """OmniMMI proactive turn-taking: correct when the model did not take the turn.

    Official predictions are either text ("" or a ``<2>``-prefixed reply count as silence) or,
    from online models, 1 for "stayed silent" and 0 for "responded".
    """
    if pred is None:
        return True
    if isinstance(pred, bool):
        return pred
    if isinstance(pred, int | float):
        return pred == 1
    return pred == "" or pred.startswith("<2>")


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation and articles, squeeze spaces (for the offline match judge)."""
    text = re.sub(r"[^\w\s]", " ", text.lower())
    words = [w for w in text.split() if w not in {"a", "an", "the"}]
    return " ".join(words)
