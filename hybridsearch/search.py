"""Search: dense (hnsw), lexical (FTS5 BM25), hybrid (reciprocal rank fusion), grouped by document.

In: a :class:`Library`, the user's query and filters. Out: ``DocumentResult`` list, best first,
each with its best passage (snippet with the query terms in ``<b>``) and further passages.

Fusion is done per document: each list (dense chunks, lexical chunks) ranks documents by their
first chunk in it, and a document scores ``sum(w / (RRF_K + rank))`` over the lists it is in.
Passages within a document are ordered the same way at chunk level.
"""

from __future__ import annotations

import html
import math
import os
import re
from datetime import datetime
from pathlib import Path

from hybridsearch.errors import InputError
from hybridsearch.store import (SQL_CHUNK_ROWS, SQL_FILTERED_CHUNK_IDS, SQL_LEXICAL, SQL_TERM_DOCS,
                                fts_terms, lexical_tokens)

RRF_K = 60
MODES = ("hybrid", "dense", "lexical")
#: RRF weights (dense, lexical) of hybrid search. Keyword matches are all in the query's own
#: language, so a full lexical weight buries the other languages' answers; with the bundled model
#: on XQuAD-R articles 28-35 (benchmarks/quality_xquad.py), lexical weight 1.0 found the paragraph
#: in another language in the top 10 for 0.35 of queries, 0.3 for 0.52 (dense alone 0.68), while
#: same-language stayed at 0.99 (dense alone 0.91).
DEFAULT_WEIGHTS = (1.0, 0.3)
#: Chunks fetched from each retriever per document asked for (documents have several chunks).
CANDIDATES_PER_DOC = 5
MAX_MORE = 3
SNIPPET_CHARS = 280
#: lexical search: terms in more than this share of chunks are dropped; at most MAX_TERMS kept
COMMON_SHARE = 0.05
COMMON_MIN_DOCS = 2000
MAX_TERMS = 16
#: hybrid: a keyword hit counts only when the terms it matches carry at least this share of the
#: query's IDF weight. Without it a chunk matching only "in" or "what" of a long question joins
#: the fused list, and in a library of other languages such one-word hits outrank the real
#: answers found by the dense side. Bundled model, XQuAD-R 28-35 (benchmarks/quality_xquad.py,
#: paragraph in the top 10): share 0 -> same language 0.987 / other languages 0.516; 0.2 -> 0.970
#: / 0.590; 0.3 -> 0.959 / 0.639; 0.4 -> 0.948 / 0.664 (dense alone 0.914 / 0.680).
MIN_MATCH_SHARE = 0.3
#: dense: with a model whose card has a same-language offset (``language_offset``), the passages in
#: the query's language score ``cosine - offset``: an answer in the question's language shares its
#: words and so scores a little above its translations. The nearest ``OFFSET_FETCH * n`` passages
#: are re-ranked, so ones just outside the top ``n`` by cosine can move up. Bundled model, XQuAD-R
#: articles 28-35 (benchmarks/language_offset.py): offset 0.01 (chosen on articles 0-27) takes
#: mAP 0.671 -> 0.678 and the query-language-first rate 0.540 -> 0.270.
OFFSET_FETCH = 2
#: dense: cross-language feedback (pseudo-relevance feedback, Rocchio style). After a first
#: search, the query vector is moved toward its ``FEEDBACK_HITS`` best passages, weighted by
#: ``softmax(score / FEEDBACK_TEMPERATURE)`` (so mostly toward the best one) with total weight
#: ``FEEDBACK_WEIGHT``, and the search is run again. The best passages of a good query are its
#: answer, often in several languages; their translations are their nearest neighbours
#: whatever the query's language, so the second search ranks the answer's other languages
#: next to it. The first passages are taken from the whole library even when filters are set, so
#: that a search filtered to one language (or folder) is moved toward the answer found in the
#: others; filtered first passages would hold no translations to learn from. Bundled model,
#: XQuAD-R articles 28-35 (benchmarks/search_feedback.py, chosen on articles 0-27): multilingual
#: mAP 0.671 -> 0.746 (with the card's offset 0.678 -> 0.748), rank distance 84 -> 52; filtered
#: to one language, MRR 0.817 -> 0.823 (same language) and 0.761 -> 0.804 (another language).
FEEDBACK_HITS = 5
FEEDBACK_WEIGHT = 1.0
FEEDBACK_TEMPERATURE = 0.02
SQL_SAME_LANGUAGE = """SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id
    WHERE c.id IN ({marks}) AND coalesce(c.language, d.language) = ?"""
