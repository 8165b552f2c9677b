"""Reliability figures: hostile files, kill -9 during indexing, bad queries, bad QA files.

Prints:
  files tried / clean / crashed / hung   every file of tests/hostile/corpus.py extracted in a worker
                                         process (clean: the expected text or reason; crashed: any
                                         other exception or outcome; hung: no answer in --file-timeout s)
  peak memory on the worst file          the worker's peak RSS, heavy files each in a fresh worker
  kills tried / consistent               `hybridsearch index` killed with SIGKILL at a random moment;
                                         consistent: SQLite integrity check passes, FTS rows match
                                         chunks, and the next `index` ends with every chunk having one
                                         vector and a known sentence found in its file
  bad queries tried / clean              hostile query strings through Library.search, and bad search
                                         options through the CLI (clean: results or a one-line error,
                                         no traceback)
  QA files tried / clean                 bad QA files through `hybridsearch data check` (clean: a
                                         non-zero exit with an error that names a line, or says the
                                         file is empty; no traceback)

  python benchmarks/reliability.py                # ~3 min on 2 CPU cores, tiny random encoder
  python benchmarks/reliability.py --big --kills 20 --model default
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests" / "hostile"), str(REPO / "tests"), str(REPO)]

ENV = {**os.environ, "PYTHONPATH": str(REPO), "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
HEAVY = {"zip-bomb", "huge"}
WORKER = r"""
import json, resource, sys
from hybridsearch.documents import extract, ExtractError
for line in sys.stdin:
    path = json.loads(line)  # JSON: a file name may hold a newline
    try:
        out = "ok\t" + extract(path).text[:2000]
    except ExtractError as exc:
        out = "failed\t" + str(exc)
    except BaseException as exc:
        out = "crashed\t" + type(exc).__name__ + ": " + str(exc)[:200]
    try:  # VmHWM: this process's own peak (ru_maxrss carries the parent's peak across fork + exec)
        rss = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
    except OSError:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps([out, rss]), flush=True)
