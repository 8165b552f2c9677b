"""How often "Did you mean …?" puts a typo right, and how often it speaks when nothing is wrong.

A library of XQuAD-R paragraphs (articles 0-35, every language: about 2,000 passages, a real
SQLite keyword index built by ``hybridsearch.store``) is asked the questions of articles 28-35:

* *one typo*: one letter dropped from the middle of the question's longest word (five letters or
  more; questions without such a word, and Chinese and Thai ones, are left out): how often a
  suggestion is made, and how often it is the question as it was written;
* *as written*: the same questions without the typo: every suggestion is a false alarm;
* *another language*: the questions over a library of English paragraphs only, where the
  question's words are rightly missing: every suggestion is a false alarm again.

With ``--model`` (default: the bundled one) it also says what the suggestion is worth: the share of
typo'd questions whose answer paragraph is a good or strong match (``hybridsearch.match_strength``)
as typed and as suggested.

    python -m benchmarks.spelling --threads 2
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import LANGS, SPLITS, XQUAD_DIR
from benchmarks.match_strength import read_split

NO_WORDS = ("zh", "th")


def typo(question: str) -> str | None:
    """The question with one letter dropped from the middle of its longest word, or None."""
    words = [m for m in re.finditer(r"\w+", question) if len(m.group()) >= 5 and not any(c.isdigit() for c in m.group())]
    if not words:
        return None
    w = max(words, key=lambda m: len(m.group()))
    i = w.start() + len(w.group()) // 2
    return question[:i] + question[i + 1:]


def build_store(path: Path, paragraphs):
    from hybridsearch.documents import Chunk
    from hybridsearch.store import Store

    store = Store(path)
    with store.transaction():
        fid = store.conn.execute("INSERT INTO folders (path) VALUES ('/xquad-r')").lastrowid
        for i, (_, lang, text) in enumerate(paragraphs):
            did = store.conn.execute("INSERT INTO documents (folder_id, path, status, language) "
                                     "VALUES (?, ?, 'ok', ?)", (fid, f"/xquad-r/{i}.txt", lang)).lastrowid
            store.insert_chunks(did, [Chunk(text, 0, len(text), 0)])
    return store


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(XQUAD_DIR))
    ap.add_argument("--model", default="default", help="'none': skip the match-strength figures")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--no-pieces", action="store_true",
                    help="put right words the encoder's tokenizer holds whole too (more false alarms)")
    args = ap.parse_args(argv)
    from hybridsearch.encoder import word_pieces
    from hybridsearch.spelling import correct as correct_with

    pieces = None if args.no_pieces else word_pieces("default" if args.model == "none" else args.model)

    def correct(store, query):
        return correct_with(store, query, pieces)

    data = Path(args.data)
    paragraphs, questions = read_split(data, range(0, 36), LANGS, LANGS)
    questions = [q for q in questions if q[0][0] in SPLITS["dev"]]  # asked: articles 28-35
    asked = [(k, lang, q, typo(q)) for k, lang, q in questions if lang not in NO_WORDS and typo(q)]
    with tempfile.TemporaryDirectory() as tmp:
        store = build_store(Path(tmp) / "all.db", paragraphs)
        t = time.perf_counter()
        fixed = [correct(store, t) for _, _, _, t in asked]
        per_query = (time.perf_counter() - t) / len(asked)
        clean = [correct(store, q) for _, _, q, _ in asked]
        en_store = build_store(Path(tmp) / "en.db", [p for p in paragraphs if p[1] == "en"])
        foreign = [(lang, correct(en_store, q)) for _, lang, q, _ in asked if lang != "en"]
    n = len(asked)
    made = sum(f is not None for f in fixed)
    right = sum(f is not None and f.casefold() == q.casefold() for f, (_, _, q, _) in zip(fixed, asked))
    print(f"library: {len(paragraphs)} XQuAD-R paragraphs (articles 0-35, {len(LANGS)} languages); "
          f"{n} questions of articles 28-35 with a word of 5+ letters")
    print(f"  one typo:         suggestion for {made / n:.1%}, the question as written {right / n:.1%} "
          f"({right / max(made, 1):.1%} of suggestions); {per_query * 1e3:.1f} ms a query")
    print(f"  as written:       a suggestion (false alarm) for {sum(c is not None for c in clean) / n:.1%}")
    fa = sum(c is not None for _, c in foreign)
    print(f"  another language: over English paragraphs only, a suggestion (false alarm) for "
          f"{fa / len(foreign):.1%} of {len(foreign)} non-English questions")
    by_lang = {}
    for (_, lang, _, _), f in zip(asked, fixed):
        by_lang.setdefault(lang, []).append(f is not None)
    print("  one typo, suggestion made, by language: " +
          ", ".join(f"{lang} {np.mean(v):.0%}" for lang, v in sorted(by_lang.items())))
    if args.model == "none":
        return 0
    from hybridsearch.encoder import load_encoder
    from hybridsearch.match_strength import background_vectors, thresholds_for

    enc = load_encoder(args.model, threads=args.threads)
    th = thresholds_for(enc.name)
    dev = [p for p in paragraphs if p[0][0] in SPLITS["dev"]]
    pv = enc.encode([t for _, _, t in dev], kind="passage")
    keys = [k for k, _, _ in dev]
    bg = background_vectors(enc)

    def good_share(texts):
        qv = enc.encode(texts, kind="query")
        sims, base = qv @ pv.T, np.median(qv @ bg.T, axis=1)
        best = np.array([sims[i][[j for j, k in enumerate(keys) if k == key]].max()
                         for i, (key, _, _, _) in enumerate(asked)])
        return float(((best >= th.weak) | (best - base >= th.margin)).mean())

    as_written = good_share([q for _, _, q, _ in asked])
    typed = good_share([t for _, _, _, t in asked])
    suggested = good_share([f or t for f, (_, _, _, t) in zip(fixed, asked)])
    print(f"  answer paragraph a good or strong match ({enc.name}): as written {as_written:.1%}, "
          f"with the typo {typed:.1%}, the suggestion searched {suggested:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
