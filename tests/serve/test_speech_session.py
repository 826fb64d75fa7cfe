"""A spoken question over the WebSocket: PCM in -> VAD -> whisper -> question -> answer -> piper audio out."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from aura.audio.stack import SpeechConfig, load_speech
from aura.audio.tts import resample
from aura.audio.vad import SAMPLE_RATE
from aura.audio.wer import normalise_words, word_error_rate
from aura.serve.protocol import pack_media
from aura.serve.realtime_app import create_realtime_app
from aura.serve.runtime import ConnectionLimits
from aura.serve.ws import RealtimeConfig
from tests.serve.live_server import Client, running
from tests.serve.scripted import ScriptedModel


@pytest.fixture(scope="module")
def speech():
    stack = load_speech(SpeechConfig(cpu_threads=1))
    assert stack.can_listen and stack.can_speak, stack.notes
    return stack


def test_spoken_question_is_transcribed_answered_and_spoken(speech) -> None:
    question = "How many objects are there?"  # whisper tiny.en hears it the same every time (piper samples noise)

    def script(chunk, q):
        return None if q is None else "It is blue. It is rolling to the left."

    app = create_realtime_app(lambda: ScriptedModel(script),
                              RealtimeConfig(limits=ConnectionLimits(max_audio_factor=50)), speech)
    pcm = resample(speech.tts.speak(question), speech.tts.sample_rate, SAMPLE_RATE)
    pcm = np.concatenate([np.zeros(4000, np.float32), pcm, np.zeros(4000, np.float32)])
    data = (pcm * 32767).astype("<i2").tobytes()
    with running(app) as address:
        c = Client(address)
        try:
            ready = c.recv()
            assert ready["listen"] and ready["speak"] and ready["notes"] == []
            c.frame(0.0)
            c.send_json({"type": "control", "action": "ptt_start"})
            for i in range(0, len(data), 3200):
                c.ws.send(pack_media("A", i / 32000, data[i : i + 3200]))
            c.send_json({"type": "control", "action": "ptt_end"})
            heard = c.wait_for(lambda m: m["type"] == "transcript", 30)
            assert word_error_rate(question, heard["text"]) <= 0.2 and heard["asr_latency_s"] > 0
            q = c.wait_for(lambda m: m["type"] == "question")
            assert q["source"] == "speech"
            c.frame(0.5)
            c.frame(1.0)  # completes chunk 0: the model answers
            audio = c.wait_for(lambda m: m["type"] == "audio", 30)
            assert audio["first"] and audio["sample_rate"] == speech.tts.sample_rate
            samples = np.frombuffer(base64.b64decode(audio["pcm"]), "<i2")
            assert len(samples) > 1000 and np.abs(samples).max() > 1000  # real speech, not silence
            # the spoken answer transcribes back to its first sentence
            blocks = [samples]
            while True:
                m = c.wait_for(lambda m: m["type"] in ("audio", "metrics"), 30)
                if m["type"] == "metrics" and m["metrics"]["latency"]["e2e_seconds"]["count"]:
                    break
                if m["type"] == "audio":
                    blocks.append(np.frombuffer(base64.b64decode(m["pcm"]), "<i2"))
            e2e = m["metrics"]["latency"]["e2e_seconds"]["last"]
            assert 0 < e2e < 20
            said = speech.asr.transcribe(resample(np.concatenate(blocks), speech.tts.sample_rate, SAMPLE_RATE))
            words = normalise_words(said)
            assert words[:3] == ["it", "is", "blue"] or words[:2] == ["it's", "blue"], said
        finally:
            c.close()
