"""aura-nano's tokenizer: a byte-level BPE trained on the world's text, with the chat specials.

Byte-level, so any text a user types tokenizes (unseen words fall back to bytes); the special
tokens are the ChatML markers, the vision placeholders and ``<|silent|>``, each one token.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from aura.models.hf.chat import CHATML_SPECIAL_TOKENS, PAUSE_TOKEN, ROLE_TOKENS, message_header
from aura.models.nano.config import EVENT_KINDS
from aura.stream.config import SILENT_TOKEN
from aura.world.scene import EventKind

SPECIAL_TOKENS = [*CHATML_SPECIAL_TOKENS, SILENT_TOKEN]


def chat_template(*, compact: bool = False, pauses: int = 0) -> str:
    """The Jinja chat template of a layout (``ChatFormat``'s: ChatML or compact, ``pauses`` pause
    tokens after the assistant header), video parts as one placeholder (expanded per chunk by the
    chat format)."""
    video = "<|video_pad|>" if compact else "<|vision_start|><|video_pad|><|vision_end|>"
    return (
        "{% for message in messages %}"
        + ("{{ '<|' + message['role'] + '|>' }}" if compact else "{{ '<|im_start|>' + message['role'] + '\\n' }}")
        + "{% if message['role'] == 'assistant' %}{{ '" + PAUSE_TOKEN * pauses + "' }}{% endif %}"
        "{% if message['content'] is string %}{{ message['content'] }}"
        "{% else %}{% for part in message['content'] %}"
        "{% if part['type'] == 'video' %}{{ '" + video + "' }}"
        "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
        "{% endfor %}{% endif %}"
        "{{ '<|im_end|>" + ("" if compact else "\\n") + "' }}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '" + message_header("assistant", compact=compact, pauses=pauses).replace(
            "\n", "\\n") + "' }}{% endif %}"
    )


CHAT_TEMPLATE = chat_template()
"""ChatML with video parts as one placeholder (expanded per chunk by the chat format)."""


def layout_specials(*, compact: bool = False, pause: bool = False) -> list[str]:
    """The special tokens of a nano tokenizer, in id order: ChatML's, ``<|silent|>``, then the
    compact layout's role tokens and the pause token when asked for."""
    return [*SPECIAL_TOKENS, *(ROLE_TOKENS.values() if compact else ()), *((PAUSE_TOKEN,) if pause else ())]


def train_tokenizer(texts: Iterable[str], vocab_size: int = 1024, *, compact: bool = False,
                    pause: bool = False) -> PreTrainedTokenizerFast:
    """A byte-level BPE of at most ``vocab_size`` tokens trained on ``texts`` (deterministic).

    ``compact`` adds the role tokens of the compact chat layout (``<|user|>``, ...) as specials,
    ``pause`` the pause token (``ChatFormat(pauses=K)``).
    """
    specials = layout_specials(compact=compact, pause=pause)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=specials[1:],
    )
    fast.chat_template = chat_template(compact=compact)
    return fast


def slot_word_ids(tokenizer: PreTrainedTokenizerFast) -> tuple[tuple[int, int], ...]:
    """The (colour, shape) token ids of every colour-shape pair of the world, colour-major (the
    pair slots' order), each word as it appears inside a sentence (`` red``, `` square``).

    Raises ``ValueError`` if a word is not one token (the tokenizer was not trained on the world).
    """
    from aura.world.vocab import COLOURS, SHAPES

    def one(word: str) -> int:
        ids = tokenizer.encode(" " + word, add_special_tokens=False)
        if len(ids) != 1:
            raise ValueError(f"the tokenizer splits {word!r} into {len(ids)} tokens; slot words need one")
        return int(ids[0])

    return tuple((one(c), one(s)) for c in COLOURS for s in SHAPES)


EVENT_WORDS: dict[EventKind, tuple[str, ...]] = {
    "appear": ("appears", "appeared", "shows"),
    "disappear": ("disappears", "disappeared", "vanishes"),
    "colour": ("changes", "colour", "turned"),
}
"""Words the training phrasings use for each kind of event (none that only a held-out phrasing uses)."""


def event_word_ids(tokenizer: PreTrainedTokenizerFast) -> tuple[tuple[int, ...], ...]:
    """For each kind of event (``config.EVENT_KINDS`` order), the token ids of those of its
    ``EVENT_WORDS`` that are one token inside a sentence.

    Raises ``ValueError`` if a kind has no such word (the tokenizer was not trained on the world).
    """
    out = []
    for kind in EVENT_KINDS:
        words = EVENT_WORDS[kind]
        ids = [tokenizer.encode(" " + w, add_special_tokens=False) for w in words]
        single = tuple(int(i[0]) for i in ids if len(i) == 1)
        if not single:
            raise ValueError(f"the tokenizer splits every {kind!r} word {words}; event words need one token")
        out.append(single)
    return tuple(out)
