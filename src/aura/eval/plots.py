"""Report plots (matplotlib, PNG, headless): accuracy per task, response-time error, silence over time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aura.eval.types import ItemScore

BIN_S = 10.0
"""Width (seconds of stream time) of the bins of the silence/false-alarm plot."""


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def silence_over_time(rows: list[dict[str, Any]], sessions: list[dict[str, Any]],
                      bin_s: float = BIN_S) -> tuple[list[float], list[float], list[float]]:
    """Per time bin: bin start, silent share, false-alarm share.

    Stream mode: shares of chunks that were silent / unprompted replies (no question pending).
    Protocol mode: shares of queries answered with silence / (no false-alarm notion: 0).
    """
    silent: dict[int, list[int]] = {}
    alarm: dict[int, list[int]] = {}
    for s in sessions:
        for k, code in enumerate(s.get("codes", "")):
            b = int(k // bin_s)
            silent.setdefault(b, []).append(code == "s")
            alarm.setdefault(b, []).append(code == "u")
    if not sessions:
        for r in rows:
            for p in r.get("probes") or []:
                at = p.get("asked_at", p.get("answered_at"))
                if at is None:
                    continue
                b = int(float(at) // bin_s)
                silent.setdefault(b, []).append(bool(p.get("silent")))
                alarm.setdefault(b, []).append(False)
    bins = sorted(silent)
    return ([b * bin_s for b in bins], [sum(silent[b]) / len(silent[b]) for b in bins],
            [sum(alarm[b]) / len(alarm[b]) for b in bins])


def write_plots(out: Path, summary: dict[str, Any], scores: list[ItemScore], rows: list[dict[str, Any]],
                sessions: list[dict[str, Any]]) -> list[str]:
    """Write the three PNGs into ``out``; return their paths."""
    plt = _plt()
    title = f"{summary.get('benchmark')} ({summary.get('mode')})"
    paths = []

    tasks = summary.get("tasks", {})
    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(tasks) + 2), 3.5))
    names = list(tasks)
    ax.bar(names, [tasks[t].get("score") or 0.0 for t in names], color="#3b7dd8")
    ax.set_ylim(0, 100)
    ax.set_ylabel("score %")
    ax.set_title(f"{title}: accuracy per task (overall {summary.get('overall') or 0:.1f})")
    ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    paths.append(str(out / "accuracy_per_task.png"))
    fig.savefig(paths[-1], dpi=90)
    plt.close(fig)

    errors = [e for s in scores for e in s.time_errors]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    if errors:
        ax.hist(errors, bins=min(30, max(5, len(errors))), color="#d8823b", edgecolor="black")
        ax.axvline(0, color="black", linewidth=1)
    else:
        ax.text(0.5, 0.5, "no timed (forward/proactive) answers", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("response time - ground truth (s)")
    ax.set_ylabel("items")
    ax.set_title(f"{title}: response-time error")
    fig.tight_layout()
    paths.append(str(out / "response_time_error.png"))
    fig.savefig(paths[-1], dpi=90)
    plt.close(fig)

    xs, silent, alarm = silence_over_time(rows, sessions)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    if xs:
        ax.plot(xs, silent, marker="o", label="silent")
        ax.plot(xs, alarm, marker="x", label="false alarm")
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no steps recorded", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"stream time (s, {BIN_S:g}-s bins)")
    ax.set_ylabel("share")
    ax.set_title(f"{title}: silence and false alarms")
    fig.tight_layout()
    paths.append(str(out / "silence_over_time.png"))
    fig.savefig(paths[-1], dpi=90)
    plt.close(fig)
    return paths
