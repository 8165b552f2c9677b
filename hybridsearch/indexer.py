"""The indexing jobs: scan folders, extract, chunk and commit; then embed; repair; re-embed.

In: the library's :class:`~hybridsearch.store.Store`, its :class:`~hybridsearch.vectors.VectorIndex`
and an encoder, passed explicitly by :class:`~hybridsearch.library.Library`. Out: an
:class:`IndexReport`; the database and ``vectors.hnsw`` brought up to date.

Two phases, so that a folder is searchable at once: first every new or changed file is
extracted, chunked, language-tagged and committed with its FTS rows (keyword search covers the
whole folder when this phase ends, at a few hundred chunks a second); then the chunks without a
vector are embedded, those of the most recently modified files first. Hybrid search meanwhile
fuses what is embedded with keyword hits over everything.

Crash safety: SQLite is the source of truth. A batch of files is committed in one transaction
(documents, chunks, FTS rows); vectors are added to the in-memory hnsw index afterwards, and it
is checkpointed by :class:`VectorIndex`. The embedding phase works from the database alone
(chunk ids without an hnsw label, re-embedded from their stored text), so after a kill in either
phase the next run simply finds those chunks again; vectors of chunks deleted meanwhile are
marked deleted. Files of an uncommitted batch have no document row (or their old one) and are
processed again.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from hybridsearch.ann import HnswIndex
from hybridsearch.documents import (ExtractError, FileEntry, chunk_text, detect_document_language,
                                    detect_language, extract, page_at, read_bytes, read_differently_now, readable,
                                    walk)
from hybridsearch.errors import Cancelled
from hybridsearch.progress import EtaClock, Progress
from hybridsearch.records import FailedFile, IndexReport
from hybridsearch.store import (SQL_CHUNK_IDS_BY_RECENCY, SQL_CHUNK_TEXTS_AFTER, SQL_DOCUMENTS_OF_FOLDER, SQL_FOLDER_ID,
                                SQL_CHUNK_TEXTS_OF_TYPE, SQL_FOLDERS_TO_INDEX, SQL_LIVE_CHUNK_IDS, SQL_READ_AGAIN,
                                SQL_TOUCH_DOCUMENT,
                                SQL_UPDATE_FOLDER_INDEXED, Store, chunk_texts, path_param)
from hybridsearch.vectors import VectorIndex

#: Content tokens per chunk (the encoder adds a prefix and 2 special tokens; it truncates at 512).
CHUNK_TOKENS = 180
OVERLAP_TOKENS = 32
#: Chunks embedded and committed together: large enough for efficient encoder batches, small
#: enough that a kill loses little and memory stays flat.
BATCH_CHUNKS = 256
BATCH_FILES = 64


def _embed_chunk_rows(store: Store, vectors: VectorIndex, enc, ann: HnswIndex, rows, report, cancel,
                      on_progress, stage, total, done0=0):
    """Encode (id, text) rows in batches and add them to ``ann`` (the library's index, or a new
    one being built by a re-embed); chunks deleted meanwhile are skipped."""
    clock = EtaClock(total)
    done = done0
    for i in range(0, len(rows), BATCH_CHUNKS):
        if cancel is not None:
            cancel.raise_if_cancelled()
        part = rows[i:i + BATCH_CHUNKS]
        t0 = time.perf_counter()
        vecs = enc.encode([t for _, t in part], kind="passage")
        report.encode_seconds += time.perf_counter() - t0
        with store.lock:
            marks = ",".join("?" * len(part))
            live = {r[0] for r in store.conn.execute(SQL_LIVE_CHUNK_IDS.format(marks=marks),
                                                     [c for c, _ in part])}
            keep = [j for j, (cid, _) in enumerate(part) if cid in live]
            if ann is vectors.current:
                vectors.add(vecs[keep], [part[j][0] for j in keep])
            else:
                ann.add(vecs[keep], [part[j][0] for j in keep])
        done += len(part)
        if on_progress:
            on_progress(Progress(stage, done, total, f"{done}/{total} chunks", clock.eta(done - done0)))
        if ann is vectors.current:
            vectors.checkpoint(force=False)
    return done


def repair(store: Store, vectors: VectorIndex, enc, cancel=None, on_progress=None, report=None,
           stage: str = "repair") -> int:
    """Embed every chunk that has no vector, most recently modified files first; returns how many.

    This is the embedding phase of indexing (``stage='embed'``) and the repair after a crash:
    both work from the database alone. The embedding rate is recorded for ``status``'s ETA.
    """
    report = report or IndexReport()
    with store.lock:
        ids = store.chunk_ids()
        if not ids:
            return 0
        vectors.check_model(enc)
        ann = vectors.ensure(enc)
        labels = ann.labels()
        missing = [r[0] for r in store.conn.execute(SQL_CHUNK_IDS_BY_RECENCY) if r[0] not in labels]
    if not missing:
        return 0
    done, t0 = 0, time.perf_counter()
    if on_progress:  # the stage starts now (its first batch takes seconds): a bar's rate counts from here
        on_progress(Progress(stage, 0, len(missing), f"0/{len(missing)} chunks"))
    step = BATCH_CHUNKS * 4  # one slice of chunk texts in memory at a time
    try:
        for i in range(0, len(missing), step):
            part = missing[i:i + step]
            text = dict(chunk_texts(store, part))  # read by id; embedded in recency order
            rows = [(c, text[c]) for c in part if c in text]
            done = _embed_chunk_rows(store, vectors, enc, ann, rows, report, cancel, on_progress, stage,
                                     len(missing), done)
    finally:  # also when cancelled: count what was embedded, from the index itself
        vectors.checkpoint(force=True)
        with store.lock:
            done = len(ann.labels().intersection(missing))
        report.chunks_embedded += done
        if stage == "repair":
            report.repaired_vectors += done
        seconds = time.perf_counter() - t0
        if done >= BATCH_CHUNKS and seconds > 0:
            with store.transaction():
                store.set("passages_per_s", round(done / seconds, 2))
    return done


# -- deletion ---------------------------------------------------------------------------------------
def remove_folder(store: Store, vectors: VectorIndex, path: str) -> None:
    """Delete a folder's documents, chunks and vectors, and the folder itself."""
    with store.lock:
        vectors.ann  # loaded first, so the deleted chunks' vectors are marked deleted in it
        with store.transaction():
            dead = store.delete_folder(path)
        vectors.delete(dead)
    vectors.checkpoint(force=True)
    vectors.maybe_compact()


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