#: hybrid: encode the query in a worker thread while FTS5 runs (off: no gain measured on 2
#: busy cores, 29.0 vs 28.8 ms p50 at 30,000 chunks)
PARALLEL_QUERY = False


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
            p = str(Path(f).expanduser().resolve())
            prefix = p.rstrip(os.sep) + os.sep
            conds.append("(d.path = ? OR substr(d.path, 1, ?) = ?)")
            params += [p, len(prefix), prefix]
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


def dense_candidates(lib, query: str, n: int, where: str, params: list,
                     language_offset: float | None = None, feedback: bool = True) -> list[tuple[int, float]]:
    """(chunk id, score) for the ``n`` best chunks passing the filters: the cosine, less
    ``language_offset`` (None: the model card's) for chunks in the query's language; with
    ``feedback``, of the query moved toward its best first hits (see ``FEEDBACK_HITS``)."""
    from hybridsearch.indexer import _model_error

    with lib._lock:
        ann = lib.ann
    if ann is None or len(ann) == 0:
        return []
    if lib.model_mismatch():
        raise _model_error(lib, lib.encoder)
    qv = query_vector(lib, query)
    offset = getattr(lib.encoder, "language_offset", 0.0) if language_offset is None else float(language_offset)
    lang = query_language(query) if offset else None
    with lib._lock:
        allowed = None
        if where:
            allowed = {r[0] for r in lib.store.conn.execute(SQL_FILTERED_CHUNK_IDS.format(where=where),
                                                           params)}
        if not feedback:
            return _dense_hits(lib, ann, qv, n, allowed, lang, offset)
        # the first passages come from the whole library, filters or not: a search filtered to
        # one language is moved toward the answer found in the others (see FEEDBACK_HITS)
        first = _dense_hits(lib, ann, qv, FEEDBACK_HITS, None, lang, offset)
        if not first:
            return []
        vec = feedback_vectors(qv, ann.get([c for c, _ in first]), [s for _, s in first],
                               FEEDBACK_WEIGHT, FEEDBACK_TEMPERATURE)
        return _dense_hits(lib, ann, vec, n, allowed, lang, offset)


def _dense_hits(lib, ann, vector, n: int, allowed, lang: str | None, offset: float) -> list[tuple[int, float]]:
    """The ``n`` best (chunk id, cosine) for ``vector``, less ``offset`` for chunks in ``lang``
    (the nearest ``OFFSET_FETCH * n`` are re-ranked). Called with ``lib._lock`` held."""
    labels, sims = ann.search(vector, n * OFFSET_FETCH if lang else n, allowed)
    hits = [(int(a), float(b)) for a, b in zip(labels, sims)]
    if not (lang and hits):
        return hits
    marks = ",".join("?" * len(hits))
    same = {r[0] for r in lib.store.conn.execute(SQL_SAME_LANGUAGE.format(marks=marks),
                                                 [c for c, _ in hits] + [lang])}
    return sorted(((c, s - offset if c in same else s) for c, s in hits), key=lambda h: -h[1])[:n]


def feedback_vectors(query, hit_vectors, hit_scores, weight: float = FEEDBACK_WEIGHT,
                     temperature: float = FEEDBACK_TEMPERATURE):
    """The query vector(s) moved toward their best hits, normalised: ``query + weight * sum_i
    softmax(hit_scores / temperature)_i * hit_vectors_i``.

    One query: ``query`` [d], ``hit_vectors`` [k, d], ``hit_scores`` [k]; a batch (evaluation):
    [n, d], [n, k, d], [n, k]. Hit vectors are unit length, as the index stores them.
    """
    import numpy as np

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


def query_language(query: str) -> str | None:
    """The query's language as the indexer codes passages (py3langid), or None if unsure."""
    from hybridsearch.documents import detect_language

    return detect_language(query)


_QUERY_CACHE: dict[tuple[str, str], object] = {}
_POOL = None
_CACHE_LOCK = __import__("threading").Lock()


