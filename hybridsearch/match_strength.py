"""How well a result matches, in words a person reads: strong, good or weak ("no good match").

Fused rank scores (reciprocal rank fusion: 0.015-0.021 for every result) say nothing about how well
a document answers; a nonsense query still gets 20 "results". Strength comes instead from two
pieces of absolute evidence about the result's best passage:

* the dense cosine between the query and the passage (its stored vector), against thresholds
  chosen per model on XQuAD-R articles 0-27 and read on articles 28-35 by
  ``python -m benchmarks.match_strength`` (the numbers are in :data:`CALIBRATED`);
* keyword evidence: the share of the query's keywords that the passage holds as whole words.

Neither depends on the other results: a result is rated the same in a library of 5 documents as
in one of 50,000. (How far a cosine stands out from the other results is no such evidence: in a
small library every other document is unrelated, so an unrelated best one stands out too.)

In: the library, the query, the results of ``Library.search``. Out: one :class:`Rating` per result.
No Qt here; the desktop app renders the ratings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STRONG, GOOD, WEAK = "strong", "good", "weak"


@dataclass(frozen=True)
class Thresholds:
    """Cosine lines of one model: below ``weak`` a match is weak; from ``strong`` on it is strong."""

    weak: float
    strong: float


#: ``python -m benchmarks.match_strength --model NAME``: ``weak`` best separates questions whose
#: answer is in the library from questions whose answer is not (Youden's J on articles 0-27);
#: ``strong`` is the 99th percentile of the best cosine when the answer is not there. Held out
#: (articles 28-35, 600 questions in en/de/zh over passages in 6 languages), bundled model: 81.2 %
#: of present answers good or strong, 97.2 % of absent ones "no good match" (also in libraries of
#: 5 documents), 0.3 % of absent ones strong. Nonsense queries stay weak.
CALIBRATED = {
    "hybrid-e5-small": Thresholds(weak=0.866, strong=0.879),
    "multilingual-e5-small": Thresholds(weak=0.863, strong=0.876),
}
#: A model without its own calibration (one trained here) uses the bundled model's lines.
FALLBACK = CALIBRATED["hybrid-e5-small"]


@dataclass(frozen=True)
class Rating:
    """How one result matches: ``level`` (strong/good/weak), and the evidence behind it."""

    level: str
    cosine: float | None          # None when no vector was available (keyword search, no model)
    keyword_share: float          # share of the query's keywords found in the passage, 0..1

    @property
    def label(self) -> str:
        return f"{self.level} match"

    def explain(self) -> str:
        """The evidence in one line, for a tooltip."""
        parts = []
        if self.cosine is not None:
            parts.append(f"meaning similarity {self.cosine:.2f}")
        parts.append(f"{round(100 * self.keyword_share)} % of the keywords")
        return " · ".join(parts)


def thresholds_for(model_name: str | None) -> Thresholds:
    return CALIBRATED.get(model_name or "", FALLBACK)


def rate(cosine: float | None, keyword_share: float, th: Thresholds) -> str:
    """strong / good / weak from the cosine against the model's lines; every keyword present
    lifts a result one level."""
    if cosine is None:
        return GOOD if keyword_share >= 1.0 else WEAK
    level = STRONG if cosine >= th.strong else GOOD if cosine >= th.weak else WEAK
    if keyword_share >= 1.0 and level != STRONG:
        level = GOOD if level == WEAK else STRONG
    return level


def keyword_share(text: str, query: str) -> float:
    """The share of the query's keywords that ``text`` holds (whole words; runs in scripts without
    spaces), by the engine's own tokenising."""
    from hybridsearch.lexical import lexical_tokens
    from hybridsearch.snippets import highlight_spans, query_terms

    terms = query_terms(query)
    words = {t for t in terms if not t.startswith("\x00")}
    if not terms:
        return 0.0
    found = {t for t, _, _ in lexical_tokens(text)} & words
    runs = [t for t in terms if t.startswith("\x00")]
    if runs and highlight_spans(text, set(runs)):
        found |= set(runs)
    return len(found) / max(1, len(words) + len(runs))


def passage_cosines(lib, query: str, chunk_ids: list[int]) -> list[float] | None:
    """Cosine of the query to each chunk's stored vector; None when the index has no vectors."""
    from hybridsearch.search import QUERY_VECTORS

    ann = lib.vectors.ann
    if ann is None or not chunk_ids:
        return None
    try:
        vecs = ann.get(chunk_ids)
    except RuntimeError:  # a chunk whose vector is not stored yet (indexing, repair pending)
        return None
    from hybridsearch.lexical import parse_query

    qv = np.asarray(QUERY_VECTORS.get(lib.encoder, parse_query(query).dense_text), np.float32)
    vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    return [float(x) for x in vecs @ (qv / max(float(np.linalg.norm(qv)), 1e-12))]


def rate_results(lib, query: str, results, use_vectors: bool = True) -> list[Rating]:
    """One :class:`Rating` per result of ``Library.search`` (its best passage)."""
    if not results:
        return []
    cosines = passage_cosines(lib, query, [r.best.chunk_id for r in results]) if use_vectors else None
    th = thresholds_for(getattr(lib.encoder, "name", None) if use_vectors else None)
    out = []
    for i, r in enumerate(results):
        cos = cosines[i] if cosines is not None else None
        # a file whose name (or folder's name) holds the keywords matches them too
        name = " ".join(str(r.path).replace("\\", "/").split("/")[-2:])
        share = max(keyword_share(r.best.text, query), keyword_share(name, query))
        out.append(Rating(rate(cos, share, th), cos, share))
    return out
