"""Training-only rewordings: they keep a question's kind and fields and never leak a held-out phrasing."""

from __future__ import annotations

import copy
import re

import numpy as np

from aura.models.nano.paraphrase import REWORDINGS, paraphrase_sample, reword
from aura.world.phrasing import QUESTIONS, fill
from aura.world.questions import target_text


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", re.sub(r"\{[a-z]+\}", "", text.lower())))


def test_rewordings_use_no_word_only_a_held_out_phrasing_has() -> None:
    train = set().union(*(_words(t) for ts in QUESTIONS.values() for t, held in ts if not held))
    held_only = set().union(*(_words(t) for ts in QUESTIONS.values() for t, held in ts if held)) - train
    assert held_only  # the held-out phrasings do have words of their own
    fillers = {"now", "could", "you", "if", "as", "soon", "whenever", "what", "is", "when", "me", "tell", "there"}
    for kind, options in REWORDINGS.items():
        held = {t for t, h in QUESTIONS[kind] if h}
        for option in options:
            assert option not in held
            assert not (_words(option) & held_only), (option, _words(option) & held_only)
            assert _words(option) <= train | fillers, option


def test_every_training_phrasing_is_reworded_with_its_fields_and_held_out_ones_are_not() -> None:
    rng = np.random.default_rng(0)
    fields = {"colour": "blue", "shape": "triangle", "target": target_text({"colour": "red"})}
    for kind, templates in QUESTIONS.items():
        for template, held in templates:
            text = fill(template, **fields)
            new = reword(text, rng)
            if held or kind not in REWORDINGS:
                assert new is None
                continue
            assert new is not None and new != text
            assert new in {fill(t, **fields) for t in REWORDINGS[kind]}


def test_paraphrase_sample_rewrites_the_same_question_the_same_way() -> None:
    q = "Tell me every time an object disappears."
    sample = {"id": "s", "messages": [
        {"role": "system", "content": q},
        {"role": "user", "content": q},
        {"role": "assistant", "content": "OK."},
        {"role": "user", "content": [{"type": "video", "chunk": 3}, {"type": "text", "text": q}]},
        {"role": "assistant", "content": q},
    ]}
    before = copy.deepcopy(sample)
    assert paraphrase_sample(sample, np.random.default_rng(0), 0.0) == sample
    out = paraphrase_sample(sample, np.random.default_rng(0), 1.0)
    assert sample == before
    new = out["messages"][1]["content"]
    assert new != q and new in REWORDINGS["multi_disappear"]
    assert out["messages"][3]["content"][1]["text"] == new and out["messages"][3]["content"][0] == {"type": "video",
                                                                                                  "chunk": 3}
    assert out["messages"][0]["content"] == q and out["messages"][4]["content"] == q  # only user turns
    shares = [paraphrase_sample(sample, np.random.default_rng(i), 0.3)["messages"][1]["content"] != q
              for i in range(400)]
    assert 0.2 < sum(shares) / len(shares) < 0.4
