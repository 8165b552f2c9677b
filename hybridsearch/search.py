"""Search: dense (hnsw), lexical (FTS5 BM25), hybrid (reciprocal rank fusion), grouped by document.

In: the library's store and vector index, a way to get its encoder, the user's query, filters
and a :class:`~hybridsearch.ranking.RankingPolicy` (how to rank: fusion weights, same-language
offset, cross-language feedback). Out: ``DocumentResult`` list, best first, each with its best
passage (highlight spans and a snippet) and further passages.

Fusion is done per document: each list (dense chunks, lexical chunks) ranks documents by their
first chunk in it, and a document scores ``sum(w / (rrf_k + rank))`` over the lists it is in.
Passages within a document are ordered the same way at chunk level.
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Callable

import numpy as np

from hybridsearch.errors import InputError
from hybridsearch.language import query_language
from hybridsearch.lexical import FUNCTION_WORDS, ParsedQuery, TermMatcher, parse_query
from hybridsearch.ranking import DEFAULT_POLICY, MODES, RankingPolicy, feedback_vectors, offset_scores
from hybridsearch.records import Context, DocumentResult, Passage
from hybridsearch.snippets import highlight_spans, make_snippet, query_terms, render_html
from hybridsearch.store import (SQL_CHUNK_PLACE, SQL_CHUNK_ROWS, SQL_CHUNK_TEXT_LANGUAGES, SQL_DOCS_MATCHING,
                                SQL_DOCUMENT_CHUNKS, SQL_FILTERED_CHUNK_IDS, SQL_FIRST_CHUNKS, SQL_LEXICAL,
                                SQL_LEXICAL_ALL, SQL_MAX_CHUNK_ID, SQL_NAME_MATCHES, SQL_SAME_LANGUAGE, SQL_TERM_DOCS,
                                Store, path_param)
from hybridsearch.vectors import VectorIndex

#: Chunks fetched from each retriever per document asked for (documents have several chunks).
CANDIDATES_PER_DOC = 5
#: Further passages shown under a document's best one.
MAX_MORE = 3
#: Lexical search: terms in more than this share of chunks are dropped; at most MAX_TERMS kept.
COMMON_SHARE = 0.05
COMMON_MIN_DOCS = 2000
MAX_TERMS = 16
#: Chunks fetched per one wanted when the query holds function words of other languages.
FOREIGN_FETCH = 3


def _ts(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


def build_filters(languages=None, folders=None, file_types=None, modified_after=None,
                  modified_before=None) -> tuple[str, list]:
    """SQL ``AND …`` conditions over ``c`` (chunks) and ``d`` (documents), with parameters."""
    where, params = [], []
    if languages:
        langs = [str(x).strip().lower() for x in languages if str(x).strip()]
        marks = ",".join("?" * len(langs))
        where.append(f"(d.language IN ({marks}) OR c.language IN ({marks}))")
        params += langs + langs
    if folders:
        conds = []
        for f in folders:
            # paths are compared as the bytes they are stored as (names need not be UTF-8, and
            # SQLite counts the characters of such text differently from Python): the folder
            # itself, or every path from "folder/" up to, not including, "folder0" ("/" + 1)
            p = str(Path(f).expanduser().resolve())
            prefix = path_param(p.rstrip(os.sep) + os.sep)
            conds.append("(d.path = CAST(? AS TEXT) OR (d.path >= CAST(? AS TEXT) AND d.path < CAST(? AS TEXT)))")
            params += [path_param(p), prefix, prefix[:-1] + bytes([prefix[-1] + 1])]
        where.append("(" + " OR ".join(conds) + ")")
    if file_types:
        types = [str(t).lower().lstrip(".") for t in file_types]
        types = ["html" if t == "htm" else t for t in types]
        where.append(f"d.file_type IN ({','.join('?' * len(types))})")
        params += types
    if modified_after is not None:
        where.append("d.mtime >= ?")
        params.append(_ts(modified_after))
    if modified_before is not None:
        where.append("d.mtime <= ?")
        params.append(_ts(modified_before))
    return "".join(" AND " + w for w in where), params


# -- query vectors ------------------------------------------------------------------------------------
class QueryVectors:
    """The last few hundred query embeddings: a user re-runs a query with other filters or another
    mode, and the encoder is most of a query's time. Thread-safe."""

    def __init__(self, size: int = 256):
        self.size = size
        self._cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, encoder, query: str):
        key = (encoder.identity, query)
        with self._lock:
            vec = self._cache.get(key)
        if vec is None:
            vec = encoder.encode([query], kind="query")[0]
        with self._lock:
            self._cache.pop(key, None)
            while len(self._cache) >= self.size:
                self._cache.popitem(last=False)
            self._cache[key] = vec  # most recently used last
        return vec

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()


