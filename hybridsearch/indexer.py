"""The indexing job: scan folders, extract, chunk, embed, commit batch by batch; repair; re-embed.

In: a :class:`hybridsearch.library.Library`. Out: an :class:`IndexReport`; the database and
``vectors.hnsw`` brought up to date.

Crash safety: SQLite is the source of truth. A batch of files is committed in one transaction
(documents, chunks, FTS rows) and only then its vectors are added to the in-memory hnsw index,
which is saved atomically every ``checkpoint_seconds`` and at the end, with a generation number
written to the database after the file. After a kill, chunks whose vectors did not reach disk
are found by comparing chunk ids with hnsw labels and re-embedded from their stored text;
vectors of chunks deleted meanwhile are marked deleted. Files of an uncommitted batch have no
document row (or their old one) and are simply processed again.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np

from hybridsearch.ann import HnswIndex
from hybridsearch.documents import (ExtractError, FileEntry, chunk_text, detect_document_language,
                                    detect_language, extract, read_bytes, walk)
from hybridsearch.errors import HybridSearchError
from hybridsearch.progress import EtaClock, Progress

#: Content tokens per chunk (the encoder adds a prefix and 2 special tokens; it truncates at 512).
CHUNK_TOKENS = 180
OVERLAP_TOKENS = 32
#: Chunks embedded and committed together: large enough for efficient encoder batches, small
#: enough that a kill loses little and memory stays flat.
BATCH_CHUNKS = 256
BATCH_FILES = 64
#: Compact the hnsw index when this share of its labels is deleted (and at least MIN_DELETED).
COMPACT_RATIO = 0.2
MIN_DELETED = 256


def _model_error(lib, enc):
    from hybridsearch.library import ModelMismatchError

    return ModelMismatchError(
        f"this library's vectors were made by model '{lib.store.get('model_name')}', not by the current "
        f"model '{enc.name}'. Re-embed the library with the current model (hybridsearch reembed, "
        "about as long as the first indexing) or use the model it was built with (--model).")


# -- the vector index and the database, kept together --------------------------------------------
def read_sidecar(path: Path) -> dict:
    try:
        return json.loads(path.with_name(path.name + ".json").read_text())
    except (OSError, ValueError):
        return {}


def open_ann(lib) -> HnswIndex | None:
    """Load ``vectors.hnsw`` and drop vectors of chunks the database no longer has.

    Returns None when nothing was ever embedded. Finishes a re-embed whose file swap happened but
    whose database update did not (the sidecar names the newer model and a newer generation).
    """
    from hybridsearch.library import HNSW_NAME

    path = lib.root / HNSW_NAME
    meta = read_sidecar(path)
    db_gen = int(lib.store.get("generation", 0))
    if (meta.get("model_identity") and meta.get("model_identity") != lib.store.get("model_identity")
            and int(meta.get("generation", 0)) > db_gen and lib._file_lock.fh is not None):
        with lib.store.transaction():
            lib.store.set("model_identity", meta["model_identity"])
            lib.store.set("model_name", meta.get("model_name"))
            lib.store.set("dim", meta["dim"])
            lib.store.set("generation", meta["generation"])
    dim = lib.store.get("dim")
    if dim is None:
        return None
    ann = HnswIndex(path, dim)
    try:
        ann.load()
    except RuntimeError:  # unreadable file: start empty, repair re-embeds everything
        ann = HnswIndex(path, dim)
    extra = ann.labels() - lib.store.chunk_ids()
    if extra:
        ann.delete(extra)
        lib._ann_dirty = True
    return ann


def ensure_ann(lib, enc) -> HnswIndex:
    """The library's vector index, created (and the model recorded) if there is none yet."""
    from hybridsearch.library import HNSW_NAME

    with lib._lock:
        ann = lib.ann
        if ann is None:
            with lib.store.transaction():
                lib.store.set("model_identity", enc.identity)
                lib.store.set("model_name", enc.name)
                lib.store.set("dim", enc.dim)
            ann = lib._ann = HnswIndex(lib.root / HNSW_NAME, enc.dim)
        return ann


