"""The aura-nano recipe: world streams -> samples -> tokenizer -> balanced-loss training -> checkpoint.

Every stage is resumable: per-stream outputs are written atomically and skipped when present,
and training continues from its last checkpoint. ``aura train nano`` runs it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from aura.fileio import atomic_write_text, iter_jsonl, write_jsonl_atomic
from aura.models.nano.checkpoint import load_tokenizer, save_checkpoint
from aura.models.nano.config import NanoConfig
from aura.models.nano.model import NanoVLM
from aura.models.nano.pixels import resize_frames
from aura.models.nano.tokenizer import train_tokenizer
from aura.stream import ContextConfig, unroll
from aura.train.loss import LossVariant

log = logging.getLogger(__name__)


class RecipeConfig(BaseModel):
    """Everything that defines a nano training run (defaults: the committed weights)."""

    model_config = ConfigDict(extra="forbid")

    out_dir: str = "runs/nano"
    data_dir: str | None = Field(None, description="where world streams are rendered (default: OUT_DIR/data)")
    train_streams: int = Field(150, ge=1)
    seconds: tuple[int, int] = (60, 240)
    render_heights: tuple[int, ...] = (72, 96, 128, 160)
    vocab_size: int = Field(768, ge=64)
    model: NanoConfig = Field(default_factory=lambda: NanoConfig(vocab_size=768, d_model=192, n_heads=4))
    window_chunks: int = 30
    float_chunks: int = 15
    history_groups: int = 10
    loss: LossVariant = "balanced"
    epochs: int = Field(2, ge=1)
    max_steps: int | None = None
    global_batch_size: int = Field(16, ge=1)
    micro_batch_size: int = Field(4, ge=1)
    lr: float = 1.5e-3
    warmup_steps: int = 40
    weight_decay: float = 0.05
    seed: int = 0
    save_every: int = 50
    workers: int = Field(2, ge=1)

    def context(self) -> ContextConfig:
        """The stream context the samples are unrolled with (and the model is served with)."""
        return ContextConfig(window_chunks=self.window_chunks, float_chunks=self.float_chunks,
                             history_groups=self.history_groups)


# ---------------------------------------------------------------------------------------- data
def frames_path(video: str | Path) -> Path:
    """Where the decoded, nano-sized frames of a rendered video are stored (beside the video)."""
    return Path(video).with_suffix(".frames.npy")


def _build_stream(args: tuple[int, str, dict[str, Any]]) -> tuple[int, str]:
    """Render one world stream, decode it back, store small frames and its samples. Idempotent."""
    seed, out, raw = args
    cfg = RecipeConfig.model_validate(raw)
    from aura.video import iter_frames
    from aura.world import make_stream, render_video

    out_dir = Path(out)
    samples_file = out_dir / f"world-{seed}.samples.jsonl"
    if samples_file.is_file():
        return seed, str(samples_file)
    rng = np.random.default_rng([seed, 99])
    duration = float(rng.integers(cfg.seconds[0], cfg.seconds[1] + 1))
    stream = make_stream(seed, duration=duration, config=cfg.context())
    video = out_dir / f"world-{seed}.mp4"
    height = int(rng.choice(cfg.render_heights))
    render_video(stream.scene, video, height=height, style=stream.style)
    size = cfg.model.image_size
    frames = [resize_frames(f[None], size, size)[0] for _, f in iter_frames(video, fps=2.0)]
    arr = np.clip(np.rint(np.stack(frames) * 255.0), 0, 255).astype(np.uint8)
    tmp = frames_path(video).with_suffix(".tmp.npy")
    np.save(tmp, arr)
    os.replace(tmp, frames_path(video))
    samples = list(unroll(stream.to_timeline(video=video.name), cfg.context()))
    write_jsonl_atomic(samples_file, samples)
    return seed, str(samples_file)


def build_world_samples(cfg: RecipeConfig, seeds: list[int], out: Path, *, progress: bool = True) -> Path:
    """Render ``seeds`` into ``out`` (resumable) and merge their samples into ``out/samples.jsonl``."""
    from tqdm.auto import tqdm

    out.mkdir(parents=True, exist_ok=True)
    jobs = [(s, str(out), cfg.model_dump(mode="json")) for s in seeds]
    files: dict[int, str] = {}
    bar = tqdm(total=len(jobs), desc="world streams", unit="stream", disable=not progress)
    if cfg.workers > 1:
        with ProcessPoolExecutor(cfg.workers) as pool:
            for seed, path in pool.map(_build_stream, jobs, chunksize=4):
                files[seed] = path
                bar.update(1)
    else:
        for job in jobs:
            seed, path = _build_stream(job)
            files[seed] = path
            bar.update(1)
    bar.close()

    def rows() -> Iterator[Any]:
        for seed in seeds:
            for _, row in iter_jsonl(files[seed]):
                yield row

    merged = out / "samples.jsonl"
    write_jsonl_atomic(merged, rows())
    return merged


def sample_texts(path: Path) -> Iterator[str]:
    """The text of every sample, in ChatML form, for tokenizer training."""
    for _, row in iter_jsonl(path):
        parts = []
        for m in row["messages"]:
            content = m["content"]
            text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
            parts.append(f"<|im_start|>{m['role']}\n{text}<|im_end|>\n")
        yield "".join(parts)


class NpyFrames:
    """Frame source for world samples: the stored nano-sized frames, indexed by time (2 FPS)."""

    def __init__(self, root: Path, fps: float = 2.0, cache_videos: int = 64) -> None:
        self.root, self.fps, self.cache_videos = root, fps, cache_videos
        self._cache: dict[str, np.ndarray] = {}

    def frames(self, sample: dict[str, Any], video_part: dict[str, Any]) -> np.ndarray:
        """uint8 (2, S, S, 3) frames of the part's chunk."""
        name = str(sample["video"])
        arr = self._cache.get(name)
        if arr is None:
            arr = np.load(frames_path(self.root / name), mmap_mode="r")
            if len(self._cache) >= self.cache_videos:
                self._cache.pop(next(iter(self._cache)))
            self._cache[name] = arr
        first = round(float(video_part["start"]) * self.fps)
        n = max(1, round((float(video_part["end"]) - float(video_part["start"])) * self.fps))
        idx = np.minimum(np.arange(first, first + max(n, 2)), arr.shape[0] - 1)
        return np.asarray(arr[idx])


