"""The hnswlib index: add/search/delete, growth, atomic save/load with its sidecar, compaction."""

from __future__ import annotations

import numpy as np

from hybridsearch.ann import HnswIndex


def _vecs(n, dim=16, seed=0):
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_add_search_delete_save_load_compact(tmp_path):
    ann = HnswIndex(tmp_path / "vectors.hnsw", 16, initial_capacity=16)
    v = _vecs(300)
    ann.add(v, np.arange(1, 301))  # grows past its initial capacity
    labels, sims = ann.search(v[9], 5)
    assert labels[0] == 10 and abs(sims[0] - 1.0) < 1e-4
    ann.delete([10, 11, 999])  # unknown labels are ignored
    assert len(ann) == 298 and 10 not in ann.labels()
    assert 10 not in ann.search(v[9], 5)[0]
    allowed = {5, 6, 7}
    assert set(ann.search(v[9], 10, allowed)[0]) <= allowed
    ann.save(generation=3, extra={"model_identity": "m"})
    assert not list(tmp_path.glob("*.tmp"))
    back = HnswIndex(tmp_path / "vectors.hnsw", 16)
    assert back.load() and back.generation == 3 and len(back) == 298
    assert back.meta["model_identity"] == "m" and back.deleted == {10, 11}
    small = back.compacted()
    assert len(small) == 298 and small.index.element_count == 298 and not small.deleted
    assert small.search(v[20], 1)[0][0] == 21


def test_missing_file_loads_empty(tmp_path):
    ann = HnswIndex(tmp_path / "none.hnsw", 8)
    assert not ann.load() and len(ann) == 0
    assert len(ann.search(np.ones(8, np.float32), 5)[0]) == 0
