"""Running the stages over a work directory: inputs from the previous stage, outputs to this one.

Every stage is idempotent (finished ids are skipped), resumable (results are appended as they
finish) and shardable (``Shard``: items are owned by their source video's id, so one machine
runs a video through all five stages and N machines need no coordination).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from aura.data.client import ChatClient
from aura.data.config import (
    ApiConfig,
    DataConfig,
    PrepareConfig,
    RefineConfig,
    StructureConfig,
    SynthesizeConfig,
    VerifyConfig,
    resolve_api_key,
)
from aura.data.errors import StageInputError
from aura.data.media import PoolCache
from aura.data.runner import Item, RunSummary, run_items
from aura.data.schemas import SegmentQAs, SourceRecord
from aura.data.shard import Shard
from aura.data.stages import prepare, refine, structure, synthesize, verify
from aura.data.stages.common import ModelStage
from aura.data.store import StageStore, iter_rows, shard_files

log = logging.getLogger(__name__)

STAGES = ("prepare", "synthesize", "refine", "structure", "verify")


def _check_input(work: Path, stage: str) -> None:
    if not shard_files(work, stage, "items"):
        raise StageInputError(f"{work}: no output of stage '{stage}' yet (run `aura data {stage}` first)")


def _rows(work: Path, stage: str) -> Iterator[dict[str, Any]]:
    yield from iter_rows(work, stage, "items")


def _source_of(segment_id: str) -> str:
    return segment_id.rsplit("_s", 1)[0]


def segment_items(work: Path) -> Iterator[Item[Any]]:
    """Every prepared segment as an item (shard key: its source video), read lazily."""
    for row in _rows(work, "prepare"):
        try:
            rec = SourceRecord.model_validate(row)
        except ValidationError:
            log.warning("%s: skipped a malformed prepare row %r", work, row.get("id"))
            continue
        yield from (Item(s.id, s, rec.id) for s in rec.segments)


def segqa_items(work: Path, stage: str) -> Iterator[Item[Any]]:
    """Every segment finished by ``stage`` (synthesize or refine) as an item, read lazily."""
    for row in _rows(work, stage):
        try:
            seg = SegmentQAs.model_validate(row)
        except ValidationError:
            log.warning("%s: skipped a malformed %s row %r", work, stage, row.get("id"))
            continue
        yield Item(seg.id, seg, seg.segment.source_id)


def sample_items(work: Path) -> Iterator[Item[Any]]:
    """Every structured sample as an item, with the question its target answers, read lazily."""
    for row in _rows(work, "structure"):
        qtext = {q["id"]: q["text"] for q in row.get("timeline", {}).get("questions", [])}
        for s in row.get("samples", []):
            payload = {"sample": s, "question": qtext.get(s.get("question_id"))}
            yield Item(s["id"], payload, _source_of(s["video_id"]))


def model_env(work: Path, api: ApiConfig, sample_fps: float, max_frames: int, api_key: str,
              chunk_seconds: float = 1.0) -> ModelStage:
    """The client and frame pools of a model-driven stage."""
    client = ChatClient(api, api_key)
    pools = PoolCache(sample_fps, api.frame_max_side, api.jpeg_quality, size=max(4, api.concurrency))
    return ModelStage(work, client, pools, api, sample_fps, max_frames, chunk_seconds)


def run_prepare(work: Path, inputs: list[str], cfg: PrepareConfig, shard: Shard, *, concurrency: int = 1,
                retry_failed: bool = False, progress: bool = True) -> RunSummary:
    """Stage 1 over ``inputs`` (files, folders, ``@list.txt``)."""
    items = prepare.discover(inputs, cfg.extensions)
    store = StageStore(work, prepare.STAGE, shard)
    return run_items(store, items, prepare.make_processor(work, cfg), concurrency=concurrency,
                     retry_failed=retry_failed, progress=progress)


def run_synthesize(work: Path, api: ApiConfig, cfg: SynthesizeConfig, shard: Shard, *, concurrency: int = 1,
                   retry_failed: bool = False, progress: bool = True, api_key: str | None = None) -> RunSummary:
    """Stage 2 over every prepared segment."""
    _check_input(work, "prepare")
    items = partial(segment_items, work)
    env = model_env(work, api, cfg.sample_fps, cfg.max_frames, api_key or resolve_api_key(api), cfg.chunk_seconds)
    store = StageStore(work, synthesize.STAGE, shard)
    return run_items(store, items, synthesize.make_processor(env, cfg), concurrency=concurrency,
                     retry_failed=retry_failed, progress=progress)


def run_refine(work: Path, api: ApiConfig, cfg: RefineConfig, shard: Shard, *, sample_fps: float = 2.0,
               max_frames: int = 32, chunk_seconds: float = 1.0, concurrency: int = 1, retry_failed: bool = False,
               progress: bool = True, api_key: str | None = None) -> RunSummary:
    """Stage 3 over every synthesized segment."""
    _check_input(work, synthesize.STAGE)
    items = partial(segqa_items, work, synthesize.STAGE)
    env = model_env(work, api, sample_fps, max_frames, api_key or resolve_api_key(api), chunk_seconds)
    store = StageStore(work, refine.STAGE, shard)
    return run_items(store, items, refine.make_processor(env, cfg), concurrency=concurrency,
                     retry_failed=retry_failed, progress=progress)


def run_structure(work: Path, cfg: StructureConfig, shard: Shard, *, concurrency: int = 1,
                  retry_failed: bool = False, progress: bool = True) -> RunSummary:
    """Stage 4 over every refined segment (pure: no model)."""
    _check_input(work, refine.STAGE)
    items = partial(segqa_items, work, refine.STAGE)
    store = StageStore(work, structure.STAGE, shard)
    return run_items(store, items, structure.make_processor(cfg), concurrency=concurrency,
                     retry_failed=retry_failed, progress=progress)


def run_verify(work: Path, api: ApiConfig | None, cfg: VerifyConfig, shard: Shard, *, concurrency: int = 1,
               retry_failed: bool = False, progress: bool = True, api_key: str | None = None) -> RunSummary:
    """Stage 5 over every structured sample (``api`` None or ``cfg.judge`` off: rule checks only)."""
    _check_input(work, structure.STAGE)
    items = partial(sample_items, work)
    env = None
    if cfg.judge and api is not None:
        env = model_env(work, api, cfg.sample_fps, cfg.max_frames, api_key or resolve_api_key(api))
    store = StageStore(work, verify.STAGE, shard)
    return run_items(store, items, verify.make_processor(env, cfg), concurrency=concurrency,
                     retry_failed=retry_failed, progress=progress)


def run_all(cfg: DataConfig, shard: Shard, *, progress: bool = True, stages: tuple[str, ...] = STAGES,
            api_key: str | None = None) -> list[RunSummary]:
    """Run ``stages`` in order with one config; returns each stage's summary."""
    work = Path(cfg.work)
    needs_model = any(s in stages for s in ("synthesize", "refine")) or (cfg.verify.judge and "verify" in stages)
    key = api_key or (resolve_api_key(cfg.api) if needs_model else None)
    common = {"concurrency": cfg.concurrency, "retry_failed": cfg.retry_failed, "progress": progress}
    out = []
    for stage in stages:
        if stage == "prepare":
            out.append(run_prepare(work, cfg.inputs, cfg.prepare, shard, **common))
        elif stage == "synthesize":
            out.append(run_synthesize(work, cfg.api, cfg.synthesize, shard, api_key=key, **common))
        elif stage == "refine":
            out.append(run_refine(work, cfg.api, cfg.refine, shard, sample_fps=cfg.synthesize.sample_fps,
                                  max_frames=cfg.synthesize.max_frames, chunk_seconds=cfg.synthesize.chunk_seconds,
                                  api_key=key, **common))
        elif stage == "structure":
            out.append(run_structure(work, cfg.structure, shard, **common))
        elif stage == "verify":
            out.append(run_verify(work, cfg.api, cfg.verify, shard, api_key=key, **common))
    return out
