"""The library's vector index kept in step with its database: load, check, checkpoint, compact.

In: the :class:`~hybridsearch.store.Store` and the path of ``vectors.hnsw``. Out:
:class:`VectorIndex`, which owns the :class:`~hybridsearch.ann.HnswIndex` (loaded on first use)
and its bookkeeping: whether it changed since the last save, when it was saved and what a save
costs, the generation number that ties the file to the database.

SQLite is the source of truth. Vectors are added after their chunks are committed; the index is
saved atomically every ``checkpoint_seconds`` (and at the end of a job) with a generation number
written to the database after the file. On load, vectors of chunks the database no longer has
are dropped, and missing ones are reported by :meth:`VectorIndex.health` for the indexer to
re-embed. Callers hold ``store.lock`` (the library's one lock) around work that must see the
database and the index together; the methods here take it themselves where they need it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from hybridsearch.ann import HnswIndex
from hybridsearch.errors import ModelMismatchError

#: Compact the hnsw index when this share of its labels is deleted (and at least MIN_DELETED).
COMPACT_RATIO = 0.2
MIN_DELETED = 256


def read_sidecar(path: Path) -> dict:
    """The JSON sidecar saved beside an hnsw file (generation, model, deleted labels), or {}."""
    try:
        return json.loads(path.with_name(path.name + ".json").read_text())
    except (OSError, ValueError):
        return {}


def model_error(store, encoder) -> ModelMismatchError | None:
    """The error to raise when the stored vectors were made by another encoder, else None."""
    built = store.get("model_identity")
    if built is None or built == encoder.identity:
        return None
    return ModelMismatchError(
        f"this library's vectors were made by model '{store.get('model_name')}', not by the current "
        f"model '{encoder.name}'. Re-embed the library with the current model (hybridsearch reembed, "
        "about as long as the first indexing) or use the model it was built with (--model).")


class VectorIndex:
    """The hnsw index of a library and its save bookkeeping.

    In: ``store``; ``path`` of the hnsw file; ``writable()`` tells whether this process holds the
    library's write lock (only then is an interrupted re-embed rolled forward on load);
    ``checkpoint_seconds`` between saves while indexing.
    """

    def __init__(self, store, path: Path, writable: Callable[[], bool], checkpoint_seconds: float = 30.0):
        self.store = store
        self.lock = store.lock
        self.default_path = Path(path)
        self.writable = writable
        self.checkpoint_seconds = float(checkpoint_seconds)
        self.current: HnswIndex | None = None  # None until loaded (or when nothing was embedded)
        self.dirty = False  # changed since the last save
        self.last_save = 0.0  # time.monotonic() of the last save
        self.save_cost = 0.0  # seconds the last save took

    @property
    def path(self) -> Path:
        """The index file the database names (a re-embed switches files in one commit)."""
        name = self.store.get("vectors_file")
        return self.default_path.with_name(name) if name else self.default_path

    def _remove_strays(self) -> None:
        """Delete index files the database does not name: a re-embed killed before its commit,
        or the old file of one killed after it. Only the process that holds the write lock does."""
        keep = {self.path.name, self.path.name + ".json"}
        for f in self.default_path.parent.glob("vectors*.hnsw*"):
            if f.name not in keep:
                try:
                    f.unlink()
                except OSError:
                    pass

    # -- loading ----------------------------------------------------------------------------
    @property
    def ann(self) -> HnswIndex | None:
        """The hnsw index, loaded and checked against the database on first use; None when
        nothing was ever embedded."""
        with self.lock:  # one loader: a search and an indexing thread may both get here first
            if self.current is None:
                self.current = self._open()
            return self.current

    def _open(self) -> HnswIndex | None:
        """Load the file and drop vectors of chunks the database no longer has.

        Finishes a re-embed whose file swap happened but whose database update did not (the
        sidecar names the newer model and a newer generation).
        """
        store = self.store
        if self.writable():
            self._remove_strays()
        meta = read_sidecar(self.path)
        db_gen = int(store.get("generation", 0))
        if (meta.get("model_identity") and meta.get("model_identity") != store.get("model_identity")
                and int(meta.get("generation", 0)) > db_gen and self.writable()):
            with store.transaction():
                store.set("model_identity", meta["model_identity"])
                store.set("model_name", meta.get("model_name"))
                store.set("dim", meta["dim"])
                store.set("generation", meta["generation"])
        dim = store.get("dim")
        if dim is None:
            return None
        ann = HnswIndex(self.path, dim)
        try:
            ann.load()
        except RuntimeError:  # unreadable file: start empty, repair re-embeds everything
            ann = HnswIndex(self.path, dim)
        extra = ann.labels() - store.chunk_ids()
        if extra:
            ann.delete(extra)
            self.dirty = True
        return ann

    def ensure(self, encoder) -> HnswIndex:
        """The index, created (and the encoder recorded as its model) if there is none yet."""
        with self.lock:
            ann = self.ann
            if ann is None:
                with self.store.transaction():
                    self.store.set("model_identity", encoder.identity)
                    self.store.set("model_name", encoder.name)
                    self.store.set("dim", encoder.dim)
                ann = self.current = HnswIndex(self.path, encoder.dim)
            return ann

    def check_model(self, encoder) -> None:
        """Raise :class:`ModelMismatchError` when the vectors were made by another encoder."""
        err = model_error(self.store, encoder)
        if err is not None:
            raise err

    # -- changes ----------------------------------------------------------------------------
    def add(self, vectors, ids) -> None:
        """Add vectors of committed chunks (caller holds the lock)."""
        self.current.add(vectors, ids)
        self.dirty = True

    def delete(self, ids) -> None:
        """Mark vectors of deleted chunks deleted (caller holds the lock)."""
        if self.current is not None and ids:
            self.current.delete(ids)
            self.dirty = True

    def replace(self, new: HnswIndex, saved: bool) -> None:
        """Use ``new`` from now on (a compacted or re-embedded index); ``saved``: already on disk."""
        with self.lock:
            self.current = new
            self.dirty = not saved

    # -- saving -----------------------------------------------------------------------------
    def checkpoint(self, force: bool = True) -> bool:
        """Save the index atomically if it changed (and ``force`` or the interval passed)."""
        if self.current is None or not self.dirty:
            return False
        # a save rewrites the whole file (~1.7 KB per vector): keep it under ~10% of the time
        interval = max(self.checkpoint_seconds, 10 * self.save_cost)
        if not force and time.monotonic() - self.last_save < interval:
            return False
        with self.lock:
            t0 = time.monotonic()
            gen = int(self.store.get("generation", 0)) + 1
            self.current.save(gen, extra={"model_identity": self.store.get("model_identity"),
                                          "model_name": self.store.get("model_name")})
            with self.store.transaction():
                self.store.set("generation", gen)
            self.dirty = False
            self.last_save = time.monotonic()
            self.save_cost = self.last_save - t0
        return True

    def maybe_compact(self) -> bool:
        """Rebuild the index without deleted labels once they pile up."""
        ann = self.current
        if ann is None or len(ann.deleted) < max(MIN_DELETED, COMPACT_RATIO * ann.index.element_count):
            return False
        new = ann.compacted()
        with self.lock:
            new.delete(new.labels() - self.store.chunk_ids())  # chunks deleted while compacting
            self.replace(new, saved=False)
        self.checkpoint(force=True)
        return True

    def health(self) -> dict:
        """Compare chunk ids with hnsw labels: {'health', 'vectors', 'vectors_missing', 'vectors_extra'}."""
        with self.lock:
            ids = self.store.chunk_ids()
            ann = self.ann
            labels = ann.labels() if ann is not None else set()
        missing, extra = len(ids - labels), len(labels - ids)
        state = "ok" if not missing and not extra else (
            f"{missing} chunk(s) without vectors, {extra} stray vector(s): indexing repairs this")
        return {"health": state, "vectors": len(labels), "vectors_missing": missing, "vectors_extra": extra}