"""


class Worker:
    """A child process extracting one file per request; killed and replaced when it hangs."""

    def __init__(self):
        self.p = subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True, env=ENV)

    def ask(self, path: Path, timeout: float):
        self.p.stdin.write(json.dumps(str(path)) + "\n")
        self.p.stdin.flush()
        ready, _, _ = select.select([self.p.stdout], [], [], timeout)
        if not ready:
            return None
        line = self.p.stdout.readline()
        return json.loads(line) if line else ["crashed\tworker died (killed for memory?)", 0]

    def close(self):
        self.p.kill()
        self.p.wait()


def bench_files(big: bool, timeout: float) -> dict:
    import re

    from corpus import make_corpus

    root = Path(tempfile.mkdtemp(prefix="hostile-")) / "corpus"
    cases = [c for c in make_corpus(root, big=big) if c.expect != "absent"]
    stats = {"tried": 0, "clean": 0, "crashed": 0, "hung": 0, "worst_rss_mib": 0.0, "worst_file": ""}
    problems = []
    worker = Worker()
    for case in cases:
        if case.kind in HEAVY:  # a fresh worker: its peak RSS is this file's
            worker.close()
            worker = Worker()
        stats["tried"] += 1
        got = worker.ask(case.path, timeout)
        if got is None:
            stats["hung"] += 1
            problems.append(f"hung: {case.path.relative_to(root)}")
            worker.close()
            worker = Worker()
            continue
        (out, rss) = got
        status, _, detail = out.partition("\t")
        if case.kind in HEAVY and rss / 1024 > stats["worst_rss_mib"]:
            stats["worst_rss_mib"], stats["worst_file"] = rss / 1024, str(case.path.relative_to(root))
        if status in case.expect.split("|") and re.search(case.detail, detail):
            stats["clean"] += 1
        else:
            stats["crashed"] += 1
            problems.append(f"{status}: {case.path.relative_to(root)}: {detail[:100]!r}")
    worker.close()
    stats["problems"] = problems
    return stats


# -- kill -9 during indexing ---------------------------------------------------------------------------
def tiny_model(dest: Path) -> Path:
    """A random 2-layer BERT with the real tokenizer (what the tests use): fast to run."""
    import shutil

    import torch
    from transformers import BertConfig, BertModel

    from hybridsearch.encoder.convert import converted_base_dir

    cache = Path(os.environ.get("HYBRIDSEARCH_TEST_MODELS", Path.home() / ".cache" / "hybridsearch-test-models"))
    base = converted_base_dir(root=cache)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=250037, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128, pad_token_id=1)
    BertModel(cfg, add_pooling_layer=False).save_pretrained(str(dest), safe_serialization=True)
    shutil.copy(base / "tokenizer.json", dest / "tokenizer.json")
    (dest / "hybridsearch.json").write_text(json.dumps({"name": "tiny-bench-bert"}))
    return dest


def _cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "hybridsearch", *map(str, args)], capture_output=True,
                          text=True, env=ENV, timeout=timeout)


def _docs(root: Path, n: int = 80) -> dict[str, str]:
    """Plain-text files of varied sizes, each with one unique sentence to look for afterwards."""
    from test_documents import EN, RU, ZH

    rng = random.Random(3)
    root.mkdir(parents=True)
    marks = {}
    for i in range(n):
        mark = f"zebra{i}quartz harbour marker sentence number {i}."
        body = " ".join(rng.choice([EN, RU, ZH]) for _ in range(rng.randint(5, 120)))
        (root / f"doc{i:03d}.txt").write_text(body + "\n\n" + mark + "\n")
        marks[f"doc{i:03d}.txt"] = f"zebra{i}quartz"
    return marks


def _consistent(lib_dir: Path, marks: dict[str, str], model: str, docs: Path) -> str:
    """'' when the killed library checks out (before and after finishing the index), else why not."""
    db = lib_dir / "library.db"
    if db.exists():
        con = sqlite3.connect(db)
        try:
            if con.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                return "integrity check failed"
            ids = {r[0] for r in con.execute("SELECT id FROM chunks")}
            has_fts = con.execute("SELECT 1 FROM sqlite_master WHERE name = 'chunks_fts_docsize'").fetchone()
            if has_fts:  # contentless FTS5: one docsize row per indexed chunk
                if {r[0] for r in con.execute("SELECT id FROM chunks_fts_docsize")} != ids:
                    return "FTS rows do not match chunks"
                con.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
        except sqlite3.DatabaseError as exc:
            return f"database: {exc}"
        finally:
            con.close()
    r = _cli("index", docs, "--library", lib_dir, "--model", model)
    if r.returncode != 0:
        return f"index after the kill failed: {r.stderr.strip()[-200:]}"
    st = json.loads(_cli("status", "--library", lib_dir, "--json").stdout)
    if st["health"] != "ok" or st["vectors"] != st["chunks"] or st["documents"] != len(marks):
        return f"status after the kill: {st['health']}, {st['vectors']} vectors, {st['chunks']} chunks"
    name, mark = random.Random(len(marks)).choice(sorted(marks.items()))
    r = _cli("search", mark, "--library", lib_dir, "--model", model, "--mode", "lexical", "--json")
    if r.returncode != 0 or name not in r.stdout:
        return f"the marked sentence of {name} is not found"
    return ""


def bench_kills(n: int, model: str, work: Path) -> dict:
    docs = work / "kill-docs"
    marks = _docs(docs)
    rng = random.Random(11)
    stats = {"tried": 0, "consistent": 0, "problems": []}
    for i in range(n):
        lib_dir = work / f"kill-lib-{i}"
        # half the kills hit a library's first run, half a run that updates an indexed library
        if i % 2:
            _cli("index", docs, "--library", lib_dir, "--model", model)
            for f in sorted(docs.iterdir())[: 10]:
                f.write_text(f.read_text() + "\nan added line.\n")
        p = subprocess.Popen([sys.executable, "-m", "hybridsearch", "index", str(docs), "--library", str(lib_dir),
                              "--model", model], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
        time.sleep(rng.uniform(1.0, 9.0))
        killed = p.poll() is None
        p.send_signal(signal.SIGKILL)
        p.wait()
        if not killed:
            continue  # finished before the kill: not a kill
        stats["tried"] += 1
        why = _consistent(lib_dir, marks, model, docs)
        if why:
            stats["problems"].append(f"kill {i}: {why}")
        else:
            stats["consistent"] += 1
    return stats


# -- bad queries -----------------------------------------------------------------------------------------
BAD_QUERIES = ["", " ", "\x00", "*", '"', '""', "'", "(", ")", "NEAR(", "a AND", "OR", "NOT", "-", "^", ":",
               "col:", "{", "}", "[", "a OR OR b", "'; DROP TABLE chunks; --", "%", "_", "\\", "a" * 100_000,
               "🙂" * 500, "\u202e\u05e9\u05dc\u05d5\u05dd", "e\u0301\u0301\u0301", "\ud800", "\U0010ffff",
               "\n\n\n", "\t", "SELECT * FROM documents", "docs/../../etc/passwd", "NULL", "0", "-1",
               " ".join(["word"] * 5000), "北京" * 2000, "a*b*c*", '"unclosed phrase', "x\x1b[31mred"]
BAD_OPTIONS = [["--k", "0"], ["--k", "-5"], ["--k", "abc"], ["--k", "99999999999"], ["--lang", ",,,"],
               ["--lang", "xx"], ["--mode", "nonsense"], ["--lexical-weight", "-1"], ["--lexical-weight", "nan"],
               ["--language-offset", "inf"], ["--type", "exe"], ["--device", "tpu"], ["--threads", "-3"],
               ["--threads", "0"], ["--folder", "/nonexistent"]]


def bench_queries(model: str, work: Path) -> dict:
    from hybridsearch.encoder import Encoder
    from hybridsearch.errors import HybridSearchError
    from hybridsearch.library import Library

    docs = work / "query-docs"
    _docs(docs, n=10)
    lib_dir = work / "query-lib"
    stats = {"tried": 0, "clean": 0, "problems": []}
    with Library(lib_dir, encoder=Encoder(model, device="cpu")) as lib:
        lib.add_folder(docs)
        lib.index()
        for mode in ["hybrid", "dense", "lexical"]:
            for q in BAD_QUERIES:
                stats["tried"] += 1
                try:
                    lib.search(q, mode=mode)
                    stats["clean"] += 1
                except HybridSearchError:
                    stats["clean"] += 1
                except Exception as exc:  # noqa: BLE001
                    stats["problems"].append(f"{mode} {q[:30]!r}: {type(exc).__name__}: {exc}"[:160])
    for opts in BAD_OPTIONS:
        stats["tried"] += 1
        r = _cli("search", "harbour", "--library", lib_dir, "--model", model, *opts)
        if "Traceback" not in r.stderr and (r.returncode == 0 or r.stderr.strip()):
            stats["clean"] += 1
        else:
            stats["problems"].append(f"search {' '.join(opts)}: rc {r.returncode}, {r.stderr.strip()[-120:]!r}")
    return stats


# -- bad QA files --------------------------------------------------------------------------------------
def bad_qa_files(root: Path) -> list[Path]:
    """QA files that `data check` must reject with a line-numbered error."""
    root.mkdir(parents=True)
    good = {"id": "q1", "language": "en", "question": "Where?", "answer": "Here.", "group": "g1"}
    files = {
        "empty.jsonl": b"",
        "binary.jsonl": bytes(range(256)) * 8,
        "truncated.jsonl": (json.dumps(good) + "\n" + json.dumps(good)[:20]).encode(),
        "deep-nesting.json": b"[" * 100_000 + b"]" * 100_000,
        "deep-nesting.jsonl": b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"\n",
        "array-not-object.jsonl": b"[1, 2, 3]\n",
        "numbers-not-strings.jsonl": json.dumps({**good, "question": 5, "answer": [1]}).encode() + b"\n",
        "missing-fields.jsonl": b'{"question": "only"}\n',
        "lone-surrogate.jsonl": json.dumps({**good, "question": "bad \ud800 text"}).encode() + b"\n",
        "nul-bytes.jsonl": json.dumps(good).encode().replace(b"Where", b"Wh\x00ere") + b"\n",
        "invalid-utf8.jsonl": json.dumps(good).encode().replace(b"Where", b"Wh\xff\xfere") + b"\n",
        "xquad-wrong-shape.json": json.dumps({"data": [{"paragraphs": "not a list"}]}).encode(),
        "xquad-wrong-types.json": json.dumps({"data": [{"paragraphs": [{"context": 5, "qas": [{"id": 1}]}]}]}).encode(),
        "xquad-empty-answers.json": json.dumps({"data": [{"title": "t", "paragraphs": [
            {"context": "c", "qas": [{"id": "1", "question": "q", "answers": []}]}]}]}).encode(),
        "xquad-answer-start-out-of-range.json": json.dumps({"data": [{"title": "t", "paragraphs": [
            {"context": "c", "qas": [{"id": "1", "question": "q", "answers": [{"text": "x", "answer_start": 99}]}]}]}]}).encode(),
        "json-null.json": b"null",
        "json-number.json": b"42",
        "csv-wrong-columns.csv": b"a,b\n1,2,3,4\n",
        "csv-unclosed-quote.csv": b'question,answer,language,group\n"unclosed,x,en,g\n',
        "tsv-empty-fields.tsv": b"question\tanswer\tlanguage\tgroup\n\t\t\t\n",
        "huge-line.jsonl": json.dumps({**good, "question": "x" * 5_000_000}).encode() + b"\n",
        "bom-garbage.jsonl": b"\xef\xbb\xbf\x00\x01garbage\n",
    }
    out = []
    for name, data in files.items():
        if name.startswith("xquad-"):  # an XQuAD-R file is named after its language
            (root / name[:-5]).mkdir()
            name = f"{name[:-5]}/de.json"
        (root / name).write_bytes(data)
        out.append(root / name)
    return out


def bench_qa(work: Path) -> dict:
    import re

    stats = {"tried": 0, "clean": 0, "problems": []}
    for f in bad_qa_files(work / "qa"):
        stats["tried"] += 1
        try:
            r = _cli("data", "check", f, timeout=120)
        except subprocess.TimeoutExpired:
            stats["problems"].append(f"{f.name}: hung")
            continue
        text = r.stdout + r.stderr
        # an empty file has no line to name; every other problem must name its line
        if r.returncode != 0 and "Traceback" not in text and (re.search(r"line \d+", text) or "empty" in text):
            stats["clean"] += 1
        else:
            stats["problems"].append(f"{f.relative_to(work)}: rc {r.returncode}: {text.strip()[-150:]!r}")
    return stats


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--big", action="store_true", help="add the GiB zip bombs and a 50 MB one-line file")
    ap.add_argument("--kills", type=int, default=6, help="kill -9 trials during `index` (default 6)")
    ap.add_argument("--model", default=None, help="encoder for the kill and query trials (default: a tiny random BERT)")
    ap.add_argument("--file-timeout", type=float, default=60.0, help="seconds before a file counts as hung")
    ap.add_argument("--only", choices=["files", "kills", "queries", "qa"], action="append", default=None)
    ap.add_argument("--verbose", action="store_true", help="list every problem")
    args = ap.parse_args(argv)
    only = set(args.only or ["files", "kills", "queries", "qa"])
    work = Path(tempfile.mkdtemp(prefix="reliability-"))
    os.environ["HYBRIDSEARCH_HOME"] = ENV["HYBRIDSEARCH_HOME"] = str(work / "home")
    model = args.model
    if model is None and only & {"kills", "queries"}:
        model = str(tiny_model(work / "tiny-model"))
    results = {}
    if "files" in only:
        f = results["files"] = bench_files(args.big, args.file_timeout)
        print(f"files tried / clean / crashed / hung: {f['tried']} / {f['clean']} / {f['crashed']} / {f['hung']}")
        print(f"peak memory on the worst file: {f['worst_rss_mib']:.0f} MiB RSS ({f['worst_file']})")
    if "kills" in only:
        k = results["kills"] = bench_kills(args.kills, model, work)
        print(f"kills tried / consistent: {k['tried']} / {k['consistent']}")
    if "queries" in only:
        q = results["queries"] = bench_queries(model, work)
        print(f"bad queries tried / clean: {q['tried']} / {q['clean']}")
    if "qa" in only:
        a = results["qa"] = bench_qa(work)
        print(f"QA files tried / clean: {a['tried']} / {a['clean']}")
    for name, r in results.items():
        for line in r.get("problems", [])[: None if args.verbose else 8]:
            print(f"  {name}: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
