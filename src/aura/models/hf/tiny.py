"""Tiny random Qwen-VL checkpoints built in code, for tests and benchmarks (no downloads).

``build_tiny_checkpoint`` writes a directory that production code loads exactly like a real
checkpoint (``from_pretrained(local_dir)``): a random-weight Qwen3-VL or Qwen2.5-VL model, a
small byte-level BPE tokenizer trained on built-in English text with the Qwen special tokens,
a ChatML chat template, and a ``preprocessor_config.json`` with the patch geometry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from aura.models.hf.chat import CHATML_SPECIAL_TOKENS
from aura.stream.config import SILENT_TOKEN, SYSTEM_PROMPT

Arch = Literal["qwen3_vl", "qwen2_5_vl"]

QWEN_SPECIAL_TOKENS = list(CHATML_SPECIAL_TOKENS)

# Our own ChatML template (Qwen's conversation format): every message is
# "<|im_start|>ROLE\n" + content + "<|im_end|>\n"; a video part is one vision placeholder that
# the processor (or our ChatFormat) expands; the generation prompt opens an assistant turn.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}"
    "{{- message['content'] -}}"
    "{%- else -%}"
    "{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'video' -%}{{- '<|vision_start|><|video_pad|><|vision_end|>' -}}"
    "{%- elif part['type'] == 'image' -%}{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}"
    "{%- elif part['type'] == 'text' -%}{{- part['text'] -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)

_CORPUS = [
    SYSTEM_PROMPT,
    "OK, I will let you know when it happens.",
    "A red circle moves from the left side of the frame to the right side.",
    "The person picks up a blue cup and puts it on the wooden table.",
    "What colour is the square? It is green. Tell me when the dog appears.",
    "There are three cars in the street, and one of them is turning left now.",
    "The video shows a kitchen with a window, a sink and a plant near the door.",
    "Now the light turns green and the people start to cross the road quickly.",
    "How many birds are on the wire? I can see four birds sitting on the wire.",
    "The man is writing on a white board with a black pen while talking.",
    "Please describe what is happening in the scene right now in one sentence.",
    "A ball bounces twice and rolls under the chair near the wall.",
    "0 1 2 3 4 5 6 7 8 9 10 seconds minutes yes no maybe the a an of to in on at",
]


def _train_tokenizer(vocab_size: int, add_silent_token: bool):
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    specials = list(QWEN_SPECIAL_TOKENS) + ([SILENT_TOKEN] if add_silent_token else [])
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok


def build_tiny_tokenizer(path: str | Path, *, vocab_size: int = 400, add_silent_token: bool = True):
    """Train a small byte-level BPE with the Qwen special tokens and save it (HF format) under ``path``.

    Returns the loaded ``PreTrainedTokenizerFast``; ``<|silent|>`` is included when asked.
    """
    from transformers import PreTrainedTokenizerFast

    raw = _train_tokenizer(vocab_size, add_silent_token)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(str(path))
    return tokenizer


def _tiny_config(arch: Arch, vocab: int, ids: dict[str, int], hidden_size: int, num_layers: int,
                 vision_depth: int, vision_hidden: int, num_heads: int | None = None):
    heads = num_heads or max(1, hidden_size // 16)
    if hidden_size % heads or (hidden_size // heads) % 8:
        raise ValueError(f"hidden_size {hidden_size} does not split into {heads} heads of a multiple of 8")
    head_dim = hidden_size // heads
    half = head_dim // 2
    mrope = [half - 2 * (half // 4), half // 4, half // 4]  # temporal, height, width rotary sections
    text = dict(
        vocab_size=vocab,
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=heads,
        num_key_value_heads=max(1, heads // 2),
        head_dim=head_dim,
        max_position_embeddings=32768,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": mrope},
        bos_token_id=None,
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
        tie_word_embeddings=False,
    )
    vheads = max(1, vision_hidden // 16)
    common = dict(
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )
    if arch == "qwen3_vl":
        from transformers import Qwen3VLConfig

        vision = dict(
            depth=vision_depth,
            hidden_size=vision_hidden,
            intermediate_size=vision_hidden * 2,
            num_heads=vheads,
            patch_size=16,
            spatial_merge_size=2,
            temporal_patch_size=2,
            out_hidden_size=hidden_size,
            num_position_embeddings=256,
            deepstack_visual_indexes=list(range(min(vision_depth, num_layers, 2))),
        )
        cfg = Qwen3VLConfig(text_config=text, vision_config=vision, **common)
    elif arch == "qwen2_5_vl":
        from transformers import Qwen2_5_VLConfig

        vision = dict(
            depth=vision_depth,
            hidden_size=vision_hidden,
            intermediate_size=vision_hidden * 2,
            num_heads=vheads,
            patch_size=14,
            spatial_merge_size=2,
            temporal_patch_size=2,
            tokens_per_second=2,
            window_size=56,
            fullatt_block_indexes=[vision_depth - 1],
            out_hidden_size=hidden_size,
        )
        cfg = Qwen2_5_VLConfig(text_config=text, vision_config=vision, **common)
    else:
        raise ValueError(f"unknown tiny architecture {arch!r} (expected qwen3_vl or qwen2_5_vl)")
    cfg.bos_token_id = None
    cfg.text_config.bos_token_id = None
    return cfg


def preprocessor_settings(arch: Arch, *, min_pixels: int | None = None, max_pixels: int | None = None) -> dict:
    """The ``preprocessor_config.json`` content for a tiny checkpoint of ``arch``."""
    if arch == "qwen3_vl":
        patch, mean, std = 16, [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]
        proc = "Qwen2VLImageProcessor"
    else:
        patch = 14
        mean = [0.48145466, 0.4578275, 0.40821073]
        std = [0.26862954, 0.26130258, 0.27577711]
        proc = "Qwen2VLImageProcessor"
    factor = patch * 2
    return {
        "image_processor_type": proc,
        "patch_size": patch,
        "temporal_patch_size": 2,
        "merge_size": 2,
        "image_mean": mean,
        "image_std": std,
        "do_resize": True,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "do_convert_rgb": True,
        "size": {
            "shortest_edge": min_pixels if min_pixels is not None else factor * factor,
            "longest_edge": max_pixels if max_pixels is not None else factor * factor * 16,
        },
        "min_pixels": min_pixels if min_pixels is not None else factor * factor,
        "max_pixels": max_pixels if max_pixels is not None else factor * factor * 16,
    }


def build_tiny_checkpoint(
    path: str | Path,
    arch: Arch,
    *,
    hidden_size: int = 64,
    num_layers: int = 2,
    vision_depth: int = 2,
    vision_hidden: int = 32,
    seed: int = 0,
    add_silent_token: bool = True,
    max_pixels: int | None = None,
    num_heads: int | None = None,
) -> Path:
    """Build a tiny random ``arch`` checkpoint in code and save it under ``path``; return the path.

    The directory holds the model (safetensors + config), the tokenizer with a ChatML chat
    template and the Qwen special tokens (``<|silent|>`` when ``add_silent_token``), and a
    ``preprocessor_config.json`` (``max_pixels`` caps a frame's resized pixel count). Attention
    heads default to ``hidden_size // 16``. Deterministic for a given ``seed``.
    """
    import torch

    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiny_tokenizer(out, add_silent_token=add_silent_token)
    ids = {s: tokenizer.convert_tokens_to_ids(s) for s in QWEN_SPECIAL_TOKENS}
    cfg = _tiny_config(arch, len(tokenizer), ids, hidden_size, num_layers, vision_depth, vision_hidden, num_heads)
    if arch == "qwen3_vl":
        from transformers import Qwen3VLForConditionalGeneration as Cls
    else:
        from transformers import Qwen2_5_VLForConditionalGeneration as Cls
    gen = torch.random.fork_rng()
    with gen:
        torch.manual_seed(seed)
        model = Cls(cfg)
    model.generation_config.bos_token_id = None
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.save_pretrained(str(out))
    settings = preprocessor_settings(arch, max_pixels=max_pixels)
    (out / "preprocessor_config.json").write_text(json.dumps(settings, indent=2) + "\n")
    return out
