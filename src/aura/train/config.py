"""Typed training configuration: a YAML file, validated by pydantic, plus ``key=value`` overrides.

Unknown keys, wrong types and bad values are one-line ``ConfigError``s naming the file and key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from aura.errors import ConfigError
from aura.train.loss import LossVariant

ChatStyle = Literal["auto", "qwen3_vl", "qwen2_5_vl", "plain"]
MixedPrecision = Literal["auto", "bf16", "fp16", "no", "measure"]

LLM_LINEAR_LAYERS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoraConfig(_Section):
    """LoRA adapters (peft) on the language model's linear layers."""

    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] = Field(default_factory=lambda: list(LLM_LINEAR_LAYERS))
    language_model_only: bool = True


class ModelConfig(_Section):
    """Which checkpoint to fine-tune and which parts of it train."""

    path: str = Field(description="local checkpoint directory (from_pretrained); nothing is downloaded")
    chat_style: ChatStyle = "auto"
    add_silent_token: bool = Field(True, description="add <|silent|> to a tokenizer that lacks it (base checkpoints)")
    freeze_vision: bool = True
    freeze_projector: bool = True
    vision_prefixes: list[str] = Field(default_factory=lambda: ["visual.", "vision_tower.", "vision_model.", "vision."])
    projector_markers: list[str] = Field(default_factory=lambda: ["merger", "projector"])
    lora: LoraConfig | None = None
    gradient_checkpointing: bool = False
    max_pixels: int | None = Field(None, ge=1, description="cap on pixels per frame (default: the checkpoint's)")


class DataConfig(_Section):
    """The training samples and how they are read, grouped and turned into pixels."""

    train: str = Field(description="samples JSONL written by `aura stream unroll` / the data engine")
    video_root: str | None = None
    frames: Literal["video", "synthetic"] = "video"
    synthetic_size: int = Field(64, ge=8)
    max_side: int | None = Field(448, ge=8)
    fps: float = Field(2.0, gt=0)
    max_length: int = Field(16384, ge=8)
    on_bad_sample: Literal["stop", "skip"] = "stop"
    group_buffer: int = Field(32, ge=1, description="micro-batches per length-grouping buffer")
    video_tokens_estimate: int = Field(64, ge=0, description="tokens per chunk assumed when grouping by length")
    pixel_cache_parts: int = Field(256, ge=0)


class OptimConfig(_Section):
    """AdamW, cosine schedule with linear warm-up, gradient clipping."""

    lr: float = Field(1e-5, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = Field(1e-8, gt=0)
    warmup_ratio: float = Field(0.03, ge=0, le=1)
    warmup_steps: int | None = Field(None, ge=0)
    min_lr_ratio: float = Field(0.0, ge=0, le=1)
    max_grad_norm: float | None = Field(1.0, gt=0)
    ema_decay: float | None = Field(
        None, gt=0, lt=1, description="keep an exponential moving average of the weights with this decay per "
        "optimizer step (e.g. 0.998); checkpoints' model/ then holds the average, state/ both; unset: none")


class TrainConfig(_Section):
    """The loop: batch sizes, length, precision, checkpoints, logging."""

    output_dir: str = "runs/aura"
    loss: LossVariant = "balanced"
    hard_silent_weight: float | None = Field(
        None, ge=0, description="balanced loss: per-token weight of silent turns a sample marks \"hard\": true "
        "(hard negatives) instead of 1/N_silent; unset: like any silent turn")
    focal_gamma: float = Field(0.0, ge=0, description="focal exponent: each supervised token's loss is also "
                               "weighed by (1 - p)^gamma, so well-predicted tokens weigh little; 0: off")
    epochs: int = Field(1, ge=1)
    max_steps: int | None = Field(None, ge=1)
    global_batch_size: int = Field(128, ge=1)
    micro_batch_size: int = Field(1, ge=1)
    mixed_precision: MixedPrecision = Field(
        "auto", description="auto: bf16 on a GPU that supports it, else float32; measure: on one CPU process, time "
        "float32 and bf16 autocast on the first batch and keep the faster (precision.json; a GPU: as auto)")
    sparse_logits: bool = Field(True, description="compute logits only where the next token is supervised")
    seed: int = 0
    save_every: int = Field(500, ge=1)
    keep_checkpoints: int = Field(2, ge=1)
    log_every: int = Field(1, ge=1)
    tensorboard: bool = False
    progress: bool = True

    @field_validator("mixed_precision", mode="before")
    @classmethod
    def _yaml_no(cls, value: Any) -> Any:
        return "no" if value is False else value  # YAML reads an unquoted `no` as false


class Config(_Section):
    """A whole training run."""

    model: ModelConfig
    data: DataConfig
    optim: OptimConfig = Field(default_factory=OptimConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)

    @model_validator(mode="after")
    def _check(self) -> Config:
        if self.train.global_batch_size % self.train.micro_batch_size:
            raise ValueError(
                f"global_batch_size {self.train.global_batch_size} is not a multiple of "
                f"micro_batch_size {self.train.micro_batch_size}"
            )
        return self

    def grad_accum(self, world_size: int) -> int:
        """Micro-batches per optimizer step on each process for the configured global batch."""
        per_step = self.train.micro_batch_size * world_size
        if self.train.global_batch_size % per_step:
            raise ConfigError(
                f"global_batch_size {self.train.global_batch_size} is not a multiple of "
                f"micro_batch_size x processes = {per_step}"
            )
        return self.train.global_batch_size // per_step


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(x) for x in loc) or "(top level)"


def validate_config(data: Any, source: str = "config") -> Config:
    """A ``Config`` from plain data; raises ``ConfigError`` (one line) on the first problem."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of sections (model, data, optim, train)")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = _where(err["loc"])
        if err["type"] == "extra_forbidden":
            raise ConfigError(f"{source}: unknown key {where!r}") from None
        if err["type"] == "missing":
            raise ConfigError(f"{source}: missing key {where!r}") from None
        msg = err["msg"].replace("\n", " ")
        raise ConfigError(f"{source}: {where}: {msg}") from None


def _parse_value(text: str) -> Any:
    """A YAML value; numbers YAML 1.1 leaves as strings (``2e-5``) become floats."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` overrides (values parsed as YAML) to raw config data."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form section.key=value")
        key, value = item.split("=", 1)
        parts = [p for p in key.strip().split(".") if p]
        if not parts:
            raise ConfigError(f"override {item!r} has an empty key")
        node = data
        for p in parts[:-1]:
            nxt = node.setdefault(p, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"override {item!r}: {p!r} is not a section")
            node = nxt
        node[parts[-1]] = _parse_value(value)
    return data


def load_config(path: str | Path, overrides: list[str] | None = None) -> Config:
    """Read a YAML config file, apply overrides, validate. Relative data/model paths stay as written."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: malformed YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections (model, data, optim, train)")
    apply_overrides(data, overrides or [])
    return validate_config(data, str(path))


def config_to_yaml(config: Config) -> str:
    """The configuration as YAML (saved beside checkpoints)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