QUERY_VECTORS = QueryVectors()

_AHEAD: ThreadPoolExecutor | None = None
_AHEAD_LOCK = threading.Lock()


def _encode_ahead(encoder: Callable[[], object], text: str) -> Future:
    """Encode ``text`` into :data:`QUERY_VECTORS` in a worker thread; the future's result is the
    encoder (its exception, if loading or encoding failed, is raised by ``result()``)."""
    global _AHEAD
    with _AHEAD_LOCK:
        if _AHEAD is None:
            _AHEAD = ThreadPoolExecutor(max_workers=2, thread_name_prefix="query-encoder")

    def run():
        enc = encoder()
        QUERY_VECTORS.get(enc, text)
        return enc

    return _AHEAD.submit(run)


# -- dense ----------------------------------------------------------------------------------------------
def dense_candidates(store: Store, vectors: VectorIndex, encoder, query: str, n: int, where: str,
                     params: list, policy: RankingPolicy) -> list[tuple[int, float]]:
    """(chunk id, score) for the ``n`` best chunks passing the filters, ranked by ``policy``: the
    cosine, less its language offset for chunks in the query's language; with feedback, of the
    query moved toward its best first hits."""
    with store.lock:
        ann = vectors.ann
    if ann is None or len(ann) == 0:
        return []
    vectors.check_model(encoder)
    qv = QUERY_VECTORS.get(encoder, query)
    policy = policy.for_encoder(encoder)
    offset = policy.language_offset
    lang = query_language(query) if offset else None
    with store.lock:
        allowed = None
        if where:
            allowed = {r[0] for r in store.conn.execute(SQL_FILTERED_CHUNK_IDS.format(where=where), params)}
        if not policy.feedback:
            return _dense_hits(store, ann, qv, n, allowed, lang, policy)
        # the first passages come from the whole library, filters or not: a search filtered to
        # one language is moved toward the answer found in the others
        first = _dense_hits(store, ann, qv, policy.feedback_hits, None, lang, policy)
        if not first:
            return []
        vec = feedback_vectors(qv, ann.get([c for c, _ in first]), [s for _, s in first],
                               policy.feedback_weight, policy.feedback_temperature)
        return _dense_hits(store, ann, vec, n, allowed, lang, policy)


def _dense_hits(store: Store, ann, vector, n: int, allowed, lang: str | None,
                policy: RankingPolicy) -> list[tuple[int, float]]:
    """The ``n`` best (chunk id, score) for ``vector``, the offset taken from chunks in ``lang``
    (the nearest ``offset_fetch * n`` are re-ranked). Called with ``store.lock`` held."""
    labels, sims = ann.search(vector, n * policy.offset_fetch if lang else n, allowed)
    hits = [(int(a), float(b)) for a, b in zip(labels, sims)]
    if not (lang and hits):
        return hits
    ids = [c for c, _ in hits]
    same = {r[0] for r in store.conn.execute(SQL_SAME_LANGUAGE.format(marks=",".join("?" * len(ids))),
                                             ids + [lang])}
    scores = offset_scores(np.array([s for _, s in hits], np.float64), [c in same for c in ids],
                           policy.language_offset)
    return sorted(zip(ids, scores.tolist()), key=lambda h: -h[1])[:n]


