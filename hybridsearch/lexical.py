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
from dataclasses import dataclass
from typing import Callable

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


def fts_name(path: str) -> str:
    """The text given to the file-name index for a document: its file name and its folder's name
    ("…/Reports/Budget-2024.xlsx.txt" is found by "budget 2024" and by "reports")."""
    parts = str(path).replace("\\", "/").rstrip("/").split("/")
    return fts_body(" ".join(parts[-2:]))


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


# -- query syntax -----------------------------------------------------------------------------------
#: A piece of a query: an optionally negated "quoted phrase", or a run of non-space characters.
_PIECE_RE = re.compile(r'(-?)"([^"]*)"|(\S+)')


@dataclass(frozen=True)
class Term:
    """One thing to match: a word (or no-space bigram), or a phrase of several keys."""

    key: str  #: match key(s), space-separated for a phrase
    fts: str  #: the quoted FTS5 term

    @property
    def phrase(self) -> bool:
        return " " in self.key

    @property
    def prefix(self) -> bool:
        return self.fts.endswith("*")


@dataclass(frozen=True)
class ParsedQuery:
    """A query in desktop-search syntax: ``"exact phrase"``, ``-excluded``, ``a OR b``.

    ``groups``: the positive terms; a group is one term, or alternatives joined by ``OR``.
    ``required``: FTS5 expressions a document must match (groups made only of phrases).
    ``excluded``: an FTS5 expression no result's document may match, or None.
    ``text``: the positive words as plain text (for highlighting).
    ``dense_text``: the query less its excluded pieces, otherwise as typed (for the encoder).
    Anything that is not well-formed syntax (an unbalanced quote, a lone ``-``, ``OR`` at an end,
    ``NEAR(``, ``*``) is read as plain words; nothing the user types reaches FTS5 unquoted.
    """

    groups: tuple[tuple[Term, ...], ...]
    required: tuple[str, ...]
    excluded: str | None
    text: str
    dense_text: str

    @property
    def terms(self) -> list[Term]:
        return [t for g in self.groups for t in g]


#: What :func:`fold_token` does to the letters of a word written wholly below U+0900 (Latin,
#: Greek, Cyrillic, Hebrew, Arabic), one character at a time: accents dropped ("é" → "e"),
#: combining marks removed. Letters from U+0900 on (Vietnamese "ị", Devanagari) are left alone.
_STRIP: dict[str, str] = {}
for _c in map(chr, range(0x900)):
    _d = "".join(ch for ch in unicodedata.normalize("NFD", _c) if not unicodedata.combining(ch))
    if _d != _c:
        _STRIP[_c] = unicodedata.normalize("NFC", _d)
del _c, _d
#: One of those characters (replaced through a regular expression: ``str.translate`` with a
#: table is eight times slower on a paragraph, where few characters change).
_STRIP_RE = re.compile("[" + re.escape("".join(_STRIP)) + "]")
#: A character that continues a word of a spaced script (a letter, digit or mark, not of a
#: no-space script): a word term must not have one on either side.
_WORD_CHAR = re.compile(rf"(?![{_NOSPACE}])[\w{re.escape(MARKS)}]").match
_NOSPACE_CHAR = re.compile(rf"[{_NOSPACE}]").match


def _word_at(text: str, key: str, prefix: bool) -> bool:
    """Whether ``key`` occurs in ``text`` as a whole word (``prefix``: a lone no-space character,
    as the first of a bigram or alone)."""
    edge = _NOSPACE_CHAR if prefix else _WORD_CHAR
    i, n = text.find(key), len(key)
    while i >= 0:
        after = edge(text, i + n) is not None
        if prefix and after:
            return True
        if not after and not (i and edge(text, i - 1)):
            return True
        i = text.find(key, i + 1)
    return False


@functools.lru_cache(maxsize=1)
def _unsafe_nospace() -> re.Pattern:
    """Characters of no-space scripts that folding does not map one to one (Thai "ำ" becomes two
    characters, marks reorder or compose): where they occur, a bigram of the folded text is not
    always a bigram of the text's own characters."""
    chars = []
    for lo, hi in ((0x0E00, 0x1100), (0x1780, 0x1800), (0x3040, 0x3100)):
        for c in range(lo, hi):
            ch = chr(c)
            if unicodedata.combining(ch) or len(fold(ch)) != 1:
                chars.append(ch)
    return re.compile("[" + re.escape("".join(chars)) + "]")


