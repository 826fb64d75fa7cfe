"""Evaluation harness: OVO-Bench, StreamingBench and OmniMMI (and any ``Benchmark``) in two modes.

``protocol`` mode asks each query as the benchmark's official protocol does, with AURA's
evaluation context (the last <= 30 one-second chunks, earlier turns teacher-forced silent);
``stream`` mode runs one continuous session per video and scores what the model said and when.
See ``docs/evaluation.md``.
"""

from aura.eval.benchmarks import Benchmark, get_benchmark, names, register
from aura.eval.benchmarks.base import load_all
from aura.eval.judge import CachedJudge, Judge, MatchJudge, OpenAIJudge, Verdict
from aura.eval.report import compare, load_summary, summarize, write_report
from aura.eval.results import read_results
from aura.eval.runner import EvalConfig, Runner, default_chunk_source
from aura.eval.types import AnnotationError, EvalError, Injection, Item, ItemScore, LoadResult, Probe, RowError

__all__ = [
    "AnnotationError",
    "Benchmark",
    "CachedJudge",
    "EvalConfig",
    "EvalError",
    "Injection",
    "Item",
    "ItemScore",
    "Judge",
    "LoadResult",
    "MatchJudge",
    "OpenAIJudge",
    "Probe",
    "RowError",
    "Runner",
    "Verdict",
    "compare",
    "default_chunk_source",
    "get_benchmark",
    "load_all",
    "load_summary",
    "names",
    "read_results",
    "register",
    "summarize",
    "write_report",
]