def _prepare(enc, entry: FileEntry, old: dict | None, max_file_bytes: int) -> dict:
    """Read, hash, extract and chunk one file -> a pending item (ok, failed or touch-only)."""
    item = {"entry": entry, "old": old}
    if entry.error:  # the scan could not stat the file or list the folder
        item.update(status="failed", error=entry.error, hash=None)
        return item
    try:
        data = read_bytes(Path(entry.path), max_file_bytes)
    except ExtractError as exc:
        item.update(status="failed", error=str(exc), hash=None)
        return item
    item["hash"] = _file_hash(data)
    if old is not None and old["hash"] == item["hash"] and old["status"] == "ok":
        item["status"] = "touch"  # same content, new mtime: nothing to re-embed
        return item
    try:
        ext = extract(entry.path, entry.file_type, max_file_bytes, data=data)
    except ExtractError as exc:
        item.update(status="failed", error=str(exc))
        return item
    except Exception as exc:  # a library choking on a malformed file must not stop indexing
        item.update(status="failed", error=f"cannot extract text ({type(exc).__name__}: {str(exc)[:160]})")
        return item
    max_tokens = max(32, min(CHUNK_TOKENS, enc.max_length - 8))
    chunks = chunk_text(ext.text, enc.tokenizer, max_tokens, OVERLAP_TOKENS, breaks=ext.page_starts)
    for ch in chunks:
        ch.language = detect_language(ch.text)
        ch.page = page_at(ext.page_starts, ch.start)  # PDFs: the page the chunk starts on
    item.update(status="ok", title=ext.title, n_chars=len(ext.text), chunks=chunks,
                language=detect_document_language(ext.text, chunks))
    if not chunks:
        item.update(status="failed", error="no text")
    return item