def _pool():
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hybridsearch-query")
    return _POOL

QUERY_CACHE_SIZE = 256


def query_vector(lib, query: str):
    """The query's embedding; the last few hundred are cached, since a user re-runs a query with
    other filters or another mode, and the encoder is most of a query's time."""
    enc = lib.encoder
    key = (enc.identity, query)
    with _CACHE_LOCK:
        vec = _QUERY_CACHE.get(key)
    if vec is None:
        vec = enc.encode([query], kind="query")[0]
    with _CACHE_LOCK:
        _QUERY_CACHE.pop(key, None)
        while len(_QUERY_CACHE) >= QUERY_CACHE_SIZE:
            _QUERY_CACHE.pop(next(iter(_QUERY_CACHE)))
        _QUERY_CACHE[key] = vec  # most recently used last
    return vec


def lexical_candidates(lib, query: str, n: int, where: str, params: list,
                       min_share: float = 0.0) -> list[tuple[int, float]]:
    """(chunk id, -bm25) for the ``n`` best FTS5 matches passing the filters.

    Terms found in more than ``COMMON_SHARE`` of the chunks ("the", "是", common bigrams) are left
    out, rarest first, as long as another term remains: they add little to BM25 but make FTS5
    score most of the table (hundreds of ms at 100,000 chunks). At most ``MAX_TERMS`` are kept.
    With ``min_share`` > 0, a chunk is dropped unless the terms it holds carry at least that share
    of the kept terms' IDF weight (a term no chunk holds weighs as much as the rarest can).
    """
    terms = fts_terms(query)
    if not terms:
        return []
    with lib._lock:
        # the highest chunk id ever given: an O(1) stand-in for the chunk count (count(*) scans)
        total = max(1, lib.store.count("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'chunks'"))
        dfs = []
        for tok, quoted in terms:
            row = lib.store.conn.execute(SQL_TERM_DOCS, (tok,)).fetchone() if " " not in tok else None
            dfs.append((row[0] if row else 0, quoted, tok))
    dfs.sort()
    limit = max(COMMON_MIN_DOCS, COMMON_SHARE * total)  # small libraries keep every term
    kept = ([t for t in dfs if t[0] <= limit] or dfs[:2])[:MAX_TERMS]
    match = " OR ".join(q for _, q, _ in kept)
    sql = SQL_LEXICAL.format(where=where)
    with lib._lock:
        rows = lib.store.conn.execute(sql, [match, *params, n]).fetchall()
    hits = [(int(cid), -float(rank)) for cid, rank in rows]
    if min_share <= 0 or len(kept) < 2 or not hits:
        return hits
    idf = {(tok, quoted.endswith("*")): math.log(1 + (total - df + 0.5) / (df + 0.5)) for df, quoted, tok in kept}
    whole = sum(idf.values())
    with lib._lock:
        texts = dict(lib.store.conn.execute(
            f"SELECT id, text FROM chunks WHERE id IN ({','.join('?' * len(hits))})", [c for c, _ in hits]))
    out = []
    for cid, score in hits:
        have = {t for t, _, _ in lexical_tokens(texts.get(cid, ""))}
        held = sum(w for (tok, prefix), w in idf.items()  # a lone no-space character is a prefix term
                   if tok in have or (prefix and any(h.startswith(tok) for h in have)))
        if held >= min_share * whole:
            out.append((cid, score))
    return out


def _rows(lib, ids: list[int]) -> dict[int, dict]:
    out = {}
    with lib._lock:
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            cur = lib.store.conn.execute(SQL_CHUNK_ROWS.format(marks=",".join("?" * len(part))), part)
            cols = [c[0] for c in cur.description]
            for r in cur.fetchall():
                out[r[0]] = dict(zip(cols, r))
    return out


