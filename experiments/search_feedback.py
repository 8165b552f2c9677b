"""What cross-language feedback does to search on XQuAD-R (LAReQA pools, cached vectors).

Dense search can run twice: once with the question, then with the question moved toward its best
first hits (``hybridsearch.ranking.feedback_vectors``: ``hits`` passages weighted by
``softmax(score / temperature)``, total ``weight``). This script re-scores the pools of
articles 0-27 (train) and 28-35 (dev) for a grid of settings (vectors encoded once per model
and cached by ``benchmarks.common.cached_vectors``) and prints, per split and setting:

* mAP, rank distance and query-language-first rate in the multilingual pool, as search ranks it
  with the same-language offset given (``--offsets``; the bundled model's card has 0.01);
* mono and cross MRR of a search filtered to one language in a library holding all of them, as
  the app runs it: the first hits, and so the feedback, come from the whole pool, and the second
  search is ranked within the filtered language. (In a library that holds only that language
  there is nothing to bring up: the one-search figures are the ones that apply there, which
  is why those columns are also the encoder's own mono and cross MRR.)

How the shipped feedback settings were chosen: choose on train, read dev. The app's defaults (``ranking.DEFAULT_POLICY``) are marked with ``*``.

    python -m experiments.search_feedback --model default
    python -m experiments.search_feedback --model base --offsets 0
"""

from __future__ import annotations

import argparse
import itertools

from benchmarks.common import SPLITS, add_vector_options, cached_vectors
from hybridsearch.ranking import DEFAULT_POLICY
from trainer.evaluate import compute_metrics, search_scores


def floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",")]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_vector_options(ap)
    ap.add_argument("--hits", default="3,5,10")
    ap.add_argument("--weights", default="0.5,1,2")
    ap.add_argument("--temperatures", default="0.02,0.05")
    ap.add_argument("--offsets", default="0,0.01", help="same-language offsets to rank with")
    ap.add_argument("--splits", default="train,dev")
    args = ap.parse_args(argv)
    grid = [(0, 0.0, 0.0)] + list(itertools.product([int(x) for x in args.hits.split(",")],
                                                    floats(args.weights), floats(args.temperatures)))
    default = (DEFAULT_POLICY.feedback_hits, DEFAULT_POLICY.feedback_weight, DEFAULT_POLICY.feedback_temperature)
    off = DEFAULT_POLICY.with_(feedback=False)
    print("split  hits  weight  temp.  offset    mAP  rank dist  QLF rate   filtered to one language: mono MRR  cross MRR")
    for split in args.splits.split(","):
        if split not in SPLITS:
            ap.error(f"--splits: {split!r} is not one of {', '.join(SPLITS)}")
        es, q, c = cached_vectors(args.data, args.model, split, args.cache, args.threads)
        for hits, weight, temp in grid:
            on = hits > 0
            policy = (DEFAULT_POLICY.with_(feedback_hits=hits, feedback_weight=weight, feedback_temperature=temp)
                      if on else off)
            for offset in floats(args.offsets):
                m = compute_metrics(search_scores(q, c, es, policy.with_(language_offset=offset)), es)
                mark = "*" if (hits, weight, temp) == default else " "
                what = f"{hits:4}  {weight:6.2f}  {temp:5.2f}" if on else "   -       -      -"
                print(f"{split:5}  {what}  {offset:6.4f}  {m['map']:.3f}  {m['rank_distance']:9.1f}  "
                      f"{m['qlf_rate']:8.3f}   {m['mono_mrr']:34.3f}  {m['cross_mrr']:9.3f} {mark}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
