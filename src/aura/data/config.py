"""Typed configuration of the data engine (one YAML/JSON file for ``aura data run``, or flags)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aura.data.errors import ApiKeyError, DataError
from aura.stream.config import ContextConfig

PAPER_MIX: dict[str, float] = {"realtime": 25.8, "proactive": 25.9, "multi": 8.6, "mixed": 5.8}
"""The paper's streaming split, in % of all training samples (the rest is offline video QA)."""

DEFAULT_ACKS = [
    "OK, I will let you know when it happens.",
    "Sure, I'll keep watching and tell you.",
    "Got it. I'll tell you as soon as I see it.",
    "Okay, I'll keep an eye out for that.",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApiConfig(_Strict):
    """How to reach the MLLM: any OpenAI-compatible chat server (vLLM, SGLang, a cloud API)."""

    api_base: str = Field("http://127.0.0.1:8000/v1", min_length=1)
    model: str = Field("default", min_length=1)
    api_key_file: str | None = None
    api_key_env: str | None = None
    timeout_s: float = Field(120.0, gt=0)
    max_tries: int = Field(3, ge=1, le=20, description="tries per request (timeouts, 5xx, malformed JSON)")
    backoff_s: float = Field(1.0, ge=0, description="first back-off after a transport error; doubles per try")
    concurrency: int = Field(8, ge=1, le=1024, description="most requests in flight at once")
    temperature: float = Field(0.2, ge=0, le=2)
    max_tokens: int = Field(2048, ge=16)
    json_mode: bool = Field(True, description="ask for response_format=json_object")
    media: Literal["frames", "video_url"] = "frames"
    frame_max_side: int = Field(448, ge=16, le=4096)
    jpeg_quality: int = Field(85, ge=10, le=100)


def resolve_api_key(api: ApiConfig, env: Mapping[str, str] | None = None) -> str:
    """The API key: from ``api_key_file``, else the env var named ``api_key_env``, else ``EMPTY``.

    Read only when a stage starts (never at import). Raises ``ApiKeyError`` if the named file or
    variable is missing or empty.
    """
    if api.api_key_file:
        path = Path(api.api_key_file).expanduser()
        try:
            key = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ApiKeyError(f"API key file {path}: {exc.strerror or exc}") from None
        if not key:
            raise ApiKeyError(f"API key file {path} is empty")
        return key
    if api.api_key_env:
        env = os.environ if env is None else env
        key = env.get(api.api_key_env, "").strip()
        if not key:
            raise ApiKeyError(f"environment variable {api.api_key_env} (named by --api-key-env) is unset or empty")
        return key
    return "EMPTY"


class PrepareConfig(_Strict):
    """Stage 1: probe, segment, resample to 2 FPS, re-encode to H.264, verify."""

    fps: float = Field(2.0, gt=0, le=60)
    segment_seconds: float = Field(300.0, gt=0, description="longest segment; longer videos are split")
    min_segment_seconds: float = Field(2.0, gt=0, description="a shorter tail is dropped (recorded)")
    max_duration_s: float = Field(6 * 3600.0, gt=0, description="longer videos are refused as absurd")
    max_side: int = Field(7680, ge=16, description="wider/taller videos are refused as absurd")
    min_side: int = Field(16, ge=1, description="smaller videos are refused as absurd")
    out_max_side: int | None = Field(None, ge=16, description="downscale so neither side exceeds this")
    crf: int = Field(23, ge=0, le=51)
    preset: str = "veryfast"
    gop_seconds: float = Field(1.0, gt=0, description="keyframe interval: 1 s = every chunk is seekable")
    verify: Literal["full", "ends", "demux"] = Field(
        "ends",
        description="read each segment back: count every packet and decode every frame (full), or only the "
        "first and last keyframe intervals (ends), or none (demux)",
    )
    extensions: list[str] = Field(default_factory=lambda: [".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v", ".ts"])


class SynthesizeConfig(_Strict):
    """Stage 2: scene descriptions, candidate QAs of the three types, verification of each."""

    sample_fps: float = Field(2.0, gt=0, le=2, description="frame rate of the pool requests draw from")
    max_frames: int = Field(32, ge=1, le=512, description="most frames in one request")
    max_realtime: int = Field(4, ge=0)
    max_proactive: int = Field(4, ge=0)
    max_multi: int = Field(2, ge=0)
    max_answers: int = Field(6, ge=2, description="most answers of one multi-response question")
    min_gap_s: float = Field(0.0, ge=0, description="least time from a question to its (next) delayed answer")
    chunk_seconds: float = Field(1.0, gt=0, description="the stream's chunk: delayed answers need a later chunk")


class RefineConfig(_Strict):
    """Stage 3: harder real-time variants, template rewrites, acknowledgements."""

    variant_weights: list[float] = Field(
        default_factory=lambda: [1.0, 1.0, 1.0, 1.0, 1.0],
        description="sampling weights of (original, variant 1..4 from perception to reasoning)",
    )
    templates: str = Field("rewrite_templates.v1.json", description="phrasing templates (package prompt file)")
    acks: list[str] = Field(default_factory=lambda: list(DEFAULT_ACKS), min_length=1)
    seed: int = 0

    @field_validator("variant_weights")
    @classmethod
    def _five_weights(cls, v: list[float]) -> list[float]:
        if len(v) != 5 or any(w < 0 for w in v) or sum(v) <= 0:
            raise ValueError("variant_weights needs 5 non-negative weights with a positive sum")
        return v


class StructureConfig(_Strict):
    """Stage 4: the stream context's unrolling (``aura.stream.unroll``) with these settings."""

    context: ContextConfig = Field(default_factory=ContextConfig)


class VerifyConfig(_Strict):
    """Stage 5: rule checks, then a judge model (same API) on answers."""

    judge: bool = True
    judge_acks: bool = False
    max_frames: int = Field(32, ge=1, le=512)
    sample_fps: float = Field(2.0, gt=0, le=2)


class DataConfig(_Strict):
    """Everything ``aura data run`` needs."""

    work: str = Field(..., min_length=1, description="work directory (all stages read and write here)")
    inputs: list[str] = Field(default_factory=list, description="video files, folders, or .txt lists")
    shard: str | None = None
    concurrency: int = Field(4, ge=1, le=1024, description="items processed at once per stage")
    retry_failed: bool = False
    api: ApiConfig = Field(default_factory=ApiConfig)
    prepare: PrepareConfig = Field(default_factory=PrepareConfig)
    synthesize: SynthesizeConfig = Field(default_factory=SynthesizeConfig)
    refine: RefineConfig = Field(default_factory=RefineConfig)
    structure: StructureConfig = Field(default_factory=StructureConfig)
    verify: VerifyConfig = Field(default_factory=VerifyConfig)
    target_mix: dict[str, float] = Field(default_factory=lambda: dict(PAPER_MIX))


def load_config(path: str | os.PathLike[str]) -> DataConfig:
    """Read a YAML or JSON config; relative paths inside it are taken from the file's folder.

    Raises ``DataError`` naming the file and the first bad field.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"{path}: cannot read config ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise DataError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise DataError(f"{path}: a config must be a mapping of settings")
    try:
        cfg = DataConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise DataError(f"{path}: {where}: {first['msg']}") from None
    base = path.parent

    def rel(p: str) -> str:
        return p if Path(p).is_absolute() or "://" in p else str(base / p)

    updates: dict[str, object] = {"work": rel(cfg.work), "inputs": [rel(p) for p in cfg.inputs]}
    if cfg.api.api_key_file:
        updates["api"] = cfg.api.model_copy(update={"api_key_file": rel(cfg.api.api_key_file)})
    return cfg.model_copy(update=updates)
