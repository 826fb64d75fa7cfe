// aura live: camera / video file -> JPEG frames at 2 FPS, push-to-talk PCM, typed questions over
// one WebSocket; shows the transcript with stream times, plays spoken answers, shows latencies.
// Protocol: docs/protocol.md. No build step: plain browser JavaScript.
"use strict";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const state = {
  ws: null, fps: 2, timer: null, t0: null, framesSent: 0, source: null, stream: null,
  responses: new Map(), audio: null, audioNext: 0, playing: new Map(), speak: true,
  mic: null, micCtx: null, micNode: null, talking: false, handsFree: false,
};

// ------------------------------------------------------------------ connection
function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const token = params.get("token");
  const url = `${proto}://${location.host}${location.pathname.replace(/[^/]*$/, "")}ws` +
    (token ? `?token=${encodeURIComponent(token)}` : "");
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  ws.onopen = () => setStatus("connected", "");
  ws.onclose = () => { setStatus("disconnected", "error"); stopCapture(); };
  ws.onerror = () => setStatus("connection error", "error");
  ws.onmessage = (ev) => { try { handle(JSON.parse(ev.data)); } catch (e) { console.error(e); } };
  state.ws = ws;
}

function send(obj) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(obj));
}

function sendMedia(kind, t, payload) {
  if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return;
  const buf = new ArrayBuffer(9 + payload.byteLength);
  const view = new DataView(buf);
  view.setUint8(0, kind.charCodeAt(0));
  view.setFloat64(1, t, true);
  new Uint8Array(buf, 9).set(new Uint8Array(payload));
  state.ws.send(buf);
}

function setStatus(text, cls) {
  const el = $("status");
  el.textContent = text;
  el.className = "status " + (cls || "");
}

function streamTime() {
  return state.t0 === null ? 0 : (performance.now() - state.t0) / 1000;
}

// ------------------------------------------------------------------ server messages
function handle(m) {
  switch (m.type) {
    case "ready":
      state.fps = m.fps;
      $("model").textContent = `model: ${m.model}` + (m.listen ? " · listening" : "") + (m.speak ? " · speaking" : "");
      $("btn-talk").disabled = !m.listen;
      $("handsfree").disabled = !m.listen;
      if (m.listen && params.get("handsfree")) { $("handsfree").checked = true; setHandsFree(true); }
      if (!m.speak) { $("speak").checked = false; $("speak").disabled = true; }
      $("notes").textContent = m.notes.join(" · ");
      setStatus("connected", "live");
      if (params.get("autostart")) start(params.get("autostart"));
      break;
    case "question":
      addLine("user", "you", m.text, m.stream_time);
      break;
    case "transcript":
      if (!m.text) addLine("notice", "", `(heard nothing; ASR ${ms(m.asr_latency_s)})`, m.stream_time);
      break;
    case "response_start": {
      const li = addLine("assistant", "aura", "", m.stream_time);
      li.id = `response-${m.id}`;
      state.responses.set(m.id, li);
      break;
    }
    case "token": {
      const li = state.responses.get(m.id);
      if (li) li.querySelector(".text").textContent += m.text;
      break;
    }
    case "response": {
      const li = state.responses.get(m.id);
      if (li) {
        li.querySelector(".text").textContent = m.text;
        li.dataset.done = "1";
        if (m.cancelled) li.classList.add("cancelled");
      }
      break;
    }
    case "cancel": {
      const li = state.responses.get(m.id);
      if (li) li.classList.add("cancelled");
      stopAudio(m.id);
      break;
    }
    case "audio":
      if (state.speak) playAudio(m);
      break;
    case "metrics":
      showMetrics(m.metrics);
      break;
    case "notice":
      addLine("notice", "", m.text, null);
      break;
    case "error":
      addLine("error", "error", `${m.code}: ${m.message}`, null);
      if (m.fatal) setStatus(m.code, "error");
      break;
    default:
      break;
  }
}