def _commit(store: Store, vectors: VectorIndex, folder_id: int, pending: _Pending, report,
            remaining: int) -> int:
    """Write the pending files (documents, chunks, FTS rows) in one transaction; vectors come later."""
    dead: list[int] = []
    now = time.time()
    with store.lock:
        with store.transaction() as st:
            for it in pending.items:
                e: FileEntry = it["entry"]
                old = it["old"]
                if it["status"] == "touch":
                    st.conn.execute(SQL_TOUCH_DOCUMENT, (e.size, e.mtime, old["id"]))
                    report.unchanged += 1
                    continue
                if old is not None:
                    dead += st.delete_chunks_of(old["id"])
                ok = it["status"] == "ok"
                row = dict(folder_id=folder_id, path=e.path, file_type=e.file_type,
                           title=it.get("title") or readable(Path(e.path).stem), size=e.size, mtime=e.mtime,
                           hash=it.get("hash"), language=it.get("language"),
                           status=it["status"], error=it.get("error"), n_chars=it.get("n_chars"),
                           indexed_at=now)
                did = st.upsert_document(row, old["id"] if old is not None else None)
                if ok:
                    st.insert_chunks(did, it["chunks"])
                    report.chunks_added += len(it["chunks"])
                    if old is None:
                        report.added += 1
                    else:
                        report.updated += 1
                else:
                    report.failed += 1
                    report.failures.append(FailedFile(e.path, it["error"]))
            st.set("pending_files", remaining)
        vectors.delete(dead)
    vectors.checkpoint(force=False)
    n = len(pending.items)
    pending.items.clear()
    pending.n_chunks = 0
    return n


def _scan(store: Store, folder_path: str, include, exclude):
    """Walk a folder -> (folder id, files to process with their old rows, unchanged count, deleted ids)."""
    fid = store.conn.execute(SQL_FOLDER_ID, (path_param(folder_path),)).fetchone()[0]
    known = {r[0]: {"id": r[1], "size": r[2], "mtime": r[3], "hash": r[4], "status": r[5]}
             for r in store.conn.execute(SQL_DOCUMENTS_OF_FOLDER, (fid,))}
    work, unchanged, seen = [], 0, set()
    if Path(folder_path).is_dir():
        for e in walk(folder_path, include, exclude, follow_links=bool(store.get("follow_links", False))):
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


#: Raised when a reader changes what it extracts from files already indexed; such files are read
#: again at the next index (2: in PDFs, line breaks inside Chinese, Japanese and Thai text removed;
#: Arabic and Hebrew in reading order, Arabic presentation forms as letters).
READERS_REVISION = 2


def _read_again_outdated(store: Store) -> int:
    """Mark the documents whose stored text an earlier reader extracted differently, so that this
    scan reads them again; once per library. -> how many were marked."""
    if int(store.get("readers_revision", 1) or 1) >= READERS_REVISION:
        return 0
    with store.lock:
        with store.transaction():
            stale = {did for did, text in store.conn.execute(SQL_CHUNK_TEXTS_OF_TYPE, ("pdf",))
                     if read_differently_now(text)}
            for did in stale:
                store.conn.execute(SQL_READ_AGAIN, (did,))
            store.set("readers_revision", READERS_REVISION)
    return len(stale)


