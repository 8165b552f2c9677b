"""Where the app's match-strength thresholds come from (``hybridsearch/match_strength.py``).

A person reads "strong / good / weak" and "no good match", not a fused rank score. The thresholds
are cosines between a query and its best passage, chosen on XQuAD-R articles 0-27 (the bundled
model's training articles, so nothing reported is chosen on itself) and read on articles 28-35:

* *answer present*: the cosine of a question to its own paragraph, best over the passage languages
  (a library that holds the answer in some language);
* *answer absent*: the best cosine of a question over the paragraphs of every OTHER article (a
  library that does not hold the answer: what the top hit of an unanswerable search scores).

``weak`` (the "no good match" line) is the cosine that separates the two best on the training
articles (Youden's J); ``strong`` is the 99th percentile of answer-absent cosines (an unanswerable
search almost never shows "strong"). A cosine below ``weak`` also counts as good when it stands
``margin`` above the query's baseline (its median cosine with the app's fixed background passages,
``hybridsearch.match_strength.BACKGROUND``): ``margin`` is the 97th percentile, over
answer-absent questions, of how far the best cosine of the whole pool stands above the baseline.
Prints the three and how they do on the held-out articles, in the whole pool and in small
libraries (5 paragraphs drawn from other articles, the answer absent).

All of it is absolute: a result is rated the same whatever else the library holds. The app once
called a result good when its cosine stood out from the other results' by a margin (the 99th
percentile, over answer-absent questions, of the best cosine less the median of the next 19); the
last line shows what that did in a 5-document library, where every other document is unrelated.

    python -m benchmarks.match_strength --model default --threads 2
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from benchmarks.common import SPLITS, XQUAD_DIR

QUERY_LANGS = ("en", "de", "zh")
PASSAGE_LANGS = ("en", "de", "zh", "ar", "ru", "es")
NONSENSE = ["xyzzyplugh", "qwrtzp fjdkslaq", "zxcvbnm asdf", "blorptang", "ffff gggg hhhh", "kjhgfdsa lkj"]


def read_split(data: Path, articles: range, query_langs=QUERY_LANGS, passage_langs=PASSAGE_LANGS) -> tuple[list, list]:
    """(paragraphs [((article, paragraph index), lang, text)], questions [((article, paragraph
    index), lang, text)])."""
    paragraphs, questions = [], []
    for lang in sorted(set(query_langs) | set(passage_langs)):
        doc = json.loads((data / f"{lang}.json").read_text(encoding="utf-8"))
        for ai, art in enumerate(doc["data"]):
            if ai not in articles:
                continue
            for pi, p in enumerate(art["paragraphs"]):
                key = (ai, pi)
                if lang in passage_langs:
                    paragraphs.append((key, lang, p["context"]))
                if lang in query_langs:
                    questions.extend((key, lang, qa["question"]) for qa in p["qas"])
    return paragraphs, questions


#: Small libraries drawn per question (answer absent): documents in each, and how many are drawn.
SMALL_LIBRARY = 5
SMALL_DRAWS = 5


#: Percentile of answer-absent heights above the baseline that sets ``margin``.
MARGIN_QUANTILE = 0.97


def scores(enc, data: Path, articles: range, cache: Path | None = None):
    """Cosines and heights of a split, as a dict of arrays: ``present``/``absent`` (the answer's
    cosine, the best of the other articles'), ``small`` (the best of 5 paragraphs of other
    articles), ``nonsense`` (the best cosine of nonsense queries); ``*_gap``: less the median of the
    next 19 (in a small library: of the other 4); ``*_up``: less the query's baseline."""
    paragraphs, questions = read_split(data, articles)
    if cache is not None and cache.is_file():
        z = np.load(cache)
        pv, qv, nv = z["p"], z["q"], z["n"]
    else:
        pv = enc.encode([t for _, _, t in paragraphs], kind="passage")
        qv = enc.encode([t for _, _, t in questions], kind="query")
        nv = enc.encode(NONSENSE, kind="query")
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cache, p=pv, q=qv, n=nv)
    from hybridsearch.match_strength import background_vectors

    sims = qv @ pv.T
    base = np.median(qv @ background_vectors(enc).T, axis=1)
    p_key = np.array([hash(k) for k, _, _ in paragraphs])
    p_art = np.array([k[0] for k, _, _ in paragraphs])
    rng = np.random.default_rng(0)
    present, absent, gap_present, gap_absent, small, gap_small, small_base = [], [], [], [], [], [], []
    for i, (key, _, _) in enumerate(questions):
        mine = sims[i][p_key == hash(key)].max()
        pool = sims[i][p_art != key[0]]
        others = np.sort(pool)[::-1]
        present.append(mine)
        absent.append(others[0])
        gap_present.append(mine - np.median(others[:19]))
        gap_absent.append(others[0] - np.median(others[1:20]))
        for _ in range(SMALL_DRAWS):
            lib = np.sort(rng.choice(pool, SMALL_LIBRARY, replace=False))[::-1]
            small.append(lib[0])
            gap_small.append(lib[0] - np.median(lib[1:]))
            small_base.append(base[i])
    out = {k: np.array(v) for k, v in (("present", present), ("absent", absent), ("present_gap", gap_present),
                                       ("absent_gap", gap_absent), ("small", small), ("small_gap", gap_small))}
    out["present_up"], out["absent_up"] = out["present"] - base, out["absent"] - base
    out["small_up"] = out["small"] - np.array(small_base)
    nsims = nv @ pv.T
    out["nonsense"] = nsims.max(axis=1)
    out["nonsense_up"] = out["nonsense"] - np.median(nv @ background_vectors(enc).T, axis=1)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(XQUAD_DIR))
    ap.add_argument("--model", default="default")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--cache", default="runs/match-strength-cache", help="encoded vectors are kept here")
    args = ap.parse_args(argv)
    from hybridsearch.encoder import load_encoder

    enc = load_encoder(args.model, threads=args.threads)
    cache = Path(args.cache)
    tr = scores(enc, Path(args.data), SPLITS["train"], cache / f"{enc.name}_train.npz")
    pres, absn = tr["present"], tr["absent"]
    cands = np.unique(np.concatenate([pres, absn]))
    j = [(pres >= t).mean() - (absn >= t).mean() for t in cands]
    weak = float(cands[int(np.argmax(j))])
    strong = float(np.quantile(absn, 0.99))
    margin = float(np.quantile(tr["absent_up"], MARGIN_QUANTILE))
    old_margin = float(np.quantile(tr["absent_gap"], 0.99))
    print(f"model {enc.name}: chosen on articles 0-27 ({len(pres)} questions): "
          f"weak below {weak:.3f}, strong from {strong:.3f}, above the baseline by {margin:.3f}")
    dv = scores(enc, Path(args.data), SPLITS["dev"], cache / f"{enc.name}_dev.npz")

    def good(kind):  # good or strong: above the line, or far enough above the query's baseline
        return (dv[kind] >= weak) | (dv[kind + "_up"] >= margin)

    print(f"held-out articles 28-35 ({len(dv['present'])} questions):")
    print(f"  answer present: {good('present').mean():.1%} good or strong ({(dv['present'] >= weak).mean():.1%} "
          f"above the no-good-match line), {(dv['present'] >= strong).mean():.1%} strong")
    print(f"  answer absent:  {(~good('absent')).mean():.1%} shown as no good match, "
          f"{(dv['absent'] >= strong).mean():.1%} strong")
    print(f"  {SMALL_LIBRARY}-document libraries without the answer ({len(dv['small'])}): "
          f"{(~good('small')).mean():.1%} shown as no good match, {(dv['small'] >= strong).mean():.1%} strong")
    print(f"  nonsense queries: {(~good('nonsense')).mean():.0%} no good match (best cosine "
          f"{dv['nonsense'].max():.3f})")
    print(f"  the earlier standing-out rule (margin {old_margin:.3f} over the median of the other results): "
          f"answer present {((dv['present'] >= weak) | (dv['present_gap'] >= old_margin)).mean():.1%} good "
          f"or strong, answer absent {((dv['absent'] < weak) & (dv['absent_gap'] < old_margin)).mean():.1%} no "
          f"good match, but in {SMALL_LIBRARY}-document libraries without the answer only "
          f"{((dv['small'] < weak) & (dv['small_gap'] < old_margin)).mean():.1%}")
    print(json.dumps({"model": enc.name, "weak": round(weak, 3), "strong": round(strong, 3),
                      "margin": round(margin, 3)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
