"""Indexing: formats and failures, incremental updates, repair after a lost vector file, model change,
cancel and resume, the watcher. Uses the tiny random encoder: behaviour, not retrieval quality."""

from __future__ import annotations

import os
import time

import pytest
from test_documents import EN, RU, TH, ZH, make_docx, make_encrypted_pdf, make_pdf

from hybridsearch.errors import LibraryLockedError
from hybridsearch.library import Library, ModelMismatchError
from hybridsearch.progress import CancelToken


def _consistent(lib: Library) -> None:
    """Every chunk has exactly one vector and no document has duplicate chunks."""
    st = lib.status()
    assert st["health"] == "ok", st
    assert st["vectors"] == st["chunks"]
    dup = lib.store.conn.execute(
        "SELECT count(*) FROM (SELECT document_id, ordinal FROM chunks GROUP BY 1, 2 HAVING count(*) > 1)"
    ).fetchone()[0]
    assert dup == 0


@pytest.fixture
def docs(tmp_path):
    d = tmp_path / "docs"
    (d / "sub").mkdir(parents=True)
    (d / "ru.txt").write_bytes((RU + "\n\n" + RU).encode("cp1251"))
    (d / "zh.md").write_text(ZH, encoding="utf-8")
    (d / "sub" / "th.txt").write_text(TH, encoding="utf-8")
    make_pdf(d / "en.pdf", EN)
    make_docx(d / "notes.docx", [EN, "Second paragraph about the harbour."])
    make_encrypted_pdf(d / "locked.pdf")
    (d / "fake.txt").write_bytes(bytes(range(256)) * 20)
    return d


def test_index_records_failures_and_stays_consistent(tmp_path, docs, tiny_encoder):
    seen = []
    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        lib.add_folder(docs)
        rep = lib.index(on_progress=seen.append)
        assert (rep.added, rep.failed) == (5, 2)
        failed = {os.path.basename(f.path): f.reason for f in lib.failed_files()}
        assert "encrypted" in failed["locked.pdf"] and "binary" in failed["fake.txt"]
        [info] = lib.folders()
        assert info.documents == 5 and info.failed == 2 and info.last_indexed is not None
        assert info.languages["ru"] == 1 and info.languages["zh"] == 1 and info.languages["th"] == 1
        assert set(lib.file_types()) == {"txt", "md", "pdf", "docx"}
        assert {"ru", "zh", "th", "en"} <= set(lib.languages())
        last = [p for p in seen if p.stage == "index"][-1]
        assert last.extra["files_done"] == last.extra["files_total"] == 7 and last.extra["chunks_done"] > 0
        # each stage is announced before its first batch, so a progress bar's rate and ETA count
        # from when the work began (a bar first told "35 of 50 files" showed 429,241 files/s)
        first = {}
        for p in seen:
            first.setdefault(p.stage, p)
        assert (first["index"].done, first["index"].total) == (0, 7)
        assert first["embed"].done == 0 and first["embed"].total == lib.status()["chunks"]
        _consistent(lib)
        # the Russian cp1251 file is found by a Russian query
        hits = lib.search("столицей России", mode="lexical")
        assert hits and hits[0].path.endswith("ru.txt") and hits[0].language == "ru"


def test_incremental_updates_and_deletions(tmp_path, docs, tiny_encoder):
    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        lib.add_folder(docs)
        lib.index()
        rep = lib.index()  # nothing changed; failed files are not retried
        assert (rep.added, rep.updated, rep.failed, rep.unchanged) == (0, 0, 0, 7)
        st = (docs / "zh.md").stat()
        os.utime(docs / "zh.md", (st.st_atime, st.st_mtime + 10))  # touched, same content
        (docs / "sub" / "th.txt").write_text(TH + "\n\nพิพิธภัณฑ์ใหม่ลำดับที่สอง", encoding="utf-8")
        (docs / "ru.txt").unlink()
        (docs / "new.txt").write_text("A brand new zeppelin document.", encoding="utf-8")
        rep = lib.index()
        assert (rep.added, rep.updated, rep.removed) == (1, 1, 1)
        assert not lib.search("столицей России", mode="lexical")
        assert lib.search("zeppelin", mode="lexical")[0].path.endswith("new.txt")
        assert lib.search("พิพิธภัณฑ์ใหม่", mode="lexical")[0].path.endswith("th.txt")
        _consistent(lib)
        # a failed file is retried once it changes
        (docs / "fake.txt").write_text("now it is real text about a walrus", encoding="utf-8")
        rep = lib.index()
        assert rep.updated == 1 and lib.search("walrus", mode="lexical")
        lib.remove_folder(docs)
        assert lib.folders() == [] and lib.status()["chunks"] == 0
        _consistent(lib)


