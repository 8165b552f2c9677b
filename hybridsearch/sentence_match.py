"""Which sentences of a passage answer the query by meaning, in any language.

Keyword marks cannot help a reader who does not read the passage's language; the sentence whose
embedding is closest to the query's can. In: the encoder, the query, a text. Out: (start, end)
offsets of the best sentences. The query vector comes from the search's cache, so only the
passage's sentences are encoded (a handful per preview).
"""

from __future__ import annotations

import re

import numpy as np

from hybridsearch.documents import split_spans

#: Sentence ends: Latin/Cyrillic/Greek/Arabic/Devanagari punctuation and the full-width ones of
#: Chinese and Japanese, or a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?;。！？؟।॥])\s+|(?<=[。！？])|\n+")
#: Sentences within this much of the best one's cosine are marked too (an answer over two sentences).
CLOSE_TO_BEST = 0.015
MAX_SENTENCES = 40


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text`` (stripped; empty ones dropped)."""
    return [(s, e) for s, e in split_spans(text, _SENTENCE_END) if e - s >= 2]


def best_sentences(encoder, query: str, text: str, min_cosine: float | None = None) -> list[tuple[int, int]]:
    """The sentence(s) of ``text`` closest in meaning to ``query``: the best one and any within
    :data:`CLOSE_TO_BEST` of it; none when the best is below ``min_cosine``. A one-sentence text
    has nothing to single out."""
    from hybridsearch.search import QUERY_VECTORS

    spans = sentences(text)[:MAX_SENTENCES]
    if len(spans) < 2 or not query.strip():
        return []
    qv = np.asarray(QUERY_VECTORS.get(encoder, query), np.float32)
    sv = np.asarray(encoder.encode([text[s:e] for s, e in spans], kind="passage"), np.float32)
    sims = sv @ qv
    best = float(sims.max())
    if min_cosine is not None and best < min_cosine:
        return []
    return [sp for sp, c in zip(spans, sims) if c >= best - CLOSE_TO_BEST]
