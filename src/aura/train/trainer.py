"""The training loop on Hugging Face accelerate.

The same code runs on one CPU, one GPU, ``torchrun``/``accelerate launch`` on several GPUs (DDP),
and FSDP or DeepSpeed ZeRO through an accelerate config file: nothing here is hand-written
distribution. Each process computes the same deterministic micro-batch plan and trains on its
share (``aura.train.data``); gradients accumulate to the configured global batch; the loss is
the configured variant of the Silent-Speech Balanced Loss.

Checkpoints (every ``save_every`` steps and at the end) go to
``OUTPUT/checkpoints/step-NNNNNNNN/``: ``state/`` (accelerate: model safetensors, optimizer,
scheduler, RNG states), ``model/`` (``save_pretrained`` safetensors + config + tokenizer,
loadable for inference; with ``optim.ema_decay`` the moving average of the weights, while
``state/`` keeps both), ``trainer_state.json`` and ``config.yaml``. A checkpoint is written
under a temporary name and renamed when complete. ``resume`` continues from the newest one with
the same data order.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aura.errors import ConfigError
from aura.fileio import append_jsonl, atomic_write_text, iter_jsonl
from aura.train.config import Config, config_to_yaml
from aura.train.data import Batch, BatchBuilder, Plan, count_micro_batches, iter_samples, plan_micro_batches, shard
from aura.train.frames import FrameSource, SyntheticFrames, VideoFileFrames
from aura.train.loss import LossOutput, predicting_positions, sparse_stream_loss, stream_loss, supervision
from aura.train.model import Loaded, apply_freezing, apply_lora, load_for_training
from aura.train.precision_choice import PrecisionChoice, choose_precision, time_alternating
from aura.train.schedule import cosine_with_warmup, warmup_steps_for

log = logging.getLogger(__name__)

CKPT_PREFIX = "step-"
STATE_FILE = "trainer_state.json"
PRECISION_FILE = "precision.json"  # mixed_precision measure: what the run chose, and on what timings
MEASURE_BATCHES = 4  # mixed_precision measure times the run's first micro-batches (lengths vary) ...
MEASURE_REPEATS = 3  # ... this many times in each precision, after one warm-up


@contextmanager
def _tied_weights_quiet() -> Iterator[None]:
    """Within the block, accelerate's "Removed shared tensor" notice is not logged: safetensors
    stores a tied weight (an output head tied to the embedding) once, and loading ties it again."""
    saving = logging.getLogger("accelerate.utils.other")

    def notice(record: logging.LogRecord) -> bool:
        return "Removed shared tensor" not in record.getMessage()

    saving.addFilter(notice)
    try:
        yield
    finally:
        saving.removeFilter(notice)


@dataclass
class TrainerState:
    """Where a run stands: optimizer steps done, epoch, micro-batches of this epoch consumed (per process)."""

    step: int = 0
    epoch: int = 0
    epoch_micro_batches: int = 0
    total_steps: int = 0
    world_size: int = 1
    grad_accum: int = 1
    micro_batch_size: int = 1
    seed: int = 0
    samples_seen: int = 0
    tokens_seen: int = 0

    def to_json(self) -> str:
        """The state as JSON text."""
        return json.dumps(self.__dict__, indent=2) + "\n"


@dataclass
class TrainResult:
    """What a call to ``Trainer.train`` did."""

    start_step: int
    step: int
    total_steps: int
    losses: list[float] = field(default_factory=list)
    checkpoint: Path | None = None
    skipped_samples: int = 0


def list_checkpoints(output_dir: str | Path) -> list[Path]:
    """Complete checkpoints under ``output_dir/checkpoints``, oldest first."""
    root = Path(output_dir) / "checkpoints"
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(CKPT_PREFIX) and (p / STATE_FILE).is_file()]
    return sorted(found, key=lambda p: int(p.name[len(CKPT_PREFIX):]))


def check_output_dir(output_dir: str | Path, resume: bool) -> list[Path]:
    """The checkpoints to resume from; ``ConfigError`` if resuming from none or about to overwrite a run."""
    existing = list_checkpoints(output_dir)
    if resume and not existing:
        raise ConfigError(f"--resume: no checkpoint under {Path(output_dir) / 'checkpoints'}")
    if not resume and existing:
        raise ConfigError(f"{output_dir} already holds checkpoints; pass --resume or choose another output_dir")
    return existing


def _mixed_precision(setting: str) -> str:
    """What the accelerator is built with; ``measure`` leaves a CPU run in float32 until it has timed bf16."""
    if setting == "measure":
        setting = "no" if not torch.cuda.is_available() else "auto"
    if setting != "auto":
        return setting
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16"
    return "no"


def _count_samples(path: str, skip_bad: bool) -> int:
    """Samples in the file (one streaming pass; nothing is kept)."""
    return sum(1 for _ in iter_samples(path, skip_bad=skip_bad))


class Trainer:
    """Fine-tunes a checkpoint on stream samples with the configured loss variant.

    ``loaded`` (model, tokenizer, chat format, patching) and ``frame_source`` can be injected;
    by default they come from ``config.model.path`` and ``config.data.frames``.
    """

    def __init__(self, config: Config, *, loaded: Loaded | None = None, frame_source: FrameSource | None = None,
                 accelerator: Any = None) -> None:
        from accelerate import Accelerator, PartialState
        from accelerate.utils import set_seed

        self.config = config
        cfg = config.train
        if accelerator is None:
            cpu = not torch.cuda.is_available()
            grad_accum = config.grad_accum(PartialState(cpu=cpu).num_processes)
            accelerator = Accelerator(
                mixed_precision=_mixed_precision(cfg.mixed_precision),
                gradient_accumulation_steps=grad_accum,
                cpu=cpu,
            )
        self.accelerator = accelerator
        self.world_size = accelerator.num_processes
        self.grad_accum = config.grad_accum(self.world_size)
        if accelerator.gradient_accumulation_steps != self.grad_accum:
            raise ConfigError(
                f"the accelerator accumulates {accelerator.gradient_accumulation_steps} micro-batches; "
                f"global_batch_size needs {self.grad_accum}"
            )
        set_seed(cfg.seed)
        self.out = Path(cfg.output_dir)
        self.loaded = loaded or load_for_training(config.model, fps=config.data.fps)
        model = self.loaded.model
        if getattr(model, "config", None) is not None and hasattr(model.config, "use_cache"):
            model.config.use_cache = False
        if config.model.lora is not None:
            model = apply_lora(model, config.model)
            self.trainable = {"lora": sum(p.numel() for p in model.parameters() if p.requires_grad)}
        else:
            self.trainable = apply_freezing(model, config.model)
        if config.model.gradient_checkpointing:
            model.gradient_checkpointing_enable()
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise ConfigError("nothing to train: every parameter is frozen (check model.freeze_* and model.lora)")
        self.optimizer = torch.optim.AdamW(self._param_groups(model), lr=config.optim.lr, betas=config.optim.betas,
                                           eps=config.optim.eps)
        self.frame_source = frame_source or self._frame_source()
        self.builder = BatchBuilder(
            self.loaded.chat_format, self.frame_source, self.loaded.preprocess,
            max_length=config.data.max_length, pad_id=self.loaded.pad_id,
            skip_bad=config.data.on_bad_sample == "skip", source_name=config.data.train,
            cache_parts=config.data.pixel_cache_parts,
        )
        self.plan = Plan(cfg.micro_batch_size, config.data.group_buffer, cfg.seed, config.data.video_tokens_estimate)
        n_samples = _count_samples(config.data.train, config.data.on_bad_sample == "skip")
        per_rank = count_micro_batches(n_samples, self.plan) // self.world_size
        self.steps_per_epoch = per_rank // self.grad_accum
        if self.steps_per_epoch < 1:
            raise ConfigError(
                f"{config.data.train}: {n_samples} samples make no full step of global batch {cfg.global_batch_size}"
            )
        total = self.steps_per_epoch * cfg.epochs
        self.total_steps = min(total, cfg.max_steps) if cfg.max_steps else total
        warmup = warmup_steps_for(self.total_steps, config.optim.warmup_steps, config.optim.warmup_ratio)
        total_steps, min_ratio = self.total_steps, config.optim.min_lr_ratio
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: cosine_with_warmup(s, total_steps, warmup, min_ratio)
        )
        self.ema: Any = None
        if config.optim.ema_decay is not None:
            if accelerator.distributed_type.name in ("FSDP", "DEEPSPEED", "MEGATRON_LM"):
                raise ConfigError(f"optim.ema_decay keeps a whole copy of the weights: not with "
                                  f"{accelerator.distributed_type.name} sharding (one process or DDP)")
            from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

            self.ema = AveragedModel(model, device=accelerator.device,
                                     multi_avg_fn=get_ema_multi_avg_fn(config.optim.ema_decay))
        self.model, self.optimizer = accelerator.prepare(model, self.optimizer)
        accelerator.register_for_checkpointing(self.scheduler)
        if self.ema is not None:
            accelerator.register_for_checkpointing(self.ema)
        self.state = TrainerState(
            total_steps=self.total_steps, world_size=self.world_size, grad_accum=self.grad_accum,
            micro_batch_size=cfg.micro_batch_size, seed=cfg.seed,
        )
        self._tb: Any = None
        # mixed_precision "measure": bf16 autocast or float32, timed on the first batch (one CPU process only)
        self.measure_precision = (cfg.mixed_precision == "measure" and accelerator.device.type == "cpu"
                                  and accelerator.mixed_precision == "no")
        if self.measure_precision and self.world_size > 1:
            log.warning("mixed_precision measure: %d processes would each choose; training in float32", self.world_size)
            self.measure_precision = False
        self.precision_choice: PrecisionChoice | None = None
        self._bf16 = False  # our own bf16 autocast (the measured choice), not the accelerator's

    # ------------------------------------------------------------------ setup helpers
    def _frame_source(self) -> FrameSource:
        d = self.config.data
        if d.frames == "synthetic":
            return SyntheticFrames(d.synthetic_size, d.synthetic_size, d.fps)
        root = d.video_root if d.video_root is not None else str(Path(d.train).resolve().parent)
        return VideoFileFrames(root, d.fps, d.max_side)

    def _param_groups(self, model: torch.nn.Module) -> list[dict[str, Any]]:
        decay, no_decay = [], []
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            (no_decay if p.ndim < 2 or "norm" in name.lower() else decay).append(p)
        wd = self.config.optim.weight_decay
        return [g for g in ({"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0})
                if g["params"]]

    @property
    def is_main(self) -> bool:
        """True on the process that writes files and shows progress."""
        return bool(self.accelerator.is_main_process)

    # ------------------------------------------------------------------ the loop
    def loss(self, batch: Batch) -> LossOutput:
        """Forward ``batch`` and return the configured loss."""
        if batch.input_ids.shape[0] == 0:
            zero = sum((p * 0).sum() for p in self.model.parameters() if p.requires_grad)
            z = torch.zeros(0, device=batch.input_ids.device)
            return LossOutput(zero, z, z.long())  # type: ignore[arg-type]
        variant, hard = self.config.train.loss, self.config.train.hard_silent_weight
        focal = self.config.train.focal_gamma
        if not self.config.train.sparse_logits:
            logits = self._logits(batch, None)
            return self._with_auxiliary(
                stream_loss(logits, batch.input_ids, batch.kinds, batch.n_silent, variant, hard, focal), batch)
        mask, _ = supervision(batch.kinds, batch.n_silent, variant)
        positions = predicting_positions(mask)
        logits = self._logits(batch, positions)
        return self._with_auxiliary(
            sparse_stream_loss(logits, positions, batch.input_ids, batch.kinds, batch.n_silent, variant, hard, focal),
            batch)

    def _logits(self, batch: Batch, positions: torch.Tensor | None) -> torch.Tensor:
        if not self._bf16:
            return self.loaded.logits(self.model, batch, positions)
        with torch.autocast("cpu", dtype=torch.bfloat16):  # as the accelerator's bf16: the forward alone
            return self.loaded.logits(self.model, batch, positions).float()

    def time_precisions(self, batches: list[Batch]) -> PrecisionChoice:
        """Time forward + backward of ``batches`` in float32 and under bf16 autocast and train on in the
        faster (``mixed_precision: measure``); the weights, buffers, gradients and torch's RNG are as before."""
        params = [p for p in self.model.parameters() if p.requires_grad]
        buffers = [(b, b.detach().clone()) for b in self.model.buffers()]
        rng = torch.random.get_rng_state()

        def step(bf16: bool) -> None:
            self._bf16 = bf16
            for batch in batches:
                self.loss(batch).loss.backward()
                for p in params:
                    p.grad = None

        try:
            times = time_alternating(step, (False, True), repeats=MEASURE_REPEATS)
        finally:
            for p in params:
                p.grad = None
            with torch.no_grad():
                for b, saved in buffers:
                    b.copy_(saved)
            torch.random.set_rng_state(rng)
        choice = choose_precision(times[False], times[True])
        self._use_precision(choice)
        if self.is_main:
            atomic_write_text(self.out / PRECISION_FILE, json.dumps(choice.to_json(), indent=2) + "\n")
        log.info("mixed_precision measure: float32 %.0f ms, bf16 %.0f ms for %d micro-batches (%.2fx): "
                 "training in %s", choice.fp32_ms, choice.bf16_ms, len(batches), choice.speedup,
                 "bf16" if choice.precision == "bf16" else "float32")
        return choice

    def _use_precision(self, choice: PrecisionChoice) -> None:
        self.precision_choice = choice
        self._bf16 = choice.precision == "bf16"

    def _resumed_precision(self) -> None:
        """A resumed run keeps the precision it chose (``precision.json``), so its steps stay alike."""
        path = self.out / PRECISION_FILE
        if not path.is_file():
            return
        try:
            self._use_precision(PrecisionChoice.from_json(json.loads(path.read_text())))
        except ValueError as exc:  # bad JSON or not a choice
            raise ConfigError(f"--resume: {path} is unreadable ({exc}); remove it to measure again") from None

    def _with_auxiliary(self, out: LossOutput, batch: Batch) -> LossOutput:
        """``out`` plus the model's own auxiliary loss for the batch just forwarded, when the model
        has one (``auxiliary_loss(input_ids)``, e.g. nano's question-state read-out)."""
        aux = getattr(self.accelerator.unwrap_model(self.model), "auxiliary_loss", None)
        extra = aux(batch.input_ids) if aux is not None else None
        if extra is None:
            return out
        return LossOutput(out.loss + extra, out.per_sample, out.n_tokens)

    def _auxiliary_log(self) -> dict[str, float]:
        """The model's last auxiliary loss (unweighted) for the metrics row, if it has one."""
        value = getattr(self.accelerator.unwrap_model(self.model), "last_auxiliary", None)
        return {} if value is None else {"auxiliary_loss": float(value)}

    def _built(self, batches: Iterator[list[dict[str, Any]]], limit: int, done: int) -> Iterator[tuple[int, Batch]]:
        """(index, batch) of an epoch's micro-batches still to train on, built in order: the first
        ``limit`` of them less the first ``done`` (trained on before a resume: skipped unencoded)."""
        for i, group in enumerate(batches):
            if i >= limit:
                return
            if i >= done:
                yield i, self.builder.build(group).to(self.accelerator.device)

    def train(self, *, resume: bool = False, stop_after: int | None = None,
              on_step: Callable[[int, float], None] | None = None) -> TrainResult:
        """Train until ``total_steps`` (or ``stop_after`` more steps); checkpoint as configured.

        ``resume`` continues from the newest complete checkpoint in ``output_dir`` (error if
        none); without it, an ``output_dir`` that already holds checkpoints is an error, so no
        run is overwritten.
        """
        acc, cfg = self.accelerator, self.config.train
        existing = check_output_dir(self.out, resume)
        if resume:
            self._load(existing[-1])
            if self.measure_precision:
                self._resumed_precision()
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.out / "config.yaml", config_to_yaml(self.config))
            self._open_tensorboard()
        st = self.state
        result = TrainResult(start_step=st.step, step=st.step, total_steps=self.total_steps)
        if st.step >= self.total_steps:
            return result
        from tqdm.auto import tqdm

        bar = tqdm(total=self.total_steps, initial=st.step, unit="step", dynamic_ncols=True,
                   disable=not (self.is_main and cfg.progress), desc="train")
        skip_bad = self.config.data.on_bad_sample == "skip"
        limit = self.steps_per_epoch * self.grad_accum
        step_losses: list[float] = []
        step_tokens = 0
        window_tokens, window_start = 0, time.perf_counter()
        done = False
        self.model.train()
        try:
            while st.epoch < cfg.epochs and not done:
                rows = iter_samples(self.config.data.train, skip_bad=skip_bad)
                batches = shard(plan_micro_batches(rows, self.plan, st.epoch), acc.process_index, self.world_size)
                built = self._built(batches, limit, st.epoch_micro_batches)
                if self.measure_precision and self.precision_choice is None:
                    head = list(itertools.islice(built, MEASURE_BATCHES))  # built in order: the same batches
                    if head:
                        self.time_precisions([b for _, b in head])
                    built = itertools.chain(head, built)
                for i, batch in built:
                    with acc.accumulate(self.model):
                        out = self.loss(batch)
                        acc.backward(out.loss)
                        grad_norm = None
                        if acc.sync_gradients and self.config.optim.max_grad_norm:
                            grad_norm = acc.clip_grad_norm_(self.model.parameters(), self.config.optim.max_grad_norm)
                        self.optimizer.step()
                        self.optimizer.zero_grad(set_to_none=True)
                    st.epoch_micro_batches = i + 1
                    step_losses.append(float(out.loss.detach()))
                    step_tokens += batch.n_tokens
                    st.samples_seen += len(batch.ids)
                    if not acc.sync_gradients:
                        continue
                    self.scheduler.step()
                    if self.ema is not None:
                        self.ema.update_parameters(acc.unwrap_model(self.model))
                    st.step += 1
                    loss_t = torch.tensor([sum(step_losses) / len(step_losses), float(step_tokens)], device=acc.device)
                    loss_t = acc.reduce(loss_t, reduction="sum")
                    step_loss = float(loss_t[0]) / self.world_size
                    tokens = int(loss_t[1])
                    st.tokens_seen += tokens
                    window_tokens += tokens
                    step_losses, step_tokens = [], 0
                    result.losses.append(step_loss)
                    if on_step is not None:
                        on_step(st.step, step_loss)
                    elapsed = time.perf_counter() - window_start
                    tps = window_tokens / elapsed if elapsed > 0 else 0.0
                    bar.update(1)
                    bar.set_postfix(loss=f"{step_loss:.4f}", tok_s=f"{tps:,.0f}", refresh=False)
                    if st.step % cfg.log_every == 0 or st.step == self.total_steps:
                        self._log({
                            "step": st.step, "epoch": st.epoch, "loss": step_loss,
                            "lr": self.scheduler.get_last_lr()[0],
                            "grad_norm": None if grad_norm is None else float(grad_norm),
                            "tokens": tokens, "tokens_per_s": tps, "samples_seen": st.samples_seen,
                            "skipped_samples": self.builder.skipped,
                            **self._auxiliary_log(),
                        })
                        window_tokens, window_start = 0, time.perf_counter()
                    finished = st.step >= self.total_steps
                    stopping = stop_after is not None and st.step - result.start_step >= stop_after
                    if st.step % cfg.save_every == 0 or finished or stopping:
                        result.checkpoint = self.save()
                    if finished or stopping:
                        done = True
                        break
                if not done:
                    st.epoch += 1
                    st.epoch_micro_batches = 0
        finally:
            bar.close()
            if self._tb is not None:
                self._tb.close()
        result.step = st.step
        result.skipped_samples = self.builder.skipped
        return result

    # ------------------------------------------------------------------ logging
    def _open_tensorboard(self) -> None:
        if not self.config.train.tensorboard:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            log.warning("train.tensorboard is set but tensorboard is not installed; metrics go to metrics.jsonl only")
            return
        self._tb = SummaryWriter(str(self.out / "tensorboard"))

    def _log(self, row: dict[str, Any]) -> None:
        if not self.is_main:
            return
        append_jsonl(self.out / "metrics.jsonl", {**row, "time": time.time()})
        if self._tb is not None:
            for k, v in row.items():
                if isinstance(v, (int, float)) and k != "step":
                    self._tb.add_scalar(f"train/{k}", v, row["step"])

    # ------------------------------------------------------------------ checkpoints
    def save(self) -> Path:
        """Write a checkpoint of the current step (all processes must call); return its path."""
        acc = self.accelerator
        root = self.out / "checkpoints"
        final = root / f"{CKPT_PREFIX}{self.state.step:08d}"
        tmp = root / f".{final.name}.tmp"
        if self.is_main:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        acc.wait_for_everyone()
        with _tied_weights_quiet():
            acc.save_state(str(tmp / "state"), safe_serialization=True)
        exported = self.inference_model()
        trained = exported is acc.unwrap_model(self.model)
        state_dict = acc.get_state_dict(self.model) if trained else exported.state_dict()
        if self.is_main:
            self.loaded.save_model(exported, state_dict, Path(self.config.model.path), tmp / "model")
            atomic_write_text(tmp / "config.yaml", config_to_yaml(self.config))
            atomic_write_text(tmp / STATE_FILE, self.state.to_json())
            if final.exists():
                shutil.rmtree(final)
            tmp.rename(final)
            for old in list_checkpoints(self.out)[: -self.config.train.keep_checkpoints]:
                shutil.rmtree(old, ignore_errors=True)
        acc.wait_for_everyone()
        return final

    def inference_model(self) -> torch.nn.Module:
        """The weights a checkpoint's ``model/`` holds: the moving average when ``optim.ema_decay``
        is set (the last step's weights until the first step), else the trained model, unwrapped."""
        if self.ema is not None and int(self.ema.n_averaged) > 0:
            return self.ema.module
        return self.accelerator.unwrap_model(self.model)

    def _load(self, ckpt: Path) -> None:
        saved = json.loads((ckpt / STATE_FILE).read_text())
        state = TrainerState(**saved)
        for key, now in (("world_size", self.world_size), ("grad_accum", self.grad_accum),
                         ("micro_batch_size", self.config.train.micro_batch_size), ("seed", self.config.train.seed)):
            if getattr(state, key) != now:
                raise ConfigError(
                    f"--resume: {ckpt.name} was trained with {key}={getattr(state, key)}, now {now}; "
                    "the data order would differ"
                )
        if state.total_steps != self.total_steps:
            raise ConfigError(f"--resume: {ckpt.name} planned {state.total_steps} steps, now {self.total_steps}")
        self.accelerator.load_state(str(ckpt / "state"))
        self.state = state
        log.info("resumed from %s at step %d", ckpt, state.step)


def read_metrics(output_dir: str | Path) -> list[dict[str, Any]]:
    """The metrics rows a run wrote (``metrics.jsonl``), in order."""
    return [row for _, row in iter_jsonl(Path(output_dir) / "metrics.jsonl")]


def median(values: list[float]) -> float:
    """The median of ``values``."""
    return float(np.median(np.asarray(values, dtype=np.float64))) if values else math.nan
