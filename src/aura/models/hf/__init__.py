"""The ``hf`` backend: transformers Qwen3-VL / Qwen2.5-VL checkpoints with prefix KV-cache reuse.

Modules: ``tiny`` (tiny random checkpoints for tests), ``chat`` (per-message ChatML encoding),
``preprocess`` (numpy frame preprocessing), ``loader`` (local checkpoint loading), ``engine``
(prefix-cached prefill/decode), ``generate`` (sampling and streaming decode), ``backend``
(the ``StreamingModel``), ``chat_backend`` (chat completions for ``aura serve``).
"""