class TermMatcher:
    """Which of a query's terms a text holds, as tokenising it with :func:`lexical_tokens` would
    tell, without tokenising it: one pass of folding over the whole text, then a search per term.

    A word's key is searched with no letter of its word on either side, in the folded text with
    accents dropped as :func:`fold_token` drops them (a key written wholly below U+0900) or as
    folded (other keys: "dịch" keeps its accents). A bigram of a no-space script is held anywhere
    in a run; a lone no-space character (a prefix term) where a bigram starts with it or where it
    stands alone. Phrases, and bigrams in text whose folding is not one to one (Thai), are checked
    by tokenising."""

    def __init__(self, terms):
        self.terms = list(terms)
        self._tokenise = any(t.phrase for t in self.terms)
        self._nospace = any(is_nospace(t.key) for t in self.terms)
        self._strip = False
        self._checks = []  # (key, written below U+0900, a bigram, a prefix term)
        for t in self.terms:
            bigram = is_nospace(t.key) and not t.prefix
            below = not is_nospace(t.key) and all(ord(ch) < 0x900 for ch in t.key)
            self._strip |= below
            self._checks.append((t.key, below, bigram, t.prefix))

    def held(self, text: str) -> set[str]:
        """The keys of the terms ``text`` holds."""
        if self._tokenise or (self._nospace and _unsafe_nospace().search(text)):
            keys = [k for k, _, _ in lexical_tokens(text)]
            have, seq = set(keys), " " + " ".join(keys) + " "
            return {t.key for t in self.terms if _holds(t, have, seq)}
        folded = fold(text)
        stripped = _STRIP_RE.sub(lambda m: _STRIP[m.group()], folded) if self._strip else folded
        out = set()
        for key, below, bigram, prefix in self._checks:
            within = stripped if below else folded
            if key in within and (bigram or _word_at(within, key, prefix)):
                out.add(key)
        return out


def _holds(term: Term, have: set[str], seq: str) -> bool:
    """Whether a chunk with match keys ``have`` (in order: ``seq``) holds ``term``."""
    if term.phrase:
        return f" {term.key} " in seq
    if term.prefix:  # a lone no-space character is a prefix term
        return any(h.startswith(term.key) for h in have)
    return term.key in have


def _quote(key: str) -> str:
    return '"' + key.replace('"', '""') + '"'


def _terms_of(text: str, phrase: bool) -> list[Term]:
    toks = lexical_tokens(text)
    if phrase and len(toks) > 1:
        key = " ".join(t for t, _, _ in toks)
        return [Term(key, _quote(key))]
    out = []
    for tok, s, e in toks:
        quoted = _quote(tok)
        if e - s == 1 and is_nospace(tok):
            quoted += " *"  # a lone no-space character: a prefix query over its bigrams
        out.append(Term(tok, quoted))
    return out


def parse_query(query: str) -> ParsedQuery:
    """Read ``query`` in desktop-search syntax (see :class:`ParsedQuery`)."""
    items: list = []  # (positive Terms, the piece's text) per piece, or the string "OR"
    excluded: list[Term] = []
    syntax = False
    cut: list[tuple[int, int]] = []  # spans of excluded pieces
    for m in _PIECE_RE.finditer(query):
        if m.group(3) is None:  # a quoted phrase, maybe negated
            terms = _terms_of(m.group(2), phrase=True)
            if m.group(1):
                excluded += terms
                cut.append(m.span())
            elif terms:
                items.append((terms, m.group(2)))
            syntax = True
            continue
        piece = m.group(3)
        if piece == "OR":
            items.append("OR")
            continue
        if piece.startswith("-") and len(piece) > 1:
            excluded += _terms_of(piece[1:], phrase=False)
            cut.append(m.span())
            syntax = True
            continue
        terms = _terms_of(piece, phrase=False)
        if terms:
            items.append((terms, piece))
    groups: list[list[Term]] = []
    words: list[str] = []
    seen: set[str] = set()
    join = False
    for i, item in enumerate(items):
        if item == "OR":
            # an operator only between two terms; elsewhere ("OR OR", "a OR") the word "or"
            if groups and i + 1 < len(items) and items[i + 1] != "OR" and not join:
                join = syntax = True
                continue
            item = (_terms_of("or", phrase=False), "OR")
        words.append(item[1])
        for j, term in enumerate(item[0]):
            if term.key in seen:
                join = False
                continue
            seen.add(term.key)
            if join and j == 0:
                groups[-1].append(term)
            else:
                groups.append([term])
            join = False
    required = tuple(" OR ".join(t.fts for t in g) for g in groups if all(t.phrase for t in g))
    excl = " OR ".join(dict.fromkeys(t.fts for t in excluded)) or None
    text = " ".join(words) if syntax else query.strip()  # plain text reaches the encoder as typed
    dense = query.strip()
    if cut:
        for s, e in reversed(cut):
            query = query[:s] + " " + query[e:]
        dense = " ".join(query.split())
    return ParsedQuery(tuple(tuple(g) for g in groups), required, excl, text, dense)


