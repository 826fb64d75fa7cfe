"""File helpers every writer uses: atomic writes and line-checked JSONL reading."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from aura.errors import InputFileError

log = logging.getLogger(__name__)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_jsonl_atomic(path: str | os.PathLike[str], rows: Iterable[Any]) -> int:
    """Write rows (dicts or pydantic models) as JSONL, atomically; return the row count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(_dumps(row) + "\n")
                count += 1
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


def append_jsonl(path: str | os.PathLike[str], row: Any) -> None:
    """Append one row as a single complete line (flushed and synced before returning)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(_dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def iter_jsonl(path: str | os.PathLike[str], *, skip_bad: bool = False) -> Iterator[tuple[int, Any]]:
    """Yield (line number, parsed object) for each non-blank line, reading lazily.

    A malformed line raises ``InputFileError`` naming the file and line, unless ``skip_bad``
    is set, in which case it is skipped with a logged warning naming the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    with open(path, encoding="utf-8", errors="strict") as f:
        lineno = 0
        while True:
            try:
                line = f.readline()
            except UnicodeDecodeError as exc:
                raise InputFileError(f"{path}:{lineno + 1}: not UTF-8 text ({exc.reason})") from None
            if not line:
                return
            lineno += 1
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as exc:
                if skip_bad:
                    log.warning("%s:%d: skipped malformed JSON (%s)", path, lineno, exc.msg)
                    continue
                raise InputFileError(f"{path}:{lineno}: malformed JSON ({exc.msg})") from None


def read_json(path: str | os.PathLike[str]) -> Any:
    """Parse a JSON file; a missing or malformed file raises ``InputFileError``."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path}: malformed JSON ({exc})") from None


def _dumps(row: Any) -> str:
    if hasattr(row, "model_dump"):
        row = row.model_dump(mode="json")
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))
