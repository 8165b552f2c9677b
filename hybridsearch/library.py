"""The one facade the GUI and the CLI use: a library of folders, its index, and search.

In: a library directory (``library.db`` + ``vectors.hnsw``) and a model name. Out: the
:class:`Library` object; everything it returns is a plain record (:mod:`hybridsearch.records`,
no Qt). The library owns its :class:`~hybridsearch.store.Store`, its
:class:`~hybridsearch.vectors.VectorIndex` and its encoder, and passes them explicitly to the
indexing jobs (:mod:`hybridsearch.indexer`) and to :mod:`hybridsearch.search`.

Threading: one Library may be used from several threads (a GUI worker indexing while the UI
thread searches); database and vector-index access are serialised by the store's lock, which is
not held while the encoder runs, and indexing jobs run one at a time. Only one *process* may
write a library: the first writing call (``add_folder``, ``index``, ``remove_folder``,
``reembed``, ``watch``) takes an exclusive lock file; another process then gets
:class:`LibraryLockedError` with a clear message.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Callable

from hybridsearch import indexer, paths, spelling
from hybridsearch import search as search_module
from hybridsearch.encoder import load_encoder, word_pieces
from hybridsearch.errors import InputError, LibraryLockedError, ModelMismatchError
from hybridsearch.progress import CancelToken, Progress
from hybridsearch.ranking import DEFAULT_POLICY, RankingPolicy
from hybridsearch.records import Context, DocumentResult, FailedFile, FolderInfo, IndexReport
from hybridsearch.store import (SQL_DOCUMENT_LANGUAGES, SQL_FAILED_FILES, SQL_FILE_TYPES, SQL_FOLDER_ID,
                                SQL_FOLDER_INSERT, SQL_FOLDER_LANGS, SQL_FOLDER_PATH, SQL_FOLDER_PATTERNS,
                                SQL_FOLDER_STATS, SQL_LANGUAGES, Store, path_param)
from hybridsearch.vectors import VectorIndex
from hybridsearch.watcher import Watcher

__all__ = ["Library", "ModelMismatchError", "LibraryLockedError", "Context", "DocumentResult",
           "FailedFile", "FolderInfo", "IndexReport", "RankingPolicy"]

DB_NAME = "library.db"
HNSW_NAME = "vectors.hnsw"
LOCK_NAME = "library.lock"


class _FileLock:
    """An exclusive, non-blocking lock file held while this process writes the library."""

    def __init__(self, path: Path):
        self.path = path
        self.fh = None

    def acquire(self) -> None:
        if self.fh is not None:
            return
        fh = open(self.path, "a+")
        try:
            if os.name == "nt":
                import msvcrt

                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip()
            fh.close()
            who = f" (pid {holder})" if holder else ""
            raise LibraryLockedError(
                f"the library is in use by another hybridsearch process{who}: close the app or wait "
                f"for the other command to finish, then try again ({self.path.parent})", holder=holder or None)
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self.fh = fh

    def release(self) -> None:
        if self.fh is not None:
            self.fh.close()  # closing drops the lock
            self.fh = None


class Library:
    """A library: folders, the document/chunk database, the vector index, search.

    In: ``root`` (defaults to :func:`paths.default_library_dir`), ``model`` ('default', 'base' or
    a model directory) or a ready ``encoder``; ``device`` for the encoder. The encoder is loaded
    on first use. Use as a context manager or call :meth:`close`.

    The first use of the vector index checks it against the database (stray vectors dropped;
    ``status()['health']`` reports missing ones); ``index()``, ``repair()`` or ``watch()`` (its
    initial scan) re-embeds what is missing, so an app should call one of them at start.
    """

    def __init__(self, root: Path | str | None = None, model: str = "default", encoder=None,
                 device=None, threads: int | None = None):
        self.root = Path(root) if root else paths.default_library_dir()
        self.root.mkdir(parents=True, exist_ok=True)
        self.model = str(model)
        self.device = device
        self.threads = threads
        self._encoder = encoder
        self._pieces = None  # (the encoder it came from, the word-pieces counter of spelling suggestions)
        #: one loader: a search and the start-up rescan may both ask for the encoder first, and two
        #: threads importing the model stack at once fail ("cannot import name 'AutoConfig'")
        self._encoder_lock = threading.Lock()
        #: one indexing/re-embedding job at a time (the watcher and a GUI button may both ask)
        self._job_lock = threading.Lock()
        self._file_lock = _FileLock(self.root / LOCK_NAME)
        self.store = Store(self.root / DB_NAME)
        #: the vector index; its ``checkpoint_seconds`` is the time between saves while
        #: indexing (tests make it small)
        self.vectors = VectorIndex(self.store, self.root / HNSW_NAME,
                                   writable=lambda: self._file_lock.fh is not None,
                                   checkpoint_seconds=float(os.environ.get("HYBRIDSEARCH_CHECKPOINT_S", "30")))
        self._watchers: list[Watcher] = []
        self.max_file_bytes = 64 * 1024 * 1024

    @property
    def lock(self):
        """The library's one in-process lock (the store's): held around database and vector
        index work that must be seen as one step."""
        return self.store.lock

    # -- lifecycle --------------------------------------------------------------------------
    def close(self) -> None:
        """Stop watchers, save pending vectors, release the lock, close the database."""
        for w in list(self._watchers):
            w.stop()
        self._watchers.clear()
        with self.lock:
            if self.vectors.current is not None and self._file_lock.fh is not None:
                self.vectors.checkpoint(force=True)
            self._file_lock.release()
            self.store.close()

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def encoder(self):
        """The query/passage encoder (loaded on first use, by one thread; others wait for it)."""
        if self._encoder is None:
            with self._encoder_lock:
                if self._encoder is None:
                    self._encoder = load_encoder(self.model, device=self.device, threads=self.threads)
        return self._encoder

    def _writable(self) -> None:
        self._file_lock.acquire()

    # -- folders ----------------------------------------------------------------------------
    def add_folder(self, path, include: list[str] | None = None,
                   exclude: list[str] | None = None) -> FolderInfo:
        """Add a folder to the library (not indexed until :meth:`index`); returns its info.

        ``include``/``exclude``: glob patterns on paths relative to the folder (``*.pdf``,
        ``drafts/**``). Adding an existing folder updates its patterns.
        """
        p = Path(path).expanduser()
        if not p.is_dir():
            raise InputError(f"not a folder: {path}")
        p = str(p.resolve())
        self._writable()
        with self.store.transaction():
            row = self.store.conn.execute(SQL_FOLDER_ID, (path_param(p),)).fetchone()
            inc = json.dumps(include) if include is not None else None
            exc = json.dumps(exclude) if exclude is not None else None
            if row:
                self.store.conn.execute(SQL_FOLDER_PATTERNS, (inc, exc, row[0]))
            else:
                self.store.conn.execute(SQL_FOLDER_INSERT, (path_param(p), inc, exc, time.time()))
        return next(f for f in self.folders() if f.path == p)

    def remove_folder(self, path) -> None:
        """Remove a folder with its documents, chunks and vectors (files on disk are untouched)."""
        self._writable()
        with self._job_lock:  # waits for a running indexing job (cancel it first to be quick)
            indexer.remove_folder(self.store, self.vectors, self._folder_path(path))

    def _folder_path(self, path) -> str:
        p = str(Path(path).expanduser().resolve())
        row = self.store.conn.execute(SQL_FOLDER_PATH, (path_param(p),)).fetchone()
        if not row:
            raise InputError(f"not a library folder: {path}")
        return row[0]

    def folders(self) -> list[FolderInfo]:
        """The library's folders with document/chunk/failure counts and languages."""
        out = []
        with self.lock:
            for fid, path, inc, exc, last, docs, failed, chunks in self.store.conn.execute(
                    SQL_FOLDER_STATS).fetchall():
                langs = dict(self.store.conn.execute(SQL_FOLDER_LANGS, (fid,)).fetchall())
                out.append(FolderInfo(
                    path=path, documents=docs, chunks=chunks, languages=langs,
                    last_indexed=datetime.fromtimestamp(last) if last else None, failed=failed,
                    include=json.loads(inc) if inc else None, exclude=json.loads(exc) if exc else None))
        return out

    def failed_files(self, folder=None) -> list[FailedFile]:
        """Files that could not be indexed, with the reason, optionally of one folder."""
        where, params = "", ()
        if folder is not None:
            where, params = "AND f.path = ?", (self._folder_path(folder),)
        rows = self.store.conn.execute(SQL_FAILED_FILES.format(where=where), params).fetchall()
        return [FailedFile(path=p, reason=r or "unknown error", folder=f) for p, r, f in rows]

    # -- indexing ---------------------------------------------------------------------------
    @property
    def follow_links(self) -> bool:
        """Whether indexing follows symbolic links that point outside a library folder (default no)."""
        return bool(self.store.get("follow_links", False))

    @follow_links.setter
    def follow_links(self, value: bool) -> None:
        self._writable()
        with self.store.transaction():
            self.store.set("follow_links", bool(value))

    def index(self, folders=None, cancel: CancelToken | None = None,
              on_progress: Callable[[Progress], None] | None = None) -> IndexReport:
        """Bring the index up to date with the folders (all, or the given ones).

        New and changed files are extracted, chunked, embedded and committed batch by batch;
        deleted files are removed. Safe to interrupt at any point (cancel, crash, kill -9): what
        was committed stays and the next run resumes. ``on_progress(Progress)`` gets
        ``extra={"files_done", "files_total", "chunks_done"}`` and ``eta_s``. Returns a report
        (``cancelled=True`` when stopped by ``cancel``). Raises :class:`ModelMismatchError` when
        the index was built by another encoder (see :meth:`reembed`).
        """
        self._writable()
        paths_ = [self._folder_path(f) for f in folders] if folders else None
        with self._job_lock:  # a second caller waits for the running job, then finds little to do
            return indexer.run_index(self.store, self.vectors, self.encoder, paths_, cancel=cancel,
                                     on_progress=on_progress, max_file_bytes=self.max_file_bytes)

    def reembed(self, model: str | None = None, cancel: CancelToken | None = None,
                on_progress: Callable[[Progress], None] | None = None, encoder=None) -> None:
        """Re-embed every chunk with ``model`` (or ``encoder``) into a new vector index.

        The new index is built beside the old one and swapped in atomically when complete;
        search keeps using the old one meanwhile (indexing waits). Cancelling raises :class:`Cancelled` and leaves
        the old index and model in place (as does a crash: nothing is written until the swap).
        """
        self._writable()
        with self._job_lock:
            new_enc = encoder or load_encoder(model or self.model, device=self.device, threads=self.threads)
            indexer.run_reembed(self.store, self.vectors, new_enc, cancel=cancel, on_progress=on_progress)
            self._encoder = new_enc
            if model:
                self.model = str(model)

    def repair(self, cancel: CancelToken | None = None, on_progress=None) -> int:
        """Re-embed chunks whose vectors are missing and drop vectors of deleted chunks; returns
        the number of vectors added. ``index()`` does this first on its own."""
        self._writable()
        with self._job_lock:
            return indexer.repair(self.store, self.vectors, self.encoder, cancel=cancel,
                                  on_progress=on_progress)

    def model_mismatch(self) -> bool:
        """True when the index holds vectors made by another encoder than the current one."""
        built = self.store.get("model_identity")
        if built is None:
            return False
        return built != self.encoder.identity

    # -- search -----------------------------------------------------------------------------
    def spelling_suggestion(self, query: str) -> str | None:
        """"Did you mean …?": ``query`` with the words that no passage holds put right from the
        library's own words (see :mod:`hybridsearch.spelling`), or None. The search is not changed."""
        enc = self._encoder
        if self._pieces is None or self._pieces[0] is not enc:
            fast = getattr(enc, "query_tokenizer", None)
            pieces = fast.pieces if fast is not None else word_pieces(self.model) if enc is None else None
            self._pieces = (enc, pieces)
        return spelling.correct(self.store, query, self._pieces[1])

    def search(self, query: str, k: int = 10, mode: str = "hybrid", languages=None, folders=None,
               file_types=None, modified_after: datetime | float | None = None,
               modified_before: datetime | float | None = None,
               weights: tuple[float, float] | None = None,
               language_offset: float | None = None, feedback: bool | None = None,
               policy: RankingPolicy | None = None) -> list[DocumentResult]:
        """Search: ``mode`` 'hybrid' (dense + lexical fused by reciprocal rank fusion), 'dense' or
        'lexical'. Returns up to ``k`` documents, best first.

        How results are ranked is ``policy`` (default :data:`ranking.DEFAULT_POLICY`; see
        :class:`RankingPolicy`); ``weights`` (dense, lexical), ``language_offset`` (None: the
        model card's; 0: rank by cosine alone) and ``feedback`` (False: one dense search) change
        one setting of it.

        Filters: ``languages`` (ISO 639-1 codes: the document or the passage is in one of them),
        ``folders`` (paths; subfolders included), ``file_types`` ('pdf', 'txt', …), and the
        modification time range. The query text is never parsed as FTS syntax.
        """
        policy = (policy or DEFAULT_POLICY).with_(
            weights=tuple(weights) if weights is not None else None, language_offset=language_offset,
            feedback=bool(feedback) if feedback is not None else None)
        return search_module.search(self.store, self.vectors, lambda: self.encoder, query, k=k, mode=mode,
                                    languages=languages, folders=folders, file_types=file_types,
                                    modified_after=modified_after, modified_before=modified_before,
                                    policy=policy)

    def context(self, chunk_id: int, chars: int = 800) -> Context:
        """The document text around a chunk (about ``chars`` characters each side), for
        "show in context"; rebuilt from the stored chunks, so it works if the file is gone."""
        return search_module.context(self.store, chunk_id, chars)

    def document_text(self, path) -> str:
        """The indexed text of a document (rebuilt from its chunks at their offsets)."""
        return search_module.document_text(self.store, str(path))

    def languages(self) -> list[str]:
        """Languages present in the library (document and chunk languages), sorted."""
        rows = self.store.conn.execute(SQL_LANGUAGES).fetchall()
        return sorted({r[0] for r in rows})

    def file_types(self) -> list[str]:
        """File types present in the library ('pdf', 'txt', …), sorted."""
        rows = self.store.conn.execute(SQL_FILE_TYPES).fetchall()
        return sorted(r[0] for r in rows if r[0])

    def status(self) -> dict:
        """Counts, model identity, index health and pending work, as a JSON-able dict.

        Keys: root, folders, documents, failed, chunks, vectors, languages, model_identity,
        model_name, current_model (identity of the loaded encoder, or None if not loaded),
        model_mismatch, generation, health ('ok' or a description), vectors_missing,
        vectors_extra, pending_files (left by an interrupted run; a scan may find more),
        keyword_indexed and embedded (chunks searchable by keywords / by meaning) and
        embedding_eta_s (None when nothing waits or no rate is known yet).
        """
        with self.lock:
            c = self.store.count
            out = {
                "root": str(self.root),
                "folders": c("SELECT count(*) FROM folders"),
                "documents": c("SELECT count(*) FROM documents WHERE status = 'ok'"),
                "failed": c("SELECT count(*) FROM documents WHERE status = 'failed'"),
                # files the last run had still to do when it stopped (0 after a complete run)
                "pending_files": int(self.store.get("pending_files", 0) or 0),
                "chunks": c("SELECT count(*) FROM chunks"),
                "languages": dict(self.store.conn.execute(SQL_DOCUMENT_LANGUAGES).fetchall()),
                "model_identity": self.store.get("model_identity"),
                "model_name": self.store.get("model_name"),
                "generation": self.store.get("generation", 0),
            }
            out.update(self.vectors.health())
        out.update(self._embedding_figures(out["chunks"], out["vectors_missing"]))
        out["current_model"] = self._encoder.identity if self._encoder is not None else None
        out["model_mismatch"] = (self._encoder is not None and out["model_identity"] is not None
                                 and out["model_identity"] != self._encoder.identity)
        return out

    def embedding_state(self) -> dict:
        """How much of the library meaning search covers yet: keyword_indexed (chunks), embedded,
        not_embedded and embedding_eta_s (from the last measured embedding rate)."""
        health = self.vectors.health()
        chunks = self.store.count("SELECT count(*) FROM chunks")
        return self._embedding_figures(chunks, health["vectors_missing"])

    def _embedding_figures(self, chunks: int, missing: int) -> dict:
        rate = float(self.store.get("passages_per_s", 0) or 0)
        return {"keyword_indexed": chunks, "embedded": chunks - missing, "not_embedded": missing,
                "embedding_eta_s": max(0.1, round(missing / rate, 1)) if missing and rate > 0 else None}

    # -- watching ---------------------------------------------------------------------------
    def watch(self, on_change: Callable[[IndexReport], None] | None = None,
              debounce_s: float = 2.0, on_error: Callable[[Exception], None] | None = None,
              initial_scan: bool = True) -> Watcher:
        """Watch the library's folders and index changed files (debounced) in a background thread.

        Returns a started :class:`hybridsearch.watcher.Watcher` (call ``.stop()``); ``on_change``
        receives each :class:`IndexReport` that changed something, ``on_error`` any exception of a
        background run. ``initial_scan``: index every folder once at start (catches changes made
        while the app was closed, and repairs vectors lost in a crash).
        """
        self._writable()
        w = Watcher(self, on_change=on_change, on_error=on_error, debounce_s=debounce_s,
                    initial_scan=initial_scan)
        w.start()
        self._watchers.append(w)
        return w