def checkpoint(lib, force: bool = True) -> bool:
    """Save the vector index atomically if it changed (and ``force`` or the interval passed)."""
    if lib._ann is None or not getattr(lib, "_ann_dirty", False):
        return False
    # a save rewrites the whole file (~1.7 KB per vector): keep it under ~10% of the time
    interval = max(lib.checkpoint_seconds, 10 * getattr(lib, "_save_cost", 0.0))
    if not force and time.monotonic() - getattr(lib, "_last_save", 0.0) < interval:
        return False
    with lib._lock:
        t0 = time.monotonic()
        gen = int(lib.store.get("generation", 0)) + 1
        lib._ann.save(gen, extra={"model_identity": lib.store.get("model_identity"),
                                  "model_name": lib.store.get("model_name")})
        with lib.store.transaction():
            lib.store.set("generation", gen)
        lib._ann_dirty = False
        lib._last_save = time.monotonic()
        lib._save_cost = lib._last_save - t0
    return True


def health(lib) -> dict:
    """Compare chunk ids with hnsw labels: {'health', 'vectors', 'vectors_missing', 'vectors_extra'}."""
    with lib._lock:
        ids = lib.store.chunk_ids()
        ann = lib.ann
        labels = ann.labels() if ann is not None else set()
    missing, extra = len(ids - labels), len(labels - ids)
    state = "ok" if not missing and not extra else (
        f"{missing} chunk(s) without vectors, {extra} stray vector(s): indexing repairs this")
    return {"health": state, "vectors": len(labels), "vectors_missing": missing, "vectors_extra": extra}


def maybe_compact(lib) -> bool:
    """Rebuild the hnsw index without deleted labels once they pile up."""
    ann = lib._ann
    if ann is None or len(ann.deleted) < max(MIN_DELETED, COMPACT_RATIO * ann.index.element_count):
        return False
    new = ann.compacted()
    with lib._lock:
        new.delete(new.labels() - lib.store.chunk_ids())  # chunks deleted while compacting
        lib._ann = new
        lib._ann_dirty = True
    checkpoint(lib, force=True)
    return True


def _embed_chunk_rows(lib, enc, ann, rows, report, cancel, on_progress, stage, total, done0=0):
    """Encode (id, text) rows in batches and add them to ``ann``."""
    clock = EtaClock(total)
    done = done0
    for i in range(0, len(rows), BATCH_CHUNKS):
        if cancel is not None:
            cancel.raise_if_cancelled()
        part = rows[i:i + BATCH_CHUNKS]
        t0 = time.perf_counter()
        vecs = enc.encode([t for _, t in part], kind="passage")
        report.encode_seconds += time.perf_counter() - t0
        with lib._lock:
            marks = ",".join("?" * len(part))
            live = {r[0] for r in lib.store.conn.execute(
                f"SELECT id FROM chunks WHERE id IN ({marks})", [c for c, _ in part])}
            keep = [j for j, (cid, _) in enumerate(part) if cid in live]
            ann.add(vecs[keep], [part[j][0] for j in keep])
            if ann is lib._ann:
                lib._ann_dirty = True
        done += len(part)
        if on_progress:
            on_progress(Progress(stage, done, total, f"{done}/{total} chunks", clock.eta(done - done0)))
        if ann is lib._ann:
            checkpoint(lib, force=False)
    return done


def repair(lib, cancel=None, on_progress=None, report=None) -> int:
    """Embed chunks that have no vector (after a crash); returns how many were embedded."""
    from hybridsearch.library import IndexReport

    report = report or IndexReport()
    enc = lib.encoder
    with lib._lock:
        ids = lib.store.chunk_ids()
        if not ids:
            return 0
        if lib.model_mismatch():
            raise _model_error(lib, enc)
        ann = ensure_ann(lib, enc)
        missing = sorted(ids - ann.labels())
    if not missing:
        return 0
    rows = []
    for i in range(0, len(missing), 500):
        part = missing[i:i + 500]
        rows += lib.store.conn.execute(
            f"SELECT id, text FROM chunks WHERE id IN ({','.join('?' * len(part))}) ORDER BY id",
            part).fetchall()
    _embed_chunk_rows(lib, enc, ann, rows, report, cancel, on_progress, "repair", len(rows))
    checkpoint(lib, force=True)
    report.repaired_vectors += len(rows)
    return len(rows)


