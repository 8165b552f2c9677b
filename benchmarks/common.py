"""What the benchmarks and experiments share: where the repository and the data are, the
XQuAD-R languages and splits, and question/candidate vectors encoded once and cached.

Run the scripts as modules from the repository root (``python -m benchmarks.quality_xquad``),
so that ``hybridsearch`` and ``trainer`` are imported from this checkout.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
#: the shared data, beside the repository (never copied into it)
DATA = REPO.parent / "shared" / "data"
XQUAD_DIR = DATA / "xquad-r"
LANGS = ["ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"]
#: XQuAD-R articles: constants are chosen on train, figures read on dev
SPLITS = {"train": range(0, 28), "dev": range(28, 36)}


def add_vector_options(ap: argparse.ArgumentParser, cache: str = "runs/offset-cache") -> None:
    """The options of :func:`cached_vectors`: --data, --model, --cache, --threads."""
    ap.add_argument("--data", default=str(XQUAD_DIR))
    ap.add_argument("--model", default="default")
    ap.add_argument("--cache", default=cache)
    ap.add_argument("--threads", type=int, default=None)


def cached_vectors(data: str, model: str, split: str, cache: str | Path, threads=None, _encoders: dict = {}):
    """(eval set, question vectors, candidate vectors) of a split ('train': articles 0-27, 'dev':
    28-35), encoded once per model and cached as ``<cache>/<model name>_<split>.npz``."""
    from hybridsearch.encoder import load_encoder
    from trainer.evaluate import EvalSet, encode_eval_set
    from trainer.qa import load_xquad_r

    es = EvalSet.from_parallel_qa(load_xquad_r(data, articles=SPLITS[split]))
    path = Path(cache) / f"{Path(model).name}_{split}.npz"
    if path.is_file():
        z = np.load(path)
        return es, z["q"], z["c"]
    if model not in _encoders:
        _encoders[model] = load_encoder(model, threads=threads)
    q, c = encode_eval_set(_encoders[model], es)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, q=q, c=c)
    return es, q, c
