"""``aura bench e2e``: spoken question -> first audio byte of the answer, through the whole live stack.

The real server (uvicorn on loopback, the WebSocket protocol, the asyncio session, silero VAD,
faster-whisper, the model, piper) runs in this process; a client streams a video at 2 FPS in real
time and, every ``gap`` seconds, speaks a question with push-to-talk (piper audio sent as 16 kHz
PCM in 100 ms packets at real-time pace). For each question it measures, on the client's clock:

- ``asr``: end of speech (push-to-talk released) -> transcript received;
- ``model``: transcript -> first token of the answer (waiting for the step in progress, the
  chunk closing, prefill, first token);
- ``speech``: first token -> first audio byte (decoding the first sentence, then TTS);
- ``e2e``: end of speech -> first audio byte (the sum).

Questions the model leaves unanswered (silence) within ``answer_timeout`` are counted, not timed.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from aura.errors import AuraError, ConfigError

QUESTIONS = [
    "What do you see right now?",
    "What colour is the biggest object?",
    "How many objects are on the screen?",
    "Is anything moving?",
    "What shape is on the left?",
    "Describe the scene.",
    "Which object appeared last?",
    "Is there a red object?",
    "What colour is the background?",
    "Where is the triangle?",
    "Tell me what just changed.",
    "How many circles can you see?",
    "What is in the middle of the picture?",
    "Is there a square?",
    "What colour is the smallest object?",
    "What are the objects doing?",
    "Is the scene empty?",
    "Which object is closest to the top?",
    "What did you see a moment ago?",
    "Name the colours you can see.",
]


class BenchError(AuraError):
    """The benchmark cannot run as asked (missing speech stack, model, video)."""


@contextlib.contextmanager
def serve_in_thread(app: Any, ws_max_size: int) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free loopback port in a thread; yield ``host:port``."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws_max_size=ws_max_size, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise BenchError("the benchmark server did not start")
        time.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def _jpeg_frames(video: Path, seconds: float) -> list[bytes]:
    from PIL import Image

    from aura.video.frames import iter_frames

    out = []
    for _, frame in iter_frames(video, 2.0, end=seconds, max_side=448):
        buf = io.BytesIO()
        Image.fromarray(frame).save(buf, format="JPEG", quality=80)
        out.append(buf.getvalue())
    if not out:
        raise BenchError(f"{video}: no frames decoded")
    return out


def _quantiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None, "mean": None}
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, max(0, int(np.ceil(q * len(ordered))) - 1))]  # noqa: E731
    return {"p50": pick(0.5), "p90": pick(0.9), "mean": statistics.fmean(values)}


class _Recorder:
    """Receives every server message with its arrival time (client clock)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.messages: list[tuple[float, dict]] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with contextlib.suppress(Exception):
            while True:
                msg = json.loads(self.ws.recv())
                if msg.get("type") == "audio":
                    msg["pcm"] = len(msg["pcm"])  # keep the size only
                with self.lock:
                    self.messages.append((time.monotonic(), msg))

    def after(self, t: float, kind: str, pred: Any = None) -> tuple[float, dict] | None:
        with self.lock:
            for at, m in self.messages:
                if at >= t and m.get("type") == kind and (pred is None or pred(m)):
                    return at, m
        return None

    def wait(self, t: float, kind: str, timeout: float, pred: Any = None) -> tuple[float, dict] | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hit = self.after(t, kind, pred)
            if hit is not None:
                return hit
            time.sleep(0.005)
        return None


