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
search almost never shows "strong"). A small library holds far fewer near misses than this pool,
so a cosine below ``weak`` also counts as good when it stands out from the search's other results:
``margin`` is the 99th percentile, over answer-absent questions, of how far the best cosine stands
above the median of the next 19 (the other results of a 20-result search). Prints the three and
how they do on the held-out articles.

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


def scores(enc, data: Path, articles: range, cache: Path | None = None):
    """(answer-present cosines, answer-absent cosines, best nonsense cosine, answer-present gaps,
    answer-absent gaps) of a split; a gap is a cosine less the median of the next 19."""
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
    present, absent, gap_present, gap_absent = [], [], [], []
    for i, (key, _, _) in enumerate(questions):
        mine = sims[i][p_key == hash(key)].max()
        others = np.sort(sims[i][p_art != key[0]])[::-1]
        present.append(mine)
        absent.append(others[0])
        gap_present.append(mine - np.median(others[:19]))
        gap_absent.append(others[0] - np.median(others[1:20]))
    nonsense = float((nv @ pv.T).max())
    return (np.array(present), np.array(absent), nonsense, np.array(gap_present), np.array(gap_absent))


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
    pres, absn, _, gp, ga = scores(enc, Path(args.data), SPLITS["train"], cache / f"{enc.name}_train.npz")
    cands = np.unique(np.concatenate([pres, absn]))
    j = [(pres >= t).mean() - (absn >= t).mean() for t in cands]
    weak = float(cands[int(np.argmax(j))])
    strong = float(np.quantile(absn, 0.99))
    margin = float(np.quantile(ga, 0.99))
    print(f"model {enc.name}: chosen on articles 0-27 ({len(pres)} questions): "
          f"weak below {weak:.3f}, strong from {strong:.3f}, standing out by {margin:.3f}")
    dp, da, nonsense, dgp, dga = scores(enc, Path(args.data), SPLITS["dev"], cache / f"{enc.name}_dev.npz")
    print(f"held-out articles 28-35 ({len(dp)} questions):")
    print(f"  answer present: {(dp >= weak).mean():.1%} above the no-good-match line, "
          f"{(dp >= strong).mean():.1%} strong")
    print(f"  answer absent:  {(da < weak).mean():.1%} shown as no good match, "
          f"{(da >= strong).mean():.1%} strong")
    print(f"  nonsense queries: best cosine {nonsense:.3f} ({'no good match' if nonsense < weak else 'MATCH'})")
    print(f"  with the margin: answer present {((dp >= weak) | (dgp >= margin)).mean():.1%} good or strong, "
          f"answer absent {((da < weak) & (dga < margin)).mean():.1%} no good match")
    print(json.dumps({"model": enc.name, "weak": round(weak, 3), "strong": round(strong, 3),
                      "margin": round(margin, 3)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