# -- deletion ---------------------------------------------------------------------------------------
def remove_folder(lib, path: str) -> None:
    """Delete a folder's documents, chunks and vectors, and the folder itself."""
    with lib._lock:
        ann = lib.ann
        with lib.store.transaction():
            fid = lib.store.conn.execute("SELECT id FROM folders WHERE path = ?", (path,)).fetchone()[0]
            dead: list[int] = []
            for (did,) in lib.store.conn.execute("SELECT id FROM documents WHERE folder_id = ?",
                                                 (fid,)).fetchall():
                dead += lib.store.delete_document(did)
            lib.store.conn.execute("DELETE FROM folders WHERE id = ?", (fid,))
        if ann is not None and dead:
            ann.delete(dead)
            lib._ann_dirty = True
    checkpoint(lib, force=True)
    maybe_compact(lib)


# -- indexing ---------------------------------------------------------------------------------------
class _Pending:
    """Files extracted and chunked, waiting to be embedded and committed together."""

    def __init__(self):
        self.items: list[dict] = []
        self.n_chunks = 0

    def add(self, item: dict) -> None:
        self.items.append(item)
        self.n_chunks += len(item.get("chunks", ()))


def _file_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=20).hexdigest()


def _prepare(lib, enc, entry: FileEntry, old: dict | None) -> dict:
    """Read, hash, extract and chunk one file -> a pending item (ok, failed or touch-only)."""
    item = {"entry": entry, "old": old}
    try:
        data = read_bytes(Path(entry.path), lib.max_file_bytes)
    except ExtractError as exc:
        item.update(status="failed", error=str(exc), hash=None)
        return item
    item["hash"] = _file_hash(data)
    if old is not None and old["hash"] == item["hash"] and old["status"] == "ok":
        item["status"] = "touch"  # same content, new mtime: nothing to re-embed
        return item
    try:
        ext = extract(entry.path, entry.file_type, lib.max_file_bytes, data=data)
    except ExtractError as exc:
        item.update(status="failed", error=str(exc))
        return item
    except Exception as exc:  # a library choking on a malformed file must not stop indexing
        item.update(status="failed", error=f"cannot extract text ({type(exc).__name__}: {str(exc)[:160]})")
        return item
    max_tokens = max(32, min(CHUNK_TOKENS, enc.max_length - 8))
    chunks = chunk_text(ext.text, enc.tokenizer, max_tokens, OVERLAP_TOKENS)
    for ch in chunks:
        ch.language = detect_language(ch.text)
    item.update(status="ok", title=ext.title, n_chars=len(ext.text), chunks=chunks,
                language=detect_document_language(ext.text, chunks))
    if not chunks:
        item.update(status="failed", error="no text")
    return item