# ---------------------------------------------------------------------------------------- training
def train_nano(cfg: RecipeConfig, *, resume: bool = False, install_to: Path | None = None,
               progress: bool = True) -> Path:
    """Run the whole recipe; return the final checkpoint directory (also copied to ``install_to``)."""
    from aura.models.nano.training import NanoForTraining, nano_chat_format, nano_preprocess
    from aura.train.config import validate_config
    from aura.train.model import Loaded
    from aura.train.trainer import Trainer
    from aura.world import split_seeds

    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "recipe.json", cfg.model_dump_json(indent=2))
    data_dir = Path(cfg.data_dir) if cfg.data_dir else out / "data"
    samples = build_world_samples(cfg, split_seeds("train", cfg.train_streams), data_dir, progress=progress)

    tok_dir = out / "tokenizer"
    if not (tok_dir / "tokenizer.json").is_file():
        tok = train_tokenizer(sample_texts(samples), cfg.vocab_size)
        tok_dir.mkdir(parents=True, exist_ok=True)
        tok.backend_tokenizer.save(str(tok_dir / "tokenizer.json"))
    tok = load_tokenizer(tok_dir)
    model_cfg = cfg.model.model_copy(update={"vocab_size": len(tok)})
    torch.manual_seed(cfg.seed)
    nano = NanoVLM(model_cfg, tok.convert_tokens_to_ids("<|video_pad|>"))
    log.info("aura-nano: %.2fM parameters", nano.num_parameters() / 1e6)
    wrapper = NanoForTraining(nano)
    loaded = Loaded(wrapper, tok, nano_chat_format(tok), nano_preprocess(nano), int(tok.pad_token_id), "aura_nano")
    config = validate_config({
        "model": {"path": str(out), "freeze_vision": False, "freeze_projector": False, "add_silent_token": False},
        "data": {"train": str(samples), "max_length": 4096, "video_tokens_estimate": model_cfg.visual_tokens,
                 "pixel_cache_parts": 0, "group_buffer": 16},
        "optim": {"lr": cfg.lr, "weight_decay": cfg.weight_decay, "warmup_steps": cfg.warmup_steps,
                  "min_lr_ratio": 0.05, "betas": [0.9, 0.95]},
        "train": {"output_dir": str(out / "train"), "loss": cfg.loss, "epochs": cfg.epochs,
                  "max_steps": cfg.max_steps, "global_batch_size": cfg.global_batch_size,
                  "micro_batch_size": cfg.micro_batch_size, "mixed_precision": "no", "seed": cfg.seed,
                  "save_every": cfg.save_every, "log_every": 1, "progress": progress},
    }, "nano recipe")
    trainer = Trainer(config, loaded=loaded, frame_source=NpyFrames(data_dir))
    trainer.train(resume=resume and (out / "train" / "checkpoints").is_dir())
    final = out / "final"
    save_checkpoint(final, trainer.accelerator.unwrap_model(trainer.model).nano, tok)
    if install_to is not None:
        if install_to.exists():
            shutil.rmtree(install_to)
        shutil.copytree(final, install_to)
    return final


def steps_estimate(n_samples: int, cfg: RecipeConfig) -> int:
    """Optimizer steps the recipe will take for ``n_samples`` samples."""
    steps = math.floor(n_samples / cfg.global_batch_size) * cfg.epochs
    return min(steps, cfg.max_steps) if cfg.max_steps else steps


def read_recipe(path: str | Path) -> RecipeConfig:
    """A recipe from a JSON file (as written beside a run)."""
    return RecipeConfig.model_validate(json.loads(Path(path).read_text()))
