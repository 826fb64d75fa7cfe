"""The loss curves of a nano recipe run: stage 1 (look) and stage 2 (streams), as one PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aura.fileio import iter_jsonl

STAGES = (("look", "stage 1: look and watch (per-chunk samples)"),
          ("train", "stage 2: streams (balanced loss)"))


def stage_losses(run_dir: str | Path, stage: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, losses) a stage of the run at ``run_dir`` logged (``STAGE/metrics.jsonl``; empty if none)."""
    path = Path(run_dir) / stage / "metrics.jsonl"
    if not path.is_file():
        return np.zeros(0), np.zeros(0)
    rows = [row for _, row in iter_jsonl(path) if isinstance(row, dict) and "loss" in row and "step" in row]
    last: dict[int, float] = {}
    for row in rows:  # a resumed run logs some steps twice: keep the last
        last[int(row["step"])] = float(row["loss"])
    steps = np.array(sorted(last), dtype=float)
    return steps, np.array([last[int(s)] for s in steps])


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """The trailing mean of ``values`` over up to ``window`` points (as long as ``values``)."""
    if len(values) == 0:
        return values
    sums = np.cumsum(np.concatenate([[0.0], values]))
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(0, idx - window)
    return (sums[idx] - sums[lo]) / (idx - lo)


def plot_loss_curves(run_dir: str | Path, path: str | Path, *, window: int = 50) -> Path:
    """Write the run's stage 1 and stage 2 loss curves (every step, and a ``window``-step mean) to
    ``path`` (PNG, atomically); a stage the run did not log is left empty. Returns ``path``."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(STAGES), figsize=(11, 3.6))
    for ax, (stage, title) in zip(axes, STAGES, strict=True):
        steps, losses = stage_losses(run_dir, stage)
        if len(steps):
            ax.plot(steps, losses, lw=0.5, alpha=0.35, color="tab:blue", label="step")
            ax.plot(steps, moving_average(losses, window), lw=1.5, color="tab:blue", label=f"{window}-step mean")
            ax.set_yscale("log")
            ax.legend(loc="upper right", fontsize=8)
        else:
            ax.text(0.5, 0.5, "not run", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("loss")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(out)
    return out
