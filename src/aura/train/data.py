"""Streaming training data: JSONL samples -> length-grouped micro-batches -> padded tensors.

The file is read lazily (``aura.fileio.iter_jsonl``), a bounded buffer at a time. Within each
buffer, samples are sorted by an estimated length and cut into micro-batches whose order is
shuffled with a generator seeded by (seed, epoch, buffer index). The plan depends only on the
file and the configuration, so every process computes the same plan, takes every
``world_size``-th micro-batch, and a resumed run can skip exactly the micro-batches already
trained on. Tokenisation, frame decoding and preprocessing happen only for the micro-batches
a process actually trains on.
"""

from __future__ import annotations

import logging
import random
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aura.fileio import iter_jsonl
from aura.stream.messages import message_text, video_parts
from aura.train.frames import FrameSource
from aura.train.labels import EncodedSample, SampleError, check_messages, encode_sample

log = logging.getLogger(__name__)

Row = tuple[int, dict[str, Any]]  # (line number, sample)


@dataclass
class Plan:
    """How a sample file is cut into micro-batches."""

    micro_batch_size: int
    group_buffer: int
    seed: int
    video_tokens_estimate: int = 64


def estimate_length(sample: dict[str, Any], video_tokens: int) -> int:
    """A cheap token-count estimate for grouping: ~4 characters a token, plus per-chunk video tokens."""
    chars = 0
    videos = 0
    for m in sample.get("messages") or []:
        if isinstance(m, dict):
            chars += len(message_text(m)) + 16
            videos += len(video_parts(m))
    return chars // 4 + videos * video_tokens


def iter_samples(path: str | Path, *, skip_bad: bool, stats: dict[str, int] | None = None) -> Iterator[Row]:
    """Yield (line, sample) for every well-formed sample; bad ones stop (``SampleError``) or are skipped.

    A skipped line is logged with its file and line number and counted in ``stats["skipped"]``.
    """
    for lineno, obj in iter_jsonl(path, skip_bad=skip_bad):
        try:
            if not isinstance(obj, dict):
                raise SampleError(f"sample is a {type(obj).__name__}, not an object")
            check_messages(obj)
        except SampleError as exc:
            if not skip_bad:
                raise SampleError(f"{path}:{lineno}: {exc}") from None
            log.warning("%s:%d: skipped bad sample (%s)", path, lineno, exc)
            if stats is not None:
                stats["skipped"] = stats.get("skipped", 0) + 1
            continue
        yield lineno, obj


def plan_micro_batches(rows: Iterator[Row], plan: Plan, epoch: int) -> Iterator[list[Row]]:
    """Micro-batches of rows, length-grouped inside bounded buffers, order shuffled per buffer."""
    size = plan.micro_batch_size * plan.group_buffer
    buffer: list[Row] = []
    index = 0

    def flush(buf: list[Row], idx: int) -> Iterator[list[Row]]:
        buf.sort(key=lambda r: (estimate_length(r[1], plan.video_tokens_estimate), r[0]))
        batches = [buf[i : i + plan.micro_batch_size] for i in range(0, len(buf), plan.micro_batch_size)]
        random.Random(f"{plan.seed}:{epoch}:{idx}").shuffle(batches)
        yield from batches

    for row in rows:
        buffer.append(row)
        if len(buffer) == size:
            yield from flush(buffer, index)
            buffer, index = [], index + 1
    if buffer:
        yield from flush(buffer, index)


