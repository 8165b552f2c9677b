""""Did you mean …?": a query word the library never uses, put right from the library's own words.

One typo costs a question much of its meaning match (on XQuAD-R articles 28-35, one letter dropped
from the longest word turns 10 % of the questions whose answer is in the library from a good match
into "no good match": ``python -m benchmarks.spelling``), and the keyword side cannot match the word
at all. The library's keyword index knows every word it holds and in how many passages
(``chunks_vocab``), so a word of five or more letters that no passage holds is looked up at one edit
(a letter dropped, added, changed, or two letters swapped, within the word's own script): the
variant held by the most passages, if enough hold it, is the suggestion. The search itself is left
as typed — in a library of another language a query word is rightly missing — and the app and
the command line offer the corrected query to search with.

In: the store and the query as typed. Out: the corrected query (the rest of the text kept as
typed, the word written as the library writes it) or None.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable

from hybridsearch.lexical import TOKEN_RE, fold_token, lexical_tokens
from hybridsearch.store import SQL_TERM_DOCS, Store

#: Shorter words are left alone: at one edit they have too many neighbours ("haus": "hans", "hauf").
MIN_LETTERS = 5
#: Longer runs of letters are no words a person typed (a pasted identifier, a hash).
MAX_LETTERS = 40
#: Unknown words looked up per query, at ~5 ms each (a long query in another language has many).
MAX_LOOKUPS = 8
#: A suggestion must be a word at least this many passages hold (one could be a typo of the text's).
MIN_PASSAGES = 2
#: SQLite's limit on host parameters is far higher; this keeps each statement small.
_BATCH = 500
SQL_TERMS_DOCS = "SELECT term, doc FROM chunks_vocab WHERE term IN ({marks})"
SQL_A_CHUNK_WITH = ("SELECT c.text FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid "
                    "WHERE chunks_fts MATCH ? LIMIT 1")


@functools.lru_cache(maxsize=64)
def _block_letters(block: int) -> str:
    """The letters (and marks) of a 128-character Unicode block as the keyword index keys them."""
    out = set()
    for cp in range(block * 128, block * 128 + 128):
        ch = chr(cp)
        if unicodedata.category(ch)[0] in "LM":
            key = fold_token(ch)
            if len(key) == 1 and ord(key) // 128 == block:
                out.add(key)
    return "".join(sorted(out))


def variants(key: str) -> set[str]:
    """Every string one edit from ``key``: a letter dropped, added or changed (letters of the
    word's own scripts), or two neighbours swapped."""
    letters = "".join(sorted({c for block in {ord(ch) // 128 for ch in key} for c in _block_letters(block)}))
    splits = [(key[:i], key[i:]) for i in range(len(key) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    out |= {a + c + b[1:] for a, b in splits if b for c in letters}
    out |= {a + c + b for a, b in splits for c in letters}
    out.discard(key)
    return out


def _inside(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ inside the word only: the same first letter and the same last
    two. An edit at either end is how words inflect ("reference" / "referenced", "лица" / "лицам",
    Arabic "تقرير" / "لتقرير"), and people seldom mistype a word's first letter."""
    return a[:1] == b[:1] and a[-2:] == b[-2:]


def _passages_holding(store: Store, terms: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for i in range(0, len(terms), _BATCH):
        part = terms[i:i + _BATCH]
        sql = SQL_TERMS_DOCS.format(marks=",".join("?" * len(part)))
        found.update(store.conn.execute(sql, part).fetchall())
    return found


def _as_written(store: Store, key: str) -> str:
    """``key`` as a passage of the library writes it (accents, capitals), else ``key``."""
    row = store.conn.execute(SQL_A_CHUNK_WITH, ('"' + key.replace('"', '""') + '"',)).fetchone()
    if row is not None:
        for tok, s, e in lexical_tokens(row[0]):
            if tok == key:
                return row[0][s:e]
    return key


def _same_case(word: str, typed: str) -> str:
    """``word`` as the library writes it, its first letter in the case the user typed (a name
    with inner capitals, "McDonald", is kept as written)."""
    if typed[:1].isupper():
        return word[:1].upper() + word[1:]
    if word[1:] == word[1:].lower():
        return word[:1].lower() + word[1:]
    return word


def correct(store: Store, query: str, pieces: Callable[[str], int] | None = None) -> str | None:
    """The query with its unknown words put right, or None when there is nothing to put right.

    ``pieces``: how many pieces the encoder's tokenizer cuts a word into. A word it holds whole
    (one piece) is a word of some language that the library happens not to use ("welchen",
    "chose"), so it is not put right; without ``pieces`` every unknown word is looked at.
    """
    edits: list[tuple[int, int, str]] = []
    looked_up = 0
    for m in TOKEN_RE.finditer(query):
        typed = m.group(2)
        if not typed or any(ch.isdigit() for ch in typed) or (typed.isupper() and len(typed) > 1):
            continue  # no-space scripts, numbers, codes and acronyms are left alone
        key = fold_token(typed)
        if not MIN_LETTERS <= len(key) <= MAX_LETTERS:
            continue
        if store.conn.execute(SQL_TERM_DOCS, (key,)).fetchone() is not None:
            continue
        if pieces is not None and pieces(typed.casefold()) == 1:
            continue  # the encoder's vocabulary holds it whole: a word of some language, not a typo
        looked_up += 1
        if looked_up > MAX_LOOKUPS:
            break  # a pasted paragraph in another language: not a typo to put right
        held = _passages_holding(store, sorted(v for v in variants(key) if _inside(key, v)))
        if not held:
            continue
        best = max(held, key=lambda t: (held[t], t))
        if held[best] < MIN_PASSAGES:
            continue
        edits.append((m.start(2), m.end(2), _same_case(_as_written(store, best), typed)))
    if not edits:
        return None
    out, pos = [], 0
    for s, e, word in edits:
        out += [query[pos:s], word]
        pos = e
    return "".join(out) + query[pos:]
