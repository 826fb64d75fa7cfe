"""User-facing errors.

Every error a user can cause (bad input, bad configuration, bad files) is an ``AuraError``
subclass whose message is one line naming the problem. The CLI prints it without a traceback
and exits with status 2. Anything else is a bug.
"""

from __future__ import annotations


class AuraError(Exception):
    """Base class of user-facing errors: a one-line message, no traceback needed."""

    exit_code = 2


class ConfigError(AuraError):
    """A configuration value or file is invalid."""


class StreamError(AuraError):
    """An event does not fit the stream context's state."""


class TimestampError(StreamError):
    """An event's time goes backwards or lies outside its chunk."""


class ChunkGapError(StreamError):
    """A video chunk's index does not follow the previous chunk's."""


class TurnStateError(StreamError):
    """An event arrives when the turn it needs is not open (or already open)."""


class ResponseWithoutQuestionError(StreamError):
    """An assistant response arrives when no question it could answer is open."""


class EmptyQuestionError(StreamError):
    """A user question is empty or only whitespace."""


class QuestionTooLongError(StreamError):
    """A user question exceeds the configured maximum length."""


class TimelineError(AuraError):
    """A QA timeline (the input of sample unrolling) is malformed."""


class InputFileError(AuraError):
    """An input file is missing, unreadable or malformed."""
