"""The Qt side of the document library: runs every Library call off the UI thread.

One :class:`Library` object serves the whole app (it may be used from several threads and takes
the library's single-writer lock). Calls run on two *lanes* (single long-lived threads):
``query`` for searches and quick look-ups, ``library`` for long jobs (indexing, re-embedding),
so searching keeps working while a folder is indexed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal

from hybridsearch.errors import LibraryLockedError
from hybridsearch.progress import format_duration
from hybridsearch.qt.workers import Worker, ensure_model_stack

QUERY_LANE = "query"
JOB_LANE = "library"
MODEL_LANE = "model"


def _default_factory(root, model, encoder, threads=None):
    from hybridsearch.library import Library

    return Library(root=root, model=model, encoder=encoder, threads=threads)


class LibraryService(QObject):
    """Owns the per-thread Library objects and the long library jobs; widgets talk to this."""

    #: folders, counts or the index changed (re-read folders / languages / file types)
    changed = Signal()
    #: a short status line for the status bar ("Indexing 12/40 files", "Watching 2 folders")
    status = Signal(str)
    #: indexing or re-embedding progress (a hybridsearch.progress.Progress)
    job_progress = Signal(object)
    #: a long job started: its kind ("index", "reembed")
    job_started = Signal(str)
    #: a long job ended: (kind, outcome "done" | "cancelled" | "failed" | "search-only", result or
    #: message; "search-only": the library is open for writing in another process, the message says so)
    job_finished = Signal(str, str, object)
    #: something failed; a readable message
    error = Signal(str)
    #: the model started loading (a search waits for it: "Loading the model…")
    model_loading = Signal()
    #: the model is loaded; searches run at full speed from now on
    model_ready = Signal()
    #: the model could not be loaded; a readable message
    model_failed = Signal(str)

    def __init__(self, root: str | Path | None = None, model: str = "default", encoder=None,
                 factory: Callable[..., Any] | None = None, parent: QObject | None = None,
                 threads: int | None = None):
        super().__init__(parent)
        #: CPU threads for the model (Preferences); None: the library's default
        self.threads = threads
        self.root = Path(root) if root else None
        self.model = model
        self._encoder = encoder
        #: "idle" (not asked for yet), "loading", "ready" or "failed"
        self.model_state = "ready" if encoder is not None else "idle"
        #: the model is being converted for its first use (minutes on a slow machine), not just loaded
        self.preparing = False
        self._factory = factory or _default_factory
        self._lib = None
        self._lib_lock = threading.Lock()
        self.job: Worker | None = None
        self.job_kind = ""
        #: what the status bar says while the current job has no files to count yet
        self.job_status: str | None = None
        self.watcher = None
        self.folder_count = 0
        #: set when the rescan at start found the library open for writing in another process: the
        #: notice that says so; this window then searches only (no jobs, no watcher)
        self.search_only: str | None = None
        self._closed = False

    # library objects (called only on lanes) --------------------------------------------------
    def library(self):
        """The app's Library (opened on first use, on a lane thread)."""
        with self._lib_lock:
            if self._lib is None:
                self._lib = (self._factory(self.root, self.model, self._encoder, self.threads) if self.threads
                             else self._factory(self.root, self.model, self._encoder))
            return self._lib

    def load_model(self) -> None:
        """Load the model in the background now (at start, so the first search does not wait).

        The Library loads its encoder once, under its own lock, whichever thread asks first (a
        search, the start-up rescan or this); the others wait for it. This call only makes the
        wait visible: ``model_loading`` now, ``model_ready`` or ``model_failed`` when it is done.
        """
        if self.model_state in ("loading", "ready"):
            return
        self.model_state = "loading"
        self.preparing = model_needs_preparation(self.model)
        self.model_loading.emit()
        self.status.emit(self.model_state_text())
        def job(cancel, report):
            ensure_model_stack()
            return self.library().encoder
        w = Worker(job, lane_name=MODEL_LANE, parent=self)
        w.result.connect(self._model_loaded)
        w.error.connect(self._model_not_loaded)
        w.start()

    def model_state_text(self) -> str:
        """What the model is doing, for a person: loading, or the one-time preparation."""
        if self.model_state != "loading":
            return ""
        if self.preparing:
            return "Preparing the model for first use (one time only, about a minute)…"
        return "Loading the model…"

    def _model_loaded(self, enc) -> None:
        self._encoder = enc
        self.model_state = "ready"
        self.model_ready.emit()
        self.status.emit("Ready to search (search only: the library is open in another window)"
                         if self.search_only else "Ready to search")

    def _model_not_loaded(self, msg: str) -> None:
        self.model_state = "failed"
        self.model_failed.emit(msg)
        self.error.emit(f"The search model could not be loaded: {msg}")

    # quick calls ------------------------------------------------------------------------------
    def call(self, fn: Callable[[Any], Any], on_result=None, on_error=None, lane: str = QUERY_LANE) -> Worker:
        """Run ``fn(library)`` on ``lane``; deliver its value to ``on_result`` on the UI thread."""
        w = Worker(lambda cancel, report: fn(self.library()), lane_name=lane, parent=self)
        if on_result is not None:
            w.result.connect(on_result)
        w.error.connect(on_error if on_error is not None else self.error.emit)
        return w.start()

    def search(self, query: str, on_result, on_error=None, **kwargs) -> Worker:
        """Search, rate each result (strong / good / weak) and help with the spelling
        -> :class:`~hybridsearch.match_strength.RatedSearch`."""
        from hybridsearch.match_strength import rated_search

        def fn(lib):
            if kwargs.get("mode") != "lexical":
                ensure_model_stack()  # the search may load the model: never two imports at once
            return rated_search(lib, query, **kwargs)
        return self.call(fn, on_result, on_error)

    def overview(self, on_result, on_error=None) -> Worker:
        """folders, languages, file types and status in one call -> dict."""
        def fn(lib):
            return {"folders": lib.folders(), "languages": lib.languages(), "file_types": lib.file_types(),
                    "status": lib.status(), "failed": lib.failed_files()}
        return self.call(fn, on_result, on_error)

    def context(self, result, on_result, on_error=None, query: str = "", by_meaning: bool = False) -> Worker:
        """``result``'s document around its passage -> (before, passage, after, term spans,
        sentence spans that match by meaning)."""
        return self.call(lambda lib: passage_context(lib, result, query=query, by_meaning=by_meaning),
                         on_result, on_error)

    # long jobs --------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.job is not None and self.job.running

    def writable(self, kind: str = "index") -> bool:
        """False when this window searches only (another one holds the library); the notice is
        then said again, instead of a job failing on the other window's lock."""
        if self.search_only:
            self.job_finished.emit(kind, "search-only", self.search_only)
            return False
        return True

    def _start_job(self, kind: str, fn: Callable, status: str | None = None) -> Worker | None:
        if not self.writable(kind):
            return None
        if self.busy:
            self.error.emit(f"Please wait: {self.job_kind_text()} is still running.")
            return None
        def job(cancel, report):
            ensure_model_stack()
            return fn(self.library(), cancel, report)
        w = Worker(job, lane_name=JOB_LANE, parent=self)
        self.job, self.job_kind = w, kind
        self.job_status = status
        w.progress.connect(self._on_job_progress)
        w.result.connect(lambda res: self._job_done(kind, "cancelled" if getattr(res, "cancelled", False)
                                                     else "done", res))
        w.cancelled.connect(lambda: self._job_done(kind, "cancelled", None))
        w.error.connect(lambda msg: self._job_done(kind, "failed", msg))
        self.job_started.emit(kind)
        self.status.emit(status or ("Re-embedding the library…" if kind == "reembed" else "Indexing…"))
        return w.start()

    def job_kind_text(self) -> str:
        return {"index": "indexing", "reembed": "re-embedding the library",
                "add": "adding a folder"}.get(self.job_kind, self.job_kind)

    def _on_job_progress(self, p) -> None:
        self.job_progress.emit(p)
        if self.job_status and not (getattr(p, "extra", None) or {}).get("files_total"):
            self.status.emit(self.job_status)  # the rescan at start, before it finds work to do
        else:
            self.status.emit(progress_text(p, self.job_kind))

    def _job_done(self, kind: str, outcome: str, payload) -> None:
        self.job = None  # not busy any more, before anyone hears about it
        if isinstance(payload, OpenElsewhere):
            self.search_only = payload.text()
            self.job_finished.emit(kind, "search-only", self.search_only)
            self.status.emit("Search only: the library is open in another window")
            return  # no watcher either: the other process indexes the changes
        self.job_finished.emit(kind, outcome, payload)
        if outcome == "failed":
            self.error.emit(str(payload))
        self.status.emit({"done": "Index up to date", "cancelled": "Indexing cancelled — it will continue "
                          "where it stopped", "failed": "Indexing failed"}[outcome]
                         if kind != "reembed" else {"done": "Library re-embedded with the new model",
                                                    "cancelled": "Re-embedding cancelled",
                                                    "failed": "Re-embedding failed"}[outcome])
        self.changed.emit()
        self.start_watching()

    def add_folder(self, path: str | Path) -> Worker | None:
        """Add ``path`` and index it."""
        path = str(path)

        def fn(lib, cancel, report):
            lib.add_folder(path)
            self.changed.emit()
            return lib.index(folders=[path], cancel=cancel, on_progress=report)
        return self._start_job("index", fn)

    def index(self, folders=None, catch_up: bool = False) -> Worker | None:
        """Index ``folders`` (all when None); ``catch_up``: the rescan at start, which the status
        bar calls what it is (search works meanwhile)."""
        def fn(lib, cancel, report):
            try:
                return lib.index(folders=folders, cancel=cancel, on_progress=report)
            except LibraryLockedError as exc:
                if not catch_up:
                    raise
                return OpenElsewhere(exc.holder)  # a second window on the library: it searches
        return self._start_job("index", fn,
                               status="Checking folders for changes (search works meanwhile)…" if catch_up else None)

    def reembed(self, model: str) -> Worker | None:
        """Re-embed the library with ``model``; search keeps using the old index until done."""
        def fn(lib, cancel, report):
            lib.reembed(str(model), cancel=cancel, on_progress=report)
            self.model = str(model)
            self._encoder = lib.encoder  # the new model's, loaded by the re-embed
            return str(model)
        return self._start_job("reembed", fn)

    def cancel_job(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def remove_folder(self, path: str | Path, on_done=None) -> Worker:
        def fn(lib):
            lib.remove_folder(str(path))
            return str(path)

        def done(_):
            self.changed.emit()
            self.start_watching()
            if on_done:
                on_done()
        return self.call(fn, done, lane=JOB_LANE) if not self.busy else self.call(fn, done, lane=QUERY_LANE)

    # watching ---------------------------------------------------------------------------------
    def start_watching(self) -> None:
        """Keep the library current while the app is open (the Library's watcher does the work)."""
        if self._closed:
            return

        def fn(lib):
            if self.watcher is not None:
                self.watcher.refresh()  # pick up added or removed folders
                return self.watcher
            return lib.watch(on_change=self._on_watch_change, on_error=self._on_watch_error)

        def started(w):
            self.watcher = w
            if w is not None:
                self.status.emit("Watching folders for changes")
        self.call(fn, started, on_error=lambda msg: self.status.emit(f"Not watching folders: {msg}"), lane=JOB_LANE)

    def _on_watch_change(self, *args) -> None:
        # Called on the watcher's thread: only emit signals here.
        self.changed.emit()
        self.status.emit("Library updated from changes on disk")

    def _on_watch_error(self, exc) -> None:
        from hybridsearch.qt.workers import readable_error

        self.status.emit(f"Updating from changes on disk failed: {readable_error(exc)}")

    def close(self) -> None:
        """Stop jobs and the watcher; close the Library objects on their own lanes."""
        self._closed = True
        self.cancel_job()
        w = self.watcher
        self.watcher = None
        if w is not None:
            for name in ("stop", "close"):
                if hasattr(w, name):
                    try:
                        getattr(w, name)()
                    except Exception:  # noqa: BLE001 - closing must not fail the app's exit
                        pass
                    break
        from hybridsearch.qt.workers import lane

        def closer():
            with self._lib_lock:
                lib, self._lib = self._lib, None
            if lib is not None:
                try:
                    lib.close()
                except Exception:  # noqa: BLE001 - closing must not fail the app's exit
                    pass
        try:
            fut = lane(JOB_LANE).submit(closer)
            fut.result(timeout=10)
        except Exception:  # noqa: BLE001
            closer()


@dataclass(frozen=True)
class OpenElsewhere:
    """The rescan at start found the library open for writing in another process (``holder``: its id)."""

    holder: str | None

    def text(self) -> str:
        who = f" (process {self.holder})" if self.holder else ""
        return (f"This library is also open in another hybridsearch window or command{who}. You can search "
                "it here; new and changed files are indexed by the other one. To add folders or index from "
                "this window, close the other one, then start hybridsearch again.")


def model_needs_preparation(model: str = "default") -> bool:
    """True when loading ``model`` will first convert or export it (once per installation or model)."""
    try:
        from hybridsearch.encoder import needs_preparation

        return needs_preparation(model)
    except (ImportError, AttributeError, OSError):
        return False


def progress_text(p, kind: str = "index") -> str:
    """'Indexing: 12/40 files · 310 chunks · about 2 min left'."""
    extra = getattr(p, "extra", None) or {}
    verb = "Re-embedding" if kind == "reembed" else "Indexing"
    parts = []
    if "files_total" in extra:
        parts.append(f"{extra.get('files_done', 0)}/{extra['files_total']} files")
    elif getattr(p, "total", None):
        parts.append(f"{p.done}/{p.total}")
    if "chunks_done" in extra:
        parts.append(f"{extra['chunks_done']} chunks")
    eta = getattr(p, "eta_s", None)
    if eta is not None:
        parts.append(f"about {format_eta(eta)} left")
    msg = getattr(p, "message", "")
    head = f"{verb}: " + " · ".join(parts) if parts else f"{verb}…"
    return head + (f" — {msg}" if msg and not parts else "")


def format_eta(seconds: float | None) -> str:
    """A duration as the app shows it: whole minutes from 10 minutes on."""
    return format_duration(seconds, whole_minutes_from=600)


def passage_context(lib, result, chars: int = 1200, query: str = "", by_meaning: bool = False):
    """(before, passage, after, spans, meaning) from the document text around the result's best
    passage; ``spans`` are the (start, end) offsets in ``before + passage + after`` of the query's
    terms, ``meaning`` those of the passage's sentences closest to the query by meaning (empty
    unless ``by_meaning``)."""
    passage = result.best
    ctx = lib.context(passage.chunk_id, chars)
    text, start, end = ctx.text, int(ctx.start), int(ctx.end)
    meaning = []
    if by_meaning and query.strip():
        from hybridsearch.sentence_match import best_sentences

        meaning = [(start + s, start + e) for s, e in best_sentences(lib.encoder, query, text[start:end])]
    return text[:start], text[start:end], text[end:], term_spans(text, query), meaning


def term_spans(text: str, query: str) -> list[tuple[int, int]]:
    """Where the query's keywords are in ``text``: the engine's spans (whole words; in scripts
    without spaces, runs of characters), so the view never re-derives them from snippet HTML."""
    if not query.strip():
        return []
    from hybridsearch.snippets import highlight_spans, query_terms

    return [(int(s), int(e)) for s, e in highlight_spans(text, query_terms(query))]
