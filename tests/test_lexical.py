"""Keyword matching: which of a query's words a passage holds. Hybrid search drops a keyword hit
whose words carry too little of the query's weight; it decides that without tokenising each
candidate (``TermMatcher``), and must decide as tokenising would."""

from __future__ import annotations

import json
import random

import pytest
from conftest import XQUAD_DIR

from hybridsearch.lexical import TermMatcher, lexical_tokens, parse_query

TRICKY_TEXTS = [
    "Köln liegt am Rhein; die Straße heißt Kölner Straße.",
    "Ngôn ngữ dịch thuật: cả nước, quốc ca.",
    "東京都に住む人々。中国の首都は北京です。",
    "中",
    "a中b",
    "ﬁnance café naïve",
    "Ёлка и елка",
    "โรงเรียนสำหรับเด็ก ทำงาน",
    "ガ ガ が",  # decomposed and composed kana
    "e-mail C++ 3.14 x² 5½",
    "המדינה  مدرسة  مَدْرَسَة",
]
TRICKY_QUERIES = ["Köln Strasse", "koln", "ngon ngữ", "dich", "dịch", "ca", "中", "東京", "北京 首都", "finance",
                  "cafe", "елка", "ทำงาน", "โรงเรียน", "が", "ガ", "mail", "x2", "3", "مدرسة", "ﻣﺪﺭﺳﺔ", "c"]


def _by_tokenising(text: str, terms) -> set[str]:
    keys = [k for k, _, _ in lexical_tokens(text)]
    have, seq = set(keys), " " + " ".join(keys) + " "
    out = set()
    for t in terms:
        if t.phrase:
            ok = f" {t.key} " in seq
        elif t.prefix:
            ok = any(h.startswith(t.key) for h in have)
        else:
            ok = t.key in have
        if ok:
            out.add(t.key)
    return out


def test_words_held_are_found_as_tokenising_finds_them_in_tricky_text():
    for q in TRICKY_QUERIES + ['"Kölner Straße"', "die OR der"]:
        terms = parse_query(q).terms
        matcher = TermMatcher(terms)
        for text in TRICKY_TEXTS:
            assert matcher.held(text) == _by_tokenising(text, terms), (q, text)


def test_accents_are_dropped_where_keyword_search_drops_them():
    held = lambda q, text: TermMatcher(parse_query(q).terms).held(text)  # noqa: E731
    assert held("koln strasse", "Köln, Straße") == {"koln", "strasse"}
    # Vietnamese letters from U+1E00 keep their marks in the index: "dich" is not "dịch"
    assert held("dich", "dịch thuật") == set()
    assert held("dịch", "dịch thuật") == {"dịch"}
    # a word inside another word is not held; a bigram inside a run of Han is
    assert held("ban", "bank banana") == set()
    assert held("首都", "中国的首都是北京") == {"首都"}


@pytest.mark.skipif(not XQUAD_DIR.exists(), reason="needs ../shared/data/xquad-r")
def test_words_held_are_found_as_tokenising_finds_them_in_eleven_languages():
    rnd = random.Random(0)
    texts, questions = [], []
    for path in sorted(XQUAD_DIR.glob("*.json")):
        paragraphs = [p for art in json.loads(path.read_text(encoding="utf-8"))["data"][28:30]
                      for p in art["paragraphs"]]
        texts += [p["context"] for p in rnd.sample(paragraphs, 4)]
        questions += [qa["question"] for p in rnd.sample(paragraphs, 2) for qa in p["qas"][:3]]
    differ = []
    for q in questions:
        terms = parse_query(q).terms
        matcher = TermMatcher(terms)
        differ += [(q, text[:40]) for text in texts if matcher.held(text) != _by_tokenising(text, terms)]
    assert not differ
