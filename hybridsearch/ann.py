"""The approximate nearest-neighbour index: hnswlib (cosine), saved atomically beside the database.

In: a file path and a dimension. Out: :class:`HnswIndex` with add/delete/search/save.
Labels are chunk ids. A sidecar ``<file>.json`` records the generation, the deleted labels
(hnswlib does not expose them) and the model identity; both files are written to temporary
names, fsynced and renamed, and the database records the generation of the last save.
"""

from __future__ import annotations

import json
from pathlib import Path

import hnswlib
import numpy as np

from hybridsearch import atomic
from hybridsearch.errors import HybridSearchError

#: hnswlib's file header: 11 eight-byte and 2 four-byte fields
_HEADER_BYTES = 96


class DiskFullError(HybridSearchError):
    """A file could not be written whole (no space left, quota, I/O error); the old one is kept."""


class HnswIndex:
    """A growable hnswlib cosine index with deleted-label bookkeeping.

    In: ``path`` (may not exist yet), ``dim``. ``load()`` reads it if present.
    """

    def __init__(self, path: Path, dim: int, M: int = 16, ef_construction: int = 100, ef: int = 96,
                 initial_capacity: int = 1024):
        self.path = Path(path)
        self.dim = int(dim)
        self.M, self.ef_construction, self.ef = M, ef_construction, ef
        self.meta: dict = {"generation": 0, "deleted": []}
        self.deleted: set[int] = set()
        self.index = self._new(initial_capacity)

    def _new(self, capacity: int) -> hnswlib.Index:
        idx = hnswlib.Index(space="cosine", dim=self.dim)
        idx.init_index(max_elements=max(16, capacity), ef_construction=self.ef_construction, M=self.M)
        idx.set_ef(self.ef)
        return idx

    @property
    def meta_path(self) -> Path:
        return self.path.with_name(self.path.name + ".json")

    def load(self) -> bool:
        """Read the index and its sidecar from disk; False (and empty) when there is none."""
        if not self.path.exists():
            return False
        meta = {}
        if self.meta_path.exists():
            meta = json.loads(self.meta_path.read_text())
        if meta.get("dim", self.dim) != self.dim:
            return False
        idx = hnswlib.Index(space="cosine", dim=self.dim)
        idx.load_index(str(self.path), allow_replace_deleted=False)
        idx.set_ef(self.ef)
        self.index = idx
        self.meta = meta or {"generation": 0}
        self.deleted = set(meta.get("deleted", []))
        return True

    @property
    def generation(self) -> int:
        return int(self.meta.get("generation", 0))

    def labels(self) -> set[int]:
        """Live labels (added and not deleted)."""
        return set(self.index.get_ids_list()) - self.deleted

    def __len__(self) -> int:
        return self.index.element_count - len(self.deleted)

    count = __len__

    def add(self, vectors: np.ndarray, labels) -> None:
        """Add vectors [n, dim] under ``labels``; the index grows as needed."""
        labels = np.asarray(labels, dtype=np.int64)
        if not len(labels):
            return
        need = self.index.element_count + len(labels)
        if need > self.index.get_max_elements():
            self.index.resize_index(max(need, int(self.index.get_max_elements() * 1.5)))
        self.index.add_items(np.asarray(vectors, dtype=np.float32), labels)

    def delete(self, labels) -> None:
        """Mark labels deleted (unknown or already deleted labels are ignored)."""
        for lab in labels:
            lab = int(lab)
            if lab in self.deleted:
                continue
            try:
                self.index.mark_deleted(lab)
            except RuntimeError as exc:
                # a sidecar older than its index may not list a label hnswlib already deleted
                if "already deleted" in str(exc):
                    self.deleted.add(lab)
                continue
            self.deleted.add(lab)

    def search(self, vector: np.ndarray, k: int, allowed: set[int] | None = None):
        """Top-``k`` (labels, cosine similarities) for one query vector, optionally filtered."""
        n = len(self)
        k = min(k, n)
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        self.index.set_ef(max(self.ef, k * 2))
        filt = None
        if allowed is not None:
            if not allowed:
                return np.zeros(0, np.int64), np.zeros(0, np.float32)
            k = min(k, len(allowed))
            filt = allowed.__contains__
        try:
            labels, dist = self.index.knn_query(np.asarray(vector, np.float32).reshape(1, -1), k=k,
                                                filter=filt, num_threads=1)
        except RuntimeError:  # fewer reachable than k (heavy filtering): exact search instead
            return self._exact(vector, k, allowed)
        return labels[0].astype(np.int64), (1.0 - dist[0]).astype(np.float32)

    def _exact(self, vector, k, allowed):
        cand = sorted((allowed if allowed is not None else self.labels()) & self.labels())
        if not cand:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        sims = self.get(cand) @ np.asarray(vector, np.float32).reshape(-1)
        top = np.argsort(-sims)[:k]
        return np.asarray(cand, np.int64)[top], sims[top].astype(np.float32)

    def get(self, labels) -> np.ndarray:
        return np.asarray(self.index.get_items(list(labels)), dtype=np.float32)

    def compacted(self, batch: int = 4096) -> "HnswIndex":
        """A copy without deleted labels, built batch by batch (bounded memory)."""
        live = sorted(self.labels())
        out = HnswIndex(self.path, self.dim, self.M, self.ef_construction, self.ef,
                        initial_capacity=len(live) + 1024)
        out.meta = dict(self.meta)
        for i in range(0, len(live), batch):
            part = live[i:i + batch]
            out.add(self.get(part), part)
        return out

    def min_file_bytes(self) -> int:
        """The least size hnswlib's file of this index can have (header, level-0 data, link counts)."""
        per_element = 4 + 2 * self.M * 4 + self.dim * 4 + 8 + 4  # level-0 links, vector, label, link count
        return _HEADER_BYTES + self.index.element_count * per_element

    def save(self, generation: int, extra: dict | None = None, path: Path | None = None) -> None:
        """Write index + sidecar to temporary files, check, fsync, rename: never a half-written file.

        hnswlib's save reports no write error (a full disk left a truncated file that was then
        renamed over the good one): the written size is checked against the least size the index
        needs, and on any error the temporary files go and the old files stay. Raises
        :class:`DiskFullError` with a plain message.
        """
        path = Path(path or self.path)
        meta = {**self.meta, **(extra or {}), "generation": int(generation), "dim": self.dim,
                "count": len(self), "deleted": sorted(self.deleted)}
        need = self.min_file_bytes()

        def write_checked(tmp: Path) -> None:
            self.index.save_index(str(tmp))
            size = tmp.stat().st_size
            if size < need:
                raise OSError(28, f"the vector index was written short ({size:,} of at least {need:,} bytes)")

        try:  # atomic.write_file keeps the old file on any error
            atomic.write_file(path, write_checked)
            atomic.write_text(path.with_name(path.name + ".json"), json.dumps(meta))
        except (OSError, RuntimeError) as exc:
            raise DiskFullError(
                f"could not save the vector index {path.name} (disk full? {exc}); the previous index is "
                "kept and the next run re-embeds what is missing. Free some space and run the command again."
            ) from exc
        self.meta = meta
        self.path = path
