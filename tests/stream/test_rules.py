"""One test per history rewrite rule (A–E), per history shape, and for the capacity rule."""

from aura.stream import ContextConfig, StreamContext, VideoChunk
from aura.stream.history import EvictedTurn, TextHistory

from .helpers import S, play, summarize


def history_of(ctx: StreamContext) -> list[tuple[str, object]]:
    return summarize(ctx.history.messages())


def fifo(n: int, m: int = 10, cap: int = 4) -> ContextConfig:
    return ContextConfig(window_chunks=n, history_groups=m, multi_answer_cap=cap, policy="fifo")


def test_rule_a_video_removed_and_video_only_turn_becomes_empty_text() -> None:
    script = {0: ([("q", "Q")], ("ack", "q")), 3: ([], ("answer", "q"))}
    ctx = play(script, 6, fifo(2))
    assert history_of(ctx) == [("user", "Q"), ("assistant", "ack"), ("user", ""), ("assistant", "answer")]
    assert all(isinstance(m["content"], str) for m in ctx.history.messages())


def test_rule_b_silent_turns_are_dropped() -> None:
    ctx = play({}, 20, fifo(3))
    assert ctx.history.messages() == []
    assert len(ctx.window) == 3


def test_rule_b_question_with_silent_reply_waits_for_its_answer() -> None:
    script = {1: ([("q", "Q")], None), 4: ([], ("A", "q"))}
    ctx = play(script, 4, fifo(2))  # the question's turn has left; its answer is not yet given
    assert ctx.history.messages() == []
    assert list(ctx.history.pending) == ["q"]
    ctx = play(script, 8, fifo(2))
    assert history_of(ctx) == [("user", "Q"), ("assistant", "A")]
    assert ctx.history.groups[0].shape == "basic"


def test_shape_basic() -> None:
    ctx = play({0: ([("q", "Q")], ("A", "q"))}, 5, fifo(2))
    assert [g.shape for g in ctx.history.groups] == ["basic"]


def test_shape_one_answer() -> None:
    ctx = play({0: ([("q", "Q")], ("ack", "q")), 2: ([], ("A", "q"))}, 6, fifo(2))
    assert [g.shape for g in ctx.history.groups] == ["one-answer"]
    assert history_of(ctx) == [("user", "Q"), ("assistant", "ack"), ("user", ""), ("assistant", "A")]


def test_shape_multi_answer() -> None:
    script = {0: ([("q", "Q")], ("ack", "q")), 2: ([], ("A1", "q")), 4: ([], ("A2", "q"))}
    ctx = play(script, 8, fifo(2))
    assert [g.shape for g in ctx.history.groups] == ["multi-answer"]
    assert history_of(ctx) == [
        ("user", "Q"), ("assistant", "ack"), ("user", ""), ("assistant", "A1"), ("user", ""), ("assistant", "A2"),
    ]


def test_shape_truncated_when_question_was_cut_off_and_history_is_empty() -> None:
    # M=1: question "a" is pushed out of the pending list by "b" while a's answer is in the window
    script = {0: ([("a", "QA")], None), 1: ([("b", "QB")], None), 2: ([], ("answer-a", "a"))}
    ctx = play(script, 5, fifo(2, m=1))
    assert [g.shape for g in ctx.history.groups] == ["truncated"]
    assert history_of(ctx) == [("user", ""), ("assistant", "answer-a")]


def test_rule_d_truncated_group_merges_into_last_group() -> None:
    script = {
        0: ([("a", "QA")], ("ack-a", "a")),
        1: ([("b", "QB")], ("B1", "b")),
        2: ([], ("A2", "a")),
    }
    ctx = play(script, 6, fifo(2, m=1))  # group a is dropped (capacity) before A2 leaves the window
    assert history_of(ctx) == [("user", "QB"), ("assistant", "B1"), ("user", ""), ("assistant", "A2")]


def test_answer_joins_its_own_group_not_the_last_one() -> None:
    script = {
        0: ([("a", "QA")], ("ack-a", "a")),
        1: ([("b", "QB")], ("B1", "b")),
        2: ([], ("A2", "a")),
    }
    ctx = play(script, 6, fifo(2, m=2))
    assert history_of(ctx) == [
        ("user", "QA"), ("assistant", "ack-a"), ("user", ""), ("assistant", "A2"),
        ("user", "QB"), ("assistant", "B1"),
    ]


def test_rule_e_multi_answer_cap_keeps_first_round_and_newest_answers() -> None:
    script = {0: ([("q", "Q")], ("ack", "q"))} | {k: ([], (f"A{k}", "q")) for k in range(1, 7)}
    ctx = play(script, 12, fifo(2, cap=4))
    assert history_of(ctx) == [
        ("user", "Q"), ("assistant", "ack"),
        ("user", ""), ("assistant", "A4"), ("user", ""), ("assistant", "A5"), ("user", ""), ("assistant", "A6"),
    ]


def test_capacity_drops_oldest_whole_group() -> None:
    script = {k: ([(f"q{k}", f"Q{k}")], (f"A{k}", f"q{k}")) for k in range(5)}
    ctx = play(script, 9, fifo(2, m=3))
    assert [g.id for g in ctx.history.groups] == ["q2", "q3", "q4"]
    assert ctx.open_questions() == ["q2", "q3", "q4"]


def test_capacity_zero_keeps_no_history() -> None:
    script = {k: ([(f"q{k}", f"Q{k}")], (f"A{k}", f"q{k}")) for k in range(5)}
    ctx = play(script, 9, fifo(2, m=0))
    assert ctx.history.messages() == []
    assert not ctx.history.pending


def test_floating_window_grows_to_n_plus_n_prime_then_drops_n_prime() -> None:
    config = ContextConfig(window_chunks=4, float_chunks=2)
    ctx = StreamContext(config)
    sizes = []
    for k in range(12):
        ctx.feed(VideoChunk(k, k, k + 1))
        sizes.append(len(ctx.window))
        ctx.feed(__import__("aura.stream", fromlist=["Silence"]).Silence(k + 1))
    assert sizes == [1, 2, 3, 4, 5, 4, 5, 4, 5, 4, 5, 4]
    assert ctx.evictions == 4


def test_history_changes_only_at_evictions() -> None:
    script = {k: ([(f"q{k}", f"Q{k}")], (f"A{k}", f"q{k}")) for k in range(0, 40, 3)}
    config = ContextConfig(window_chunks=5, float_chunks=3, history_groups=3)
    previous, evictions = None, 0
    for n in range(1, 40):
        ctx = play(script, n, config)
        hist = ctx.history.messages()
        if previous is not None and ctx.evictions == evictions:
            assert hist == previous
        previous, evictions = hist, ctx.evictions


def test_text_history_direct_rule_b_with_two_questions_in_one_turn() -> None:
    hist = TextHistory(max_groups=5, multi_answer_cap=4)
    hist.absorb([EvictedTurn((("a", "QA"), ("b", "QB")), "B-answer", "b", 1.0)])
    assert [(g.id, g.question, [r for _, r in g.rounds]) for g in hist.groups] == [("b", "QB", ["B-answer"])]
    assert dict(hist.pending) == {"a": "QA"}
    hist.absorb([EvictedTurn((), "A-answer", "a", 2.0)])
    assert [g.id for g in hist.groups] == ["b", "a"]
    assert not hist.pending
    assert S == "<|silent|>"
