"""Lexical matching for every script: tokenising, folding, and safe FTS5 terms.

In: text (a chunk, a query). Out: match keys with their offsets, the body indexed by FTS5, the
quoted terms of a query. Text in scripts written without spaces (Han, Kana, Thai, Lao, Khmer,
Myanmar) is split into overlapping character bigrams (what Lucene's CJK analyzer does),
everything else into words with case, width and (below U+0900) accents folded. The store indexes
``fts_body``; search matches ``fts_terms``; snippets highlight ``lexical_tokens``; all three use
the same keys, so what is found is what is highlighted.
"""

from __future__ import annotations

import functools
import re
import unicodedata

#: Scripts written without spaces between words: indexed as character bigrams.
_NOSPACE = (
    "\u0e00-\u0e7f"  # Thai
    "\u0e80-\u0eff"  # Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # Han
    "\U00020000-\U0002ffff"
)
#: Combining marks (Mn, Mc, Me): vowel signs of Indic and Thai scripts, harakat, Latin accents.
#: They belong to words; unicode61 would split words at them, so the FTS table lists them as
#: token characters, and folding removes them only where they are accents (below U+0900).
MARKS = "".join(chr(c) for c in range(0x300, 0x10000) if unicodedata.category(chr(c)) in ("Mn", "Mc", "Me"))
#: A word: a run of letters/digits/marks of spaced scripts, or a run of a no-space script.
TOKEN_RE = re.compile(rf"([{_NOSPACE}]+)|((?:(?![{_NOSPACE}])[\w{re.escape(MARKS)}])+)")


def fold(text: str) -> str:
    """Case- and width-folded text for matching (NFKC + casefold)."""
    return unicodedata.normalize("NFKC", text).casefold()


@functools.lru_cache(maxsize=65536)  # words repeat: folding was a fifth of a query's time
def fold_token(tok: str) -> str:
    """A token's match key: folded, and accents dropped in Latin, Greek, Cyrillic, Hebrew and
    Arabic words ("Köln" = "koln", harakat ignored); marks of other scripts are letters."""
    tok = fold(tok)
    if all(ord(ch) < 0x0900 for ch in tok):
        stripped = "".join(ch for ch in unicodedata.normalize("NFD", tok) if not unicodedata.combining(ch))
        tok = unicodedata.normalize("NFC", stripped) or tok
    return tok


def is_nospace(tok: str) -> bool:
    """True for text wholly of a no-space script (a bigram, a lone character), not a word."""
    m = TOKEN_RE.fullmatch(tok)
    return bool(m and m.group(1))


def lexical_tokens(text: str) -> list[tuple[str, int, int]]:
    """Split ``text`` into (match key, start, end): words, or bigrams in no-space scripts.

    A lone character of a no-space script is a token of its own (a one-character query).
    """
    out = []
    for m in TOKEN_RE.finditer(text):
        if m.group(1):
            s, run = m.start(1), m.group(1)
            if len(run) == 1:
                out.append((fold_token(run), s, s + 1))
            for i in range(len(run) - 1):
                out.append((fold_token(run[i:i + 2]), s + i, s + i + 2))
        else:
            out.append((fold_token(m.group(2)), m.start(2), m.end(2)))
    return out


def fts_body(text: str) -> str:
    """The text given to FTS5 for a chunk: its tokens separated by spaces."""
    return " ".join(t for t, _, _ in lexical_tokens(text))


def fts_terms(query: str) -> list[tuple[str, str]]:
    """(token, safe FTS5 term) per distinct token of user text: each token quoted as a string.

    Quotes, ``NEAR``, ``AND``, ``*``, ``^`` and parentheses in the user's text are data, never
    operators. A single no-space-script character becomes a prefix query over its bigrams.
    """
    terms: dict[str, str] = {}
    for tok, s, e in lexical_tokens(query):
        quoted = '"' + tok.replace('"', '""') + '"'
        if e - s == 1 and is_nospace(tok):
            quoted += " *"
        terms.setdefault(tok, quoted)
    return list(terms.items())


def fts_query(query: str) -> str | None:
    """Turn user text into a safe FTS5 query: every token quoted, OR-ed; no syntax gets through."""
    terms = [q for _, q in fts_terms(query)]
    return " OR ".join(terms) if terms else None
