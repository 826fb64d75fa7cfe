"""Stage 0 of the nano recipe: pre-training the frame encoder on the world's exact labels.

Every real VLM starts from a pre-trained vision tower (CLIP, SigLIP); nano has none, and a frame
encoder trained from scratch only through the language loss stays unused: the decoder learns
the answers' wording long before it learns to read the visual tokens, and then ignores them.
So, as an ImageNet- or CLIP-style step before any text, the encoder is trained to say what is
in each cell of its token grid, for each frame of the chunk (empty, or which colour and shape
has its centre there), and, from the mean of its tokens, which colour-shape pairs each frame
shows and how many objects the chunk's last frame shows. The mean matters: a decoder head that
attends evenly over a chunk's tokens reads exactly that mean, so "is there a red triangle" is
one linear read-out away from the start of the language stages. The heads are thrown
away; the encoder (with its position embedding) starts the language stages.

With the ``slots`` read-out the count, presence and event labels are not learnt by throw-away
heads but by the encoder's own per-slot beliefs (the red-triangle slot says whether each frame
shows a red triangle and whether one appeared or vanished in the chunk; the scene slot says how
many objects there are and what kinds of event happened), which stay in the visual tokens, so
the decoder reads each answer from one slot. Only the cell read-out is thrown away.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from aura.models.nano.config import EVENT_KINDS, N_PAIRS, NanoConfig
from aura.models.nano.model import FrameEncoder
from aura.world.physics import simulate
from aura.world.scene import Scene
from aura.world.vocab import COLOURS, MAX_OBJECTS, SHAPES

N_CELL_CLASSES = 1 + N_PAIRS
"""Per grid cell: empty, or one colour-shape pair."""

N_EVENT_LABELS = 2 * N_PAIRS + len(EVENT_KINDS)
"""Per chunk: which pairs newly show, which pairs stop showing, and which kinds of event happen."""


def cell_class(colour: str, shape: str) -> int:
    """The class index of an object of ``colour`` and ``shape`` (0 is the empty cell)."""
    return 1 + COLOURS.index(colour) * len(SHAPES) + SHAPES.index(shape)  # type: ignore[arg-type]


def chunk_labels(scene: Scene, grid: int, frames_per_chunk: int = 2,
                 fps: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Labels of every whole chunk of ``scene``: cells (n, frames, grid*grid) and count (n,).

    A smaller object whose centre shares a cell with a larger one is not in ``cells``;
    ``chunk_presence`` lists every visible pair.

    A cell's label is the object whose centre lies in it (the largest, if several) at that
    frame's instant, in the frame squeezed to a square as the encoder sees it.
    """
    paths = simulate(scene)
    n_chunks = math.floor(scene.duration + 1e-9)
    cells = np.zeros((n_chunks, frames_per_chunk, grid * grid), dtype=np.int64)
    counts = np.zeros(n_chunks, dtype=np.int64)
    order = sorted(range(len(scene.objects)), key=lambda i: scene.objects[i].size)
    for k in range(n_chunks):
        for f in range(frames_per_chunk):
            t = k + f / fps
            centres = paths.at(t)
            alive = [i for i in order if scene.objects[i].alive(t)]
            for i in alive:
                x, y = centres[i]
                if not (np.isfinite(x) and np.isfinite(y)):
                    continue
                col = min(grid - 1, max(0, int(x / scene.width * grid)))
                row = min(grid - 1, max(0, int(y * grid)))
                o = scene.objects[i]
                cells[k, f, row * grid + col] = cell_class(o.colour_at(t), o.shape)
            if f == frames_per_chunk - 1:
                counts[k] = len(alive)
    return cells, counts


def chunk_presence(scene: Scene, frames_per_chunk: int = 2, context_frames: int = 0, fps: float = 2.0) -> np.ndarray:
    """Multi-hot (n, context + frames, 12): which colour-shape pairs each frame the encoder sees
    for each whole chunk shows (context frames before time 0 are frame 0, as the encoder gets them)."""
    n_chunks = math.floor(scene.duration + 1e-9)
    n_in = context_frames + frames_per_chunk
    out = np.zeros((n_chunks, n_in, N_CELL_CLASSES - 1), dtype=np.float32)
    for k in range(n_chunks):
        for f in range(n_in):
            for o in scene.state(max(0.0, k + (f - context_frames) / fps)):
                out[k, f, cell_class(o.colour, o.shape) - 1] = 1.0
    return out