# -- lexical --------------------------------------------------------------------------------------------
def lexical_candidates(store: Store, query: "str | ParsedQuery", n: int, where: str, params: list,
                       min_share: float = 0.0) -> list[tuple[int, float]]:
    """(chunk id, -bm25) for the ``n`` best FTS5 matches passing the filters.

    Terms found in more than ``COMMON_SHARE`` of the chunks ("the", "是", common bigrams) are left
    out, rarest first, as long as another term remains: they add little to BM25 but make FTS5
    score most of the table (hundreds of ms at 100,000 chunks). At most ``MAX_TERMS`` are kept.
    With ``min_share`` > 0, a chunk is dropped unless the terms it holds carry at least that share
    of the kept terms' IDF weight (a term no chunk holds weighs as much as the rarest can); words
    joined by ``OR`` count as one term, held when any of them is, weighing as the rarest.

    A chunk in another language than the query's is dropped when the only query words it holds
    are function words of its language (an English "when did the king die" does not match German
    text through the article "die"), unless the query is made of nothing else (a German "die",
    whose language one word cannot tell, still finds German text). Phrases are never dropped so.
    """
    parsed = query if isinstance(query, ParsedQuery) else parse_query(query)
    group_of = {t: i for i, g in enumerate(parsed.groups) for t in g}
    if not group_of:
        return []
    with store.lock:
        total = max(1, store.count(SQL_MAX_CHUNK_ID))
        dfs = []
        for t in group_of:
            row = store.conn.execute(SQL_TERM_DOCS, (t.key,)).fetchone() if not t.phrase else None
            dfs.append((row[0] if row else 0, t.fts, t))
    dfs.sort(key=lambda x: x[:2])
    limit = max(COMMON_MIN_DOCS, COMMON_SHARE * total)  # small libraries keep every term
    kept = ([x for x in dfs if x[0] <= limit] or dfs[:2])[:MAX_TERMS]
    match = " OR ".join(q for _, q, _ in kept)
    shared = _foreign_function_words(parsed)
    # chunks matched only through another language's function words are dropped below: fetch
    # more, so that they do not crowd the real matches out of the first n
    fetch = n * FOREIGN_FETCH if shared else n
    with store.lock:
        if where:
            rows = store.conn.execute(SQL_LEXICAL.format(where=where), [match, *params, fetch]).fetchall()
        else:
            rows = store.conn.execute(SQL_LEXICAL_ALL, (match, fetch)).fetchall()
    hits = [(int(cid), -float(rank)) for cid, rank in rows]
    by_share = min_share > 0 and len(kept) >= 2
    if not hits or not (by_share or shared):
        return hits
    weight: dict[int, float] = {}  # per group: the IDF of its rarest kept term
    for df, _, t in kept:
        g = group_of[t]
        weight[g] = max(weight.get(g, 0.0), math.log(1 + (total - df + 0.5) / (df + 0.5)))
    whole = sum(weight.values())
    with store.lock:
        found = {r[0]: (r[1], r[2]) for r in store.conn.execute(
            SQL_CHUNK_TEXT_LANGUAGES.format(marks=",".join("?" * len(hits))), [c for c, _ in hits])}
    matcher = TermMatcher(t for _, _, t in kept)
    out = []
    for cid, score in hits:
        if len(out) >= n:
            break
        text, lang = found.get(cid, ("", None))
        if not by_share and lang not in shared:
            out.append((cid, score))  # nothing to check: spare the tokenising
            continue
        keys = matcher.held(text)
        held = [t for _, _, t in kept if t.key in keys]
        if lang in shared and held and all(not t.phrase and t.key in shared[lang] for t in held):
            continue  # only another language's function words: no keyword match
        if not by_share or sum(weight[g] for g in {group_of[t] for t in held}) >= min_share * whole:
            out.append((cid, score))
    return out


def _foreign_function_words(parsed: ParsedQuery) -> dict[str, frozenset[str]]:
    """{language: its function words among the query's words}, for the languages other than the
    query's own in which some of the query's words are function words and others are not."""
    terms = parsed.terms
    keys = {t.key for t in terms if not t.phrase}
    if not keys:
        return {}
    language = query_language(parsed.text)
    out = {}
    for lang, words in FUNCTION_WORDS.items():
        common = keys & words
        if lang != language and common and any(t.phrase or t.key not in words for t in terms):
            out[lang] = frozenset(common)
    return out


