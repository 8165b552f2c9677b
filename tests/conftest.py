"""Shared fixtures: an isolated HYBRIDSEARCH_HOME, a tiny random BERT model directory, the real base."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
XQUAD_DIR = REPO.parent / "shared" / "data" / "xquad-r"
#: Real models are converted once per machine into this cache, shared by test runs.
SHARED_MODELS = Path(os.environ.get("HYBRIDSEARCH_TEST_MODELS", Path.home() / ".cache" / "hybridsearch-test-models"))


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Every test gets its own data directory; converted real models come from a shared cache."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HYBRIDSEARCH_HOME", str(home))
    (home / "models").mkdir()
    SHARED_MODELS.mkdir(parents=True, exist_ok=True)
    for entry in SHARED_MODELS.iterdir():
        if not entry.name.startswith("."):
            (home / "models" / entry.name).symlink_to(entry)
    return home


@pytest.fixture(scope="session")
def base_model_dir() -> Path:
    """The real converted multilingual-e5-small (converted once per machine, ~10 s)."""
    from hybridsearch.encoder.convert import converted_base_dir

    return converted_base_dir(root=SHARED_MODELS)


@pytest.fixture(scope="session")
def base_encoder(base_model_dir):
    from hybridsearch.encoder import Encoder

    return Encoder(base_model_dir, device="cpu")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, base_model_dir) -> Path:
    """A random-initialised 2-layer BERT (hidden 32) with the real tokenizer: fast to train and run."""
    import json
    import shutil

    import torch
    from transformers import BertConfig, BertModel

    d = tmp_path_factory.mktemp("tiny-model")
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=250037, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128, pad_token_id=1)
    model = BertModel(cfg, add_pooling_layer=False)
    model.save_pretrained(str(d), safe_serialization=True)
    shutil.copy(base_model_dir / "tokenizer.json", d / "tokenizer.json")
    (d / "hybridsearch.json").write_text(json.dumps({"name": "tiny-test-bert"}))
    return d


@pytest.fixture(scope="session")
def tiny_encoder(tiny_model_dir):
    from hybridsearch.encoder import Encoder

    return Encoder(tiny_model_dir, device="cpu", max_length=128)
