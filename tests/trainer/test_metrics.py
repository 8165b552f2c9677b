"""LAReQA metrics against a 2-language, 2-question pool worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hybridsearch.ranking import DEFAULT_POLICY
from trainer.evaluate import (EvalSet, language_fair_metrics, calibrate_language_offset, compute_metrics,
                              map_by_language, metrics_csv, search_scores,
                              with_language_offset)
from trainer.qa import ParallelQA, QARow


def hand_set() -> tuple[np.ndarray, EvalSet]:
    """Candidates c0 = en a1, c1 = en a2, c2 = de a1, c3 = de a2; queries q1/q2 in en and de.

    ===========  ====================  ======================  ======  =========  ===  ========  =========
    query        scores c0 c1 c2 c3    multilingual ranks      AP      rank dist  QLF  mono RR   cross RR
    ===========  ====================  ======================  ======  =========  ===  ========  =========
    q1 en        .9  .5  .7  .1        en 1, de 2              1       1          1    1 (en)    1 (de)
    q1 de        .8  .6  .4  .5        en 1, de 4              (1+2/4)/2 = .75 3  0    1/2 (de)  1 (en)
    q2 en        .6  .2  .3  .4        en 4, de 2              (1/2+2/4)/2 = .5 2 0    1/2 (en)  1 (de)
    q2 de        .1  .05 .2  .9        de 1, en 4              (1+2/4)/2 = .75 3  1    1 (de)    1/2 (en)
    ===========  ====================  ======================  ======  =========  ===  ========  =========

    en: map (1+.5)/2 = .75, mono .75, cross (en->de) 1, rank distance 1.5, QLF .5
    de: map (.75+.75)/2 = .75, mono .75, cross (de->en) .75, rank distance 3, QLF .5
    overall: map .75, mono MRR .75, cross MRR .875, rank distance 2.25, QLF .5,
    mono R@1 2/4 = .5, cross R@1 3/4 = .75, R@10 1.
    """
    es = EvalSet(languages=["de", "en"],
                 queries=[("q1", "en", "Q1"), ("q1", "de", "F1"), ("q2", "en", "Q2"), ("q2", "de", "F2")],
                 candidates=[("en", "A1"), ("en", "A2"), ("de", "B1"), ("de", "B2")],
                 relevant={"q1": {"en": 0, "de": 2}, "q2": {"en": 1, "de": 3}})
    scores = np.array([[0.9, 0.5, 0.7, 0.1],
                       [0.8, 0.6, 0.4, 0.5],
                       [0.6, 0.2, 0.3, 0.4],
                       [0.1, 0.05, 0.2, 0.9]])
    return scores, es


def test_overall_metrics_by_hand():
    m = compute_metrics(*hand_set())
    assert m["map"] == pytest.approx(0.75)
    assert m["mono_mrr"] == pytest.approx(0.75)
    assert m["cross_mrr"] == pytest.approx(0.875)
    assert m["rank_distance"] == pytest.approx(2.25)
    assert m["qlf_rate"] == pytest.approx(0.5)
    assert m["mono_r1"] == pytest.approx(0.5)
    assert m["cross_r1"] == pytest.approx(0.75)
    assert m["mono_r10"] == m["cross_r10"] == pytest.approx(1.0)
    assert m["n_queries"] == 4 and m["n_languages"] == 2


def test_per_language_metrics_by_hand():
    m = compute_metrics(*hand_set())
    assert m["en_map"] == pytest.approx(0.75)
    assert m["de_map"] == pytest.approx(0.75)
    assert m["en_mono_mrr"] == pytest.approx(0.75)
    assert m["de_mono_mrr"] == pytest.approx(0.75)
    assert m["en_de_mrr"] == pytest.approx(1.0)
    assert m["de_en_mrr"] == pytest.approx(0.75)
    assert m["en_en_mrr"] == pytest.approx(0.75)
    assert m["en_rank_distance"] == pytest.approx(1.5)
    assert m["de_rank_distance"] == pytest.approx(3.0)
    assert m["en_qlf_rate"] == pytest.approx(0.5)
    assert m["de_qlf_rate"] == pytest.approx(0.5)


def test_perfect_and_language_biased_retrieval():
    """A perfect model scores 1 everywhere; a model that ranks all same-language text first
    (the language bias hybrid training removes) keeps mono MRR 1 but loses mAP, QLF rate 1."""
    rows = [QARow(i, l, f"{i}-{l}-q", f"{i}-{l}-a") for i in ("a", "b", "c") for l in ("en", "de")]
    es = EvalSet.from_parallel_qa(ParallelQA(rows))
    assert len(es.candidates) == 6 and len(es.queries) == 6
    perfect = np.zeros((6, 6))
    biased = np.zeros((6, 6))
    for qi, (qid, ql, _) in enumerate(es.queries):
        for ci, (cl, _) in enumerate(es.candidates):
            same_id = es.relevant[qid][cl] == ci
            perfect[qi, ci] = 1.0 if same_id else 0.0
            biased[qi, ci] = (2.0 if cl == ql else 0.0) + (1.0 if same_id else 0.0)
    p = compute_metrics(perfect, es)
    assert p["map"] == p["mono_mrr"] == p["cross_mrr"] == pytest.approx(1.0)
    # both answers tie at rank 1: no distance, and the query language is not strictly first
    assert p["rank_distance"] == pytest.approx(0.0)
    assert p["qlf_rate"] == pytest.approx(0.0)
    b = compute_metrics(biased, es)
    assert b["mono_mrr"] == pytest.approx(1.0) and b["cross_mrr"] == pytest.approx(1.0)
    # the other-language answer sits behind the 3 same-language candidates: rank 4 -> AP (1 + 2/4)/2
    assert b["map"] == pytest.approx(0.75)
    assert b["rank_distance"] == pytest.approx(3.0)
    assert b["qlf_rate"] == pytest.approx(1.0)


def test_metrics_csv_rows():
    m = compute_metrics(*hand_set())
    lines = metrics_csv(m).strip().splitlines()
    assert lines[0] == "language,map,mono_mrr,cross_mrr,rank_distance,qlf_rate"
    assert lines[1].startswith("de,0.7500,0.7500,0.7500,3.0000,0.5000")
    assert lines[-1] == "all,0.7500,0.7500,0.8750,2.2500,0.5000"
    assert not any(math.isnan(v) for v in m.values())


def biased_set() -> tuple[np.ndarray, EvalSet]:
    """One question in en and de; candidates en A (answer), en X (other), de A' (answer).

    ==========  ===================  ===============================================
    query       scores A  X   A'     by hand
    ==========  ===================  ===============================================
    q en        .80 .796 .78         A 1, A' 3: AP (1 + 2/3)/2 = .8333, QLF 1
    q de        .70 .60  .75         A' 1, A 2: AP 1, QLF 1
    ==========  ===================  ===============================================

    Taking an offset d from same-language candidates: for q en, A' passes X once d > .016 (AP 1;
    with the grid's steps of .0025 the first such d is .0175) and passes A once d > .02 (then A'
    ranks first: QLF 0, AP still 1). For q de, A passes A' once d > .05 (still AP 1, QLF 0).
    """
    es = EvalSet(languages=["de", "en"], queries=[("q", "en", "Q"), ("q", "de", "F")],
                 candidates=[("en", "A"), ("en", "X"), ("de", "A'")], relevant={"q": {"en": 0, "de": 2}})
    return np.array([[0.80, 0.796, 0.78], [0.70, 0.60, 0.75]]), es


def test_language_offset_by_hand():
    scores, es = biased_set()
    assert compute_metrics(scores, es)["map"] == pytest.approx((5 / 6 + 1) / 2)
    best, table = calibrate_language_offset(scores, es)
    assert best == 0.0175  # the smallest offset with the best mAP
    assert table[best] == pytest.approx(1.0) and table[0.0] == pytest.approx((5 / 6 + 1) / 2)
    m = language_fair_metrics(with_language_offset(scores, es, 0.0175), es, 0.0175)
    assert m["language_offset"] == 0.0175 and m["map_language_fair"] == pytest.approx(1.0)
    assert m["qlf_rate_language_fair"] == 1.0  # both queries still rank their own language first
    m = language_fair_metrics(with_language_offset(scores, es, 0.06), es, 0.06)
    assert m["map_language_fair"] == pytest.approx(1.0) and m["qlf_rate_language_fair"] == 0.0
    # with no language bias to remove the calibration keeps 0
    fair = np.array([[0.80, 0.5, 0.79], [0.79, 0.5, 0.80]])
    assert calibrate_language_offset(fair, es)[0] == 0.0


def test_calibration_map_equals_the_metrics_map():
    rng = np.random.default_rng(0)
    es = EvalSet(languages=["de", "en", "fr"],
                 queries=[(f"q{i}", l, "?") for i in range(6) for l in ("de", "en", "fr") if (i + len(l)) % 5],
                 candidates=[(l, f"{i}") for l in ("de", "en", "fr") for i in range(8)],
                 relevant={f"q{i}": {l: j * 8 + i for j, l in enumerate(("de", "en", "fr"))} for i in range(6)})
    scores = np.round(rng.random((len(es.queries), 24)), 1)  # rounded: many ties
    assert map_by_language(scores, es) == pytest.approx(compute_metrics(scores, es)["map"], abs=1e-12)


def test_feedback_ranks_the_translation_next_to_the_answer():
    """Unit vectors at angles: question (en) 20 deg, its answer A (en) 0, the answer's translation
    A' (de) -15, another German sentence X 50. By cosine the question ranks A (.940), X (.866),
    A' (.819): A' is third, AP (1 + 2/3) / 2. Feedback moves the question toward its hits, weighted
    softmax(score / 0.02) = .974 A, .024 X, .002 A': to 10.56 deg, where A' (25.56 deg away, .902)
    passes X (39.44 deg away, .772), and AP is 1."""
    def unit(deg):
        return [math.cos(math.radians(deg)), math.sin(math.radians(deg))]

    es = EvalSet(languages=["de", "en"], queries=[("q", "en", "Q")],
                 candidates=[("en", "A"), ("de", "X"), ("de", "A'")], relevant={"q": {"en": 0, "de": 2}})
    q, c = np.array([unit(20)]), np.array([unit(0), unit(50), unit(-15)])
    once = search_scores(q, c, es, DEFAULT_POLICY.with_(feedback=False))
    assert once[0] == pytest.approx([0.940, 0.866, 0.819], abs=1e-3)
    assert compute_metrics(once, es)["map"] == pytest.approx((1 + 2 / 3) / 2)
    fed = search_scores(q, c, es)
    angle = math.degrees(math.atan2(*reversed(list(
        np.array(unit(20)) + 0.974 * np.array(unit(0)) + 0.024 * np.array(unit(50)) + 0.002 * np.array(unit(-15))))))
    assert angle == pytest.approx(10.56, abs=0.05)
    assert fed[0] == pytest.approx([math.cos(math.radians(d)) for d in (10.56, 39.44, 25.56)], abs=2e-3)
    assert compute_metrics(fed, es)["map"] == pytest.approx(1.0)
    # the same-language offset is taken from A before feedback and after it
    offset = search_scores(q, c, es, DEFAULT_POLICY.with_(language_offset=0.01))
    assert offset[0, 0] == pytest.approx(fed[0, 0] - 0.01, abs=2e-3) and offset[0, 2] > offset[0, 1]


def test_evaluation_progress_starts_at_zero_and_ends_at_every_text():
    """The encoding bar (CLI) and the Evaluation page's progress start at 0 of all texts when
    encoding starts: a bar first told "64 of 4,279" showed millions of texts a second."""
    from trainer.evaluate import evaluate_encoder

    class Batches:  # encodes in batches of 2 and reports after each, as the real encoders do
        def encode(self, texts, kind, batch_size, progress):
            rng = np.random.default_rng(len(texts))
            out = rng.normal(size=(len(texts), 8)).astype(np.float32)
            for done in range(2, len(texts) + 2, 2):
                progress(min(done, len(texts)), len(texts))
            return out / np.linalg.norm(out, axis=1, keepdims=True)

    _, es = hand_set()
    seen = []
    evaluate_encoder(Batches(), es, on_progress=seen.append, feedback=False, language_offset=0.0)
    total = len(es.queries) + len(es.candidates)
    assert (seen[0].done, seen[0].total) == (0, total)
    assert (seen[-1].done, seen[-1].total) == (total, total)
    assert [p.done for p in seen] == sorted(p.done for p in seen)