# -- function words -----------------------------------------------------------------------------------
#: The most frequent function words (articles, pronouns, prepositions, conjunctions, auxiliaries,
#: question words) of the languages written with spaces between words. Two uses: search, so that
#: one language's function word is no keyword match in a language where it is a word ("die": a
#: German article, an English verb; "also", "in", "an", "son", "de"; Vietnamese "là" and Spanish
#: "la"); and highlighting and the keyword share of a match's strength, which leave them out
#: beside words that say something ("что", "και", "ve", "của", "في", "की" are in every passage).
#: Match keys (folded).
_FUNCTION_WORDS_TEXT = {
    "en": "the a an and or but of to in on at by for with from as is are was were be been being it its this "
          "that these those he she they we you i his her their our your not no do does did have has had will "
          "would can could so if then than there what which who when where how",
    "de": "der die das den dem des ein eine einer einen einem eines und oder aber in im an am auf aus bei mit "
          "nach von vom zu zum zur fur uber unter vor ist sind war waren wird werden hat haben sich er sie es "
          "wir ihr ich nicht kein keine auch also als wie so da dass wenn noch nur schon",
    "fr": "le la les l un une des du de d et ou mais en dans sur sous par pour avec sans au aux ce cet cette "
          "ces il elle ils elles on nous vous je est sont etait ont a pas ne que qui se son sa ses leur plus",
    "es": "el la los las lo un una unos unas y o pero de del en con por para sin sobre a al es son fue era "
          "ha han que se su sus le les no mas como este esta ese esa muy ya",
    "it": "il lo la i gli le un uno una e o ma di del della dei delle in nel nella con per su da dal alla al "
          "a è e sono era ha hanno che si non come anche piu suo sua",
    "pt": "o a os as um uma uns umas e ou mas de do da dos das em no na nos nas com por para sem ao aos a e "
          "sao foi era tem que se seu sua nao mais como",
    "nl": "de het een en of maar van in op aan bij met naar uit voor door over onder te is zijn was waren "
          "wordt worden heeft hebben hij zij ze wij we ik je niet geen ook als dat die dit wat er om",
    "sv": "en ett och eller men av i pa till med for fran om under vid ar var har hade den det de som han "
          "hon vi jag inte ocksa",
    "da": "en et og eller men af i pa til med for fra om under ved er var har havde den det de som han hun "
          "vi jeg ikke ogsa",
    "no": "en et ei og eller men av i pa til med for fra om under ved er var har hadde den det de som han "
          "hun vi jeg ikke ogsa",
    "ru": "и в во не на с со что как а но да к ко по из у о об от до за для при без над под он она оно они "
          "мы вы я ты его её их это этот эта эти то тот та те был была было были быть есть будет который "
          "которая которое которые когда где кто чем ли же бы также или только уже каком какой какая какие "
          "сколько почему",
    "el": "ο η το οι τα του της των τον την τους τις ένας μια ένα ενός μιας και ή αλλά σε στο στη στην στον "
          "στα στους στις στων από με για ως είναι ήταν είχε έχει έχουν που ότι όταν δεν να θα αυτό αυτή "
          "αυτός αυτά αυτές αυτοί τι ποιος ποια ποιο ποιοι ποιες ποιον ποιας ποιου πότε πώς πόσα πόσοι πόσες",
    "tr": "ve veya ile bir bu şu o da de ki için gibi daha en çok ne mi mı mu mü olan olarak ise kadar sonra "
          "hangi nedir nasıl nerede kim kimin kaç zaman",  # "ne zaman": when
    "vi": "và hoặc của là có được cho với trong trên từ ở một những các này đó không thì mà đã sẽ đang để "
          "khi nào gì ai đâu bao nhiêu nhất",
    "ar": "في من على إلى الى عن مع هذا هذه ذلك تلك التي الذي الذين و او أو ثم لا لم لن ما ماذا متى أين اين "
          "كيف هل كان كانت هو هي هم أن ان إن قد تم عند بعد قبل كل بين",
    "hi": "का की के को में से पर और या है हैं था थी थे हो यह वह ये वे इस उस इसके उसके एक भी तो ही कि जो क्या "
          "कब कहाँ कहां कैसे किस किसने किसको कौन कितने कितना कितनी नहीं ने लिए द्वारा गया गई गए हुआ हुई हुए",
}
FUNCTION_WORDS: dict[str, frozenset[str]] = {
    lang: frozenset(fold_token(w) for w in words.split()) for lang, words in _FUNCTION_WORDS_TEXT.items()}


#: Every language's function words: words that say nothing about a passage in any of them.
ALL_FUNCTION_WORDS: frozenset[str] = frozenset().union(*FUNCTION_WORDS.values())


#: Languages written one syllable a word, where words of one or two letters carry meaning
#: (Vietnamese "tư thục", "Ấn Độ"): only their function words are left out of the highlighted terms.
SYLLABLE_LANGUAGES = frozenset({"vi"})


def function_words(language: str | None) -> frozenset[str]:
    """The function words (match keys) of ``language``; empty for languages without a list."""
    return FUNCTION_WORDS.get(language or "", frozenset())