function addLine(cls, who, text, t) {
  const li = document.createElement("li");
  li.className = cls;
  const time = t === null || t === undefined ? "" : `${t.toFixed(1)} s`;
  li.innerHTML = `<span class="t"></span><span class="who"></span><span class="text"></span>`;
  li.querySelector(".t").textContent = time;
  li.querySelector(".who").textContent = who;
  li.querySelector(".text").textContent = text;
  const list = $("transcript");
  list.appendChild(li);
  while (list.children.length > 300) list.removeChild(list.firstChild);
  list.scrollTop = list.scrollHeight;
  return li;
}

function ms(s) { return s === null || s === undefined ? "–" : `${Math.round(s * 1000)} ms`; }

function showMetrics(m) {
  const L = m.latency, c = m.counters, g = m.gauges;
  const q = (k) => `${ms(L[k].p50)} / ${ms(L[k].p90)}`;
  const rows = [
    ["chunks / s", m.chunks_per_second.toFixed(2)],
    ["step p50 / p90", q("step_latency_seconds")],
    ["TTFT p50 / p90", q("ttft_seconds")],
    ["ASR p50 / p90", q("asr_latency_seconds")],
    ["TTS first audio p50 / p90", q("tts_first_audio_seconds")],
    ["end-to-end p50 / p90", q("e2e_seconds")],
    ["queues (ready / tts / out)", `${g.ready_chunks} / ${g.tts_queue} / ${g.out_queue}`],
    ["catch-up steps (merged chunks)", `${c.catchup_steps} (${c.chunks_merged})`],
    ["cache reuse", `${(m.cache_reuse * 100).toFixed(1)} %`],
    ["frames sent / accepted", `${state.framesSent} / ${c.frames_in}`],
  ];
  const body = $("latency").querySelector("tbody");
  body.innerHTML = "";
  for (const [k, v] of rows) {
    const tr = body.insertRow();
    tr.insertCell().textContent = k;
    tr.insertCell().textContent = v;
  }
}

// ------------------------------------------------------------------ video sources
async function start(kind) {
  stopCapture();
  const video = $("video");
  try {
    if (kind === "camera") {
      state.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
      video.srcObject = state.stream;
    } else if (kind === "sample") {
      video.srcObject = null;
      video.src = "sample-video";
      video.loop = true;
    } else if (kind instanceof File) {
      video.srcObject = null;
      video.src = URL.createObjectURL(kind);
      video.loop = false;
    }
    await video.play();
  } catch (e) {
    addLine("error", "error", `cannot open the ${kind instanceof File ? "file" : kind}: ${e.message || e}`, null);
    return;
  }
  state.source = kind;
  state.t0 = performance.now();
  state.framesSent = 0;
  $("btn-stop").disabled = false;
  setStatus("streaming", "live");
  state.timer = setInterval(captureFrame, 1000 / state.fps);
  captureFrame();
}

function stopCapture() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
  if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
  state.stream = null;
  $("btn-stop").disabled = true;
}

function captureFrame() {
  const video = $("video");
  if (!video.videoWidth || video.readyState < 2) return;
  const t = streamTime();
  $("stream-time").textContent = `${t.toFixed(1)} s`;
  const side = 448, scale = Math.min(1, side / Math.max(video.videoWidth, video.videoHeight));
  const canvas = $("canvas");
  canvas.width = Math.round(video.videoWidth * scale);
  canvas.height = Math.round(video.videoHeight * scale);
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  canvas.toBlob(async (blob) => {
    if (!blob) return;
    sendMedia("F", t, await blob.arrayBuffer());
    state.framesSent += 1;
    document.body.dataset.framesSent = String(state.framesSent);
  }, "image/jpeg", 0.75);
}

// ------------------------------------------------------------------ microphone: push-to-talk or hands-free
async function openMic() {
  if (state.mic) { await state.micCtx.resume(); return; }
  state.mic = await navigator.mediaDevices.getUserMedia(
    { audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true }, video: false });
  state.micCtx = new AudioContext({ sampleRate: 16000 });  // the browser resamples the microphone to 16 kHz
  const src = state.micCtx.createMediaStreamSource(state.mic);
  state.micNode = state.micCtx.createScriptProcessor(2048, 1, 1);
  state.micNode.onaudioprocess = (ev) => {
    if (!state.talking && !state.handsFree) return;
    const f = ev.inputBuffer.getChannelData(0);
    const pcm = new Int16Array(f.length);
    for (let i = 0; i < f.length; i++) pcm[i] = Math.max(-1, Math.min(1, f[i])) * 32767;
    sendMedia("A", streamTime(), pcm.buffer);
    document.body.dataset.audioSent = String(Number(document.body.dataset.audioSent || 0) + 1);
  };
  src.connect(state.micNode);
  state.micNode.connect(state.micCtx.destination);
  await state.micCtx.resume();
}