def search(lib, query: str, k: int = 10, mode: str = "hybrid", languages=None, folders=None,
           file_types=None, modified_after=None, modified_before=None, weights=DEFAULT_WEIGHTS,
           language_offset: float | None = None, feedback: bool = True):
    """See :meth:`Library.search`."""
    from hybridsearch.library import DocumentResult, Passage

    if mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if not isinstance(query, str):
        raise InputError("the query must be text")
    if language_offset is not None:
        from hybridsearch.encoder.runtime import MAX_LANGUAGE_OFFSET, valid_language_offset

        if not valid_language_offset(language_offset):
            raise InputError(f"language_offset must be a number from 0 to {MAX_LANGUAGE_OFFSET}, "
                             f"not {language_offset!r}")
    query = query.strip()
    if not query or k <= 0:
        return []
    where, params = build_filters(languages, folders, file_types, modified_after, modified_before)
    n = max(50, k * CANDIDATES_PER_DOC)
    lists: list[tuple[float, list[tuple[int, float]]]] = []
    use_dense = mode == "dense" or (mode == "hybrid" and weights[0] > 0)
    use_lexical = mode == "lexical" or (mode == "hybrid" and weights[1] > 0)
    pending = None
    if PARALLEL_QUERY and use_dense and use_lexical and lib._ann is not None:
        # encode the query in a thread while FTS5 runs: torch and SQLite both release the GIL
        pending = _pool().submit(query_vector, lib, query)
    min_share = MIN_MATCH_SHARE if mode == "hybrid" else 0.0  # keyword mode: every match counts
    lexical = lexical_candidates(lib, query, n, where, params, min_share) if use_lexical else []
    if use_dense:
        if pending is not None:
            pending.result()  # cached now; dense_candidates picks it up
        lists.append((weights[0], dense_candidates(lib, query, n, where, params, language_offset,
                                                       bool(feedback))))
    if use_lexical:
        lists.append((weights[1], lexical))
    ids = list(dict.fromkeys(cid for _, lst in lists for cid, _ in lst))
    rows = _rows(lib, ids)  # ids deleted since the vector index was saved drop out here
    chunk_score: dict[int, float] = {}
    doc_score: dict[int, float] = {}
    for w, lst in lists:
        lst = [(c, s) for c, s in lst if c in rows]
        doc_rank: dict[int, int] = {}
        for rank, (cid, s) in enumerate(lst):
            did = rows[cid]["document_id"]
            if mode == "hybrid":
                chunk_score[cid] = chunk_score.get(cid, 0.0) + w / (RRF_K + rank + 1)
                if did not in doc_rank:
                    doc_rank[did] = len(doc_rank) + 1
                    doc_score[did] = doc_score.get(did, 0.0) + w / (RRF_K + doc_rank[did])
            else:
                chunk_score[cid] = s
                doc_score[did] = max(doc_score.get(did, float("-inf")), s)
    by_doc: dict[int, list[int]] = {}
    for cid in sorted(chunk_score, key=chunk_score.get, reverse=True):
        by_doc.setdefault(rows[cid]["document_id"], []).append(cid)
    terms = query_terms(query)
    results = []
    for did in sorted(doc_score, key=doc_score.get, reverse=True)[:k]:
        cids = by_doc[did]
        passages = [Passage(chunk_id=c, text=rows[c]["text"], start=rows[c]["start"], end=rows[c]["end"],
                            language=rows[c]["language"], score=chunk_score[c],
                            snippet_html=snippet_html(rows[c]["text"], terms)) for c in cids[:1 + MAX_MORE]]
        r = rows[cids[0]]
        results.append(DocumentResult(
            path=r["path"], title=r["title"] or Path(r["path"]).stem, folder=r["folder"],
            file_type=r["file_type"], language=r["doc_language"], score=doc_score[did],
            modified=datetime.fromtimestamp(r["mtime"] or 0), best=passages[0], more=passages[1:]))
    return results


# -- snippets -----------------------------------------------------------------------------------------
def _key(tok: str) -> str:
    """Match key of a token (tokens from ``lexical_tokens`` are keys already)."""
    return tok


def _nospace(tok: str) -> bool:
    """True for a token of a no-space script (a bigram or a lone character), not a word."""
    from hybridsearch.store import TOKEN_RE

    m = TOKEN_RE.fullmatch(tok)
    return bool(m and m.group(1))


