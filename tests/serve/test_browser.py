"""The web page in a real headless Chromium: fake camera from a y4m clip, a typed question, the answer shown."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from aura.serve.realtime_app import create_realtime_app
from aura.serve.ws import RealtimeConfig
from tests.serve import browser
from tests.serve.live_server import running
from tests.serve.scripted import ScriptedModel

if not browser.available():
    if os.environ.get("AURA_REQUIRE_BROWSER"):  # .ci/run sets it: CI never skips these silently
        raise RuntimeError("chromium and chromedriver are required (apt-get install chromium chromium-driver)")
    pytestmark = pytest.mark.skip(reason="needs Debian chromium + chromium-driver (.ci/run installs them)")


def bundled_or_generated_clip(tmp_path: Path) -> Path:
    assets = sorted((Path(__file__).resolve().parents[2] / "src" / "aura" / "assets").glob("*.y4m"))
    return assets[0] if assets else browser.write_y4m(tmp_path / "camera.y4m")


def clip_mean_rgb(path: Path, frames: int = 30) -> np.ndarray:
    """Mean RGB of the first frames of a y4m clip (decoded with PyAV)."""
    import av

    with av.open(str(path)) as container:
        arrs = [f.to_ndarray(format="rgb24") for _, f in zip(range(frames), container.decode(video=0), strict=False)]
    return np.stack(arrs).reshape(-1, 3).mean(axis=0)


def save_artifact(path: Path) -> None:
    target = os.environ.get("AURA_TEST_ARTIFACTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)


def wait(pred, timeout: float, what: str, driver=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.1)
    page = "" if driver is None else driver.find_element("tag name", "main").text.replace("\n", " | ")
    page = f" (page: {page})" if page else ""
    raise AssertionError(f"timed out waiting for {what}{page}")


def test_page_streams_the_fake_camera_and_shows_the_answer(tmp_path: Path) -> None:
    models: list[ScriptedModel] = []

    def script(chunk, question):
        return None if question is None else f"I am watching. You asked: {question}"

    def factory() -> ScriptedModel:
        models.append(ScriptedModel(script))
        return models[-1]

    clip = bundled_or_generated_clip(tmp_path)
    app = create_realtime_app(factory, RealtimeConfig(token="t0k"))
    with running(app) as address:
        driver = browser.launch(tmp_path, clip)
        try:
            driver.get(f"http://{address}/?token=t0k&autostart=camera")
            wait(lambda: int(driver.execute_script("return document.body.dataset.framesSent || 0")) >= 3,
                 30, "the page to send camera frames")
            box = driver.find_element("id", "question")
            box.send_keys("What colour is the picture?")
            driver.find_element("id", "btn-ask").click()
            answer = wait(lambda: [e.text for e in driver.find_elements("css selector", "li.assistant")
                                   if "You asked" in e.text], 30, "the assistant's answer on the page")
            wait(lambda: re.search(r"TTFT p50 / p90 \d+ ms", driver.find_element("id", "latency").text), 10,
                 "the latency panel to show the answer's TTFT")
            shot = tmp_path / "browser-answer.png"
            driver.save_screenshot(str(shot))
            save_artifact(shot)
        finally:
            driver.quit()
    text = answer[0]
    assert "I am watching. You asked: What colour is the picture?" in text
    assert " s" in text.split("aura")[0]  # the line starts with its stream time ("2.0 s aura ...")
    user_lines = [m for m in models[0].seen if m[1]]
    assert user_lines and user_lines[0][1] == "What colour is the picture?"
    # the frames the model saw are the fake camera's clip: same mean colour (within codec/scaling error)
    frames = np.concatenate([c.frames for c, _ in models[0].seen])
    assert max(frames.shape[1:3]) <= 448
    seen_rgb = frames.reshape(-1, 3).mean(axis=0)
    clip_rgb = clip_mean_rgb(clip)
    assert np.abs(seen_rgb - clip_rgb).max() < 20, (seen_rgb, clip_rgb)
    assert shot.stat().st_size > 10_000


@pytest.fixture(scope="module")
def speech():
    from aura.audio.stack import SpeechConfig, load_speech

    stack = load_speech(SpeechConfig(cpu_threads=1))
    assert stack.can_listen and stack.can_speak, stack.notes
    return stack


def spoken_wav(speech, text: str, path: Path) -> float:
    """Write ``text`` spoken by piper, with silence around it, as a WAV; return its length in seconds."""
    import wave

    pcm = speech.tts.speak(text)
    rate = speech.tts.sample_rate
    pad = np.zeros(rate // 2, np.int16)
    audio = np.concatenate([pad, pcm, pad, pad])
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(audio.tobytes())
    return len(audio) / rate


def answering_app(reply: str, speech):
    """The live app with speech, whose model answers every question with ``reply`` and is silent otherwise."""
    return create_realtime_app(lambda: ScriptedModel(lambda chunk, q: None if q is None else reply),
                               RealtimeConfig(), speech)


def test_push_to_talk_from_the_fake_microphone_is_heard_answered_and_played(tmp_path: Path, speech) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    from aura.audio.wer import word_error_rate

    question = "How many triangles are there?"  # whisper tiny.en hears it the same every time
    wav = tmp_path / "mic.wav"
    hold = spoken_wav(speech, question, wav) + 0.5

    app = answering_app("The triangle is red.", speech)
    with running(app) as address:
        driver = browser.launch(tmp_path, bundled_or_generated_clip(tmp_path), wav)
        try:
            driver.get(f"http://{address}/?autostart=camera")
            wait(lambda: int(driver.execute_script("return document.body.dataset.framesSent || 0")) >= 2,
                 30, "camera frames")
            talk = driver.find_element("id", "btn-talk")
            wait(lambda: talk.is_enabled(), 10, "push-to-talk to be enabled (speech input on)")
            ActionChains(driver).click_and_hold(talk).pause(hold).release(talk).perform()
            heard = wait(lambda: [e.text for e in driver.find_elements("css selector", "li.user")], 30,
                         "the spoken question on the page")
            answer = wait(lambda: [e.text for e in driver.find_elements("css selector", "li.assistant")
                                   if "triangle is red" in e.text], 30, "the answer")
            wait(lambda: int(driver.execute_script("return document.body.dataset.audioBlocks || 0")) >= 1,
                 30, "the spoken answer to be played", driver)
            shot = tmp_path / "browser-push-to-talk.png"
            driver.save_screenshot(str(shot))
            save_artifact(shot)
        finally:
            driver.quit()
    said = heard[0].split("you", 1)[1].strip()
    assert word_error_rate(question, said) <= 0.34, said
    assert answer


def test_demo_page_plays_the_bundled_sample_stream(tmp_path: Path) -> None:
    from aura.serve.realtime_app import bundled_sample_video

    models: list[ScriptedModel] = []

    def factory() -> ScriptedModel:
        models.append(ScriptedModel())
        return models[-1]

    app = create_realtime_app(factory, RealtimeConfig(sample_video=bundled_sample_video()))
    with running(app) as address:
        driver = browser.launch(tmp_path, bundled_or_generated_clip(tmp_path))
        try:
            driver.get(f"http://{address}/?autostart=sample")  # what `aura demo` opens
            wait(lambda: int(driver.execute_script("return document.body.dataset.framesSent || 0")) >= 4,
                 30, "frames from the sample video")
        finally:
            driver.quit()
    frames = np.concatenate([c.frames for c, _ in models[0].seen])
    assert frames.std() > 5  # real pictures of the sample, not a blank canvas


def test_hands_free_listening_cuts_the_question_with_the_vad(tmp_path: Path, speech) -> None:
    from aura.audio.wer import word_error_rate

    question = "How many circles are there?"
    wav = tmp_path / "mic.wav"
    spoken_wav(speech, question, wav)  # Chromium loops it: the user keeps asking

    app = answering_app("There are two circles.", speech)
    with running(app) as address:
        driver = browser.launch(tmp_path, bundled_or_generated_clip(tmp_path), wav)
        try:
            driver.get(f"http://{address}/?autostart=camera&handsfree=1")
            heard = wait(lambda: [e.text for e in driver.find_elements("css selector", "li.user")], 40,
                         "a question cut from the open microphone")
            wait(lambda: [e.text for e in driver.find_elements("css selector", "li.assistant")
                          if "two circles" in e.text], 30, "the answer")
            assert driver.find_element("id", "btn-talk").get_attribute("disabled")  # no push-to-talk meanwhile
        finally:
            driver.quit()
    said = heard[0].split("you", 1)[1].strip()
    assert word_error_rate(question, said) <= 0.34, said
