"""Offline speech round trip: text -> piper (joe voice) -> silero VAD -> faster-whisper tiny.en -> text."""

from __future__ import annotations

import numpy as np
import pytest

from aura.audio.stack import SpeechConfig, load_speech
from aura.audio.tts import PiperTTS, resample
from aura.audio.vad import SAMPLE_RATE, UtteranceSegmenter
from aura.audio.wer import word_error_rate

SENTENCES = [
    "What colour is the square on the left?",
    "Tell me when the red ball stops moving.",
    "How many people are in the kitchen right now?",
    "Is the door open or closed?",
]


@pytest.fixture(scope="module")
def speech():
    stack = load_speech(SpeechConfig(cpu_threads=1))
    if not (stack.can_listen and stack.can_speak):
        pytest.fail(f"the speech stack did not load: {stack.notes}")
    return stack


def test_round_trip_word_error_rate(speech) -> None:
    tts = PiperTTS(noise_scale=0.0, noise_w_scale=0.0)  # piper's voice varies at random otherwise
    assert np.array_equal(tts.speak(SENTENCES[0]), tts.speak(SENTENCES[0]))
    rate = tts.sample_rate
    gap = np.zeros(SAMPLE_RATE // 2, np.float32)
    # one continuous microphone stream: the four questions separated by silence
    spoken = [resample(tts.speak(s), rate, SAMPLE_RATE) for s in SENTENCES]
    stream = np.concatenate([gap, *[np.concatenate([x, gap, gap]) for x in spoken]])
    seg = UtteranceSegmenter(speech.vad(), min_silence_ms=400)
    utts = []
    for i in range(0, len(stream), 1600):  # 100 ms packets, as the page sends them
        utts += seg.feed((stream[i : i + 1600] * 32767).astype("<i2").tobytes())
    assert len(utts) == len(SENTENCES)
    starts = np.cumsum([0.5] + [len(x) / SAMPLE_RATE + 1.0 for x in spoken[:-1]])
    for utt, start in zip(utts, starts, strict=True):
        assert abs(utt.start_s - start) < 0.5  # the VAD found each question where it was spoken
    hyps = [speech.asr.transcribe(u.audio) for u in utts]
    wers = [word_error_rate(r, h) for r, h in zip(SENTENCES, hyps, strict=True)]
    assert np.mean(wers) <= 0.20, list(zip(SENTENCES, hyps, strict=True))
    assert max(wers) <= 0.34, list(zip(SENTENCES, hyps, strict=True))


def test_missing_or_disabled_parts_are_reported_once(tmp_path) -> None:
    stack = load_speech(SpeechConfig(whisper_dir=tmp_path, tts=False))
    assert stack.asr is None and stack.tts is None
    assert stack.notes[0].startswith("speech input off:") and "no model.bin" in stack.notes[0]
    assert stack.notes[1] == "speech output off: disabled by configuration"