def query_terms(query: str) -> set[str]:
    """Match keys of the query's words and bigrams to highlight; whole no-space runs are kept as
    ``\x00run``.

    Words of one or two letters ("do", "in", "la") are left out while the query has longer ones:
    bold on every "in" of a passage hides the words that matter and pulls the excerpt toward the
    passage's first small word. Capitals (EU, AI) and numbers (42) are kept.
    """
    from hybridsearch.store import TOKEN_RE, fold

    keys, small = set(), set()
    for t, s, e in lexical_tokens(query):
        word = query[s:e]
        if not _nospace(word) and len(word) <= 2 and not (word.isupper() or word.isdigit()):
            small.add(_key(t))
        else:
            keys.add(_key(t))
    keys = keys or small
    keys |= {"\x00" + fold(m.group(1)) for m in TOKEN_RE.finditer(query) if m.group(1)}
    return keys


def highlight_spans(text: str, terms: set[str]) -> list[tuple[int, int]]:
    """Merged (start, end) spans of ``text`` whose tokens are query terms.

    In scripts without spaces a lone matching bigram is noise (Thai ``าน`` inside any word with
    it): a span is kept when it is a whole query run, or at least two adjacent matching bigrams.
    """
    from hybridsearch.store import fold

    spans: list[list[int]] = []
    bigram_spans: list[list[int]] = []
    runs = [t[1:] for t in terms if t.startswith("\x00")]
    for tok, s, e in lexical_tokens(text):
        if _key(tok) not in terms:
            continue
        target = bigram_spans if _nospace(tok) and len(tok) == 2 else spans
        if target and s <= target[-1][1]:
            target[-1][1] = max(target[-1][1], e)
        else:
            target.append([s, e])
    spans += [sp for sp in bigram_spans if sp[1] - sp[0] >= 3]
    if runs:  # exact occurrences of whole runs; folded char by char so offsets line up
        folded = "".join(f if len(f := fold(ch)) == 1 else ch for ch in text)
        for run in runs:
            i = folded.find(run)
            while run and i != -1:
                spans.append([i, i + len(run)])
                i = folded.find(run, i + 1)
    spans.sort()
    merged: list[list[int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def snippet_html(text: str, terms: set[str], width: int = SNIPPET_CHARS) -> str:
    """An HTML-escaped excerpt of ``text`` around the first query term, terms in ``<b>…</b>``."""
    spans = highlight_spans(text, terms) if terms else []
    lo, hi = 0, len(text)
    if len(text) > width:
        centre = spans[0][0] if spans else 0
        lo = max(0, centre - width // 3)
        hi = min(len(text), lo + width)
        lo = max(0, hi - width)
        # move to word boundaries where there are spaces
        if lo > 0:
            sp = text.find(" ", lo, lo + 20)
            lo = sp + 1 if sp != -1 else lo
        if hi < len(text):
            sp = text.rfind(" ", hi - 20, hi)
            hi = sp if sp != -1 else hi
    out, pos = [], lo
    for s, e in spans:
        if e <= lo or s >= hi:
            continue
        s, e = max(s, lo), min(e, hi)
        out.append(html.escape(text[pos:s]))
        out.append("<b>" + html.escape(text[s:e]) + "</b>")
        pos = e
    out.append(html.escape(text[pos:hi]))
    body = re.sub(r"\s+", " ", "".join(out)).strip()
    return ("…" if lo > 0 else "") + body + ("…" if hi < len(text) else "")


# -- context ------------------------------------------------------------------------------------------
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


def document_text(lib, path: str) -> str:
    with lib._lock:
        rows = lib.store.conn.execute(
            'SELECT c.start, c."end", c.text FROM chunks c JOIN documents d ON d.id = c.document_id'
            " WHERE d.path = ? ORDER BY c.ordinal", (path,)).fetchall()
    if not rows:
        raise InputError(f"not an indexed document: {path}")
    return _doc_text_from_chunks(rows)


def context(lib, chunk_id: int, chars: int = 800):
    """The text around a chunk, for "show in context"."""
    from hybridsearch.library import Context

    with lib._lock:
        row = lib.store.conn.execute(
            'SELECT d.path, c.start, c."end" FROM chunks c JOIN documents d ON d.id = c.document_id'
            " WHERE c.id = ?", (int(chunk_id),)).fetchone()
    if not row:
        raise InputError(f"no such passage: {chunk_id}")
    path, start, end = row
    text = document_text(lib, path)
    lo, hi = max(0, start - chars), min(len(text), end + chars)
    return Context(path=path, text=text[lo:hi], start=start - lo, end=end - lo, doc_start=lo)
