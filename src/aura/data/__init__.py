"""The five-stage data engine: raw videos -> verified streaming training samples.

``prepare`` (segments at 2 FPS, H.264) -> ``synthesize`` (MLLM QAs of three types, verified)
-> ``refine`` (harder variants, rewrites, acknowledgements) -> ``structure`` (``aura.stream.unroll``)
-> ``verify`` (rule checks + judge). Every stage is resumable, idempotent and shardable; the
MLLM is reached only through an OpenAI-compatible chat API. See ``docs/data-engine.md``.
"""

from aura.data.config import DataConfig, load_config
from aura.data.pipeline import STAGES, run_all
from aura.data.shard import Shard, parse_shard

__all__ = ["STAGES", "DataConfig", "Shard", "load_config", "parse_shard", "run_all"]
