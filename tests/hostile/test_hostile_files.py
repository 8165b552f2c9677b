"""Hostile files: every file of a 200+ file corpus gets its outcome (text or a reason), fast, without
printing, and indexing a folder of them ends with a consistent library; each defect
that lives in extraction has its own test (chunking time and memory, FIFOs, zip bombs, broken
ODT on stdout, AES PDFs, binaries under text names, the size message)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from corpus import MIB, _bomb, invalid_utf8_names, make_corpus
from test_documents import EN, make_docx, make_epub, make_odt, make_pdf

from hybridsearch.documents import ExtractError, chunk_text, extract, read_bytes

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile") / "corpus"
    return root, make_corpus(root)


def _outcome(case) -> tuple[str, str]:
    try:
        return "ok", extract(case.path).text
    except ExtractError as exc:
        return "failed", str(exc)


def test_every_hostile_file_gets_its_outcome_quickly_and_silently(corpus, capfd):
    root, cases = corpus
    files = [c for c in cases if c.expect != "absent"]
    assert len(files) >= 200
    wrong = []
    for case in files:
        signal.alarm(30)  # a hang fails this test instead of the whole run
        t0 = time.monotonic()
        try:
            got, detail = _outcome(case)
        except Exception as exc:  # noqa: BLE001 - a crash is what this test looks for
            got, detail = "crashed", f"{type(exc).__name__}: {exc}"
        finally:
            signal.alarm(0)
        seconds = time.monotonic() - t0
        rel = case.path.relative_to(root)
        if got not in case.expect.split("|") or not re.search(case.detail, detail):
            wrong.append(f"{rel}: expected {case.expect} /{case.detail}/, got {got}: {detail[:120]!r}")
        elif seconds > 10:
            wrong.append(f"{rel}: took {seconds:.1f} s")
    assert not wrong, "\n".join(wrong)
    assert capfd.readouterr().out == ""  # nothing on stdout: `index --json` stays parseable


@pytest.mark.parametrize("with_huge", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_indexing_the_hostile_corpus_records_every_file_and_stays_consistent(corpus, tiny_encoder, tmp_path,
                                                                              capfd, with_huge):
    from hybridsearch.library import Library

    root, cases = corpus
    if not with_huge:  # the megabyte texts take a minute to embed; their extraction is tested above
        cases = [c for c in cases if c.kind != "huge"]
    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        lib.add_folder(root, exclude=None if with_huge else ["huge/**"])
        signal.alarm(300)
        try:
            lib.index()
        finally:
            signal.alarm(0)
        docs = {r[0]: (r[1], r[2]) for r in lib.store.conn.execute("SELECT path, status, error FROM documents")}
        st = lib.status()
    wrong = []
    for case in cases:
        row = docs.get(str(case.path))
        if case.expect == "absent":
            if row is not None:
                wrong.append(f"{case.path}: a link loop or FIFO was indexed: {row}")
            continue
        if row is None:
            wrong.append(f"{case.path}: not recorded")
        elif row[0] not in case.expect.split("|"):
            wrong.append(f"{case.path}: expected {case.expect}, got {row}")
        elif row[0] == "failed" and not re.search(case.detail, row[1] or ""):
            wrong.append(f"{case.path}: reason {row[1]!r} does not match /{case.detail}/")
    assert not wrong, "\n".join(wrong)
    assert st["health"] == "ok" and st["vectors"] == st["chunks"] > 0
    assert capfd.readouterr().out == ""


# -- one test per defect ------------------------------------------------------------------------------
class _SpyTokenizer:
    """Wraps a tokenizer and records the longest text it was asked to tokenise."""

    def __init__(self, tok):
        self.tok, self.longest = tok, 0

    def encode_batch(self, texts, **kw):
        self.longest = max([self.longest, *map(len, texts)])
        return self.tok.encode_batch(texts, **kw)

    def encode(self, text, **kw):
        self.longest = max(self.longest, len(text))
        return self.tok.encode(text, **kw)


def test_text_without_spaces_is_chunked_in_bounded_pieces_and_linear_time(tiny_encoder):
    text = "abcdefghij" * 200_000  # 2 MB without a space or a sentence end
    spy = _SpyTokenizer(tiny_encoder.tokenizer)
    t0 = time.monotonic()
    chunks = chunk_text(text, spy, max_tokens=120, overlap_tokens=16)
    seconds = time.monotonic() - t0
    assert spy.longest <= 2000  # was the whole 2 MB string in one call (~125 MB RAM per MB)
    assert "".join(c.text for c in chunks) == text and all(c.n_tokens <= 120 for c in chunks)
    assert seconds < 30  # linear: ~1 s per MB here (it was 4 s per MB at 4 MB, and growing)


def test_a_long_run_of_spaces_is_normalised_in_linear_time(tmp_path):
    f = tmp_path / "spaces.txt"
    f.write_bytes(b"start" + b" " * 400_000 + b"end")
    t0 = time.monotonic()
    assert extract(f).text.split() == ["start", "end"]
    assert time.monotonic() - t0 < 5  # the old [ \t]+\n regex was quadratic: ~2 min here


def test_text_past_the_budget_is_cut_and_says_how_much(tmp_path, monkeypatch):
    import hybridsearch.documents as documents

    monkeypatch.setattr(documents, "MAX_TEXT_CHARS", 10_000)
    f = tmp_path / "long.txt"
    f.write_text("word " * 5000)
    out = extract(f)
    assert 9_000 < len(out.text) <= 10_000 and out.truncated > 10_000


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "swapped.txt"
    os.mkfifo(fifo)
    result = {}
    t = threading.Thread(target=lambda: result.update(r=_try(lambda: read_bytes(fifo))), daemon=True)
    t.start()
    t.join(5)
    if t.is_alive():  # unblock the reader so the test run can go on, then fail
        with open(fifo, "wb"):
            pass
        t.join(5)
        pytest.fail("reading a FIFO blocked")
    assert isinstance(result["r"], ExtractError) and "not a regular file" in str(result["r"])


def _try(fn):
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001
        return exc


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_files_swapped_for_a_fifo_deleted_or_grown_after_the_scan_do_not_stop_indexing(tmp_path, tiny_encoder,
                                                                                        monkeypatch):
    import hybridsearch.indexer as indexer
    from hybridsearch.library import Library

    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ["fifo.txt", "gone.txt", "grown.txt", "fine.txt"]:
        (docs / name).write_text(EN + " " + name)
    real_walk = indexer.walk

    def walk_then_change(*a, **kw):
        yield from real_walk(*a, **kw)
        # the scan has listed every file: now the folder changes under the indexer
        (docs / "fifo.txt").unlink()
        os.mkfifo(docs / "fifo.txt")
        (docs / "gone.txt").unlink()
        with open(docs / "grown.txt", "ab") as fh:
            fh.write(b"x" * 3000)

    monkeypatch.setattr(indexer, "walk", walk_then_change)
    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        lib.max_file_bytes = 2000
        lib.add_folder(docs)
        signal.alarm(120)
        try:
            rep = lib.index()
        finally:
            signal.alarm(0)
        failed = {Path(f.path).name: f.reason for f in lib.failed_files()}
        assert rep.added == 1 and lib.status()["health"] == "ok"
    assert "not a regular file" in failed["fifo.txt"]
    assert "disappeared" in failed["gone.txt"]
    assert "too large" in failed["grown.txt"]


def test_a_broken_odt_prints_nothing_and_gets_a_reason(tmp_path, capfd):
    import zipfile

    good = make_odt(tmp_path / "good.odt", [EN])
    with zipfile.ZipFile(good) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["content.xml"] = members["content.xml"][:300]
    bad = tmp_path / "broken.odt"
    with zipfile.ZipFile(bad, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    with pytest.raises(ExtractError, match="damaged ODT.*content.xml"):
        extract(bad)
    assert capfd.readouterr().out == ""  # odfpy printed the XML here ("SAX FAILED TO PARSE")


@pytest.mark.parametrize("algorithm", ["AES-128", "AES-256"])
def test_aes_encrypted_pdf_without_a_user_password_is_read(tmp_path, algorithm):
    from pypdf import PdfReader, PdfWriter

    w = PdfWriter()
    for page in PdfReader(make_pdf(tmp_path / "plain.pdf", EN)).pages:
        w.add_page(page)
    w.encrypt(user_password="", owner_password="owner", algorithm=algorithm)
    with open(tmp_path / "aes.pdf", "wb") as fh:
        w.write(fh)
    assert "lighthouse keeper" in extract(tmp_path / "aes.pdf").text  # needs `cryptography`


@pytest.mark.parametrize("name", ["program.html", "program.htm", "program.md", "program.rtf", "program.txt"])
def test_an_executable_under_a_text_name_is_refused_as_binary(tmp_path, name):
    elf = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"<html><body>" + b"printable text inside " * 300
    (tmp_path / name).write_bytes(elf)
    with pytest.raises(ExtractError, match="binary.*ELF"):
        extract(tmp_path / name)


def test_the_size_limit_is_stated_in_mib(tmp_path):
    f = tmp_path / "big.txt"
    with open(f, "wb") as fh:
        fh.truncate(64 * MIB + 1)
    with pytest.raises(ExtractError, match=r"file too large \(64\.0 MiB; the limit is 64 MiB\)"):
        extract(f)


def test_epub_is_read_from_the_bytes_already_checked_not_from_the_path_again(tmp_path):
    data = make_epub(tmp_path / "book.epub", [EN]).read_bytes()
    (tmp_path / "book.epub").unlink()
    assert "lighthouse" in extract(tmp_path / "book.epub", data=data).text


def _peak_rss_mib(path: Path) -> tuple[float, str]:
    """Extract ``path`` in a child process: (its peak RSS in MiB, its outcome)."""
    code = ("import sys\nfrom hybridsearch.documents import extract, ExtractError\n"
            "try:\n    extract(sys.argv[1]); out = 'ok'\n"
            "except ExtractError as e:\n    out = 'failed ' + str(e)\n"
            # VmHWM is this process's own peak; ru_maxrss would carry the parent's across fork + exec
            "hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]\n"
            "print(hwm, out)\n")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}).stdout
    kib, _, outcome = out.strip().partition(" ")
    return int(kib) / 1024, outcome


def _write_bomb(tmp_path, kind: str, part: str, size: int) -> Path:
    """A small real ``kind`` document whose ``part`` claims to unpack to ``size`` bytes."""
    maker = {"docx": make_docx, "odt": make_odt, "epub": make_epub}[kind]
    template = maker(tmp_path / f"t.{kind}", [EN]).read_bytes()
    bomb = tmp_path / f"bomb.{kind}"
    bomb.write_bytes(_bomb(template, part, size))
    return bomb


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc for the peak RSS")
@pytest.mark.parametrize("kind,part", [("docx", "word/document.xml"), ("odt", "content.xml"),
                                       ("epub", "EPUB/one.xhtml")])
def test_a_zip_bomb_is_refused_from_its_directory_within_bounded_memory(tmp_path, kind, part):
    bomb = _write_bomb(tmp_path, kind, part, 256 * MIB)
    assert bomb.stat().st_size < 2 * MIB
    rss, out = _peak_rss_mib(bomb)
    assert out.startswith("failed") and "256 MiB" in out and "limit" in out, out
    assert rss < 200, f"peak RSS {rss:.0f} MiB"  # it unpacked the whole part before (> 256 MiB)


@pytest.mark.slow
@pytest.mark.parametrize("kind,part", [("docx", "word/document.xml"), ("odt", "content.xml"),
                                       ("epub", "EPUB/one.xhtml")])
def test_gib_zip_bombs_stay_under_500_mb(tmp_path, kind, part):
    bomb = _write_bomb(tmp_path, kind, part, 2048 * MIB)
    rss, out = _peak_rss_mib(bomb)
    assert out.startswith("failed") and rss < 500


@pytest.mark.slow
def test_a_50_mb_one_line_file_is_indexed_in_bounded_time_and_memory(tmp_path):
    f = tmp_path / "one-line.txt"
    f.write_bytes(b"abcdefghij" * 5_000_000)
    code = ("import sys, time\nfrom hybridsearch.documents import extract, chunk_text\n"
            "from hybridsearch.encoder import Encoder\n"
            "from tokenizers import Tokenizer\n"
            "tok = Tokenizer.from_file(sys.argv[2])\n"
            "t = time.time(); out = extract(sys.argv[1]); ch = chunk_text(out.text, tok, 180, 32)\n"
            "hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]\n"
            "print(len(ch), out.truncated, time.time() - t, hwm)\n")
    from hybridsearch.encoder.convert import converted_base_dir
    from conftest import SHARED_MODELS

    tok = converted_base_dir(root=SHARED_MODELS) / "tokenizer.json"
    p = subprocess.Popen([sys.executable, "-c", code, str(f), str(tok)], stdout=subprocess.PIPE, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    out = p.stdout.read().split()
    p.wait()
    assert int(out[1]) > 0 and float(out[2]) < 120 and int(out[3]) / 1024 < 1000


def test_names_that_are_not_utf8_are_kept_losslessly_and_shown_readably(tmp_path, tiny_encoder):
    from hybridsearch.library import Library

    docs = tmp_path / "docs"
    bad = invalid_utf8_names(docs)
    (docs / "fine.txt").write_text(EN)
    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        lib.add_folder(docs)
        rep = lib.index()
        assert rep.added == len(bad) + 1 and rep.failed == 0  # it stopped the whole folder before
        assert lib.status()["documents"] == len(bad) + 1
        paths = {h.path for h in lib.search("lighthouse keeper", k=20, mode="lexical")}
        assert set(map(str, bad)) <= paths  # the same str os.fsdecode gives: the file opens again
        for p in bad:
            assert os.path.exists(p) and "lighthouse" in lib.document_text(p)
        titles = {h.title for h in lib.search("lighthouse keeper", k=20, mode="lexical")}
        assert "caf\ufffd" in titles  # readable: the undecodable byte shows as U+FFFD
        rep = lib.index()
        assert rep.unchanged == len(bad) + 1 and rep.added == 0  # found again, not re-indexed


def test_the_cli_prints_names_that_are_not_utf8(tmp_path, tiny_model_dir):
    docs = tmp_path / "docs"
    invalid_utf8_names(docs)
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONIOENCODING": "utf-8"}
    run = lambda *a: subprocess.run([sys.executable, "-m", "hybridsearch", *map(str, a), "--library",
                                     tmp_path / "lib"], capture_output=True, text=True, env=env)
    r = run("index", docs, "--model", tiny_model_dir)
    assert r.returncode == 0, r.stderr
    r = run("search", "lighthouse keeper", "--model", tiny_model_dir, "--mode", "lexical", "--json")
    assert r.returncode == 0 and "Traceback" not in r.stderr
    import json

    assert any(h["path"].endswith("caf\udce9.txt") for h in json.loads(r.stdout))


# -- the scan: stat errors, vanished and unreadable folders, links out of the library -----------------
def test_a_folder_deleted_during_the_scan_does_not_stop_it(tmp_path):
    import shutil

    from hybridsearch.documents import walk

    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "0.txt").write_text(EN)
    (root / "sub" / "b.txt").write_text(EN)
    (root / "z.txt").write_text(EN)
    names = []
    for e in walk(root):
        names.append(Path(e.path).name)
        if e.path.endswith("0.txt"):
            shutil.rmtree(root / "sub")  # listed already, gone before it is looked at
    assert names == ["0.txt", "z.txt"]


def test_a_path_longer_than_path_max_is_recorded_as_failed_and_the_scan_goes_on(tmp_path, tiny_encoder):
    from hybridsearch.library import Library

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text(EN)
    (docs / "z.txt").write_text(EN)
    fd = os.open(docs, os.O_RDONLY)
    try:
        for _ in range(24):  # 24 x 201 characters: over PATH_MAX (4096) as one path
            os.mkdir("d" * 200, dir_fd=fd)
            new = os.open("d" * 200, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = new
        os.close(os.open("deep.txt", os.O_WRONLY | os.O_CREAT, dir_fd=fd))
    finally:
        os.close(fd)
    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        lib.add_folder(docs)
        rep = lib.index()
        failed = lib.failed_files()
    assert rep.added == 2  # both files beside the deep folder
    assert len(failed) == 1 and "cannot read folder" in failed[0].reason and "too long" in failed[0].reason


def test_links_out_of_the_library_folder_are_followed_only_when_asked(tmp_path, tiny_encoder):
    from hybridsearch.library import Library

    docs, outside = tmp_path / "docs", tmp_path / "etc"
    docs.mkdir()
    outside.mkdir()
    (docs / "mine.txt").write_text(EN)
    (outside / "passwd.txt").write_text("root:x:0:0:root:/root:/bin/bash " + EN)
    (docs / "etc").symlink_to(outside, target_is_directory=True)
    with Library(tmp_path / "lib", encoder=tiny_encoder) as lib:
        lib.add_folder(docs)
        lib.index()
        assert {Path(f.path).name for f in lib.folders()} == {"docs"}
        assert lib.status()["documents"] == 1  # the link to "/etc" was followed before
        lib.follow_links = True
        lib.index()
        assert lib.status()["documents"] == 2
