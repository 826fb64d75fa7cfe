import pytest

from aura.world import make_stream
from aura.world.answers import agrees, extract


def test_every_generated_answer_agrees_with_its_own_facts():
    n = 0
    for seed in range(30):
        for r in make_stream(seed, duration=200).responses:
            if r.kind == "answer":
                assert agrees(r.facts, r.text), (r.text, r.facts)
                n += 1
    assert n > 300


@pytest.mark.parametrize(
    ("facts", "text", "ok"),
    [
        ({"count": 3}, "There are 3 objects.", True),
        ({"count": 3}, "I see three objects.", True),
        ({"count": 0}, "There are no objects.", True),
        ({"count": 2}, "There are 3 objects.", False),
        ({"yes": True}, "Yes, there is a red circle.", True),
        ({"yes": False}, "Yes.", False),
        ({"colour": "red"}, "It is red.", True),
        ({"colour": "red"}, "It is red or blue.", False),
        ({"shape": "circle"}, "Circles.", True),
        ({"colour": "blue", "shape": "square"}, "A blue square just appeared.", True),
        ({"colour": "blue", "shape": "square"}, "A blue circle just appeared.", False),
        ({"colour": "red", "old_colour": "blue", "shape": "triangle"}, "The triangle turned from blue to red.", True),
        ({"colour": "red", "old_colour": "blue", "shape": "triangle"}, "The triangle is now red.", False),
    ],
)
def test_agrees(facts, text, ok):
    assert agrees(facts, text) is ok


def test_extract():
    assert extract("No, there is no yellow triangle.") == {
        "colours": ["yellow"],
        "shapes": ["triangle"],
        "count": None,
        "yes": False,
    }