def chunk_events(scene: Scene, frames_per_chunk: int = 2, context_frames: int = 0, fps: float = 2.0) -> np.ndarray:
    """Multi-hot (n, 27) of the events each whole chunk's encoder input shows happening: an
    event counts when its first sampling instant is after the input's first frame and at or
    before its last. Columns: pairs that newly show (an object appears, or takes that colour),
    pairs that stop showing (an object disappears, or loses that colour), then the event kinds
    appear / disappear / colour."""
    n_chunks = math.floor(scene.duration + 1e-9)
    out = np.zeros((n_chunks, N_EVENT_LABELS), dtype=np.float32)
    for e in scene.events:
        for k in range(n_chunks):
            first = max(0.0, k - context_frames / fps)
            last = k + (frames_per_chunk - 1) / fps
            if not first < e.sample_time <= last + 1e-9:
                continue
            if e.kind in ("appear", "colour"):
                out[k, cell_class(e.colour, e.shape) - 1] = 1.0
            if e.kind == "disappear":
                out[k, N_PAIRS + cell_class(e.colour, e.shape) - 1] = 1.0
            if e.kind == "colour" and e.old_colour is not None:
                out[k, N_PAIRS + cell_class(e.old_colour, e.shape) - 1] = 1.0
            out[k, 2 * N_PAIRS + EVENT_KINDS.index(e.kind)] = 1.0
    return out


