""""Did you mean …?": typos put right from the library's own words, correct words left alone."""

from __future__ import annotations

import pytest

from hybridsearch.documents import Chunk
from hybridsearch.encoder import query_tokenizer
from hybridsearch.spelling import correct, variants
from hybridsearch.store import Store

PASSAGES = [
    "The university was founded in 1386 and is the oldest in the country.",
    "Its university library, a private gift, holds three million books; the reference room is open at night.",
    "Die Universität Heidelberg wurde 1386 gegründet.",
    "An der Universität studieren heute rund 30.000 Menschen.",
    "Jacksonville was named after Andrew Jackson; the port is close by.",
    "Jacksonville lies on the St. Johns River.",
    "Private schools in India are called public schools; the schools charge fees.",
    "Частные школы в Индии называются государственными школами.",
    "Москва — столица России; частные школы Москвы открыты.",
    "The NATO summit met once in the city, close to the river.",
]


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "library.db")
    with s.transaction():
        fid = s.conn.execute("INSERT INTO folders (path) VALUES ('/f')").lastrowid
        for i, text in enumerate(PASSAGES):
            did = s.conn.execute("INSERT INTO documents (folder_id, path, status) VALUES (?, ?, 'ok')",
                                 (fid, f"/f/{i}.txt")).lastrowid
            s.insert_chunks(did, [Chunk(text, 0, len(text), 5)])
    yield s
    s.close()


@pytest.fixture(scope="module")
def pieces(base_model_dir):
    fast = query_tokenizer.load(base_model_dir / "tokenizer.json")
    return lambda text: len(fast.encode(text)) - 2


def test_a_typo_is_put_right_and_the_rest_of_the_query_kept_as_typed(store, pieces):
    assert correct(store, "When was the universty founded?", pieces) == "When was the university founded?"
    # a word in capitals is a code or an acronym: left as typed
    assert correct(store, "JACKSONVILE or Jacksonvile?", pieces) == "JACKSONVILE or Jacksonville?"
    assert correct(store, "who named jacksonvile?", pieces) == "who named jacksonville?"
    assert correct(store, '"privte schools" -cats OR dogs', pieces) == '"private schools" -cats OR dogs'
    # the word as the library writes it: the accent the user left out is back, in their case
    assert correct(store, "Wann wurde die Univrsität gegründet?", pieces) == "Wann wurde die Universität gegründet?"
    assert correct(store, "univrsitat", pieces) == "universität"
    assert correct(store, "Как называются частные шклы?", pieces) is None  # шклы: four letters, left alone
    assert correct(store, "Чаастные школы", pieces) == "Частные школы"


def test_words_the_library_holds_and_what_is_not_a_word_are_left_alone(store, pieces):
    for query in ("When was the university founded?", "Universität", "1386", "NATO", "Schools in India",
                  "", "   ", "日本語の大学", "jacksnvile university"):  # two edits away: no guess
        assert correct(store, query, pieces) is None, query


def test_words_of_other_languages_and_other_forms_of_a_word_are_not_corrected(store, pieces):
    # "chose" is one letter from "close", which the library uses, but the tokenizer holds it whole:
    # a word of some language that the library happens not to use, not a typo
    assert pieces("chose") == 1 and correct(store, "Who chose it?", pieces) is None
    assert correct(store, "Who chose it?", None) == "Who close it?"  # what the rule prevents
    # without the tokenizer, an ending is still never changed: "references" is how words inflect
    assert correct(store, "references", None) is None  # "reference" is in the library
    assert correct(store, "schoolss", None) is None
    assert correct(store, "Xniversity", None) is None  # nor the first letter
    # one passage holding a word is not enough to offer it (it may be the text's own typo)
    assert correct(store, "summmit", None) is None


def test_variants_stay_in_the_words_own_script():
    v = variants("школа")
    assert "шкоола" in v and "школ" in v and "шокла" in v
    assert all(0x400 <= ord(ch) < 0x500 for w in v for ch in w)  # Cyrillic only
    assert not any(ch.isupper() for w in v for ch in w)  # as the keyword index keys words
    assert "school" in variants("schol")


def test_long_words_and_long_foreign_queries_are_not_looked_up(store, pieces):
    assert correct(store, "x" * 5000, pieces) is None  # not 260,000 variants of a pasted token
    pasted = " ".join("unbekannt" + a + b for a in "abcdefgh" for b in "abcdefgh")  # 64 unknown words
    assert correct(store, pasted + " universty", pieces) is None  # given up after the first few
    assert correct(store, "universty " + pasted, pieces).startswith("university ")