def count_micro_batches(n_samples: int, plan: Plan) -> int:
    """How many micro-batches ``plan_micro_batches`` makes of ``n_samples`` samples."""
    size = plan.micro_batch_size * plan.group_buffer
    full, rest = divmod(n_samples, size)
    return full * plan.group_buffer + -(-rest // plan.micro_batch_size)


def shard(batches: Iterator[list[Row]], rank: int, world_size: int) -> Iterator[list[Row]]:
    """This process's share: micro-batch g goes to rank g % world_size; an incomplete last round is dropped."""
    group: list[list[Row]] = []
    for b in batches:
        group.append(b)
        if len(group) == world_size:
            yield group[rank]
            group = []


@dataclass
class Batch:
    """A padded micro-batch, ready for the model and the loss."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    mm_token_type_ids: torch.Tensor
    kinds: torch.Tensor
    n_silent: torch.Tensor
    pixel_values_videos: torch.Tensor | None
    video_grid_thw: torch.Tensor | None
    ids: list[str]

    @property
    def n_tokens(self) -> int:
        """Real (unpadded) tokens in the batch."""
        return int(self.attention_mask.sum())

    def to(self, device: torch.device | str) -> Batch:
        """The batch on ``device``."""
        def mv(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device)

        return Batch(
            mv(self.input_ids), mv(self.attention_mask), mv(self.mm_token_type_ids), mv(self.kinds),
            mv(self.n_silent), mv(self.pixel_values_videos), mv(self.video_grid_thw), self.ids,
        )  # type: ignore[arg-type]

    def model_inputs(self) -> dict[str, torch.Tensor]:
        """Keyword arguments of a transformers VLM forward."""
        out = {
            "input_ids": self.input_ids,
            "attention_mask": self.attention_mask,
            "mm_token_type_ids": self.mm_token_type_ids,
        }
        if self.pixel_values_videos is not None:
            out["pixel_values_videos"] = self.pixel_values_videos
            out["video_grid_thw"] = self.video_grid_thw
        return out


Preprocess = Callable[[np.ndarray], tuple[np.ndarray, tuple[int, int, int]]]
PreprocessMany = Callable[[list[np.ndarray]], list[tuple[np.ndarray, tuple[int, int, int]]]]
"""Preprocess for many parts at once: one ``Preprocess`` output per input, in order."""


class BatchBuilder:
    """Turns rows into padded ``Batch``es: frames -> pixels and grids -> tokens and kinds.

    ``preprocess(frames) -> (pixels, grid)`` is the backend's patching (for Qwen-VL,
    ``aura.models.hf.preprocess.preprocess_frames`` with the checkpoint's ``PatchSpec``).
    Preprocessed parts are kept in a bounded LRU cache (many samples share a video's chunks).
    Samples that fail (``SampleError``) stop the run or, with ``skip_bad``, are logged and left out.
    """

    def __init__(self, chat_format: Any, frame_source: FrameSource, preprocess: Preprocess, *,
                 max_length: int, pad_id: int, skip_bad: bool = False, source_name: str = "samples",
                 cache_parts: int = 256) -> None:
        self.chat_format, self.frame_source, self.preprocess = chat_format, frame_source, preprocess
        self.max_length, self.pad_id, self.skip_bad = max_length, pad_id, skip_bad
        self.source_name = source_name
        self.cache_parts = cache_parts
        self._cache: OrderedDict[tuple[Any, ...], tuple[np.ndarray, tuple[int, int, int]]] = OrderedDict()
        self.skipped = 0

    @staticmethod
    def _key(sample: dict[str, Any], part: dict[str, Any]) -> tuple[Any, ...]:
        return sample.get("video_id"), sample.get("video"), part.get("chunk"), part.get("start"), part.get("end")

    def warm(self, rows: Iterable[Row], preprocess_many: PreprocessMany, *, batch: int = 256,
             progress: bool = False) -> int:
        """Preprocess the video parts of ``rows`` that are not cached yet, ``batch`` at a time with
        ``preprocess_many`` (which must return what ``preprocess`` would, part by part), and cache
        them, until the cache is full; return how many were added. Batches then find their parts
        cached, so a preprocessing that is cheaper in bulk (a frozen encoder) runs in bulk."""
        from tqdm.auto import tqdm

        if not self.cache_parts:
            return 0
        todo: OrderedDict[tuple[Any, ...], tuple[dict[str, Any], dict[str, Any]]] = OrderedDict()
        for _, sample in rows:
            for m in sample.get("messages", []):
                for part in video_parts(m):
                    key = self._key(sample, part)
                    if key not in self._cache and key not in todo:
                        todo[key] = (sample, part)
        room = max(0, self.cache_parts - len(self._cache))
        keys = list(todo)[:room]
        bar = tqdm(total=len(keys), desc="cache", unit="part", disable=not progress)
        for i in range(0, len(keys), batch):
            group = keys[i : i + batch]
            outs = preprocess_many([self.frame_source.frames(*todo[k]) for k in group])
            if len(outs) != len(group):
                raise ValueError(f"preprocess_many returned {len(outs)} parts for {len(group)}")
            self._cache.update(zip(group, outs, strict=True))
            bar.update(len(group))
        bar.close()
        return len(keys)

    def adopt_cache(self, other: BatchBuilder) -> int:
        """Take ``other``'s cached parts (up to this builder's bound), for a builder with the same frame
        source and preprocessing (a later stage over the same videos); return how many were taken."""
        if not self.cache_parts:
            return 0
        taken = 0
        for key, out in list(other._cache.items())[-self.cache_parts :]:
            if key not in self._cache:
                taken += 1
            self._cache[key] = out
            self._cache.move_to_end(key)
        self._evict()
        return taken

    def _evict(self) -> None:
        """Drop the least recently used parts beyond the bound."""
        while len(self._cache) > self.cache_parts:
            self._cache.popitem(last=False)

    def _pixels(self, sample: dict[str, Any], part: dict[str, Any]) -> tuple[np.ndarray, tuple[int, int, int]]:
        key = self._key(sample, part)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        out = self.preprocess(self.frame_source.frames(sample, part))
        if self.cache_parts:
            self._cache[key] = out
            self._evict()
        return out

    def encode(self, row: Row) -> tuple[EncodedSample, list[np.ndarray]] | None:
        """One row encoded with its pixel arrays (None if skipped)."""
        lineno, sample = row
        try:
            pixels: dict[tuple[Any, ...], tuple[np.ndarray, tuple[int, int, int]]] = {}
            for m in sample["messages"]:
                for part in video_parts(m):
                    pixels[(part.get("chunk"), part.get("start"))] = self._pixels(sample, part)

            def grid(part: dict[str, Any]) -> tuple[int, int, int]:
                return pixels[(part.get("chunk"), part.get("start"))][1]

            enc = encode_sample(sample, self.chat_format, grid, self.max_length)
        except SampleError as exc:
            msg = f"{self.source_name}:{lineno}: {exc}"
            if not self.skip_bad:
                raise type(exc)(msg) from None
            log.warning("skipped bad sample: %s", msg)
            self.skipped += 1
            return None
        arrays = [pixels[(p.get("chunk"), p.get("start"))][0] for p in enc.video_parts]
        return enc, arrays

    def build(self, rows: list[Row]) -> Batch:
        """A padded batch of the rows that encode (right padding; kinds 0 on padding)."""
        encoded = [e for e in (self.encode(r) for r in rows) if e is not None]
        return collate([e for e, _ in encoded], [a for _, a in encoded], self.pad_id)


def collate(samples: list[EncodedSample], pixels: list[list[np.ndarray]], pad_id: int) -> Batch:
    """Pad encoded samples to one length and concatenate their video patches in token order."""
    n = len(samples)
    length = max((len(s) for s in samples), default=1)
    ids = torch.full((n, length), pad_id, dtype=torch.long)
    att = torch.zeros((n, length), dtype=torch.long)
    mm = torch.zeros((n, length), dtype=torch.long)
    kinds = torch.zeros((n, length), dtype=torch.long)
    for i, s in enumerate(samples):
        k = len(s)
        ids[i, :k] = torch.from_numpy(s.input_ids)
        att[i, :k] = 1
        mm[i, :k] = torch.from_numpy(s.mm_token_type_ids)
        kinds[i, :k] = torch.from_numpy(s.kinds)
    arrays = [a for per in pixels for a in per]
    grids = [g for s in samples for g in s.video_grids]
    pv = torch.from_numpy(np.concatenate(arrays, axis=0)) if arrays else None
    thw = torch.tensor(grids, dtype=torch.long) if grids else None
    return Batch(ids, att, mm, kinds, torch.tensor([s.n_silent for s in samples], dtype=torch.long), pv, thw,
                 [s.id for s in samples])
