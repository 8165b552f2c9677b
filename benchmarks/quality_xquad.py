"""Cross-lingual retrieval quality on XQuAD-R articles 28-35, through the real library and search.

One file per paragraph per language (8 articles x 5 paragraphs x 11 languages = 440 files) is
indexed; every question is searched in every language; for each (query language, target
language) we report the share of queries whose paragraph in the target language is among the
top-10 documents. Prints the 11 x 11 matrix (rows: query language, columns: target).

    python -m benchmarks.quality_xquad [--model base] [--mode hybrid] [--per-paragraph N] [--json]

``--single-copy SEED`` indexes each paragraph once, in one language (40 files), as in a library
without translations, and reports for questions in the paragraph's language and in the others
the share found in the top 10 and the MRR.

In/out: reads ../shared/data/xquad-r (never copied into the repository), writes a temporary
library; prints the matrix and its mean same-language / cross-language figures.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import LANGS, SPLITS, XQUAD_DIR
from hybridsearch.library import Library
from hybridsearch.ranking import DEFAULT_POLICY, RankingPolicy
from hybridsearch.search import QUERY_VECTORS

ARTICLES = SPLITS["dev"]


def load(xquad_dir: Path = XQUAD_DIR, langs=LANGS, articles=ARTICLES, per_paragraph: int | None = None):
    """-> (paragraphs {(lang, art, par): context}, questions [(lang, art, par, question)]).

    ``per_paragraph`` keeps only the first N questions of each paragraph (same ids in all
    languages), for a quicker run.
    """
    paras, questions = {}, []
    for lang in langs:
        data = json.loads((xquad_dir / f"{lang}.json").read_text(encoding="utf-8"))["data"]
        for a in articles:
            for p, para in enumerate(data[a]["paragraphs"]):
                paras[(lang, a, p)] = para["context"]
                qas = para["qas"][:per_paragraph] if per_paragraph else para["qas"]
                questions += [(lang, a, p, qa["question"]) for qa in qas]
    return paras, questions


def build_folder(root: Path, paras: dict) -> Path:
    """Write one UTF-8 .txt file per paragraph and language: ``<lang>/a<art>_p<par>.txt``."""
    for (lang, a, p), text in paras.items():
        d = root / lang
        d.mkdir(parents=True, exist_ok=True)
        (d / f"a{a:02}_p{p:02}.txt").write_text(text, encoding="utf-8")
    return root


def search_mode(mode: str, base: RankingPolicy = DEFAULT_POLICY) -> tuple[str, RankingPolicy]:
    """-> (search mode, ranking policy) for a mode with suffixes.

    ``mode`` is a search mode (``hybrid`` with the app's default policy), or ``hybrid@W`` for
    hybrid search with lexical weight W (``hybrid@1``: dense and keyword lists weighted 1:1);
    a ``~S`` suffix sets the keyword hits' minimum IDF share (``hybrid~0``: every keyword hit counts);
    a ``!X`` suffix sets the same-language offset instead of the model card's (``dense!0``: none);
    a final ``-once`` searches without cross-language feedback (``dense-once``).
    """
    feedback = not mode.endswith("-once")
    mode = mode.removesuffix("-once")
    mode, _, offset = mode.partition("!")
    mode, _, share = mode.partition("~")
    name, _, w = mode.partition("@")
    return name, base.with_(weights=(1.0, float(w)) if w else None,
                            min_match_share=float(share) if share else None,
                            language_offset=float(offset) if offset else None, feedback=feedback)


def searched(lib, questions, k: int, mode: str, lat: list, base: RankingPolicy = DEFAULT_POLICY):
    """Search every question in ``mode`` (see :func:`search_mode`): yields (lang, article, paragraph,
    results), appending each search's seconds to ``lat``."""
    name, policy = search_mode(mode, base)
    for lang, a, p, question in questions:
        t0 = time.perf_counter()
        res = lib.search(question, k=k, mode=name, policy=policy)
        lat.append(time.perf_counter() - t0)
        yield lang, a, p, res


def evaluate(lib, questions, langs=LANGS, k: int = 10, mode: str = "hybrid", base: RankingPolicy = DEFAULT_POLICY):
    """-> ({(query_lang, target_lang): share found in top-k}, per-query latencies in seconds).

    ``mode``: see :func:`search_mode`.
    """
    hits = {(q, t): 0 for q in langs for t in langs}
    totals = {q: 0 for q in langs}
    lat: list[float] = []
    for lang, a, p, res in searched(lib, questions, k, mode, lat, base):
        found = {Path(r.path).parent.name for r in res if Path(r.path).name == f"a{a:02}_p{p:02}.txt"}
        totals[lang] += 1
        for t in found & set(langs):
            hits[(lang, t)] += 1
    return {(q, t): hits[(q, t)] / totals[q] for q in langs for t in langs if totals[q]}, lat


def single_copies(paras: dict, seed: int = 0, langs=LANGS) -> dict:
    """Keep each paragraph in one language only, the languages dealt out evenly (seeded)."""
    keys = sorted({(a, p) for _, a, p in paras})
    random.Random(seed).shuffle(keys)
    return {(langs[i % len(langs)], a, p): paras[(langs[i % len(langs)], a, p)] for i, (a, p) in enumerate(keys)}


def evaluate_single(lib, questions, owner: dict, k: int = 10, mode: str = "hybrid",
                    base: RankingPolicy = DEFAULT_POLICY):
    """A library holding each paragraph once (``owner[(a, p)]`` = its language): for questions whose
    paragraph is in their own language ("same") and in another ("other"), the share found in the
    top ``k`` documents and the MRR of the paragraph among them -> ({part: (found, mrr, n)}, latencies)."""
    acc = {"same": [0, 0.0, 0], "other": [0, 0.0, 0]}
    lat: list[float] = []
    for lang, a, p, res in searched(lib, questions, k, mode, lat, base):
        names = [Path(r.path).name for r in res]
        part = acc["same" if owner[(a, p)] == lang else "other"]
        part[2] += 1
        if f"a{a:02}_p{p:02}.txt" in names:
            part[0] += 1
            part[1] += 1.0 / (names.index(f"a{a:02}_p{p:02}.txt") + 1)
    return {key: (f / max(n, 1), rr / max(n, 1), n) for key, (f, rr, n) in acc.items()}, lat


def mean_cross(m: dict, langs=LANGS) -> float:
    """The mean of a matrix's cross-language cells (query language != target language)."""
    return sum(m[(q, t)] for q in langs for t in langs if q != t) / (len(langs) * (len(langs) - 1))


def format_matrix(m: dict, langs=LANGS) -> str:
    lines = ["q\\t  " + " ".join(f"{t:>5}" for t in langs) + "   same  cross"]
    for q in langs:
        row = [m[(q, t)] for t in langs]
        cross = [m[(q, t)] for t in langs if t != q]
        lines.append(f"{q:<5} " + " ".join(f"{v:5.2f}" for v in row)
                     + f"  {m[(q, q)]:5.2f}  {sum(cross) / len(cross):5.2f}")
    same = sum(m[(q, q)] for q in langs) / len(langs)
    lines.append(f"mean same-language {same:.3f}, cross-language {mean_cross(m, langs):.3f}")
    return "\n".join(lines)


def run(model="base", mode="hybrid", per_paragraph=None, encoder=None, k=10, modes=None, threads=1,
        single_copy: int | None = None, base: RankingPolicy = DEFAULT_POLICY):
    """Index the folder in a temporary library and evaluate -> {mode: (matrix, latencies)}, stats.

    ``single_copy`` (a seed): each paragraph once, in one language; then each mode gives
    :func:`evaluate_single`'s figures instead of a matrix.
    """
    paras, questions = load(per_paragraph=per_paragraph)
    if single_copy is not None:
        paras = single_copies(paras, single_copy)
        owner = {(a, p): lang for lang, a, p in paras}
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_folder(Path(tmp) / "xquad", paras)
        with Library(Path(tmp) / "lib", model=model, encoder=encoder, device="cpu",
                     threads=threads) as lib:
            lib.add_folder(folder)
            t0 = time.perf_counter()
            rep = lib.index()
            stats = {"files": rep.added, "chunks": rep.chunks_added, "index_s": time.perf_counter() - t0,
                     "encode_s": rep.encode_seconds, "queries": len(questions)}
            for md in modes or [mode]:
                QUERY_VECTORS.clear()  # every mode pays for its query encoding
                out[md] = (evaluate(lib, questions, k=k, mode=md, base=base) if single_copy is None
                           else evaluate_single(lib, questions, owner, k=k, mode=md, base=base))
    return out, stats


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="base")
    ap.add_argument("--mode", default="hybrid,dense",
                    help="comma-separated: hybrid,dense,lexical; hybrid@W sets the lexical weight W, "
                         "hybrid~S the keyword hits' minimum IDF share S, dense!X the same-language offset X "
                         "(default: the model card's); a final -once: without cross-language feedback")
    ap.add_argument("--per-paragraph", type=int, default=None, help="questions per paragraph (default all)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: 2 thrash on this shared machine)")
    ap.add_argument("--single-copy", type=int, default=None, metavar="SEED",
                    help="index each paragraph once, in one language (dealt out evenly, seeded), and report "
                         "found-in-top-10 and MRR for questions in the paragraph's language and in others")
    ap.add_argument("--feedback-weight", type=float, default=None, metavar="W",
                    help="cross-language feedback weight instead of the default RankingPolicy's")
    args = ap.parse_args(argv)
    base = DEFAULT_POLICY.with_(feedback_weight=args.feedback_weight)
    if not XQUAD_DIR.is_dir():
        print(f"XQuAD-R not found at {XQUAD_DIR}", file=sys.stderr)
        return 1
    results, stats = run(model=args.model, per_paragraph=args.per_paragraph, modes=args.mode.split(","),
                          threads=args.threads, single_copy=args.single_copy, base=base)
    print(f"indexed {stats['files']} files, {stats['chunks']} chunks in {stats['index_s']:.1f} s "
          f"(encoder {stats['encode_s']:.1f} s); {stats['queries']} queries per mode", flush=True)
    for md, (m, lat) in results.items():
        lat = sorted(lat)
        if args.single_copy is not None:
            print(f"mode {md:12} " + "   ".join(
                f"{part} language ({n} q): top-10 {found:.3f}, MRR {mrr:.3f}" for part, (found, mrr, n) in m.items())
                + f"   p50 {lat[len(lat) // 2] * 1000:.0f} ms")
            continue
        print(f"\n== mode {md}: share of queries whose paragraph in the column language is in the top 10 ==")
        print(format_matrix(m))
        print(f"query latency p50 {lat[len(lat) // 2] * 1000:.0f} ms, p95 {lat[int(len(lat) * 0.95)] * 1000:.0f} ms")
        if args.json:
            print(json.dumps({f"{q}->{t}": round(v, 4) for (q, t), v in m.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
