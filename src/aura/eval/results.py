"""Reading a results file in either format: ours (``results.jsonl`` rows) or a benchmark's official one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aura.eval.benchmarks.base import Benchmark
from aura.eval.benchmarks.omnimmi import parse_prediction_lines
from aura.eval.runner import RESULTS
from aura.eval.types import AnnotationError


def _parse(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise AnnotationError(f"{path}: not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return parse_prediction_lines(text, str(path))


def is_ours(data: Any) -> bool:
    """Our rows: a list of objects with ``item_id`` and ``benchmark``."""
    return isinstance(data, list) and bool(data) and all(isinstance(r, dict) and "item_id" in r for r in data)


def read_results(bench: Benchmark, path: str | Path, *, model: str | None = None,
                 task: str | None = None) -> tuple[list[dict[str, Any]], str]:
    """Rows to score from ``path`` (a run directory, our JSONL, or an official file) and which format it was.

    Our rows keep the last row per item (a resumed run may have re-written an item).
    """
    p = Path(path)
    if p.is_dir():
        p = p / RESULTS
    if not p.is_file():
        raise AnnotationError(f"{p}: no such results file")
    data = _parse(p)
    if isinstance(data, dict) and not bench.looks_official(data):
        data = [data]  # a one-line JSONL file
    if is_ours(data):
        other = {r.get("benchmark") for r in data} - {bench.name, None}
        if other:
            raise AnnotationError(f"{p}: holds {', '.join(sorted(map(str, other)))} rows, not {bench.name}")
        last: dict[str, dict[str, Any]] = {}
        for r in data:
            last[str(r["item_id"])] = r
        return list(last.values()), "aura"
    if bench.looks_official(data):
        return bench.official_rows(data, source=str(p), model=model, task=task), "official"
    raise AnnotationError(f"{p}: neither aura results rows nor an official {bench.name} results file")
