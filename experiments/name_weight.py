"""How much file-name matches should weigh in hybrid search (``RankingPolicy.name_weight``).

A library is made of XQuAD-R articles 0-27 (``--split dev``: 28-35, to read the chosen weight on
articles it was not chosen on): one text file per paragraph and language, named after
its article ("p000/Super_Bowl_50.de.txt": the parallel paragraphs of all languages share the
English title), indexed once with the real model under ``--work``. For each name weight, hybrid
search (the app's default policy otherwise) is asked:

* **content questions**: ``--questions`` XQuAD questions per language (seeded sample). The
  paragraph's files in every library language are relevant: mAP over the top ``--k`` and top-1
  (the first result is one of them). File names must not hurt these.
* **short keyword queries**: the answers (at most 4 words) of ``--answers`` questions per
  language, relevant as for the question; and, apart, every answer (all of them, in every
  language) that holds all the words of a file name ("Super Bowl 50" is an answer and a title):
  there a heavy name weight could put the article's other files first.
* **name queries**: each article's title words ("super bowl 50"), relevant: every file of the
  article; and title words plus a language code ("super bowl 50 de"), relevant: the article's
  files in that language. Top-1, and P@10: the share of the top 10 that is relevant, out of at
  most as many as there are relevant files.

The weight of each query's dense and keyword lists stays the default; the query vector is
encoded once per query (search's cache), the weights are tried one after another on it.

    python -m experiments.name_weight --questions 150 --answers 100    # 1,540 files, ~15 min on 2 shared cores
    python -m experiments.name_weight --questions 150 --answers 100 --split dev
    python -m experiments.name_weight --langs en,de --weights 0,1 --questions 30     # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import time
from pathlib import Path

from benchmarks.common import LANGS, SPLITS, XQUAD_DIR
from hybridsearch.ranking import DEFAULT_POLICY


def load_articles(data: Path, langs: list[str], articles) -> dict:
    """lang -> the XQuAD-R articles (title, paragraphs with questions) of the given indices."""
    out = {}
    for lang in langs:
        arts = json.loads((data / f"{lang}.json").read_text(encoding="utf-8"))["data"]
        out[lang] = [arts[i] for i in articles]
    return out


def write_library_files(folder: Path, corpus: dict) -> dict[str, tuple[int, int, str]]:
    """One file per paragraph and language -> {path: (article, global paragraph, lang)}."""
    where = {}
    n = 0
    first = next(iter(corpus.values()))
    for a, art in enumerate(first):
        for p in range(len(art["paragraphs"])):
            d = folder / f"p{n:03}"
            d.mkdir(parents=True, exist_ok=True)
            for lang, arts in corpus.items():
                f = d / f"{art['title']}.{lang}.txt"
                if not f.is_file():
                    f.write_text(arts[a]["paragraphs"][p]["context"], encoding="utf-8")
                where[str(f.resolve())] = (a, n, lang)
            n += 1
    return where


def title_words(title: str) -> str:
    """'Sky_(United_Kingdom)' -> 'sky united kingdom' (what a user types to find the file)."""
    return " ".join(re.sub(r"[_(),]+", " ", title).lower().split())


def average_precision(ranked: list[bool], n_relevant: int) -> float:
    hits, total = 0, 0.0
    for i, rel in enumerate(ranked, 1):
        if rel:
            hits += 1
            total += hits / i
    return total / max(1, n_relevant)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(XQUAD_DIR))
    ap.add_argument("--model", default="default")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--langs", default=",".join(LANGS), help="languages of the library and the questions")
    ap.add_argument("--weights", default="0,0.25,0.5,1,2", help="name weights to compare")
    ap.add_argument("--questions", type=int, default=150, help="content questions per language (0: all)")
    ap.add_argument("--answers", type=int, default=100, help="answer keyword queries per language (0: none)")
    ap.add_argument("--split", default="train", choices=sorted(SPLITS),
                    help="XQuAD-R articles: train (0-27, where the weight is chosen) or dev (28-35, to read it)")
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", default=str(Path(os.environ.get("TMPDIR", "/tmp")) / "hybridsearch-name-weight"))
    args = ap.parse_args(argv)
    from hybridsearch.lexical import parse_query
    from hybridsearch.library import Library
    from hybridsearch.search import name_candidates

    langs = args.langs.split(",")
    weights = [float(w) for w in args.weights.split(",")]
    corpus = load_articles(Path(args.data), langs, SPLITS[args.split])
    work = Path(args.work) / args.split / "-".join(langs)
    folder = work / "docs"
    where = write_library_files(folder, corpus)
    first = corpus[langs[0]]

    # queries: (kind, text, relevant paths)
    by_para: dict[int, set[str]] = {}
    by_art: dict[tuple[int, str | None], set[str]] = {}
    for path, (a, p, lang) in where.items():
        by_para.setdefault(p, set()).add(path)
        by_art.setdefault((a, None), set()).add(path)
        by_art.setdefault((a, lang), set()).add(path)
    rnd = random.Random(args.seed)
    queries, all_answers = [], []
    for lang in langs:
        qs, answers, n = [], [], 0
        for art in corpus[lang]:
            for para in art["paragraphs"]:
                qs += [(qa["question"], n) for qa in para["qas"]]
                answers += [(qa["answers"][0]["text"], n) for qa in para["qas"]
                            if qa["answers"] and len(qa["answers"][0]["text"].split()) <= 4]
                n += 1
        if args.questions:
            qs = rnd.sample(qs, min(args.questions, len(qs)))
        queries += [("question", q, by_para[p]) for q, p in qs]
        answers = sorted(set(answers))  # one query per distinct answer text of a paragraph
        all_answers += [(a, by_para[p]) for a, p in answers]
        queries += [("answer", a, by_para[p]) for a, p in rnd.sample(answers, min(args.answers, len(answers)))]
    for a, art in enumerate(first):
        queries.append(("title", title_words(art["title"]), by_art[(a, None)]))
        for lang in langs:
            queries.append(("title+lang", f"{title_words(art['title'])} {lang}", by_art[(a, lang)]))

    kinds = ("question", "answer", "named answer", "title", "title+lang")
    per = {(kind, w): {"ap": [], "top1": [], "p10": []} for kind in kinds for w in weights}
    with Library(work / "library", model=args.model, threads=args.threads) as lib:
        lib.add_folder(folder)
        t = time.perf_counter()
        rep = lib.index()
        if rep.added or rep.updated:
            print(f"indexed {rep.added + rep.updated} files, {rep.chunks_added} chunks in "
                  f"{time.perf_counter() - t:.0f} s ({work / 'library'})", flush=True)
        # answers that hold every word of some file name (for the others the weight changes nothing)
        queries += [("named answer", a, rel) for a, rel in all_answers
                    if name_candidates(lib.store, parse_query(a), 1, "", [])]
        for kind, text, relevant in queries:
            for w in weights:  # the query vector is encoded by the first and cached for the others
                res = lib.search(text, k=args.k, policy=DEFAULT_POLICY.with_(name_weight=w))
                ranked = [r.path in relevant for r in res]
                m = per[(kind, w)]
                m["ap"].append(average_precision(ranked, min(len(relevant), args.k)))
                m["top1"].append(float(bool(ranked) and ranked[0]))
                m["p10"].append(sum(ranked[:10]) / min(10, len(relevant)))
    n_kind = {kind: sum(1 for q in queries if q[0] == kind) for kind in kinds}
    print(f"library: XQuAD-R {args.split} ({len(first)} articles, {len(by_para)} paragraphs, {len(where)} files "
          f"in {len(langs)} languages: {','.join(langs)}); hybrid search, top {args.k}; model {args.model}")
    print("queries: " + ", ".join(f"{n_kind[k]} {k}s" for k in kinds))
    print("name_weight  questions: mAP top-1   answers: mAP top-1   named answers: mAP top-1   "
          "titles: top-1 P@10   title+lang: top-1 P@10")
    for w in weights:
        cells = []
        for kind in kinds:
            m = per[(kind, w)]
            keys = ("top1", "p10") if kind.startswith("title") else ("ap", "top1")
            cells.append(" ".join(f"{statistics.fmean(m[k]):.3f}" if m[k] else "    -" for k in keys))
        mark = "*" if w == DEFAULT_POLICY.name_weight else " "
        print(f"{w:9.2f}{mark}  {cells[0]:>20}  {cells[1]:>18}  {cells[2]:>24}  {cells[3]:>19}  {cells[4]:>23}",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
