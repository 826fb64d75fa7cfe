"""The ``Benchmark`` protocol the harness runs, plus helpers every benchmark's loader and scorer share.

A benchmark (OVO-Bench, StreamingBench, OmniMMI, the synthetic world suite, ...) only has to:
load its annotation files into ``Item``s (bad rows become ``RowError``s with their index),
score one result row, aggregate item scores into its published summary, and, optionally,
convert its own official results format into our rows so published results can be re-scored.
"""

from __future__ import annotations

import abc
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from aura.eval.judge import Judge
from aura.eval.types import AnnotationError, Item, ItemScore, LoadResult, RowError
from aura.fileio import read_json


class Benchmark(abc.ABC):
    """What the harness needs from a benchmark."""

    name: str = ""
    categories: ClassVar[dict[str, str]] = {}
    """task -> category (empty when the benchmark has no categories)."""

    @abc.abstractmethod
    def load(self, annotations: list[Path], video_root: Path) -> LoadResult:
        """Items from the annotation files (videos resolved under ``video_root``); bad rows as errors."""

    @abc.abstractmethod
    def score_row(self, row: dict[str, Any], judge: Judge) -> ItemScore:
        """Score one result row (ours, either mode)."""

    @abc.abstractmethod
    def aggregate(self, scores: list[ItemScore]) -> dict[str, Any]:
        """The benchmark's summary: ``tasks`` (task -> score %), ``categories``, ``overall`` and counts."""

    def official_rows(self, data: Any, *, source: str, model: str | None = None, task: str | None = None) -> list[dict]:
        """Convert the benchmark's official results format into our result rows."""
        raise AnnotationError(f"{source}: {self.name} has no official results format")

    def looks_official(self, data: Any) -> bool:
        """True when ``data`` (a parsed results file) is in the official format rather than ours."""
        return False


def category_of(task: str, categories: dict[str, str]) -> str:
    """The category of a task ('' when unknown)."""
    return categories.get(task, "")


def resolve_video(video_root: Path, name: str) -> str:
    """The first existing of ``root/name``, ``root/basename``, ``root/videos/name``; else ``root/name``.

    (Official layouts differ: StreamingBench names ``./videos/x.mp4``, OmniMMI keeps its files in
    ``videos/``.) A missing video is not an error here: the runner reports it per item.
    """
    direct = video_root / name
    for candidate in (direct, video_root / Path(name).name, video_root / "videos" / name):
        if candidate.is_file():
            return str(candidate)
    return str(direct)


def validation_message(exc: ValidationError) -> str:
    """One line from a pydantic error: the field path and the first problem."""
    first = exc.errors()[0]
    where = ".".join(str(x) for x in first["loc"]) or "row"
    return f"{where}: {first['msg']}"


def load_json_list(path: Path) -> list[Any]:
    """A JSON file holding a list (anything else is an ``AnnotationError`` naming the file)."""
    data = read_json(path)
    if not isinstance(data, list):
        raise AnnotationError(f"{path}: expected a JSON list of annotation rows, got {type(data).__name__}")
    return data


def build_items(
    path: Path,
    rows: Iterable[tuple[int, Any]],
    make: Callable[[int, dict[str, Any]], list[Item]],
    result: LoadResult,
    seen: set[str],
) -> None:
    """Turn (index, row) pairs into items with ``make``; any failure becomes a ``RowError`` with the index."""
    for index, row in rows:
        if not isinstance(row, dict):
            msg = f"row is {type(row).__name__}, not an object"
            result.errors.append(RowError(file=str(path), index=index, message=msg))
            continue
        try:
            items = make(index, row)
        except ValidationError as exc:
            result.errors.append(RowError(file=str(path), index=index, message=validation_message(exc)))
            continue
        except (ValueError, KeyError, TypeError) as exc:
            msg = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            result.errors.append(RowError(file=str(path), index=index, message=msg))
            continue
        for item in items:
            if item.id in seen:
                msg = f"duplicate id {item.id!r}"
                result.errors.append(RowError(file=str(path), index=index, item_id=item.id, message=msg))
                continue
            seen.add(item.id)
            result.items.append(item)


def micro_accuracy(scores: list[ItemScore]) -> dict[str, dict[str, float]]:
    """Per task: ``{"score": % of units correct, "units": n, "items": n}``."""
    units: dict[str, list[float]] = defaultdict(list)
    items: dict[str, int] = defaultdict(int)
    for s in scores:
        units[s.task].extend(s.units)
        items[s.task] += 1
    return {
        task: {"score": 100.0 * sum(u) / len(u) if u else 0.0, "units": len(u), "items": items[task]}
        for task, u in sorted(units.items())
    }


def mean(values: list[float]) -> float | None:
    """The arithmetic mean, or None for no values."""
    return sum(values) / len(values) if values else None


class StrictModel(BaseModel):
    """Base of annotation row schemas: unknown fields are allowed (official files carry extras)."""

    model_config = {"extra": "allow"}


# ---------------------------------------------------------------------------- reading rows


def probe_results(row: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Protocol mode: the row's probe results by key."""
    return {str(p.get("key")): p for p in row.get("probes") or []}


def probe_response(row: dict[str, Any], key: str) -> str | None:
    """Protocol mode: what the model said to probe ``key`` (None when silent or never asked)."""
    p = probe_results(row).get(key)
    if not p or p.get("silent", not p.get("response")):
        return None
    return p.get("response")


def injection_times(row: dict[str, Any]) -> dict[str, float]:
    """Stream mode: injection key -> the time its chunk's reply was due (the chunk's end)."""
    return {str(i["key"]): float(i["asked_at"]) for i in row.get("injections") or []}


def transcript(row: dict[str, Any]) -> list[tuple[float, str]]:
    """Stream mode: the (time, text) responses recorded for the item, in time order."""
    return sorted((float(t), str(text)) for t, text in row.get("transcript") or [])


def first_response(row: dict[str, Any], start: float, end: float, *, after: bool = False) -> tuple[float, str] | None:
    """Stream mode: the first response in [start, end] (or (start, end] with ``after``), if any."""
    for t, text in transcript(row):
        if (t > start if after else t >= start) and t <= end:
            return t, text
    return None


def stream_answer(row: dict[str, Any], key: str) -> str | None:
    """Stream mode: the answer to injection ``key``: the first response within ``patience`` of its chunk."""
    asked = injection_times(row).get(key)
    if asked is None:
        return None
    hit = first_response(row, asked, asked + float(row.get("patience", 5.0)))
    return hit[1] if hit else None


def load_all(bench: Benchmark, annotations: list[Path], video_root: Path) -> LoadResult:
    """Load each annotation file on its own: an unusable file becomes one error (index -1), not a crash."""
    from aura.errors import AuraError

    merged, seen = LoadResult(), set()
    for path in annotations:
        try:
            part = bench.load([path], video_root)
        except AuraError as exc:
            merged.errors.append(RowError(file=str(path), index=-1, message=str(exc)))
            continue
        merged.errors.extend(part.errors)
        for item in part.items:
            if item.id in seen:
                merged.errors.append(RowError(file=str(path), index=-1, item_id=item.id,
                                              message=f"duplicate id {item.id!r} (also in an earlier file)"))
                continue
            seen.add(item.id)
            merged.items.append(item)
    return merged
