"""An evaluation run as the app makes it: which data (XQuAD-R articles held out from training by
default), whether it overlaps a model's training data, and several models measured on it with one
progress over all of them. No Qt; the Evaluation page runs :func:`evaluate_models` in a worker.
"""

from __future__ import annotations

import re
from pathlib import Path

from hybridsearch.errors import InputError
from hybridsearch.progress import Progress

#: XQuAD-R articles no shipped model lists as training data (the bundled model's card: trained on
#: 0-27, evaluated on 28-35): the default evaluation data.
HELD_OUT_ARTICLES = "28-35"
_ARTICLES_RE = re.compile(r"XQuAD-R articles (\d+)\s*-\s*(\d+)", re.IGNORECASE)


def parse_articles(text: str) -> list[int] | None:
    """'28-35' or '0-3, 7' -> article indices; '' or 'all' -> None (every article)."""
    text = (text or "").strip().lower()
    if text in ("", "all"):
        return None
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)\s*(?:-\s*(\d+))?", part)
        if not m:
            raise InputError(f"articles must look like 28-35 or 0-3, 7, not {part!r}")
        lo, hi = int(m[1]), int(m[2] or m[1])
        if hi < lo:
            raise InputError(f"article range {part!r} runs backwards")
        out.extend(range(lo, hi + 1))
    return sorted(set(out))


def is_xquad_r(path: str | Path) -> bool:
    """An XQuAD-R folder (``{lang}.json`` files) or one such file."""
    p = Path(path)
    if p.is_dir():
        return any(p.glob("*.json"))
    return p.suffix.lower() == ".json"


def training_data(model: str) -> list[str]:
    """What the model's card (and the cards it was trained from) lists as training data."""
    from hybridsearch.encoder import resolve_model
    from hybridsearch.encoder.runtime import read_card

    try:
        card = read_card(resolve_model(model))
    except Exception:  # noqa: BLE001 - an unreadable card only means no overlap can be seen
        return []
    out = []
    while isinstance(card, dict):
        if isinstance(card.get("data"), str):
            out.append(card["data"])
        card = card.get("trained_from")
    return out


def training_articles(model: str) -> set[int]:
    """XQuAD-R articles the model was trained on, as its card says."""
    arts: set[int] = set()
    for text in training_data(model):
        for m in _ARTICLES_RE.finditer(text):
            arts.update(range(int(m[1]), int(m[2]) + 1))
    return arts


def overlap_warning(models: list[str], path: str, articles: list[int] | None, labels=None) -> str | None:
    """A sentence when the chosen data overlaps a model's training data (its figures flatter it)."""
    xquad = is_xquad_r(path)
    lines = []
    for name in models:
        label = (labels or {}).get(name, name)
        if xquad:
            trained = training_articles(name)
            chosen = set(articles) if articles is not None else None
            common = trained if chosen is None else trained & chosen
            if common:
                lines.append(f"{label} was trained on XQuAD-R articles {_ranges(sorted(common))}")
        elif any(Path(path).name and Path(path).name in t for t in training_data(name)):
            lines.append(f"{label} was trained on {Path(path).name}")
    if not lines:
        return None
    return ("The chosen data overlaps training data: " + "; ".join(lines) +
            ". Its figures on them measure memory, not search quality"
            + (f"; choose held-out articles (e.g. {HELD_OUT_ARTICLES})." if xquad else "."))


def _ranges(nums: list[int]) -> str:
    out, start = [], None
    for i, n in enumerate(nums):
        if start is None:
            start = n
        if i + 1 == len(nums) or nums[i + 1] != n + 1:
            out.append(f"{start}-{n}" if n != start else f"{n}")
            start = None
    return ", ".join(out)


def load_evaluation_data(path: str, articles: list[int] | None = None, limit: int = 0):
    """The evaluation data: XQuAD-R restricted to ``articles``; at most ``limit`` question ids."""
    from trainer.qa import load_parallel_qa, load_xquad_r

    data = load_xquad_r(path, articles=articles) if is_xquad_r(path) else load_parallel_qa(path)
    if limit and len(data.ids) > limit:
        data = data.subset(data.ids[:limit])
    return data


def evaluate_models(models: list[str], data, labels: dict[str, str] | None = None, cancel=None,
                    report=None) -> dict[str, dict]:
    """Evaluate each model on ``data`` -> {label: flat metrics}; one progress over every model
    (model i of n covers the i-th n-th of the bar)."""
    from trainer.evaluate import evaluate_model

    out = {}
    n = len(models)
    for i, name in enumerate(models):
        label = (labels or {}).get(name, name)

        def on_progress(p, i=i, label=label):
            if report is not None and p.total:
                report(Progress("evaluate", i * p.total + p.done, n * p.total,
                                f"Model {i + 1}/{n} ({label}): encoding {p.done}/{p.total} texts"))
        if report is not None:
            report(Progress("evaluate", i, n, f"Model {i + 1}/{n} ({label}): loading"))
        out[label] = evaluate_model(name, data, on_progress=on_progress, cancel=cancel)
    return out
