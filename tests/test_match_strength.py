"""Match strength in a small library: a result is rated from its own evidence (cosine, keywords),
never from how it compares with the library's other, unrelated documents. Uses the real model."""

from __future__ import annotations

from pathlib import Path

import pytest

from hybridsearch.library import Library
from hybridsearch.match_strength import rate_results

#: Five documents about five unrelated things, in five languages.
SMALL_LIBRARY = {
    "fuji.txt": "富士山は日本で最も高い山で、標高は3776メートルです。静岡県と山梨県にまたがる活火山で、"
                "最後の噴火は1707年の宝永噴火です。夏には多くの登山者が山頂を目指します。",
    "kaffee.txt": "Kaffee wird aus den gerösteten Bohnen des Kaffeestrauchs gebrüht. Die größten Erzeuger sind "
                  "Brasilien, Vietnam und Kolumbien.",
    "volga.txt": "Волга — самая длинная река в Европе. Она впадает в Каспийское море.",
    "fromage.txt": "Le fromage est fabriqué à partir du lait caillé. La France produit plus de mille variétés "
                   "de fromage.",
    "photo.txt": "Photosynthesis is the process by which green plants use sunlight, water and carbon dioxide to "
                 "produce glucose and oxygen.",
}


@pytest.fixture
def small_lib(tmp_path, base_encoder):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in SMALL_LIBRARY.items():
        (docs / name).write_text(text, encoding="utf-8")
    with Library(tmp_path / "lib", encoder=base_encoder) as lib:
        lib.add_folder(docs)
        lib.index()
        yield lib


def _rated(lib, query):
    results = lib.search(query, k=20)
    return [(Path(r.path).name, g.level) for r, g in zip(results, rate_results(lib, query, results))]


@pytest.mark.parametrize("query", ["How do bees make honey?", "How hot is the surface of the Sun?",
                                   "How far is the Moon from the Earth?"])
def test_an_unrelated_document_is_no_good_match_in_a_small_library(small_lib, query):
    """Every result is unrelated: none is rated good, however far the best one stands above the rest
    (the photosynthesis page stands well above the cheese and the Volga for a question about bees)."""
    rated = _rated(small_lib, query)
    assert len(rated) == 5 and all(level == "weak" for _, level in rated), rated


@pytest.mark.parametrize("query,answer", [("Which countries produce the most coffee?", "kaffee.txt"),
                                          ("What do plants make from sunlight?", "photo.txt")])
def test_the_document_that_answers_is_still_a_good_match(small_lib, query, answer):
    rated = dict(_rated(small_lib, query))
    assert rated[answer] in ("good", "strong"), rated
    assert [name for name, level in rated.items() if level != "weak"] == [answer], rated


def test_question_words_do_not_count_against_a_passage_that_holds_every_keyword():
    """ "Was ist ziviler Ungehorsam?" on the German passage about it: "was" and "ist" are not in it,
    but they say nothing; the passage holds every word that matters, so the keywords lift it."""
    from hybridsearch.match_strength import FALLBACK, keyword_share, rate

    text = "Ziviler Ungehorsam bezeichnet den bewussten Verstoß gegen Gesetze aus Gewissensgründen."
    assert keyword_share(text, "Was ist ziviler Ungehorsam?") == 1.0
    assert keyword_share("Water boils at 100 degrees.", "What is the boiling point of water?") == 1 / 3  # water
    assert rate(FALLBACK.weak - 0.03, keyword_share(text, "Was ist ziviler Ungehorsam?"), FALLBACK) == "good"
    assert keyword_share("the and of", "the of") == 1.0  # a query of small words only keeps them
    assert keyword_share("nothing here", "ziviler Ungehorsam") == 0.0


def test_the_baseline_passages_are_encoded_once_per_model_not_once_per_process(tmp_path):
    """A command-line search rates its results in a new process each time: the 27 baseline passages
    come from the cache after the first time, and a damaged cache file is encoded again."""
    import numpy as np

    from hybridsearch import match_strength
    from hybridsearch.match_strength import BACKGROUND, background_vectors

    class Counting:
        dim, identity = 8, "counting-model-1"
        calls = 0

        def encode(self, texts, kind="passage"):
            Counting.calls += 1
            return np.random.default_rng(len(texts)).normal(size=(len(texts), self.dim)).astype(np.float32)

    first = background_vectors(Counting())
    assert Counting.calls == 1 and first.shape == (len(BACKGROUND), 8)
    match_strength._background.clear()  # a new process
    assert np.array_equal(background_vectors(Counting()), first) and Counting.calls == 1
    path = match_strength._background_file(Counting())
    path.write_bytes(b"not an array")
    match_strength._background.clear()
    assert np.array_equal(background_vectors(Counting()), first) and Counting.calls == 2
    assert np.array_equal(np.load(path), first)  # rewritten


def test_a_document_is_rated_by_its_passage_that_answers_not_only_the_one_shown_first(monkeypatch):
    """The passage shown first is chosen by fused rank; one that repeats the query's names can lead
    there while another passage of the document answers. Seen: an English question over a German
    library rated the right document "no good match" (its best passage by meaning: cosine 0.91)."""
    from datetime import datetime
    from types import SimpleNamespace

    import hybridsearch.match_strength as ms
    from hybridsearch.records import DocumentResult, Passage

    cos = {1: 0.80, 2: 0.91, 3: 0.70, 4: 0.79}  # chunk id -> cosine to the query
    monkeypatch.setattr(ms, "passage_cosines", lambda lib, q, ids: [cos[i] for i in ids])
    monkeypatch.setattr(ms, "query_vector", lambda enc, q: None)
    monkeypatch.setattr(ms, "baseline", lambda enc, v: 0.75)

    def doc(best, *more):
        passage = lambda i: Passage(chunk_id=i, text="Der Campus der Universität.", start=0, end=27,
                                        language="de", score=0.02)  # noqa: E731
        return DocumentResult(path=f"/d/{best}.pdf", title=str(best), folder="/d", file_type="pdf", language="de",
                              score=0.02, modified=datetime(2026, 1, 1), best=passage(best),
                              more=[passage(i) for i in more])
    lib = SimpleNamespace(encoder=SimpleNamespace(name="hybrid-e5-small"))
    answering, unrelated = ms.rate_results(lib, "who designed the first buildings", [doc(1, 2), doc(3, 4)])
    assert answering.level == "strong" and answering.cosine == pytest.approx(0.91)
    assert unrelated.level == "weak"
