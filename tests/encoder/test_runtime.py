"""Encoder runtime behaviour a caller relies on: shapes, bad input, batching, devices, model dirs."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from hybridsearch.encoder import Encoder
from hybridsearch.errors import InputError, ModelError


def test_empty_list_gives_empty_matrix(tiny_encoder):
    out = tiny_encoder.encode([], kind="passage")
    assert out.shape == (0, tiny_encoder.dim) and out.dtype == np.float32


def test_single_string_is_one_row(tiny_encoder):
    assert tiny_encoder.encode("hello", kind="query").shape == (1, tiny_encoder.dim)


@pytest.mark.parametrize("bad", [None, 42, 3.5, object()])
def test_wrong_types_raise_clear_errors(tiny_encoder, bad):
    with pytest.raises(InputError, match="string"):
        tiny_encoder.encode(bad)


def test_non_string_item_names_its_position(tiny_encoder):
    with pytest.raises(InputError, match=r"texts\[1\]"):
        tiny_encoder.encode(["ok", None, "ok"])


def test_unknown_kind_is_rejected(tiny_encoder):
    with pytest.raises(InputError, match="query"):
        tiny_encoder.encode(["x"], kind="document")


@pytest.mark.parametrize("text", ["", "   ", "\ud800 lone surrogate \udfff", "\x00\x01"])
def test_odd_strings_still_give_unit_vectors(tiny_encoder, text):
    v = tiny_encoder.encode([text])
    assert np.isfinite(v).all() and abs(np.linalg.norm(v) - 1) < 1e-5


def test_megabyte_string_is_truncated_not_fatal(tiny_encoder):
    text = "word " * 250_000  # 1.25 MB
    assert tiny_encoder.count_tokens([text])[0] == tiny_encoder.max_length
    v = tiny_encoder.encode([text])
    assert abs(np.linalg.norm(v) - 1) < 1e-5


def test_length_sorted_batches_give_the_same_vectors_as_unsorted(tiny_encoder):
    texts = ["short", "a much longer sentence with many more words in it than the first", "mid size text",
             "x " * 60, "北京", "Сколько жителей?"]
    a = tiny_encoder.encode(texts, batch_size=2, sort=True)
    b = tiny_encoder.encode(texts, batch_size=2, sort=False)
    c = np.vstack([tiny_encoder.encode([t]) for t in texts])
    assert np.allclose(a, b, atol=1e-5) and np.allclose(a, c, atol=1e-5)


def test_query_and_passage_prefixes_differ(tiny_encoder):
    q = tiny_encoder.encode(["same text"], kind="query")
    p = tiny_encoder.encode(["same text"], kind="passage")
    assert not np.allclose(q, p)


def test_cuda_request_without_gpu_is_explained(tiny_model_dir):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ModelError, match="no CUDA GPU"):
        Encoder(tiny_model_dir, device="cuda")


def test_missing_directory_and_pickled_weights_are_refused(tmp_path, tiny_model_dir):
    with pytest.raises(ModelError, match="not found"):
        Encoder(tmp_path / "nope")
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    shutil.copy(tiny_model_dir / "config.json", pickled)
    (pickled / "pytorch_model.bin").write_bytes(b"not loaded, ever")
    with pytest.raises(ModelError, match="safetensors"):
        Encoder(pickled)


def test_overlay_directory_changes_vectors(tmp_path, tiny_model_dir, tiny_encoder):
    import torch
    from safetensors.torch import save_file

    sd = tiny_encoder.model.state_dict()
    key = "encoder.layer.1.output.dense.weight"
    overlay = tmp_path / "overlay-model"
    overlay.mkdir()
    save_file({key: (sd[key] * 3).to(torch.float16).contiguous()}, str(overlay / "overlay.safetensors"))
    (overlay / "hybridsearch.json").write_text(json.dumps(
        {"name": "tiny-overlay", "base_model_dir": str(tiny_model_dir)}))
    enc = Encoder(overlay, device="cpu")
    assert enc.name == "tiny-overlay"
    assert enc.identity != tiny_encoder.identity
    a, b = enc.encode(["hello world"]), tiny_encoder.encode(["hello world"])
    assert not np.allclose(a, b, atol=1e-3)


def test_overlay_that_does_not_fit_is_refused(tmp_path, tiny_model_dir):
    import torch
    from safetensors.torch import save_file

    overlay = tmp_path / "bad-overlay"
    overlay.mkdir()
    save_file({"no.such.weight": torch.zeros(2)}, str(overlay / "overlay.safetensors"))
    (overlay / "hybridsearch.json").write_text(json.dumps({"base_model_dir": str(tiny_model_dir)}))
    with pytest.raises(ModelError, match="does not fit"):
        Encoder(overlay)


def test_thread_count_is_respected(tiny_model_dir):
    import torch

    before = torch.get_num_threads()
    try:
        Encoder(tiny_model_dir, device="cpu", threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_card_language_offset_is_read_and_checked(tmp_path, tiny_model_dir, tiny_encoder):
    assert tiny_encoder.language_offset == 0.0  # no offset in the card: rank by cosine alone
    d = tmp_path / "m"
    shutil.copytree(tiny_model_dir, d)
    (d / "hybridsearch.json").write_text(json.dumps({"name": "m", "language_offset": 0.0125}))
    assert Encoder(d, device="cpu").language_offset == 0.0125
    for bad in ("0.01", -0.01, 0.5, True):
        (d / "hybridsearch.json").write_text(json.dumps({"name": "m", "language_offset": bad}))
        with pytest.raises(ModelError, match="language_offset"):
            Encoder(d, device="cpu")


def _damage(kind: str, d, tiny_model_dir) -> None:
    from safetensors.numpy import load_file, save_file

    weights = d / "model.safetensors"
    if kind == "empty":
        weights.write_bytes(b"")
    elif kind == "short":
        weights.write_bytes((tiny_model_dir / "model.safetensors").read_bytes()[:100_000])
    elif kind == "missing tensor":
        sd = load_file(str(tiny_model_dir / "model.safetensors"))
        del sd["encoder.layer.1.output.dense.weight"]
        save_file(sd, str(weights))
    elif kind == "no tensors":
        save_file({}, str(weights))
    elif kind == "wrong shape":
        sd = load_file(str(tiny_model_dir / "model.safetensors"))
        sd["encoder.layer.0.intermediate.dense.weight"] = sd["encoder.layer.0.intermediate.dense.weight"][:10]
        save_file(sd, str(weights))


@pytest.mark.parametrize("kind", ["empty", "short", "missing tensor", "no tensors", "wrong shape"])
def test_damaged_weights_refuse_to_load_instead_of_running_random_ones(tmp_path, tiny_model_dir, kind):
    from hybridsearch.encoder import load_encoder

    d = tmp_path / "m"
    shutil.copytree(tiny_model_dir, d)
    _damage(kind, d, tiny_model_dir)
    with pytest.raises(ModelError, match="model.safetensors"):
        Encoder(d, device="cpu")
    notes = []
    with pytest.raises(ModelError, match="model.safetensors"):  # neither engine runs it
        load_encoder(str(d), device="cpu", note=notes.append)
    assert notes == []


@pytest.mark.parametrize("content", [b"", b"\x10\x00\x00\x00\x00\x00\x00\x00{}", "empty dict"])
def test_empty_or_truncated_overlay_is_refused(tmp_path, tiny_model_dir, content):
    from safetensors.numpy import save_file

    overlay = tmp_path / "overlay"
    overlay.mkdir()
    if content == "empty dict":
        save_file({}, str(overlay / "overlay.safetensors"))
    else:
        (overlay / "overlay.safetensors").write_bytes(content)
    (overlay / "hybridsearch.json").write_text(json.dumps({"base_model_dir": str(tiny_model_dir)}))
    with pytest.raises(ModelError, match="overlay.safetensors"):
        Encoder(overlay, device="cpu")
