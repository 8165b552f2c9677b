"""LAReQA-protocol evaluation: multilingual mAP, mono/cross-lingual MRR and recall, language bias.

Metrics come back as one flat dict (see :data:`PRIMARY`): overall ``map``, ``mono_mrr``,
``cross_mrr``, ``mono_r1``, ``mono_r10``, ``cross_r1``, ``cross_r10``, ``rank_distance``,
``qlf_rate``, ``n_queries``, ``n_languages``; per query language ``{x}_map``, ``{x}_mono_mrr``,
``{x}_cross_mrr``, ``{x}_rank_distance``, ``{x}_qlf_rate``; and the matrix ``{x}_{y}_mrr``
(query language x, pool language y; x == y is monolingual).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from hybridsearch import atomic
from hybridsearch.encoder import load_encoder
from hybridsearch.progress import CancelToken, Progress
from hybridsearch.ranking import DEFAULT_POLICY, RankingPolicy, feedback_vectors, offset_scores
from hybridsearch.records import SUMMARY_KEYS
from trainer.qa import ParallelQA, load_parallel_qa
from trainer.qa.records import KINDS

PRIMARY = "map"


@dataclass
class EvalSet:
    """Queries, a multilingual candidate pool, and which candidate answers each query per language."""

    languages: list[str]
    queries: list[tuple[str, str, str]]          # (id, lang, question)
    candidates: list[tuple[str, str]]            # (lang, text)
    relevant: dict[str, dict[str, int]]          # id -> {lang: candidate index}

    @classmethod
    def from_parallel_qa(cls, data: ParallelQA) -> "EvalSet":
        candidates: list[tuple[str, str]] = []
        index: dict[tuple[str, str], int] = {}
        if data.pool is not None:
            for lang in sorted(data.pool):
                for key, text in data.pool[lang]:
                    index[(lang, key)] = len(candidates)
                    candidates.append((lang, text))
        relevant: dict[str, dict[str, int]] = defaultdict(dict)
        for r in data.rows:
            k = (r.lang, r.answer_key) if data.pool is not None and r.answer_key else (r.lang, "t:" + r.answer)
            if k not in index:
                index[k] = len(candidates)
                candidates.append((r.lang, r.answer))
            relevant[r.id][r.lang] = index[k]
        queries = [(r.id, r.lang, r.question) for r in data.rows]
        return cls(data.languages, queries, candidates, dict(relevant))


def average_precision(sorted_ranks) -> float:
    """AP of the relevant answers at these multilingual ranks (ascending): the k-th at rank r_k
    contributes k / r_k. Ties between relevant answers must not push one to the other's rank."""
    ranks = np.asarray(sorted_ranks)
    k = np.arange(1, len(ranks) + 1)
    return float(np.mean(k / np.maximum(ranks, k)))


def compute_metrics(scores: np.ndarray, es: EvalSet) -> dict[str, float]:
    """Metrics from a [n_queries, n_candidates] similarity matrix (higher is more similar)."""
    langs = es.languages
    cand_lang = np.array([l for l, _ in es.candidates])
    lang_masks = {l: cand_lang == l for l in langs}
    per = defaultdict(list)  # metric name -> values
    for qi, (qid, qlang, _) in enumerate(es.queries):
        s = scores[qi]
        rel = es.relevant[qid]
        rel_scores = {l: s[c] for l, c in rel.items()}
        # rank in the multilingual pool = 1 + candidates scoring strictly higher
        ranks = {l: 1 + int((s > v).sum()) for l, v in rel_scores.items()}
        # mAP: the k-th relevant answer (in rank order) at rank r_k contributes k / r_k
        ordered = sorted(ranks.values())
        ap = average_precision(ordered)
        per[f"{qlang}_map"].append(ap)
        if len(ranks) > 1:
            per[f"{qlang}_rank_distance"].append(max(ordered) - min(ordered))
            if qlang in ranks:
                others = [r for l, r in ranks.items() if l != qlang]
                per[f"{qlang}_qlf_rate"].append(float(ranks[qlang] < min(others)))
        # per pool language: the query's answer in that language against that language only
        for plang, c in rel.items():
            mask = lang_masks[plang]
            r = 1 + int((s[mask] > s[c]).sum())
            per[f"{qlang}_{plang}_mrr"].append(1.0 / r)
            kind = "mono" if plang == qlang else "cross"
            per[f"{qlang}_{kind}_mrr"].append(1.0 / r)
            per[f"{kind}_r1"].append(float(r <= 1))
            per[f"{kind}_r10"].append(float(r <= 10))

    out: dict[str, float] = {}
    for key, vals in per.items():
        out[key] = float(np.mean(vals))
    # overall figures: means over query languages (mono) and over language pairs (cross)
    out["map"] = _mean([out.get(f"{l}_map") for l in langs])
    out["mono_mrr"] = _mean([out.get(f"{l}_{l}_mrr") for l in langs])
    out["cross_mrr"] = _mean([out.get(f"{x}_{y}_mrr") for x in langs for y in langs if x != y])
    out["rank_distance"] = _mean([out.get(f"{l}_rank_distance") for l in langs])
    out["qlf_rate"] = _mean([out.get(f"{l}_qlf_rate") for l in langs])
    out["n_queries"] = float(len(es.queries))
    out["n_languages"] = float(len(langs))
    return {k: out[k] for k in sorted(out)}