def name_candidates(store: Store, parsed: ParsedQuery, n: int, where: str,
                    params: list) -> list[tuple[int, float]]:
    """(first chunk id, -bm25) of the ``n`` best documents whose file or folder name holds every
    word of the query (one of each ``OR`` group), passing the filters."""
    if not parsed.groups:
        return []
    match = " AND ".join("(" + " OR ".join(t.fts for t in g) + ")" for g in parsed.groups)
    with store.lock:
        docs = store.conn.execute(SQL_NAME_MATCHES, (match, n)).fetchall()
        if not docs:
            return []
        first = dict(store.conn.execute(SQL_FIRST_CHUNKS.format(marks=",".join("?" * len(docs)), where=where),
                                        [d for d, _ in docs] + params).fetchall())
    return [(first[d], -float(rank)) for d, rank in docs if d in first]


def syntax_filters(parsed: ParsedQuery, phrases: bool) -> tuple[str, list]:
    """SQL ``AND …`` conditions over ``c`` for a query's excluded words and (with ``phrases``)
    required phrases: every list (dense, keyword, file name) keeps only documents that hold none
    of the excluded words (and each required phrase).

    Phrases are required in keyword search only: hybrid and semantic search find a passage's
    translations too, which cannot hold the phrase as typed; there a phrase is one keyword term.
    """
    where, params = [], []
    for expr in parsed.required if phrases else ():
        where.append(f" AND c.document_id IN ({SQL_DOCS_MATCHING})")
        params.append(expr)
    if parsed.excluded:
        where.append(f" AND c.document_id NOT IN ({SQL_DOCS_MATCHING})")
        params.append(parsed.excluded)
    return "".join(where), params


def _rows(store: Store, ids: list[int]) -> dict[int, dict]:
    out = {}
    with store.lock:
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            cur = store.conn.execute(SQL_CHUNK_ROWS.format(marks=",".join("?" * len(part))), part)
            cols = [c[0] for c in cur.description]
            for r in cur.fetchall():
                out[r[0]] = dict(zip(cols, r))
    return out


def _passage(row: dict, score: float, terms: set[str]) -> Passage:
    spans = highlight_spans(row["text"], terms) if terms else []
    snippet = make_snippet(row["text"], spans)
    return Passage(chunk_id=row["id"], text=row["text"], start=row["start"], end=row["end"],
                   language=row["language"], score=score, snippet_html=render_html(snippet),
                   spans=spans, snippet=snippet, page=row.get("page"))


