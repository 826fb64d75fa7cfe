"""Benchmarks the harness knows, by name; other suites (the synthetic world) add themselves with ``register``."""

from __future__ import annotations

from collections.abc import Callable

from aura.eval.benchmarks.base import Benchmark
from aura.eval.benchmarks.omnimmi import OmniMMI
from aura.eval.benchmarks.ovo import OVOBench
from aura.eval.benchmarks.streamingbench import StreamingBench
from aura.eval.types import EvalError

_REGISTRY: dict[str, Callable[[], Benchmark]] = {
    "ovo": OVOBench,
    "streamingbench": StreamingBench,
    "omnimmi": OmniMMI,
}
_ALIASES = {"ovo-bench": "ovo", "ovobench": "ovo", "sb": "streamingbench", "streaming-bench": "streamingbench"}


def register(name: str, factory: Callable[[], Benchmark]) -> None:
    """Make a benchmark available to ``get_benchmark`` and the CLI under ``name``."""
    _REGISTRY[name] = factory


def names() -> list[str]:
    """The registered benchmark names."""
    return sorted(_REGISTRY)


def get_benchmark(name: str) -> Benchmark:
    """A fresh benchmark by name (or alias); an unknown name is an ``EvalError`` listing the known ones."""
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in _REGISTRY:
        raise EvalError(f"unknown benchmark {name!r} (known: {', '.join(names())})")
    return _REGISTRY[key]()


__all__ = ["Benchmark", "OVOBench", "OmniMMI", "StreamingBench", "get_benchmark", "names", "register"]
