"""Cutting utterances out of a 16 kHz microphone stream with silero-vad.

``UtteranceSegmenter`` is pure logic over per-window speech probabilities (any callable gives
them), so it is tested without the model; ``silero_probability()`` supplies silero's.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16000
WINDOW = 512
"""Samples per VAD decision (32 ms at 16 kHz; what silero-vad expects)."""

ProbabilityFn = Callable[[np.ndarray], float]
VadFactory = Callable[[], ProbabilityFn]


@dataclass
class Utterance:
    """One stretch of speech: float32 samples at 16 kHz, and where it lay in the input stream."""

    audio: np.ndarray
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        """Length of the audio in seconds."""
        return len(self.audio) / SAMPLE_RATE


def to_float32(pcm: bytes | np.ndarray) -> np.ndarray:
    """16-bit little-endian PCM bytes (or an int16/float array) as float32 samples in [-1, 1]."""
    if isinstance(pcm, bytes | bytearray | memoryview):
        return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    arr = np.asarray(pcm)
    if arr.dtype == np.int16:
        return arr.astype(np.float32) / 32768.0
    return arr.astype(np.float32, copy=False)


class UtteranceSegmenter:
    """Streams audio in, releases utterances once speech is followed by enough silence.

    Bounded: at most ``max_utterance_s`` of speech is held (a longer utterance is cut there),
    plus ``pad_ms`` of pre-roll and less than one window of unprocessed samples.
    """

    def __init__(
        self,
        probability: ProbabilityFn,
        *,
        threshold: float = 0.5,
        min_silence_ms: int = 400,
        min_speech_ms: int = 200,
        pad_ms: int = 100,
        max_utterance_s: float = 15.0,
    ) -> None:
        self.probability = probability
        self.threshold = threshold
        self.min_silence = int(min_silence_ms * SAMPLE_RATE / 1000)
        self.min_speech = int(min_speech_ms * SAMPLE_RATE / 1000)
        self.pad_windows = max(1, int(pad_ms * SAMPLE_RATE / 1000) // WINDOW)
        self.max_samples = int(max_utterance_s * SAMPLE_RATE)
        self._rest = np.zeros(0, dtype=np.float32)
        self._preroll: deque[np.ndarray] = deque(maxlen=self.pad_windows)
        self._speech: list[np.ndarray] = []
        self._speech_len = 0
        self._silence_run = 0
        self._voiced = 0
        self._start_sample = 0
        self.samples_seen = 0
        self.hold = False  # push-to-talk held: pauses do not end the utterance, ``flush()`` does

    @property
    def in_speech(self) -> bool:
        """True while an utterance is being collected."""
        return bool(self._speech)

    def feed(self, pcm: bytes | np.ndarray) -> list[Utterance]:
        """Add samples; return the utterances that ended within them."""
        audio = np.concatenate([self._rest, to_float32(pcm)])
        out: list[Utterance] = []
        n = len(audio) // WINDOW
        for i in range(n):
            window = audio[i * WINDOW : (i + 1) * WINDOW]
            done = self._window(window, float(self.probability(window)))
            if done is not None:
                out.append(done)
        self._rest = audio[n * WINDOW :].copy()
        return out

    def flush(self) -> Utterance | None:
        """End the current utterance now (push-to-talk released); None if no speech was heard."""
        if self._rest.size and self._speech:
            self._speech.append(self._rest)
            self._speech_len += len(self._rest)
        self._rest = np.zeros(0, dtype=np.float32)
        return self._emit(force=True)

    def reset(self) -> None:
        """Forget everything buffered (and the VAD model's recurrent state, if it has one)."""
        reset = getattr(self.probability, "reset", None)
        if callable(reset):
            reset()
        self._rest = np.zeros(0, dtype=np.float32)
        self._preroll.clear()
        self._speech, self._speech_len, self._silence_run, self._voiced = [], 0, 0, 0

    # ------------------------------------------------------------------ internals
    def _window(self, window: np.ndarray, prob: float) -> Utterance | None:
        self.samples_seen += WINDOW
        voiced = prob >= self.threshold
        if not self._speech:
            if voiced:
                pre = list(self._preroll)
                self._preroll.clear()
                self._speech = [*pre, window]
                self._speech_len = WINDOW * len(self._speech)
                self._start_sample = self.samples_seen - self._speech_len
                self._voiced, self._silence_run = WINDOW, 0
            else:
                self._preroll.append(window)
            return None
        self._speech.append(window)
        self._speech_len += WINDOW
        if voiced:
            self._voiced += WINDOW
            self._silence_run = 0
        else:
            self._silence_run += WINDOW
        if (self._silence_run >= self.min_silence and not self.hold) or self._speech_len >= self.max_samples:
            return self._emit(force=False)
        return None

    def _emit(self, *, force: bool) -> Utterance | None:
        if not self._speech:
            return None
        audio = np.concatenate(self._speech)
        voiced = self._voiced
        keep_tail = self.pad_windows * WINDOW
        if self._silence_run > keep_tail:
            audio = audio[: len(audio) - (self._silence_run - keep_tail)]
        start = self._start_sample
        self._speech, self._speech_len, self._silence_run, self._voiced = [], 0, 0, 0
        if voiced < self.min_speech and not (force and voiced > 0):
            return None
        return Utterance(audio=audio, start_s=start / SAMPLE_RATE, end_s=(start + len(audio)) / SAMPLE_RATE)


def silero_factory() -> VadFactory:
    """A factory of silero-vad probability functions, one per stream (each keeps its own RNN state).

    Checks once that silero-vad and its bundled ONNX model load; raises ImportError/OSError if not.
    """
    silero_probability()  # fail now, not in the first session
    return silero_probability


def silero_probability() -> ProbabilityFn:
    """silero-vad's speech probability for one 512-sample window, with its own recurrent state.

    Raises ImportError/OSError if silero-vad is not installed or its model cannot be loaded.
    """
    import torch
    from silero_vad import load_silero_vad

    model = load_silero_vad(onnx=True)

    def prob(window: np.ndarray) -> float:
        with torch.no_grad():
            return float(model(torch.from_numpy(np.ascontiguousarray(window, dtype=np.float32)), SAMPLE_RATE).item())

    prob.reset = model.reset_states  # type: ignore[attr-defined]
    return prob