def _commit(lib, enc, ann, folder_id: int, pending: _Pending, report, remaining: int) -> int:
    """Embed the pending chunks, then write the files in one transaction and add the vectors."""
    texts = [ch.text for it in pending.items if it["status"] == "ok" for ch in it["chunks"]]
    t0 = time.perf_counter()
    vecs = enc.encode(texts, kind="passage") if texts else np.zeros((0, enc.dim), np.float32)
    report.encode_seconds += time.perf_counter() - t0
    new_ids: list[int] = []
    dead: list[int] = []
    now = time.time()
    with lib._lock:
        with lib.store.transaction() as st:
            for it in pending.items:
                e: FileEntry = it["entry"]
                old = it["old"]
                if it["status"] == "touch":
                    st.conn.execute("UPDATE documents SET size = ?, mtime = ? WHERE id = ?",
                                    (e.size, e.mtime, old["id"]))
                    report.unchanged += 1
                    continue
                if old is not None:
                    dead += st.delete_chunks_of(old["id"])
                ok = it["status"] == "ok"
                row = dict(folder_id=folder_id, path=e.path, file_type=e.file_type,
                           title=it.get("title") or Path(e.path).stem, size=e.size, mtime=e.mtime,
                           hash=it.get("hash"), language=it.get("language"),
                           status=it["status"], error=it.get("error"), n_chars=it.get("n_chars"),
                           indexed_at=now)
                if old is not None:
                    sets = ", ".join(f"{k} = :{k}" for k in row)
                    st.conn.execute(f"UPDATE documents SET {sets} WHERE id = :id", {**row, "id": old["id"]})
                    did = old["id"]
                else:
                    did = st.conn.execute(
                        f"INSERT INTO documents ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)})",
                        row).lastrowid
                if ok:
                    new_ids += st.insert_chunks(did, it["chunks"])
                    report.chunks_added += len(it["chunks"])
                    if old is None:
                        report.added += 1
                    else:
                        report.updated += 1
                else:
                    from hybridsearch.library import FailedFile

                    report.failed += 1
                    report.failures.append(FailedFile(e.path, it["error"]))
            st.set("pending_files", remaining)
        if dead:
            ann.delete(dead)
        ann.add(vecs, new_ids)
        lib._ann_dirty = True
    checkpoint(lib, force=False)
    n = len(pending.items)
    pending.items.clear()
    pending.n_chunks = 0
    return n


def _scan(lib, folder_path: str, include, exclude):
    """Walk a folder -> (folder id, files to process with their old rows, unchanged count, deleted ids)."""
    fid = lib.store.conn.execute("SELECT id FROM folders WHERE path = ?", (folder_path,)).fetchone()[0]
    known = {r[0]: {"id": r[1], "size": r[2], "mtime": r[3], "hash": r[4], "status": r[5]}
             for r in lib.store.conn.execute(
                 "SELECT path, id, size, mtime, hash, status FROM documents WHERE folder_id = ?", (fid,))}
    work, unchanged, seen = [], 0, set()
    if Path(folder_path).is_dir():
        for e in walk(folder_path, include, exclude):
            seen.add(e.path)
            old = known.get(e.path)
            # failed files are retried only when they change (size or mtime)
            if old is not None and old["size"] == e.size and old["mtime"] == e.mtime:
                unchanged += 1
                continue
            work.append((e, old))
    else:  # folder gone (unplugged drive?): keep its documents rather than delete them all
        seen = set(known)
    gone = [v["id"] for p, v in known.items() if p not in seen]
    return fid, work, unchanged, gone


def run_index(lib, folder_paths=None, cancel=None, on_progress=None):
    """Index the given library folders (all when None). See :meth:`Library.index`."""
    from hybridsearch.library import IndexReport

    t_start = time.perf_counter()
    report = IndexReport()
    enc = lib.encoder
    if lib.model_mismatch() and lib.store.count("SELECT count(*) FROM chunks"):
        raise _model_error(lib, enc)
    try:
        repair(lib, cancel=cancel, on_progress=on_progress, report=report)
    except HybridSearchError as exc:
        if exc.__class__.__name__ != "Cancelled":
            raise
        report.cancelled = True
        report.seconds = time.perf_counter() - t_start
        return report
    ann = ensure_ann(lib, enc)
    rows = lib.store.conn.execute("SELECT path, include, exclude FROM folders ORDER BY path").fetchall()
    if folder_paths is not None:
        rows = [r for r in rows if r[0] in set(folder_paths)]
    if on_progress:
        on_progress(Progress("scan", 0, None, "looking for new and changed files"))
    scans = []
    for path, inc, exc in rows:
        fid, work, unchanged, gone = _scan(lib, path, json.loads(inc) if inc else None,
                                           json.loads(exc) if exc else None)
        report.unchanged += unchanged
        if gone:
            with lib._lock:
                with lib.store.transaction():
                    dead = [c for did in gone for c in lib.store.delete_document(did)]
                ann.delete(dead)
                lib._ann_dirty = True
            report.removed += len(gone)
        scans.append((fid, path, work))
    files_total = sum(len(w) for _, _, w in scans)
    files_done = 0
    clock = EtaClock(files_total)
    pending = _Pending()
    try:
        for fid, path, work in scans:
            for entry, old in work:
                if cancel is not None and cancel.cancelled:
                    raise _Stop
                pending.add(_prepare(lib, enc, entry, old))
                if pending.n_chunks >= BATCH_CHUNKS or len(pending.items) >= BATCH_FILES:
                    files_done += _commit(lib, enc, ann, fid, pending, report, files_total - files_done
                                          - len(pending.items))
                    _report(on_progress, files_done, files_total, report, clock, entry.path)
            if pending.items:
                files_done += _commit(lib, enc, ann, fid, pending, report,
                                      files_total - files_done - len(pending.items))
                _report(on_progress, files_done, files_total, report, clock, path)
            with lib.store.transaction():
                lib.store.conn.execute("UPDATE folders SET last_indexed = ? WHERE id = ?", (time.time(), fid))
    except _Stop:
        report.cancelled = True
    except HybridSearchError as exc:
        if exc.__class__.__name__ != "Cancelled":
            raise
        report.cancelled = True
    finally:
        checkpoint(lib, force=True)
    if not report.cancelled:
        maybe_compact(lib)
    report.seconds = time.perf_counter() - t_start
    if on_progress:
        on_progress(Progress("done", files_done, files_total, "cancelled" if report.cancelled else "done",
                             0.0, {"files_done": files_done, "files_total": files_total,
                                   "chunks_done": report.chunks_added}))
    return report


