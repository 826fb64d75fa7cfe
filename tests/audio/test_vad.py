"""The utterance segmenter's logic, with a deterministic energy-based probability in place of silero."""

from __future__ import annotations

import numpy as np

from aura.audio.vad import SAMPLE_RATE, WINDOW, UtteranceSegmenter


def energy(window: np.ndarray) -> float:
    return 1.0 if float(np.sqrt(np.mean(window**2))) > 0.05 else 0.0


def tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), np.float32)


def pcm(x: np.ndarray) -> bytes:
    return (x * 32767).astype("<i2").tobytes()


def test_utterances_are_cut_at_silence_with_their_positions() -> None:
    seg = UtteranceSegmenter(energy, min_silence_ms=300, pad_ms=64)
    audio = np.concatenate([silence(1.0), tone(1.0), silence(0.6), tone(0.5), silence(0.6)])
    out = []
    for i in range(0, len(audio), 1000):  # odd-sized network packets
        out += seg.feed(pcm(audio[i : i + 1000]))
    assert len(out) == 2
    assert abs(out[0].start_s - 1.0) < 0.1 and abs(out[0].end_s - 2.0) < 0.15
    assert abs(out[1].start_s - 2.6) < 0.1 and abs(out[1].duration_s - 0.5) < 0.2
    assert not seg.in_speech


def test_push_to_talk_flush_and_short_noise() -> None:
    seg = UtteranceSegmenter(energy, min_speech_ms=200)
    assert seg.feed(pcm(np.concatenate([silence(0.3), tone(0.8)]))) == []
    utt = seg.flush()
    assert utt is not None and abs(utt.duration_s - 0.9) < 0.15
    assert seg.flush() is None  # nothing more was said
    seg.feed(pcm(np.concatenate([tone(0.05), silence(1.0)])))  # a click is not an utterance
    assert seg.flush() is None


def test_bounded_over_a_long_stream() -> None:
    seg = UtteranceSegmenter(energy, max_utterance_s=2.0)
    cut = []
    for _ in range(2000):  # 2000 x 0.5 s of continuous speech, then silence
        cut += seg.feed(pcm(tone(0.5)))
        held = sum(len(x) for x in seg._speech) + len(seg._rest)
        assert held <= 2.0 * SAMPLE_RATE + WINDOW
    assert len(cut) >= 490 and all(u.duration_s <= 2.0 + WINDOW / SAMPLE_RATE for u in cut)


def test_each_stream_gets_its_own_silero_state() -> None:
    from aura.audio.vad import silero_factory

    factory = silero_factory()
    a, b = factory(), factory()
    speech = np.random.default_rng(0).normal(0, 0.3, WINDOW).astype(np.float32)
    first = [a(speech) for _ in range(5)]
    fresh = b(speech)  # b's state is untouched by a's five windows
    assert fresh == first[0]
    a.reset()
    assert a(speech) == first[0]


def test_push_to_talk_hold_keeps_pauses_inside_one_utterance() -> None:
    seg = UtteranceSegmenter(energy, min_silence_ms=300)
    seg.hold = True
    out = seg.feed(pcm(np.concatenate([tone(0.5), silence(0.8), tone(0.5), silence(0.3)])))
    assert out == []  # an 800 ms pause mid-question does not cut it while the button is held
    seg.hold = False
    utt = seg.flush()
    assert utt is not None and 1.7 < utt.duration_s < 2.0  # both halves (trailing silence trimmed to the pad)