def run_e2e(model: str = "nano", *, questions: int = 20, video: str | None = None, gap: float = 5.0,
            warmup: float = 4.0, answer_timeout: float = 8.0, max_new_tokens: int = 64,
            threads: int | None = None) -> dict[str, Any]:
    """Run the benchmark and return per-question timings and their summary (seconds)."""
    from websockets.sync.client import connect

    from aura.audio.stack import SpeechConfig, load_speech
    from aura.audio.tts import resample
    from aura.audio.vad import SAMPLE_RATE
    from aura.serve.protocol import pack_media
    from aura.serve.realtime_app import bundled_sample_video, create_realtime_app, streaming_model_factory
    from aura.serve.runtime import ConnectionLimits
    from aura.serve.ws import RealtimeConfig

    if not 1 <= questions <= len(QUESTIONS):
        raise ConfigError(f"--questions must be within 1..{len(QUESTIONS)}")
    if threads:
        import torch

        torch.set_num_threads(threads)
    factory = streaming_model_factory(model, max_new_tokens=max_new_tokens)
    speech = load_speech(SpeechConfig())
    if not (speech.can_listen and speech.can_speak):
        raise BenchError(f"the e2e benchmark needs speech in and out: {'; '.join(speech.notes)}")
    model_name = factory().name
    asked = QUESTIONS[:questions]
    spoken = [(resample(speech.tts.speak(q), speech.tts.sample_rate, SAMPLE_RATE) * 32767).astype("<i2").tobytes()
              for q in asked]
    duration = warmup + gap * questions + 30
    frames = _jpeg_frames(Path(video) if video else bundled_sample_video(), duration)
    config = RealtimeConfig(max_sessions=1, limits=ConnectionLimits(max_audio_factor=4.0))
    app = create_realtime_app(factory, config, speech)
    rows: list[dict[str, Any]] = []
    with serve_in_thread(app, config.limits.max_message_bytes + 64) as address, \
            connect(f"ws://{address}/ws", max_size=None, open_timeout=30) as ws:
        rec = _Recorder(ws)
        if rec.wait(0, "ready", 30) is None:
            raise BenchError("the server sent no ready message")
        t0 = time.monotonic()
        stop = threading.Event()
        send_lock = threading.Lock()

        def stream_frames() -> None:
            i = 0
            while not stop.is_set():
                due = t0 + i * 0.5
                time.sleep(max(0.0, due - time.monotonic()))
                with send_lock, contextlib.suppress(Exception):
                    ws.send(pack_media("F", i * 0.5, frames[i % len(frames)]))
                i += 1

        streamer = threading.Thread(target=stream_frames, daemon=True)
        streamer.start()
        try:
            for k, (text, pcm) in enumerate(zip(asked, spoken, strict=True)):
                time.sleep(max(0.0, t0 + warmup + k * gap - time.monotonic()))
                with send_lock:
                    ws.send(json.dumps({"type": "control", "action": "ptt_start"}))
                step = 3200  # 100 ms of 16-bit 16 kHz audio
                start = time.monotonic()
                for j in range(0, len(pcm), step):
                    time.sleep(max(0.0, start + j / 32000 - time.monotonic()))
                    with send_lock:
                        ws.send(pack_media("A", time.monotonic() - t0, pcm[j : j + step]))
                time.sleep(max(0.0, start + len(pcm) / 32000 - time.monotonic()))
                with send_lock:
                    ws.send(json.dumps({"type": "control", "action": "ptt_end"}))
                end = time.monotonic()
                row: dict[str, Any] = {"question": text, "heard": None, "answer": None}
                heard = rec.wait(end, "transcript", answer_timeout)
                if heard is not None:
                    row["heard"] = heard[1]["text"]
                    row["asr"] = heard[0] - end
                    started = rec.wait(heard[0], "response_start", answer_timeout)
                    if started is not None:
                        rid = started[1]["id"]
                        row["model"] = started[0] - heard[0]
                        audio = rec.wait(started[0], "audio", answer_timeout, lambda m, rid=rid: m["id"] == rid)
                        if audio is not None:
                            row["speech"] = audio[0] - started[0]
                            row["e2e"] = audio[0] - end
                        done = rec.wait(started[0], "response", answer_timeout, lambda m, rid=rid: m["id"] == rid)
                        row["answer"] = done[1]["text"] if done else None
                rows.append(row)
            metrics = rec.wait(time.monotonic(), "metrics", 5)
        finally:
            stop.set()
            streamer.join(5)
    timed = [r for r in rows if "e2e" in r]
    summary = {k: _quantiles([r[k] for r in timed]) for k in ("asr", "model", "speech", "e2e")}
    e2e_mean = summary["e2e"]["mean"] or 0.0
    shares = {k: (summary[k]["mean"] / e2e_mean if e2e_mean else None) for k in ("asr", "model", "speech")}
    return {
        "model": model_name, "questions": len(rows), "answered": len(timed), "gap_s": gap,
        "summary": summary, "shares": shares, "rows": rows,
        "server": metrics[1]["metrics"] if metrics else None,
    }


def format_report(result: dict[str, Any]) -> str:
    """A Markdown report of ``run_e2e``'s result."""
    s, sh = result["summary"], result["shares"]
    ms = lambda v: "–" if v is None else f"{v * 1000:.0f} ms"  # noqa: E731
    lines = [
        f"model: {result['model']}; {result['answered']}/{result['questions']} spoken questions answered with audio",
        "",
        "| stage | p50 | p90 | share of mean e2e |",
        "|---|---|---|---|",
    ]
    names = {"asr": "ASR (end of speech -> transcript)", "model": "model (transcript -> first token)",
             "speech": "speech (first token -> first audio byte)", "e2e": "**end to end**"}
    for k, name in names.items():
        share = "100%" if k == "e2e" else ("–" if sh.get(k) is None else f"{sh[k]:.0%}")
        lines.append(f"| {name} | {ms(s[k]['p50'])} | {ms(s[k]['p90'])} | {share} |")
    server = result.get("server")
    if server:
        lat = server["latency"]
        lines += ["", f"server: TTFT p50 {ms(lat['ttft_seconds']['p50'])}, "
                      f"step p50 {ms(lat['step_latency_seconds']['p50'])}, "
                      f"TTS first audio p50 {ms(lat['tts_first_audio_seconds']['p50'])}, "
                      f"chunks/s {server['chunks_per_second']:.2f}, "
                      f"catch-up steps {server['counters']['catchup_steps']}, "
                      f"cache reuse {server['cache_reuse']:.0%}"]
    misses = [r for r in result["rows"] if "e2e" not in r]
    if misses:
        lines += ["", "unanswered: " + "; ".join(f"{r['question']!r} (heard {r['heard']!r})" for r in misses)]
    return "\n".join(lines)


def register_cli(cmds: Any) -> None:
    """Add ``aura bench e2e`` to the ``bench`` group's subcommands."""
    p = cmds.add_parser("e2e", help="spoken question -> first audio byte of the answer, through the live stack")
    p.add_argument("--model", default="nano", help="nano (bundled), a checkpoint dir, hf:DIR, nano:DIR")
    p.add_argument("--questions", type=int, default=20)
    p.add_argument("--video", help="the stream to play (default: the bundled sample)")
    p.add_argument("--gap", type=float, default=5.0, help="seconds between the starts of two questions")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--json-out", help="also write the full result (every question) as JSON")
    p.set_defaults(func=_run_cli)


def _run_cli(args: Any) -> int:
    from aura.fileio import atomic_write_text

    result = run_e2e(args.model, questions=args.questions, video=args.video, gap=args.gap,
                     max_new_tokens=args.max_new_tokens, threads=args.threads or None)
    print(format_report(result))
    if args.json_out:
        atomic_write_text(args.json_out, json.dumps(result, indent=2) + "\n")
    return 0
