"""Per-stage result files in a work directory: append-only, crash-safe, shard-separated.

Layout: ``<work>/<stage>/items.<K>-of-<N>.jsonl`` (finished items, one JSON object per line,
keyed by ``id``), ``failures.<K>-of-<N>.jsonl`` (per-item failures with their reason) and, for
stages that judge, ``rejected.<K>-of-<N>.jsonl``. Each shard writes only its own files, so N
workers never share a file. A line is written and fsynced in one call; a line torn by a crash
is cut off when the file is next opened, so a crash loses at most the items in flight.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from aura.data.shard import Shard
from aura.fileio import iter_jsonl

log = logging.getLogger(__name__)

KINDS = ("items", "failures", "rejected")


def stage_dir(work: str | os.PathLike[str], stage: str) -> Path:
    """The folder of ``stage``'s outputs in work directory ``work``."""
    return Path(work) / stage


def shard_files(work: str | os.PathLike[str], stage: str, kind: str) -> list[Path]:
    """Every shard's ``kind`` file of ``stage`` (items, failures or rejected), sorted."""
    return sorted(stage_dir(work, stage).glob(f"{kind}.*.jsonl"))


def iter_rows(work: str | os.PathLike[str], stage: str, kind: str = "items") -> Iterator[dict[str, Any]]:
    """Rows of every shard's ``kind`` file, first occurrence of each id only; torn lines skipped."""
    seen: set[str] = set()
    for path in shard_files(work, stage, kind):
        for _, row in iter_jsonl(path, skip_bad=True):
            key = row.get("id") if isinstance(row, dict) else None
            if not isinstance(key, str) or key in seen:
                continue
            seen.add(key)
            yield row


def ids_in(work: str | os.PathLike[str], stage: str, kind: str) -> set[str]:
    """The ids present in any shard's ``kind`` file of ``stage``."""
    return {row["id"] for row in iter_rows(work, stage, kind)}


def repair_tail(path: Path) -> bool:
    """Cut a last line left without its newline by a crash; True if something was cut."""
    if not path.is_file() or path.stat().st_size == 0:
        return False
    with open(path, "rb+") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":
            return False
        size = f.seek(0, os.SEEK_END)
        pos = size
        block = 4096
        cut = 0
        while pos > 0:
            step = min(block, pos)
            pos -= step
            f.seek(pos)
            chunk = f.read(step)
            nl = chunk.rfind(b"\n")
            if nl >= 0:
                cut = pos + nl + 1
                break
        f.truncate(cut)
        f.flush()
        os.fsync(f.fileno())
    log.warning("%s: cut a torn last line left by an interrupted run", path)
    return True


class StageStore:
    """The writer of one shard of one stage; thread-safe appends."""

    def __init__(
        self, work: str | os.PathLike[str], stage: str, shard: Shard, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.work = Path(work)
        self.stage = stage
        self.shard = shard
        self.dir = stage_dir(work, stage)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._lock = threading.Lock()
        for kind in KINDS:
            repair_tail(self.path(kind))

    def path(self, kind: str) -> Path:
        """This shard's file of ``kind``."""
        return self.dir / f"{kind}.{self.shard.tag}.jsonl"

    def finished(self, *, retry_failed: bool = False) -> set[str]:
        """Ids no re-run should redo: done or rejected anywhere; failed too unless ``retry_failed``."""
        done = ids_in(self.work, self.stage, "items") | ids_in(self.work, self.stage, "rejected")
        if not retry_failed:
            done |= ids_in(self.work, self.stage, "failures")
        return done

    def write(self, kind: str, row: dict[str, Any]) -> None:
        """Append one row (must carry a string ``id``) as one complete, fsynced line."""
        if not isinstance(row.get("id"), str):
            raise ValueError("every stored row needs a string 'id'")
        line = json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock, open(self.path(kind), "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def fail(self, item_id: str, kind: str, reason: str, *, attempts: int = 1) -> None:
        """Record that ``item_id`` failed, why, and when."""
        self.write(
            "failures",
            {"id": item_id, "stage": self.stage, "kind": kind, "reason": reason, "attempts": attempts,
             "at": round(self._clock(), 3)},
        )
