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
search almost never shows "strong"). Prints both and how they do on the held-out articles, in the
whole pool and in small libraries: 5 paragraphs drawn from other articles, the answer absent.

Both lines are absolute: a result is rated the same whatever else the library holds. The app once
also called a result good when its cosine stood out from the other results' by a margin (the 99th
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


def read_split(data: Path, articles: range) -> tuple[list, list]:
    """(paragraphs [(article, lang, text)], questions [(article, paragraph index, lang, text)])."""
    paragraphs, questions = [], []
    for lang in sorted(set(QUERY_LANGS) | set(PASSAGE_LANGS)):
        doc = json.loads((data / f"{lang}.json").read_text(encoding="utf-8"))
        for ai, art in enumerate(doc["data"]):
            if ai not in articles:
                continue
            for pi, p in enumerate(art["paragraphs"]):
                key = (ai, pi)
                if lang in PASSAGE_LANGS:
                    paragraphs.append((key, lang, p["context"]))
                if lang in QUERY_LANGS:
                    questions.extend((key, lang, qa["question"]) for qa in p["qas"])
    return paragraphs, questions


#: Small libraries drawn per question (answer absent): documents in each, and how many are drawn.
SMALL_LIBRARY = 5
SMALL_DRAWS = 5


def scores(enc, data: Path, articles: range, cache: Path | None = None):
    """(answer-present cosines, answer-absent cosines, best nonsense cosine, answer-present gaps,
    answer-absent gaps, small-library best cosines, small-library gaps) of a split; a gap is a
    cosine less the median of the next 19 (in a small library: of the other 4)."""
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
    sims = qv @ pv.T
    p_key = np.array([hash(k) for k, _, _ in paragraphs])
    p_art = np.array([k[0] for k, _, _ in paragraphs])
    rng = np.random.default_rng(0)
    present, absent, gap_present, gap_absent, small, gap_small = [], [], [], [], [], []
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
    nonsense = float((nv @ pv.T).max())
    return (np.array(present), np.array(absent), nonsense, np.array(gap_present), np.array(gap_absent),
            np.array(small), np.array(gap_small))


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
    pres, absn, _, gp, ga, _, _ = scores(enc, Path(args.data), SPLITS["train"], cache / f"{enc.name}_train.npz")
    cands = np.unique(np.concatenate([pres, absn]))
    j = [(pres >= t).mean() - (absn >= t).mean() for t in cands]
    weak = float(cands[int(np.argmax(j))])
    strong = float(np.quantile(absn, 0.99))
    margin = float(np.quantile(ga, 0.99))
    print(f"model {enc.name}: chosen on articles 0-27 ({len(pres)} questions): "
          f"weak below {weak:.3f}, strong from {strong:.3f}")
    dp, da, nonsense, dgp, dga, ds, dgs = scores(enc, Path(args.data), SPLITS["dev"], cache / f"{enc.name}_dev.npz")
    print(f"held-out articles 28-35 ({len(dp)} questions):")
    print(f"  answer present: {(dp >= weak).mean():.1%} above the no-good-match line, "
          f"{(dp >= strong).mean():.1%} strong")
    print(f"  answer absent:  {(da < weak).mean():.1%} shown as no good match, "
          f"{(da >= strong).mean():.1%} strong")
    print(f"  nonsense queries: best cosine {nonsense:.3f} ({'no good match' if nonsense < weak else 'MATCH'})")
    print(f"  {SMALL_LIBRARY}-document libraries without the answer ({len(ds)}): {(ds < weak).mean():.1%} "
          f"shown as no good match, {(ds >= strong).mean():.1%} strong")
    print(f"  the earlier standing-out rule (margin {margin:.3f}): answer present "
          f"{((dp >= weak) | (dgp >= margin)).mean():.1%} good or strong, answer absent "
          f"{((da < weak) & (dga < margin)).mean():.1%} no good match, but in {SMALL_LIBRARY}-document "
          f"libraries without the answer only {((ds < weak) & (dgs < margin)).mean():.1%}")
    print(json.dumps({"model": enc.name, "weak": round(weak, 3), "strong": round(strong, 3)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
