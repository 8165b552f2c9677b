"""How results are ranked: one :class:`RankingPolicy` value, and the arithmetic that applies it.

In: a policy (defaults below, the same-language offset from the model's card) given to
``search.search`` and used by ``trainer.evaluate`` to rank an evaluation pool as search ranks a
library. Out: fused scores, offset scores, feedback query vectors. Why each default has its
value is told in docs/engine.md ("Ranking"); the figures there come from
``benchmarks/quality_xquad.py`` on XQuAD-R articles 28-35 with constants chosen on articles 0-27.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hybridsearch.encoder.runtime import MAX_LANGUAGE_OFFSET, valid_language_offset
from hybridsearch.errors import InputError

MODES = ("hybrid", "dense", "lexical")


@dataclass(frozen=True)
class RankingPolicy:
    """Every setting that decides the order of results, as one value.

    - ``weights``: reciprocal-rank-fusion weights (dense, lexical) of hybrid search; a document
      scores ``sum(w / (rrf_k + rank))`` over the lists it is in. Keyword matches are all in the
      query's language, so a full lexical weight buries the other languages' answers.
    - ``name_weight``: weight of the file-name list: documents whose file or folder name holds
      every query word, fused with the dense and keyword lists in hybrid search (in keyword
      search its BM25 scores compete with the passages'). 0 leaves file names out.
    - ``min_match_share``: in hybrid search a keyword hit counts only when the query terms it holds
      carry this share of the query's IDF weight (one-word hits on "in", "what" are noise).
    - ``language_offset``: dense scores of passages in the query's language are lowered by this
      (an answer in the question's language shares its words and scores a little above its
      translations). None: the model card's; 0: rank by cosine alone. The nearest
      ``offset_fetch * n`` passages are re-ranked, so ones just outside the top ``n`` move up.
    - ``feedback``: cross-language feedback: after a first dense search the query vector is moved
      toward its ``feedback_hits`` best passages (softmax of score / ``feedback_temperature``,
      total weight ``feedback_weight``) and searched again, which ranks the answer's translations
      next to it. The first passages come from the whole library, filters or not.
    """

    weights: tuple[float, float] = (1.0, 0.3)
    name_weight: float = 1.0
    rrf_k: int = 60
    min_match_share: float = 0.3
    language_offset: float | None = None
    offset_fetch: int = 2
    feedback: bool = True
    feedback_hits: int = 5
    feedback_weight: float = 1.0
    feedback_temperature: float = 0.02

    def __post_init__(self):
        if self.language_offset is not None and not valid_language_offset(self.language_offset):
            raise InputError(f"language_offset must be a number from 0 to {MAX_LANGUAGE_OFFSET}, "
                             f"not {self.language_offset!r}")

    def with_(self, **changes) -> "RankingPolicy":
        """A copy with some settings changed (None values are left as they are)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def for_encoder(self, encoder) -> "RankingPolicy":
        """This policy with the language offset filled in from ``encoder``'s card where unset."""
        if self.language_offset is not None:
            return self
        return replace(self, language_offset=float(getattr(encoder, "language_offset", 0.0) or 0.0))

    def rrf(self, weight: float, rank: int) -> float:
        """The fused score a list of weight ``weight`` gives its item at ``rank`` (1-based)."""
        return weight / (self.rrf_k + rank)


#: The app's ranking: the policy search uses when it is given none.
DEFAULT_POLICY = RankingPolicy()


def offset_scores(scores, same_language, offset: float):
    """``scores`` less ``offset`` where ``same_language`` is true (the one implementation of the
    same-language offset: search applies it to its nearest hits, evaluation to the whole pool)."""
    if not offset:
        return scores
    return scores - float(offset) * np.asarray(same_language)


def feedback_vectors(query, hit_vectors, hit_scores, weight: float = DEFAULT_POLICY.feedback_weight,
                     temperature: float = DEFAULT_POLICY.feedback_temperature):
    """The query vector(s) moved toward their best hits, normalised: ``query + weight * sum_i
    softmax(hit_scores / temperature)_i * hit_vectors_i``.

    One query: ``query`` [d], ``hit_vectors`` [k, d], ``hit_scores`` [k]; a batch (evaluation):
    [n, d], [n, k, d], [n, k]. Hit vectors are unit length, as the index stores them.
    """
    q = np.asarray(query, np.float32)
    vecs, scores = np.asarray(hit_vectors, np.float32), np.asarray(hit_scores, np.float64)
    one = q.ndim == 1
    if one:
        q, vecs, scores = q[None], vecs[None], scores[None]
    w = np.exp((scores - scores.max(axis=1, keepdims=True)) / temperature)
    w /= w.sum(axis=1, keepdims=True)
    out = q + weight * np.einsum("nk,nkd->nd", w.astype(np.float32), vecs)
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out[0] if one else out
