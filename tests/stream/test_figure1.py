"""The paper's Figure 1 example, chunk numbers as in the paper (1-based)."""

from aura.stream import SYSTEM_PROMPT, ContextConfig

from .helpers import S, play, summarize


def test_figure1_rendered_context() -> None:
    # paper chunk c is our index c-1
    script = {
        0: ([("q1", "Q1")], ("A1-1", "q1")),
        2: ([], ("A1-2", "q1")),
        4: ([("q2", "Q2")], None),
        7: ([], ("A2", "q2")),
        9: ([("q3", "Q3")], None),
        11: ([], ("A3-1", "q3")),
        12: ([], ("A3-2", "q3")),
        14: ([("q4", "Q4")], ("A4-1", "q4")),
    }
    config = ContextConfig(window_chunks=6, history_groups=1, policy="fifo")
    ctx = play(script, 15, config)
    assert summarize(ctx.messages()) == [
        ("system", SYSTEM_PROMPT),
        ("user", "Q2"),
        ("assistant", "A2"),
        ("user", "V9 Q3"),
        ("assistant", S),
        ("user", "V10"),
        ("assistant", S),
        ("user", "V11"),
        ("assistant", "A3-1"),
        ("user", "V12"),
        ("assistant", "A3-2"),
        ("user", "V13"),
        ("assistant", S),
        ("user", "V14 Q4"),
        ("assistant", "A4-1"),
    ]


def test_figure1_with_floating_window_of_one_equals_fifo() -> None:
    script = {0: ([("q1", "Q1")], ("A1", "q1")), 4: ([("q2", "Q2")], None), 7: ([], ("A2", "q2"))}
    fifo = play(script, 15, ContextConfig(window_chunks=6, history_groups=1, policy="fifo"))
    floating = play(script, 15, ContextConfig(window_chunks=6, float_chunks=1, history_groups=1))
    assert fifo.messages() == floating.messages()