# -- search ---------------------------------------------------------------------------------------------
def search(store: Store, vectors: VectorIndex, encoder: Callable[[], object], query: str, k: int = 10,
           mode: str = "hybrid", languages=None, folders=None, file_types=None, modified_after=None,
           modified_before=None, policy: RankingPolicy = DEFAULT_POLICY) -> list[DocumentResult]:
    """See :meth:`Library.search`. ``encoder()`` returns the encoder (only dense search loads it)."""
    if mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if not isinstance(query, str):
        raise InputError("the query must be text")
    query = query.strip()
    if not query or k <= 0:
        return []
    parsed = parse_query(query)
    if not parsed.groups:  # nothing to look for ("*", "-", only excluded words)
        return []
    where, params = build_filters(languages, folders, file_types, modified_after, modified_before)
    more_where, more_params = syntax_filters(parsed, phrases=mode == "lexical")
    where, params = where + more_where, params + more_params
    n = max(50, k * CANDIDATES_PER_DOC)
    weights = policy.weights
    lists: list[tuple[float, list[tuple[int, float]]]] = []
    use_dense = mode == "dense" or (mode == "hybrid" and weights[0] > 0)
    use_lexical = mode == "lexical" or (mode == "hybrid" and weights[1] > 0)
    min_share = policy.min_match_share if mode == "hybrid" else 0.0  # keyword mode: every match counts
    # hybrid: the query is encoded (ONNX Runtime, without the interpreter lock) while the keyword
    # side runs (SQLite, also without it): a query costs the longer of the two, not their sum
    encoding = _encode_ahead(encoder, parsed.dense_text) if use_dense and use_lexical else None
    lexical = lexical_candidates(store, parsed, n, where, params, min_share) if use_lexical else []
    if use_dense:
        enc = encoding.result() if encoding is not None else encoder()
        lists.append((weights[0], dense_candidates(store, vectors, enc, parsed.dense_text, n, where, params,
                                                   policy)))
    if use_lexical:
        lists.append((weights[1], lexical))
    if mode != "dense" and policy.name_weight > 0:  # file names: one more list
        lists.append((policy.name_weight, name_candidates(store, parsed, n, where, params)))
    ids = list(dict.fromkeys(cid for _, lst in lists for cid, _ in lst))
    rows = _rows(store, ids)  # ids deleted since the vector index was saved drop out here
    # while the library is still being embedded, a keyword hit without a vector stands in for
    # the dense list at its keyword rank, so not-yet-embedded files are not pushed down
    stand_in = not_embedded(store, vectors, [c for c, _ in lexical]) if (
        mode == "hybrid" and use_dense and use_lexical) else set()
    chunk_score: dict[int, float] = {}
    doc_score: dict[int, float] = {}
    for w, lst in lists:
        bonus = weights[0] if stand_in and lst is lexical else 0.0
        lst = [(c, s) for c, s in lst if c in rows]
        doc_rank: dict[int, int] = {}
        for rank, (cid, s) in enumerate(lst):
            did = rows[cid]["document_id"]
            if mode == "hybrid":
                w_here = w + (bonus if cid in stand_in else 0.0)
                chunk_score[cid] = chunk_score.get(cid, 0.0) + policy.rrf(w_here, rank + 1)
                if did not in doc_rank:
                    doc_rank[did] = len(doc_rank) + 1
                    doc_score[did] = doc_score.get(did, 0.0) + policy.rrf(w_here, doc_rank[did])
            else:
                chunk_score[cid] = max(chunk_score.get(cid, float("-inf")), s)
                doc_score[did] = max(doc_score.get(did, float("-inf")), s)
    by_doc: dict[int, list[int]] = {}
    for cid in sorted(chunk_score, key=chunk_score.get, reverse=True):
        by_doc.setdefault(rows[cid]["document_id"], []).append(cid)
    terms = query_terms(query)
    results = []
    for did in sorted(doc_score, key=doc_score.get, reverse=True)[:k]:
        cids = by_doc[did]
        passages = [_passage(rows[c], chunk_score[c], terms) for c in cids[:1 + MAX_MORE]]
        r = rows[cids[0]]
        results.append(DocumentResult(
            path=r["path"], title=r["title"] or Path(r["path"]).stem, folder=r["folder"],
            file_type=r["file_type"], language=r["doc_language"], score=doc_score[did],
            modified=datetime.fromtimestamp(r["mtime"] or 0), best=passages[0], more=passages[1:]))
    return results


def not_embedded(store: Store, vectors: VectorIndex, chunk_ids) -> set[int]:
    """Those of ``chunk_ids`` that have no vector yet (empty at once when every chunk has one)."""
    ann = vectors.ann
    if ann is not None and len(ann) >= store.count("SELECT count(*) FROM chunks"):
        return set()
    labels = ann.labels() if ann is not None else set()
    return {c for c in chunk_ids if c not in labels}


# -- document text ----------------------------------------------------------------------------------
def _doc_text_from_chunks(rows) -> str:
    """Rebuild a document's text from (start, end, text) chunks; gaps were whitespace."""
    parts, pos = [], 0
    for start, end, text in rows:
        if start > pos:
            gap = start - pos
            parts.append("\n" * gap if gap >= 2 else " ")
            pos = start
        if end > pos:
            parts.append(text[pos - start:])
            pos = end
    return "".join(parts)


def document_text(store: Store, path: str) -> str:
    """The indexed text of a document, rebuilt from its chunks at their offsets."""
    with store.lock:
        rows = store.conn.execute(SQL_DOCUMENT_CHUNKS, (path_param(path),)).fetchall()
    if not rows:
        raise InputError(f"not an indexed document: {path}")
    return _doc_text_from_chunks(rows)


def context(store: Store, chunk_id: int, chars: int = 800) -> Context:
    """The text around a chunk, for "show in context"."""
    with store.lock:
        row = store.conn.execute(SQL_CHUNK_PLACE, (int(chunk_id),)).fetchone()
    if not row:
        raise InputError(f"no such passage: {chunk_id}")
    path, start, end = row
    text = document_text(store, path)
    lo, hi = max(0, start - chars), min(len(text), end + chars)
    return Context(path=path, text=text[lo:hi], start=start - lo, end=end - lo, doc_start=lo)