class _Stop(Exception):
    pass


def _report(on_progress, files_done, files_total, report, clock, path):
    if on_progress:
        on_progress(Progress("index", files_done, files_total, str(path), clock.eta(files_done),
                             {"files_done": files_done, "files_total": files_total,
                              "chunks_done": report.chunks_added}))


# -- re-embedding -----------------------------------------------------------------------------------
def run_reembed(lib, model=None, encoder=None, cancel=None, on_progress=None) -> None:
    """Embed every chunk with a new encoder into a new index; swap it in when complete."""
    from hybridsearch.encoder import load_encoder
    from hybridsearch.library import HNSW_NAME, IndexReport

    new_enc = encoder or load_encoder(model or lib.model, device=lib.device, threads=lib.threads)
    total = lib.store.count("SELECT count(*) FROM chunks")
    new = HnswIndex(lib.root / HNSW_NAME, new_enc.dim, initial_capacity=total + 1024)
    report = IndexReport()
    done, last = 0, 0
    while True:  # stream: one batch of chunk texts in memory at a time
        rows = lib.store.conn.execute("SELECT id, text FROM chunks WHERE id > ? ORDER BY id LIMIT ?",
                                      (last, BATCH_CHUNKS * 4)).fetchall()
        if not rows:
            break
        last = rows[-1][0]
        done = _embed_chunk_rows(lib, new_enc, new, rows, report, cancel, on_progress, "reembed",
                                 total, done)
    with lib._lock:  # chunks added or deleted meanwhile (a watcher may have indexed)
        ids = lib.store.chunk_ids()
        new.delete(new.labels() - ids)
        missing = sorted(ids - new.labels())
        if missing:
            rows = lib.store.conn.execute(
                f"SELECT id, text FROM chunks WHERE id IN ({','.join('?' * len(missing))})", missing).fetchall()
            new.add(new_enc.encode([t for _, t in rows], kind="passage"), [r[0] for r in rows])
        gen = int(lib.store.get("generation", 0)) + 1
        # file first (its sidecar names the new model): open_ann rolls the database forward if we
        # die between the rename and the commit below
        new.save(gen, extra={"model_identity": new_enc.identity, "model_name": new_enc.name})
        with lib.store.transaction():
            lib.store.set("model_identity", new_enc.identity)
            lib.store.set("model_name", new_enc.name)
            lib.store.set("dim", new_enc.dim)
            lib.store.set("generation", gen)
        lib._ann = new
        lib._ann_dirty = False
        lib._encoder = new_enc
        if model:
            lib.model = str(model)
