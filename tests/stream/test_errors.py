"""Bad input raises a specific error with a one-line message and leaves the context unchanged."""

import pytest

from aura import errors
from aura.stream import AssistantResponse, ContextConfig, Silence, StreamContext, UserQuestion, VideoChunk


def started() -> StreamContext:
    ctx = StreamContext(ContextConfig(max_question_chars=50))
    ctx.feed(VideoChunk(0, 0.0, 1.0))
    ctx.feed(UserQuestion("What is this?", 0.5, "q"))
    ctx.feed(AssistantResponse("A ball.", 1.0))
    ctx.feed(VideoChunk(1, 1.0, 2.0))
    return ctx


@pytest.mark.parametrize(
    ("event", "error"),
    [
        (UserQuestion("late?", 0.2), errors.TimestampError),  # goes back before the chunk
        (UserQuestion("   ", 1.5), errors.EmptyQuestionError),
        (UserQuestion("", 1.5), errors.EmptyQuestionError),
        (UserQuestion("x" * 51, 1.5), errors.QuestionTooLongError),
        (UserQuestion("outside?", 7.0), errors.TimestampError),
        (UserQuestion("dup?", 1.5, "q"), errors.StreamError),
        (UserQuestion("nan?", float("nan")), errors.TimestampError),
        (VideoChunk(2, 2.0, 3.0), errors.TurnStateError),  # the open turn has no reply yet
        (AssistantResponse("to nobody", 2.0, "nope"), errors.ResponseWithoutQuestionError),
        (AssistantResponse("   ", 2.0), errors.StreamError),
        (Silence(0.5), errors.TimestampError),
    ],
)
def test_bad_event_raises_and_changes_nothing(event: object, error: type[Exception]) -> None:
    ctx = started()
    before = ctx.messages()
    with pytest.raises(error) as info:
        ctx.feed(event)  # type: ignore[arg-type]
    assert "\n" not in str(info.value) and str(info.value)
    assert isinstance(info.value, errors.AuraError)
    assert ctx.messages() == before
    ctx.feed(Silence(2.0))  # still usable
    ctx.feed(VideoChunk(2, 2.0, 3.0))


def test_chunk_index_gap() -> None:
    ctx = started()
    ctx.feed(Silence(2.0))
    with pytest.raises(errors.ChunkGapError, match="chunk 5 does not follow chunk 1"):
        ctx.feed(VideoChunk(5, 2.0, 3.0))


def test_chunk_time_backwards() -> None:
    ctx = started()
    ctx.feed(Silence(2.0))
    with pytest.raises(errors.TimestampError):
        ctx.feed(VideoChunk(2, 0.5, 1.5))
    with pytest.raises(errors.TimestampError):
        ctx.feed(VideoChunk(2, 2.0, 2.0))


def test_response_with_no_question_ever_asked() -> None:
    ctx = StreamContext()
    ctx.feed(VideoChunk(0, 0.0, 1.0))
    with pytest.raises(errors.ResponseWithoutQuestionError, match="none is open"):
        ctx.feed(AssistantResponse("Hello!", 1.0))


def test_reply_without_open_chunk() -> None:
    ctx = StreamContext()
    with pytest.raises(errors.TurnStateError):
        ctx.feed(Silence(0.0))
    with pytest.raises(errors.TurnStateError):
        ctx.feed(UserQuestion("hi?", 0.0))


def test_too_many_questions_in_one_chunk() -> None:
    ctx = StreamContext(ContextConfig(max_questions_per_chunk=2))
    ctx.feed(VideoChunk(0, 0.0, 1.0))
    ctx.feed(UserQuestion("a?", 0.1))
    ctx.feed(UserQuestion("b?", 0.2))
    with pytest.raises(errors.StreamError, match="limit 2"):
        ctx.feed(UserQuestion("c?", 0.3))


def test_silent_token_as_response_text_is_silence() -> None:
    ctx = StreamContext()
    ctx.feed(VideoChunk(0, 0.0, 1.0))
    ctx.feed(AssistantResponse("<|silent|>", 1.0))  # no question needed: it is silence
    assert ctx.window[-1].reply is None


def test_config_rejects_unknown_keys_and_bad_values() -> None:
    with pytest.raises(ValueError):
        ContextConfig(windw_chunks=3)  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        ContextConfig(window_chunks=0)
    with pytest.raises(ValueError):
        ContextConfig(fps=2.5, chunk_seconds=1.0)
