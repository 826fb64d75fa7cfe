"""``load_model`` specs, and ``aura serve`` / ``aura bench ttft`` bad input: one-line errors, exit status 2."""

from __future__ import annotations

import pytest

from aura.cli.main import main
from aura.errors import ConfigError
from aura.models.hf.backend import HFStreamingModel
from aura.models.hf.loader import CheckpointError
from aura.models.openai_backend import BackendError, OpenAIStreamingModel
from aura.models.registry import load_model, set_torch_threads
from aura.stream import ContextConfig


def test_specs(tiny_dirs):
    m = load_model(f"hf:{tiny_dirs['qwen2_5_vl']}", ContextConfig(window_chunks=3), max_new_tokens=7)
    assert isinstance(m, HFStreamingModel) and m.max_new_tokens == 7 and m.context_config.window_chunks == 3
    o = load_model("openai:http://127.0.0.1:9/v1#aura")
    assert isinstance(o, OpenAIStreamingModel) and o.model == "aura" and o.base_url == "http://127.0.0.1:9/v1"
    with pytest.raises(ConfigError, match="SCHEME:TARGET"):
        load_model("checkpoint")
    with pytest.raises(ConfigError, match="unknown model scheme 'gguf'"):
        load_model("gguf:/x")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model("hf:/no/such/dir")
    with pytest.raises(BackendError, match="http"):
        load_model("openai:ftp://host")


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["serve", "--model", "hf:/no/such/dir"], "does not exist"),
        (["serve", "--model", "openai:http://127.0.0.1:9/v1"], "cannot expose"),
        (["serve", "--model", "hf:/x", "--port", "0"], "--port"),
        (["serve", "--model", "hf:/x", "--api-key-file", "/no/such/key"], "API key file"),
        (["bench", "ttft", "--seconds", "0"], "--seconds"),
        (["bench", "ttft", "--window", "0"], "--window"),
    ],
)
def test_cli_errors_are_one_line(capsys, argv, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("aura: error:") and needle in err and "\n" not in err


def test_torch_threads_one_for_nano_unless_asked(tmp_path) -> None:
    """0 chooses one thread for nano specs (a plain nano checkpoint directory too) and leaves torch's
    count for the others; a count given wins."""
    import json

    import torch

    nano_dir, hf_dir = tmp_path / "nano", tmp_path / "hf"
    for d, kind in ((nano_dir, "aura_nano"), (hf_dir, "qwen3_vl")):
        d.mkdir()
        (d / "config.json").write_text(json.dumps({"model_type": kind}))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert set_torch_threads("hf:/some/dir") == 2
        assert set_torch_threads(str(hf_dir)) == 2 and set_torch_threads(str(tmp_path / "missing")) == 2
        assert set_torch_threads(str(nano_dir)) == 1
        torch.set_num_threads(2)
        assert set_torch_threads("nano") == 1 and torch.get_num_threads() == 1
        assert set_torch_threads("nano:/a/checkpoint", 3) == 3
        assert set_torch_threads("nano:/a/checkpoint") == 1
        with pytest.raises(ConfigError, match="--threads"):
            set_torch_threads("nano", -1)
    finally:
        torch.set_num_threads(before)