def test_restart_rescan_reads_only_changed_files(tmp_path, docs, tiny_encoder, monkeypatch):
    """The start-up rescan stats files; it opens none that is unchanged (a large library stays quick)."""
    import hybridsearch.indexer as indexer

    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        lib.add_folder(docs)
        lib.index()
    read, extracted = [], []
    real_read, real_extract = indexer.read_bytes, indexer.extract
    monkeypatch.setattr(indexer, "read_bytes", lambda p, *a, **kw: read.append(os.path.basename(p)) or
                        real_read(p, *a, **kw))
    monkeypatch.setattr(indexer, "extract", lambda p, *a, **kw: extracted.append(os.path.basename(p)) or
                        real_extract(p, *a, **kw))
    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:  # a restart
        rep = lib.index()
        assert (rep.unchanged, rep.added, rep.updated, rep.failed) == (7, 0, 0, 0)
        assert read == [] and extracted == []
        (docs / "new.txt").write_text("A brand new zeppelin document.", encoding="utf-8")
        st = (docs / "zh.md").stat()
        os.utime(docs / "zh.md", (st.st_atime, st.st_mtime + 10))  # touched: read and hashed, not re-extracted
        rep = lib.index()
        assert (rep.unchanged, rep.added) == (7, 1)
        assert sorted(read) == ["new.txt", "zh.md"] and extracted == ["new.txt"]
        _consistent(lib)


def test_lost_vectors_are_repaired_on_next_run(tmp_path, docs, tiny_encoder):
    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        lib.add_folder(docs)
        lib.index()
        n = lib.status()["chunks"]
    (tmp_path / "lib" / "vectors.hnsw").unlink()  # as if killed before the first checkpoint
    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        st = lib.status()
        assert st["vectors_missing"] == n and st["health"] != "ok"
        rep = lib.index()
        assert rep.repaired_vectors == n and rep.added == 0
        _consistent(lib)


def test_another_model_asks_for_a_reembed(tmp_path, docs, tiny_encoder):
    class Other:
        """The tiny encoder under another identity: 'a different model'."""

        identity, name = "other-model-123", "other"

        def __getattr__(self, attr):
            return getattr(tiny_encoder, attr)

    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        lib.add_folder(docs)
        lib.index()
    with Library(tmp_path / "lib", encoder=Other()) as lib:
        assert lib.model_mismatch()
        with pytest.raises(ModelMismatchError, match="Re-embed"):
            lib.index()
        with pytest.raises(ModelMismatchError):
            lib.search("harbour")
        assert lib.search("harbour", mode="lexical")  # keyword search still works
        lib.reembed(encoder=Other())
        assert not lib.model_mismatch() and lib.store.get("model_identity") == "other-model-123"
        _consistent(lib)
        assert lib.search("harbour")


def test_cancel_then_resume(tmp_path, tiny_encoder):
    d = tmp_path / "many"
    d.mkdir()
    for i in range(150):
        (d / f"f{i:03}.txt").write_text(f"Document number {i} about topic {i % 7}. " * 20, encoding="utf-8")
    token = CancelToken()

    def stop_soon(p):
        if p.stage == "index" and p.done >= 64:
            token.cancel()

    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        lib.add_folder(d)
        rep = lib.index(cancel=token, on_progress=stop_soon)
        assert rep.cancelled and 0 < rep.added < 150
        first = rep.added
        rep = lib.index()
        assert not rep.cancelled and rep.added == 150 - first
        _consistent(lib)


def test_second_process_gets_a_clear_lock_error(tmp_path, docs, tiny_encoder):
    import subprocess
    import sys

    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        lib.add_folder(docs)  # takes the write lock
        code = ("from hybridsearch.library import Library\n"
                f"lib = Library({str(tmp_path / 'lib')!r})\n"
                "try:\n    lib.remove_folder('/nowhere')\nexcept Exception as e:\n    print(type(e).__name__, e)\n")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout
        assert "LibraryLockedError" in out and "in use by another hybridsearch process" in out
    assert LibraryLockedError


def test_watcher_indexes_changes(tmp_path, docs, tiny_encoder):
    reports = []
    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        lib.add_folder(docs)
        lib.index()
        w = lib.watch(on_change=reports.append, debounce_s=0.3)
        (docs / "fresh.txt").write_text("An octopus arrived in the harbour.", encoding="utf-8")
        (docs / "zh.md").unlink()
        deadline = time.time() + 20
        while time.time() < deadline and not (reports and sum(r.added for r in reports) >= 1
                                              and sum(r.removed for r in reports) >= 1):
            time.sleep(0.1)
        w.stop()
        assert sum(r.added for r in reports) == 1 and sum(r.removed for r in reports) == 1
        assert lib.search("octopus", mode="lexical")[0].path.endswith("fresh.txt")
        _consistent(lib)