async function talkStart() {
  if (state.talking || state.handsFree || $("btn-talk").disabled) return;
  state.talking = true;
  $("btn-talk").classList.add("active");
  stopAudio(null);
  send({ type: "control", action: "ptt_start" });
  try {
    await openMic();
  } catch (e) {
    addLine("error", "error", `microphone unavailable: ${e.message || e}`, null);
  }
}

function talkEnd() {
  if (!state.talking) return;
  state.talking = false;
  $("btn-talk").classList.remove("active");
  send({ type: "control", action: "ptt_end" });
}

async function setHandsFree(on) {
  try {
    if (on) await openMic();
    state.handsFree = on;
    $("btn-talk").disabled = on;
  } catch (e) {
    $("handsfree").checked = false;
    addLine("error", "error", `microphone unavailable: ${e.message || e}`, null);
  }
}

// ------------------------------------------------------------------ audio out
function playAudio(m) {
  if (!state.audio) state.audio = new AudioContext();
  const ctx = state.audio;
  const bytes = Uint8Array.from(atob(m.pcm), (c) => c.charCodeAt(0));
  const pcm = new Int16Array(bytes.buffer, 0, bytes.length >> 1);
  if (!pcm.length) return;
  const buf = ctx.createBuffer(1, pcm.length, m.sample_rate);
  const ch = buf.getChannelData(0);
  for (let i = 0; i < pcm.length; i++) ch[i] = pcm[i] / 32768;
  const node = ctx.createBufferSource();
  node.buffer = buf;
  node.connect(ctx.destination);
  const at = Math.max(ctx.currentTime + 0.02, state.audioNext);
  node.start(at);
  state.audioNext = at + buf.duration;
  document.body.dataset.audioBlocks = String(Number(document.body.dataset.audioBlocks || 0) + 1);
  if (!state.playing.has(m.id)) state.playing.set(m.id, []);
  state.playing.get(m.id).push(node);
  node.onended = () => {
    const list = state.playing.get(m.id) || [];
    const i = list.indexOf(node);
    if (i >= 0) list.splice(i, 1);
  };
}

function stopAudio(id) {
  for (const [rid, nodes] of state.playing) {
    if (id !== null && rid !== id) continue;
    nodes.forEach((n) => { try { n.stop(); } catch (e) { /* already stopped */ } });
    state.playing.delete(rid);
  }
  if (state.audio) state.audioNext = state.audio.currentTime;
}

// ------------------------------------------------------------------ wiring
$("btn-camera").onclick = () => start("camera");
$("btn-sample").onclick = () => start("sample");
$("btn-stop").onclick = () => { stopCapture(); setStatus("stopped", ""); };
$("file").onchange = (ev) => { if (ev.target.files[0]) start(ev.target.files[0]); };
$("ask").onsubmit = (ev) => {
  ev.preventDefault();
  const q = $("question").value.trim();
  if (!q) return;
  stopAudio(null);
  send({ type: "question", text: q });
  $("question").value = "";
};
const talk = $("btn-talk");
talk.onmousedown = talkStart;
talk.onmouseup = talkEnd;
talk.onmouseleave = talkEnd;
talk.ontouchstart = (ev) => { ev.preventDefault(); talkStart(); };
talk.ontouchend = (ev) => { ev.preventDefault(); talkEnd(); };
$("handsfree").onchange = (ev) => setHandsFree(ev.target.checked);
$("speak").onchange = (ev) => {
  state.speak = ev.target.checked;
  send({ type: "control", action: state.speak ? "speak_on" : "speak_off" });
  if (!state.speak) stopAudio(null);
};
connect();