#: Same-language offsets :func:`calibrate_language_offset` tries (cosine units, 0 .. 0.1): fine
#: steps where trained models land (bundled model 0.01), coarser up to where the base lands (0.06).
OFFSET_GRID = tuple(round(0.0025 * i, 4) for i in range(17)) + tuple(round(0.045 + 0.005 * i, 4) for i in range(12))
#: Metrics reported again with *language-fair* ranking, the way search ranks by default
#: (same-language offset, cross-language feedback), as ``<name>_language_fair``. Mono and cross MRR there are those of a search filtered to one language in
#: a library of all of them: feedback's first hits come from the whole pool (the offset alone
#: cannot change them).
LANGUAGE_FAIR_KEYS = SUMMARY_KEYS


def same_language(es: EvalSet) -> np.ndarray:
    """bool [n_queries, n_candidates]: the candidate is in the query's language."""
    q_lang = np.array([lang for _, lang, _ in es.queries])
    c_lang = np.array([lang for lang, _ in es.candidates])
    return q_lang[:, None] == c_lang[None, :]


def with_language_offset(scores: np.ndarray, es: EvalSet, offset: float) -> np.ndarray:
    """``scores`` with ``offset`` taken from every candidate in the query's own language.

    This is how search ranks with a model whose card has a ``language_offset``: a same-language
    answer shares words with the question, which lifts its cosine a little over its translations.
    Monolingual and cross-lingual figures cannot change (each is measured inside one language).
    """
    return offset_scores(scores, same_language(es), offset) if offset else scores


def map_by_language(scores: np.ndarray, es: EvalSet) -> float:
    """Overall mAP as :func:`compute_metrics` gives it, vectorised (for calibration)."""
    per_lang = defaultdict(list)
    q_lang = [lang for _, lang, _ in es.queries]
    for start in range(0, len(es.queries), 256):
        s = scores[start:start + 256]
        for i, row in enumerate(s):
            qi = start + i
            rel = np.fromiter(es.relevant[es.queries[qi][0]].values(), dtype=np.int64)
            ranks = np.sort(1 + (row[None, :] > row[rel][:, None]).sum(axis=1))
            per_lang[q_lang[qi]].append(average_precision(ranks))
    return _mean([float(np.mean(per_lang[l])) if per_lang.get(l) else None for l in es.languages])


def calibrate_language_offset(scores: np.ndarray, es: EvalSet, grid=OFFSET_GRID) -> tuple[float, dict]:
    """The same-language offset (from ``grid``) with the highest multilingual mAP on ``es``.

    Returns ``(offset, {offset: mAP})``; ties go to the smaller offset, so data without language
    bias keeps 0.
    """
    same = same_language(es)
    table = {float(d): map_by_language(scores - d * same, es) for d in grid}
    best = max(table, key=lambda d: (round(table[d], 12), -d))
    return best, table


def search_scores(q: np.ndarray, c: np.ndarray, es: EvalSet | None,
                  policy: RankingPolicy = DEFAULT_POLICY) -> np.ndarray:
    """Scores as dense search ranks the pool under ``policy``: cosine less its same-language
    offset (give a policy resolved with ``policy.for_encoder``; an unset offset counts as 0) and,
    with feedback, of each query moved toward its best first hits (``ranking.feedback_vectors``).
    ``es`` tells the languages apart (only needed with an offset)."""
    offset = policy.language_offset or 0.0
    scores = with_language_offset(q @ c.T, es, offset)
    if not policy.feedback:
        return scores
    k = min(policy.feedback_hits, scores.shape[1])
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    moved = feedback_vectors(q, c[top], np.take_along_axis(scores, top, axis=1), policy.feedback_weight,
                             policy.feedback_temperature)
    return with_language_offset(moved @ c.T, es, offset)


def language_fair_metrics(ranked: np.ndarray, es: EvalSet, offset: float, feedback: bool = False) -> dict[str, float]:
    """The ``*_language_fair`` metrics of scores ranked language-fair, as search ranks them (:func:`search_scores`),
    with the ``language_offset`` and ``feedback`` they were ranked with."""
    m = compute_metrics(ranked, es)
    return {"language_offset": float(offset), "feedback": float(bool(feedback)),
            **{f"{k}_language_fair": m[k] for k in LANGUAGE_FAIR_KEYS}}