class VisionHeads(nn.Module):
    """Read-outs used only in pre-training: per-cell classes (from the tokens, or with slots from
    the feature map pooled to the label grid); the object count, per-frame presence and the
    chunk's events from the mean token (grid) or from the slots' own beliefs (slots)."""

    def __init__(self, cfg: NanoConfig) -> None:
        super().__init__()
        c = cfg.vision_channels[-1]
        self.frames = cfg.frames_per_chunk
        self.inputs = cfg.input_frames
        self.grid = cfg.grid
        self.slots = cfg.visual_readout == "slots"
        self.pair_events, self.scene_kinds = cfg.pair_event_beliefs, cfg.scene_kind_beliefs
        self.cells = nn.Linear(c, cfg.frames_per_chunk * N_CELL_CLASSES)
        if not self.slots:
            self.count = nn.Linear(c, MAX_OBJECTS + 1)
            self.presence = nn.Linear(c, cfg.input_frames * N_PAIRS)
            self.events = nn.Linear(c, N_EVENT_LABELS)

    def forward(self, tokens: torch.Tensor, beliefs: torch.Tensor | None,
                feature_map: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Cell logits (B, F, grid*grid, 13), count logits (B, 6), presence logits (B, F_in, 12) and
        event logits (B, 27), from ``FrameEncoder.parts``."""
        if beliefs is None:
            b, t, _ = tokens.shape
            cells = self.cells(tokens).view(b, t, self.frames, N_CELL_CLASSES).transpose(1, 2)
            mean = tokens.mean(dim=1)
            presence = self.presence(mean).view(b, self.inputs, N_PAIRS)
            return cells, self.count(mean), presence, self.events(mean)
        pooled = F.adaptive_avg_pool2d(feature_map, self.grid).flatten(2).transpose(1, 2)  # (B, g*g, C)
        b, t, _ = pooled.shape
        cells = self.cells(pooled).view(b, t, self.frames, N_CELL_CLASSES).transpose(1, 2)
        pairs, scene = beliefs[:, :N_PAIRS], beliefs[:, N_PAIRS]
        f = self.inputs
        presence = pairs[:, :, :f].transpose(1, 2)
        appeared_vanished = pairs[:, :, self.pair_events].transpose(1, 2).flatten(1)  # (B, 2 * 12)
        events = torch.cat([appeared_vanished, scene[:, self.scene_kinds]], dim=1)
        return cells, scene[:, : MAX_OBJECTS + 1], presence, events


@dataclass
class VisionData:
    """Pre-training examples: uint8 encoder frames (n, F_in, S, S, 3), cell labels (n, F, T), counts (n,),
    presence (n, F_in, 12) and events (n, 27); ``streams`` (n,) says which stream each chunk is from
    (chunks of a stream are contiguous), when known."""

    frames: np.ndarray
    cells: np.ndarray
    counts: np.ndarray
    presence: np.ndarray
    events: np.ndarray
    streams: np.ndarray | None = None


@dataclass
class VisionReport:
    """How the pre-trained encoder does on held-out chunks."""

    steps: int
    cell_accuracy: float
    object_cell_accuracy: float
    count_accuracy: float
    presence_accuracy: float
    event_accuracy: float = 0.0
    """Share of chunks whose whole event vector is right."""
    event_kind_recall: float = 0.0
    """Share of (chunk, kind) events found by the kind columns."""
    event_kind_precision: float = 0.0
    """Share of kind columns switched on that are real events."""
    presence_recall: float = 0.0
    """Share of (frame, visible pair) the pair's presence belief finds."""
    presence_false_positive: float = 0.0
    """Share of (frame, absent pair) the pair's presence belief claims."""
    appeared_recall: float = 0.0
    """Share of (chunk, newly shown pair) the pair's appeared belief finds."""
    appeared_precision: float = 0.0
    """Share of appeared beliefs switched on that are real."""
    vanished_recall: float = 0.0
    """Share of (chunk, pair that stops showing) the pair's vanished belief finds."""
    vanished_precision: float = 0.0
    """Share of vanished beliefs switched on that are real."""


def pretrain_vision(
    cfg: NanoConfig,
    train: VisionData,
    val: VisionData,
    *,
    epochs: int = 3,
    batch_size: int = 128,
    lr: float = 3e-3,
    seed: int = 0,
    pixels: Callable[[np.ndarray], torch.Tensor],
    progress: bool = True,
    event_weight: float = 0.0,
    flip: bool = False,
    swap_share: float = 0.0,
    bf16: bool = False,
) -> tuple[FrameEncoder, VisionReport]:
    """Train a fresh ``FrameEncoder`` on ``train``; report accuracy on ``val``.

    ``pixels`` turns uint8 frames (B, F, S, S, 3) into the encoder's input (B, F*3, S, S).
    ``event_weight`` > 0 also trains the event labels (``chunk_events``) with that weight; their
    accuracy is reported either way (near chance without them). ``flip`` mirrors a random half of
    each batch left to right (with its cell labels): every shape of the world is symmetric about
    its vertical axis, so the labels stay true and the encoder sees twice the layouts.
    ``swap_share`` replaces the context frames of that share of each batch with the last frames of
    another chunk of the same stream (``swap_context``): the presence of the pairs then differs
    between the input frames far more often than real events make it, so the encoder learns to
    say which frame shows what instead of smearing one chunk's objects over all its frames.
    ``bf16`` runs the forward pass under bfloat16 autocast (float32 weights, optimiser and losses).
    Deterministic for a given ``seed`` on one thread count.
    """
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    encoder, heads = FrameEncoder(cfg), VisionHeads(cfg)
    params = list(encoder.parameters()) + list(heads.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    n = len(train.counts)
    steps = max(1, epochs * (n // batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    rng = np.random.default_rng(seed)
    pos_weight = torch.full((N_EVENT_LABELS,), 4.0)  # events are rare: weigh them up where they happen
    encoder.train()
    heads.train()
    bar = tqdm(total=steps, desc="vision pre-training", unit="step", disable=not progress)
    step = 0
    while step < steps:
        for idx in np.array_split(rng.permutation(n), max(1, n // batch_size)):
            if step >= steps:
                break
            frames, cell_labels = train.frames[idx], train.cells[idx]
            want_presence, want_events = train.presence[idx], train.events[idx]
            event_mask = np.ones_like(want_events)
            if swap_share > 0 and cfg.context_frames > 0:
                frames, want_presence, want_events, event_mask = swap_context(
                    train, idx, rng.random(len(idx)) < swap_share, cfg.context_frames, rng)
            if flip:
                frames, cell_labels = mirror(frames, cell_labels, cfg.grid, rng.random(len(idx)) < 0.5)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                cells, count, presence, events = (o.float() for o in heads(*encoder.parts(pixels(frames))))
            loss = F.cross_entropy(cells.reshape(-1, N_CELL_CLASSES), torch.from_numpy(cell_labels).reshape(-1))
            loss = loss + F.cross_entropy(count, torch.from_numpy(train.counts[idx]))
            loss = loss + F.binary_cross_entropy_with_logits(presence, torch.from_numpy(want_presence)) * 12
            if event_weight > 0:
                loss = loss + F.binary_cross_entropy_with_logits(
                    events, torch.from_numpy(want_events), weight=torch.from_numpy(event_mask),
                    pos_weight=pos_weight) * 12 * event_weight
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    return encoder, evaluate_vision(encoder, heads, val, pixels, steps)


def swap_context(data: VisionData, idx: np.ndarray, which: np.ndarray, context: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Frames, presence, events and an event-label mask for the chunks ``idx`` of ``data``, where
    the chunks ``which`` (bool, len(idx)) see as their ``context`` first frames the last ``context``
    frames of another chunk of their stream, drawn at random. Their labels follow: presence is the
    frames' own, a pair appeared when the first frame lacks it and the last shows it (vanished in
    reverse), and the event kinds, which a spliced chunk does not define, are masked out (0)."""
    frames, presence, events = data.frames[idx].copy(), data.presence[idx].copy(), data.events[idx].copy()
    mask = np.ones_like(events)
    if data.streams is None or not which.any():
        return frames, presence, events, mask
    streams = data.streams
    starts = np.searchsorted(streams, streams[idx], side="left")
    ends = np.searchsorted(streams, streams[idx], side="right")
    for row in np.nonzero(which)[0]:
        j = int(rng.integers(starts[row], ends[row]))
        frames[row, :context] = data.frames[j, -context:]
        presence[row, :context] = data.presence[j, -context:]
        first, last = presence[row, 0] > 0.5, presence[row, -1] > 0.5
        events[row, :N_PAIRS] = first < last
        events[row, N_PAIRS : 2 * N_PAIRS] = first > last
        mask[row, 2 * N_PAIRS :] = 0.0
    return frames, presence, events, mask


def mirror(frames: np.ndarray, cells: np.ndarray, grid: int, which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frames (B, F, S, S, 3) and cell labels (B, F, grid*grid) with the examples ``which`` (B,)
    mirrored left to right (the inputs are not modified)."""
    frames, cells = frames.copy(), cells.copy()
    frames[which] = frames[which][:, :, :, ::-1]
    f = cells.shape[1]
    cells[which] = cells[which].reshape(-1, f, grid, grid)[..., ::-1].reshape(-1, f, grid * grid)
    return frames, cells


def evaluate_vision(encoder: FrameEncoder, heads: VisionHeads, data: VisionData,
                    pixels: Callable[[np.ndarray], torch.Tensor], steps: int = 0) -> VisionReport:
    """Cell accuracy (all cells, and cells holding an object), count accuracy and the share of
    frames whose presence vector is exactly right, on ``data``."""
    encoder.eval()
    heads.eval()
    right = objects = right_objects = total = right_count = right_presence = 0
    right_events = kinds_true = kinds_found = kinds_on = 0
    tally = np.zeros((3, 3), dtype=np.int64)  # presence / appeared / vanished: (true, found, switched on)
    absent = claimed = 0
    with torch.inference_mode():
        for idx in np.array_split(np.arange(len(data.counts)), max(1, len(data.counts) // 256)):
            cells, count, presence, events = heads(*encoder.parts(pixels(data.frames[idx])))
            exact = ((presence > 0).float() == torch.from_numpy(data.presence[idx])).all(dim=-1)
            right_presence += int(exact.sum())
            want_events = torch.from_numpy(data.events[idx]) > 0.5
            got_events = events > 0
            want_presence = torch.from_numpy(data.presence[idx]) > 0.5
            for row, (want, got) in enumerate(((want_presence, presence > 0),
                                               (want_events[:, :N_PAIRS], got_events[:, :N_PAIRS]),
                                               (want_events[:, N_PAIRS : 2 * N_PAIRS],
                                                got_events[:, N_PAIRS : 2 * N_PAIRS]))):
                tally[row] += [int(want.sum()), int((want & got).sum()), int(got.sum())]
            absent += int((~want_presence).sum())
            claimed += int((~want_presence & (presence > 0)).sum())
            right_events += int((got_events == want_events).all(dim=-1).sum())
            kinds_true += int(want_events[:, 2 * N_PAIRS :].sum())
            kinds_on += int(got_events[:, 2 * N_PAIRS :].sum())
            kinds_found += int((want_events & got_events)[:, 2 * N_PAIRS :].sum())
            want = torch.from_numpy(data.cells[idx])
            got = cells.argmax(-1)
            right += int((got == want).sum())
            total += want.numel()
            has = want > 0
            objects += int(has.sum())
            right_objects += int(((got == want) & has).sum())
            right_count += int((count.argmax(-1) == torch.from_numpy(data.counts[idx])).sum())
    encoder.train()
    n = max(len(data.counts), 1)
    recall = tally[:, 1] / np.maximum(tally[:, 0], 1)
    precision = tally[:, 1] / np.maximum(tally[:, 2], 1)
    return VisionReport(steps, right / max(total, 1), right_objects / max(objects, 1), right_count / n,
                        right_presence / (n * data.presence.shape[1]), right_events / n,
                        kinds_found / max(kinds_true, 1), kinds_found / max(kinds_on, 1),
                        float(recall[0]), claimed / max(absent, 1), float(recall[1]), float(precision[1]),
                        float(recall[2]), float(precision[2]))
