"""Errors of the data engine.

``DataError`` subclasses are user-facing (bad flags, bad config, bad work directory): one-line
messages, CLI exit status 2. ``ItemFailure`` is different: it fails ONE item (a video, a
segment, a sample) with a recorded reason, and the run goes on.
"""

from __future__ import annotations

from aura.errors import AuraError


class DataError(AuraError):
    """A data-engine option, config file or work directory is invalid."""


class ShardSpecError(DataError):
    """A ``--shard K/N`` value is malformed or out of range."""


class ApiKeyError(DataError):
    """The API key file or environment variable named by a flag cannot be read."""


class StageInputError(DataError):
    """A stage finds no input (its previous stage has not run in this work directory)."""


class ItemFailure(Exception):
    """One item failed; ``kind`` is a short class (``video``, ``api_timeout``, ...), ``reason`` one line."""

    def __init__(self, kind: str, reason: str, *, attempts: int = 1) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason.splitlines()[0] if reason else kind
        self.attempts = attempts