def _mean(vals) -> float:
    vals = [v for v in vals if v is not None]
    return float(np.mean(vals)) if vals else float("nan")


def encode_eval_set(encoder, es: EvalSet, on_progress=None, cancel: CancelToken | None = None,
                    batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Encode questions (query) and candidates (passage) with an :class:`Encoder`-like object."""
    total = len(es.queries) + len(es.candidates)

    def report(offset):
        def cb(done, _n):
            if cancel is not None:
                cancel.raise_if_cancelled()
            if on_progress:
                on_progress(Progress("evaluate", offset + done, total, "encoding"))
        return cb

    if on_progress:  # encoding starts now: a bar's rate counts from here, not from the first batch
        on_progress(Progress("evaluate", 0, total, "encoding"))
    q = encoder.encode([t for _, _, t in es.queries], kind="query", batch_size=batch_size,
                       progress=report(0))
    c = encoder.encode([t for _, t in es.candidates], kind="passage", batch_size=batch_size,
                       progress=report(len(es.queries)))
    return q, c


def evaluate_encoder(encoder, data: ParallelQA | EvalSet, on_progress: Callable | None = None,
                     cancel: CancelToken | None = None, language_offset: float | None = None,
                     calibrate: bool = False, feedback: bool | None = None,
                     policy: RankingPolicy | None = None) -> dict[str, float]:
    """Evaluate an already-loaded encoder on ``data`` -> flat metrics dict.

    The dict also holds ``*_language_fair`` (see :data:`LANGUAGE_FAIR_KEYS`): the figures ranked
    language-fair, as search ranks
    the pool under ``policy`` (default: the app's), with the same-language offset
    (``language_offset``, else the policy's, else the encoder's own from its card; stored as
    ``language_offset``) and, unless ``feedback`` is False, cross-language feedback (stored as
    ``feedback`` 1.0). Without either there is no ``*_language_fair``. ``calibrate`` adds
    ``calibrated_offset``, the offset with the best mAP (cosine and offset alone) on this data,
    and ``map_calibrated``.
    """
    es = data if isinstance(data, EvalSet) else EvalSet.from_parallel_qa(data)
    q, c = encode_eval_set(encoder, es, on_progress, cancel)
    scores = q @ c.T
    metrics = compute_metrics(scores, es)
    policy = (policy or DEFAULT_POLICY).with_(language_offset=language_offset, feedback=feedback).for_encoder(encoder)
    offset = policy.language_offset
    if offset or policy.feedback:
        metrics.update(language_fair_metrics(search_scores(q, c, es, policy), es, offset, policy.feedback))
    if calibrate:
        best, table = calibrate_language_offset(scores, es)
        metrics.update(calibrated_offset=best, map_calibrated=table[best])
    return dict(sorted(metrics.items()))


def evaluate_model(model, data, on_progress: Callable | None = None,
                   cancel: CancelToken | None = None, device: str | None = None,
                   **options) -> dict[str, float]:
    """Evaluate a model (name or directory) on a dataset (object or path) -> flat metrics dict."""
    if isinstance(data, (str, Path)):
        data = load_parallel_qa(data)
    encoder = load_encoder(model, device=device)
    return evaluate_encoder(encoder, data, on_progress, cancel, **options)


def write_report(metrics: dict, path: str | Path, **meta) -> None:
    """Save ``{"meta": ..., "metrics": ...}`` as JSON, atomically (charts and tables read only this)."""
    atomic.write_text(path, json.dumps({"meta": meta, "metrics": metrics}, indent=2, ensure_ascii=False))


def metrics_csv(metrics: dict) -> str:
    """Per-language table as CSV: language, map, mono_mrr, cross_mrr, rank_distance, qlf_rate."""
    langs = sorted({k.split("_")[0] for k in metrics if k.endswith("_map") and k != "map"})
    cols = SUMMARY_KEYS
    lines = ["language," + ",".join(cols)]
    for l in langs:
        lines.append(l + "," + ",".join(f"{metrics.get(f'{l}_{c}', float('nan')):.4f}" for c in cols))
    lines.append("all," + ",".join(f"{metrics.get(c, float('nan')):.4f}" for c in cols))
    return "\n".join(lines) + "\n"


# ----------------------------------------------------- pair sets: question->paragraph and bitext

#: The primary metric of each kind of evaluation data (what checkpoints are chosen on).
PRIMARY_OF_KIND = {"qa-sentence": "map", "qa-paragraph": "map", "question-question": "bitext_map",
                   "bitext": "bitext_map"}


def pair_eval_set(ps) -> EvalSet:
    """An EvalSet of a question->answer/paragraph PairSet: every question of every language
    against one pool of every language's distinct positives (the app's unit for paragraphs)."""
    candidates: list[tuple[str, str]] = []
    index: dict[tuple[str, str], int] = {}
    relevant: dict[str, dict[str, int]] = {}
    queries = []
    for i in sorted(ps.left):
        for lang, text in sorted(ps.right[i].items()):
            if (lang, text) not in index:
                index[(lang, text)] = len(candidates)
                candidates.append((lang, text))
            relevant.setdefault(i, {})[lang] = index[(lang, text)]
        queries += [(i, lang, q) for lang, q in sorted(ps.left[i].items())]
    return EvalSet(ps.languages, queries, candidates, relevant)


def bitext_accuracy(vectors: dict[tuple[str, str], np.ndarray]) -> dict[str, float]:
    """Translation retrieval accuracy from ``{(id, lang): unit vector}``.

    For every ordered language pair (x, y): the share of x sentences whose nearest y sentence
    (cosine, over every y sentence) is their translation. Returns ``bitext_acc`` (the mean over
    pairs), ``{x}_bitext_acc`` (mean over y) and ``{x}_{y}_bitext_acc``.
    """
    by_lang: dict[str, dict[str, np.ndarray]] = defaultdict(dict)
    for (i, lang), v in vectors.items():
        by_lang[lang][i] = v
    langs = sorted(by_lang)
    out: dict[str, float] = {}
    for x in langs:
        for y in langs:
            if x == y:
                continue
            ids_y = sorted(by_lang[y])
            both = [i for i in sorted(by_lang[x]) if i in by_lang[y]]
            if not both:
                continue
            ymat = np.stack([by_lang[y][i] for i in ids_y])
            xmat = np.stack([by_lang[x][i] for i in both])
            best = np.argmax(xmat @ ymat.T, axis=1)
            out[f"{x}_{y}_bitext_acc"] = float(np.mean([ids_y[b] == i for b, i in zip(best, both)]))
    for x in langs:
        out[f"{x}_bitext_acc"] = _mean([out.get(f"{x}_{y}_bitext_acc") for y in langs if y != x])
    out["bitext_acc"] = _mean([v for k, v in out.items() if k.count("_") == 3])
    out.update(bitext_pool_map(vectors))
    return dict(sorted(out.items()))


def bitext_pool_map(vectors: dict[tuple[str, str], np.ndarray]) -> dict[str, float]:
    """mAP of finding a sentence's translations in one pool of every language (itself left out).

    Pairwise accuracy saturates for a good model (FLORES dev: 1.0); in one pool, a sentence's
    translations compete with every other sentence *and* with each other's languages, so the
    figure still moves, and a language bias shows. Returns ``bitext_map`` (mean over languages)
    and ``{x}_bitext_map``.
    """
    keys = list(vectors)
    mat = np.stack([vectors[k] for k in keys])
    ids = np.array([i for i, _ in keys])
    per: dict[str, list[float]] = defaultdict(list)
    for start in range(0, len(keys), 512):
        scores = mat[start:start + 512] @ mat.T
        for r, row in enumerate(scores):
            q = start + r
            row[q] = -np.inf
            rel = np.flatnonzero(ids == ids[q])
            rel = rel[rel != q]
            if not len(rel):
                continue
            ranks = np.sort(1 + (row[None, :] > row[rel][:, None]).sum(axis=1))
            per[keys[q][1]].append(average_precision(ranks))
    out = {f"{lang}_bitext_map": float(np.mean(v)) for lang, v in per.items()}
    out["bitext_map"] = _mean(list(out.values()))
    return out


def evaluate_pair_set(encode, ps) -> dict[str, float]:
    """Metrics of one PairSet with ``encode(texts, kind) -> unit vectors`` (kind "query" or
    "passage"): bitext accuracy for translations, the LAReQA metrics with every language in one
    pool for question->answer/paragraph. ``primary`` holds the kind's primary metric."""
    _, _, left_kind, right_kind = KINDS[ps.kind]
    if ps.symmetric:
        keys = [(i, lang) for i in sorted(ps.left) for lang in sorted(ps.left[i])]
        vecs = encode([ps.left[i][lang] for i, lang in keys], left_kind)
        metrics = bitext_accuracy(dict(zip(keys, vecs)))
    else:
        es = pair_eval_set(ps)
        q = encode([t for _, _, t in es.queries], left_kind)
        c = encode([t for _, t in es.candidates], right_kind)
        metrics = compute_metrics(q @ c.T, es)
    metrics["primary"] = metrics[PRIMARY_OF_KIND[ps.kind]]
    return metrics


def evaluate_encoder_on_pairs(encoder, ps, batch_size: int = 64) -> dict[str, float]:
    """:func:`evaluate_pair_set` with an :class:`Encoder`-like object."""
    return evaluate_pair_set(lambda texts, kind: encoder.encode(texts, kind=kind, batch_size=batch_size), ps)