def test_deleted_vectors_are_compacted_away(tmp_path, tiny_encoder, monkeypatch):
    import hybridsearch.vectors as vectors

    monkeypatch.setattr(vectors, "MIN_DELETED", 10)
    d = tmp_path / "docs"
    d.mkdir()
    for i in range(40):
        (d / f"f{i:02}.txt").write_text(f"Note {i} about gardens and rivers. " * 30, encoding="utf-8")
    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        lib.add_folder(d)
        lib.index()
        before = lib.vectors.ann.index.element_count
        for i in range(20):
            (d / f"f{i:02}.txt").unlink()
        rep = lib.index()
        assert rep.removed == 20
        # the rebuilt index holds only live vectors; search and health agree with the database
        assert not lib.vectors.ann.deleted and lib.vectors.ann.index.element_count < before
        _consistent(lib)
    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:  # and so does the saved file
        assert lib.vectors.ann.index.element_count == lib.status()["chunks"]
        _consistent(lib)


def test_search_while_indexing_in_another_thread(tmp_path, tiny_encoder):
    """The GUI pattern: a worker thread indexes, the UI thread searches and reads status."""
    import threading

    d = tmp_path / "docs"
    d.mkdir()
    for i in range(120):
        (d / f"f{i:03}.txt").write_text(f"Entry {i}: notes about lanterns and ships. " * 15, encoding="utf-8")
    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        lib.add_folder(d)
        errors = []

        def work():
            try:
                lib.index()
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        t = threading.Thread(target=work)
        t.start()
        searches = 0
        while t.is_alive() or searches < 3:
            lib.search("lanterns ships", k=5)
            lib.status()
            lib.folders()
            searches += 1
        t.join()
        assert not errors and searches >= 3
        assert lib.status()["documents"] == 120
        _consistent(lib)


#: A three-page PDF's pages: each a paragraph of its own, about one thing.
PDF_PAGES = [
    "The lighthouse keeper climbed the spiral staircase every evening. He trimmed the wick and polished the "
    "great lens until it shone. Ships far out at sea watched for its beam through the fog and the rain.",
    "The walled garden behind the cottage grew beans, onions and tall sunflowers. Every spring the keeper's "
    "wife planted rows of lettuce and kept the rabbits out with a low fence of woven willow.",
    "A walrus hauled itself onto the rocks below the tower one winter. It slept there for three days while "
    "the gulls complained, then slid back into the grey water and was never seen again.",
]


def test_pdf_passages_know_their_page(tmp_path, tiny_encoder):
    docs = tmp_path / "docs"
    docs.mkdir()
    make_pdf(docs / "keeper.pdf", pages=PDF_PAGES[:1] + [""] + PDF_PAGES[1:])  # page 2 has no text
    (docs / "notes.txt").write_text("The walrus notes of a text file have no pages.", encoding="utf-8")
    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        lib.add_folder(docs)
        lib.index()
        found = {}
        for word in ("lighthouse", "sunflowers", "walrus"):
            [hit] = [r for r in lib.search(word, mode="lexical") if r.path.endswith(".pdf")]
            found[word] = hit.best.page
        assert found == {"lighthouse": 1, "sunflowers": 3, "walrus": 4}
        [txt] = [r for r in lib.search("walrus", mode="lexical") if r.path.endswith(".txt")]
        assert txt.best.page is None


def test_a_library_indexed_before_pages_keeps_working(tmp_path, tiny_encoder, monkeypatch):
    import hybridsearch.store as store_mod

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.txt").write_text("The walrus slept on the rocks for three days.", encoding="utf-8")
    migrations = store_mod.SCHEMA_MIGRATIONS
    monkeypatch.setattr(store_mod, "SCHEMA_MIGRATIONS", [m for m in migrations if m[0] != "0005_chunk_page"])
    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        lib.add_folder(docs)
        lib.index()
        assert "page" not in [r[1] for r in lib.store.conn.execute("PRAGMA table_info(chunks)")]
    monkeypatch.setattr(store_mod, "SCHEMA_MIGRATIONS", migrations)
    make_pdf(docs / "keeper.pdf", pages=PDF_PAGES)
    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:  # the page column is added on open
        [old] = lib.search("slept", mode="lexical")
        assert old.path.endswith("notes.txt") and old.best.page is None
        lib.index()
        [new] = [r for r in lib.search("walrus", mode="hybrid") if r.path.endswith(".pdf")]
        assert new.best.page == 3
