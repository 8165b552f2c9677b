"""Highlights for a result list: the query's terms as character spans, and an excerpt around them.

In: a passage's text and the query. Out: merged (start, end) spans of the query's terms in the
text, and a :class:`~hybridsearch.records.Snippet` (excerpt + spans) that a view renders as it
likes; :func:`snippet_html` renders one as HTML with ``<b>`` for the CLI and older views. Terms
are matched with the lexical keys of :mod:`hybridsearch.lexical` (what keyword search finds is
what is highlighted).
"""

from __future__ import annotations

import html

from hybridsearch.language import query_language
from hybridsearch.lexical import (ALL_FUNCTION_WORDS, SYLLABLE_LANGUAGES, TOKEN_RE, fold, is_nospace, lexical_tokens,
                                 parse_query)
from hybridsearch.records import Snippet

#: characters of a passage shown in a result list
SNIPPET_CHARS = 280


def query_terms(query: str) -> set[str]:
    """Match keys of the query's words and bigrams to highlight; whole no-space runs are kept as
    ``\\x00run``.

    Words of one or two letters ("do", "in", "la"; not in Vietnamese, where "Ấn Độ" is India) and
    function words ("the", "what", "die", "что", "của") are left out while the query has other ones:
    bold on every "in" of a passage hides the words that matter and pulls the excerpt toward the
    passage's first small word. Capitals (EU, AI, IT: not Vietnamese "ai" or English "it") and
    numbers (42) are kept.
    """
    query = parse_query(query).text  # excluded words and OR are not highlighted
    keys, small = set(), set()
    short_words = None  # are one- and two-letter words small? not in Vietnamese ("Ấn Độ"): asked once
    for t, s, e in lexical_tokens(query):
        word = query[s:e]
        if is_nospace(word) or word.isupper() or word.isdigit():
            keys.add(t)
            continue
        if len(word) <= 2 and t not in ALL_FUNCTION_WORDS and short_words is None:
            short_words = query_language(query) not in SYLLABLE_LANGUAGES
        if t in ALL_FUNCTION_WORDS or (len(word) <= 2 and short_words):
            small.add(t)
        else:
            keys.add(t)
    keys = keys or small
    keys |= {"\x00" + fold(m.group(1)) for m in TOKEN_RE.finditer(query) if m.group(1)}
    return keys


def highlight_spans(text: str, terms: set[str]) -> list[tuple[int, int]]:
    """Merged (start, end) spans of ``text`` whose tokens are query terms.

    In scripts without spaces a lone matching bigram is noise (Thai ``าน`` inside any word with
    it): a span is kept when it is a whole query run, or at least two adjacent matching bigrams.
    """
    spans: list[list[int]] = []
    bigram_spans: list[list[int]] = []
    runs = [t[1:] for t in terms if t.startswith("\x00")]
    for tok, s, e in lexical_tokens(text):
        if tok not in terms:
            continue
        target = bigram_spans if is_nospace(tok) and len(tok) == 2 else spans
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


def make_snippet(text: str, spans: list[tuple[int, int]], width: int = SNIPPET_CHARS) -> Snippet:
    """An excerpt of about ``width`` characters of ``text`` around its first span, cut at spaces
    where there are any, whitespace runs collapsed, with the spans that fall inside it."""
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
    # collapse whitespace runs to one space and strip, keeping a map from text offsets
    out: list[str] = []
    where: dict[int, int] = {}
    for i in range(lo, hi):
        where[i] = len(out)
        if not text[i].isspace():
            out.append(text[i])
        elif out and out[-1] != " ":  # leading whitespace is dropped
            out.append(" ")
    where[hi] = len(out)
    if out and out[-1] == " ":
        out.pop()
    body = "".join(out)
    inside = []
    for s, e in spans:
        if e <= lo or s >= hi:
            continue
        s, e = max(s, lo), min(e, hi)
        inside.append((min(where[s], len(body)), min(where[e], len(body))))
    return Snippet(body, inside, cut_before=lo > 0, cut_after=hi < len(text))


def render(snippet: Snippet, before: str, after: str, escape=lambda text: text) -> str:
    """A snippet as text with each span between ``before`` and ``after``, "…" where it is cut;
    ``escape`` is applied to the text (not to the marks)."""
    out, pos = [], 0
    for s, e in snippet.spans:
        out.append(escape(snippet.text[pos:s]))
        out.append(before + escape(snippet.text[s:e]) + after)
        pos = e
    out.append(escape(snippet.text[pos:]))
    return ("…" if snippet.cut_before else "") + "".join(out) + ("…" if snippet.cut_after else "")


def render_html(snippet: Snippet) -> str:
    """A snippet as HTML-escaped text with its spans in ``<b>…</b>``."""
    return render(snippet, "<b>", "</b>", html.escape)


def snippet_html(text: str, terms: set[str], width: int = SNIPPET_CHARS) -> str:
    """An HTML-escaped excerpt of ``text`` around the first query term, terms in ``<b>…</b>``."""
    return render_html(make_snippet(text, highlight_spans(text, terms) if terms else [], width))