def run_index(store: Store, vectors: VectorIndex, enc, folder_paths=None, cancel=None, on_progress=None,
              max_file_bytes: int = 64 * 1024 * 1024) -> IndexReport:
    """Index the given library folders (all when None). See :meth:`Library.index`."""
    t_start = time.perf_counter()
    report = IndexReport()
    if store.count("SELECT count(*) FROM chunks"):
        vectors.check_model(enc)
    with store.lock:  # chunks a crash left without vectors: reported as repaired once embedded
        lost = store.chunk_ids() - vectors.ensure(enc).labels()
    _read_again_outdated(store)
    rows = store.conn.execute(SQL_FOLDERS_TO_INDEX).fetchall()
    if folder_paths is not None:
        rows = [r for r in rows if r[0] in set(folder_paths)]
    if on_progress:
        on_progress(Progress("scan", 0, None, "looking for new and changed files"))
    scans = []
    for path, inc, exc in rows:
        fid, work, unchanged, gone = _scan(store, path, json.loads(inc) if inc else None,
                                           json.loads(exc) if exc else None)
        report.unchanged += unchanged
        if gone:
            with store.lock:
                with store.transaction():
                    dead = [c for did in gone for c in store.delete_document(did)]
                vectors.delete(dead)
            report.removed += len(gone)
        scans.append((fid, path, work))
    files_total = sum(len(w) for _, _, w in scans)
    files_done = 0
    clock = EtaClock(files_total)
    pending = _Pending()
    if files_total:
        _report(on_progress, 0, files_total, report, clock, "")
    try:
        for fid, path, work in scans:
            for entry, old in work:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                pending.add(_prepare(enc, entry, old, max_file_bytes))
                if pending.n_chunks >= BATCH_CHUNKS or len(pending.items) >= BATCH_FILES:
                    files_done += _commit(store, vectors, fid, pending, report,
                                          files_total - files_done - len(pending.items))
                    _report(on_progress, files_done, files_total, report, clock, entry.path)
            if pending.items:
                files_done += _commit(store, vectors, fid, pending, report,
                                      files_total - files_done - len(pending.items))
                _report(on_progress, files_done, files_total, report, clock, path)
            with store.transaction():
                store.conn.execute(SQL_UPDATE_FOLDER_INDEXED, (time.time(), fid))
        report.keyword_seconds = time.perf_counter() - t_start
        # phase 2: vectors for every chunk that has none (this run's, and any a crash left)
        repair(store, vectors, enc, cancel=cancel, on_progress=on_progress, report=report, stage="embed")
        if lost:
            with store.lock:
                report.repaired_vectors += len(lost & vectors.current.labels())
    except Cancelled:
        report.cancelled = True
    finally:
        vectors.checkpoint(force=True)
    if not report.cancelled:
        vectors.maybe_compact()
    report.seconds = time.perf_counter() - t_start
    if on_progress:
        on_progress(Progress("done", files_done, files_total, "cancelled" if report.cancelled else "done",
                             0.0, {"files_done": files_done, "files_total": files_total,
                                   "chunks_done": report.chunks_added}))
    return report


def _report(on_progress, files_done, files_total, report, clock, path):
    if on_progress:
        on_progress(Progress("index", files_done, files_total, str(path), clock.eta(files_done),
                             {"files_done": files_done, "files_total": files_total,
                              "chunks_done": report.chunks_added}))


# -- re-embedding -----------------------------------------------------------------------------------
def run_reembed(store: Store, vectors: VectorIndex, new_enc, cancel=None, on_progress=None) -> None:
    """Embed every chunk with ``new_enc`` into a new index file; switch to it in one database
    commit (file name, model, generation) when complete. Cancelling raises :class:`Cancelled`
    before any switch."""
    total = store.count("SELECT count(*) FROM chunks")
    new = HnswIndex(vectors.path, new_enc.dim, initial_capacity=total + 1024)
    report = IndexReport()
    done, last = 0, 0
    while True:  # stream: one batch of chunk texts in memory at a time
        rows = store.conn.execute(SQL_CHUNK_TEXTS_AFTER, (last, BATCH_CHUNKS * 4)).fetchall()
        if not rows:
            break
        last = rows[-1][0]
        done = _embed_chunk_rows(store, vectors, new_enc, new, rows, report, cancel, on_progress,
                                 "reembed", total, done)
    with store.lock:  # chunks added or deleted meanwhile (a watcher may have indexed)
        ids = store.chunk_ids()
        new.delete(new.labels() - ids)
        missing = sorted(ids - new.labels())
        if missing:
            rows = chunk_texts(store, missing)
            new.add(new_enc.encode([t for _, t in rows], kind="passage"), [r[0] for r in rows])
        gen = int(store.get("generation", 0)) + 1
        # the new index goes to a new file; one commit then names it with its model: a crash
        # before the commit leaves the old model whole (the new file is a stray, removed on the
        # next open), a crash after it the new one (the old file is the stray)
        old_path = vectors.path
        new_path = old_path.with_name(f"vectors-{gen}.hnsw")
        new.save(gen, extra={"model_identity": new_enc.identity, "model_name": new_enc.name}, path=new_path)
        with store.transaction():
            store.set("model_identity", new_enc.identity)
            store.set("model_name", new_enc.name)
            store.set("dim", new_enc.dim)
            store.set("generation", gen)
            store.set("vectors_file", new_path.name)
        vectors.replace(new, saved=True)
        for f in (old_path, old_path.with_name(old_path.name + ".json")):
            try:
                f.unlink()
            except OSError:
                pass
