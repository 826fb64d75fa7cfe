"""User-facing errors of the speech stack."""

from __future__ import annotations

from aura.errors import AuraError


class SpeechModelError(AuraError):
    """A speech model (VAD, ASR or TTS) is missing, not installed or cannot be loaded."""
