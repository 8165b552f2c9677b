"""Retrieval quality floor on XQuAD-R articles 28-35 with the real base model, through the library.

Setup (kept small so the default suite stays within a few minutes on 2 shared CPU cores): the
first 2 paragraphs of each of articles 28-35 in all 11 languages (176 files, one paragraph per
file); the first 2 questions of each paragraph, in each language (352 queries), searched in
dense mode (one search, and with cross-language feedback) and hybrid mode, top 10 documents
(about 70 s here). ``benchmarks/quality_xquad.py`` runs the full set
(all 40 paragraphs, all 200 questions per language) and prints the matrices.

Floors, and why: they are what multilingual-e5-small (as released) achieved here when the test
was written (``MEASURED_*`` below, 32 queries per language) minus a margin of 0.10 (2-3 of 24
queries), floored at 0. The encoder is deterministic on CPU and the data is fixed, so a drop
below a floor means chunking, indexing, fusion or grouping broke retrieval, not noise. The base
model is known to be language-biased: same-language retrieval is near perfect, cross-lingual
retrieval is weaker and uneven (zh and th as targets are the weakest), and in hybrid mode the
keyword list favours the query's own language, so hybrid cross-language figures are lower than
dense ones. The fine-tuned default model is meant to raise the cross-language figures; these
floors only guard against regressions of the engine.
"""

from __future__ import annotations

import pytest
from conftest import XQUAD_DIR

from benchmarks import quality_xquad as qx

PARAGRAPHS = 2
QUESTIONS = 2
MARGIN = 0.10
#: measured per (query language, target language) with the base model: dense mode
MEASURED_DENSE: dict[str, list[float]] = {  # columns: ar de el en es hi ru th tr vi zh
    "ar": [1.00, 0.47, 0.50, 0.44, 0.66, 0.88, 0.62, 0.62, 0.47, 0.41, 0.44],
    "de": [0.47, 1.00, 0.59, 0.97, 0.94, 0.34, 0.53, 0.50, 0.88, 0.53, 0.31],
    "el": [0.69, 0.78, 1.00, 0.66, 0.75, 0.34, 0.59, 0.50, 0.62, 0.84, 0.06],
    "en": [0.56, 0.94, 0.44, 1.00, 0.94, 0.91, 0.50, 0.50, 0.81, 0.66, 0.12],
    "es": [0.47, 0.88, 0.50, 0.75, 1.00, 0.94, 0.44, 0.22, 0.84, 0.91, 0.25],
    "hi": [0.88, 0.50, 0.25, 0.91, 0.94, 1.00, 0.53, 0.41, 0.75, 0.56, 0.19],
    "ru": [0.72, 0.78, 0.53, 0.59, 0.78, 0.81, 1.00, 0.47, 0.59, 0.25, 0.59],
    "th": [0.59, 0.62, 0.41, 0.53, 0.41, 0.72, 0.34, 1.00, 0.22, 0.81, 0.75],
    "tr": [0.59, 0.78, 0.25, 0.56, 0.78, 0.62, 0.53, 0.22, 1.00, 0.84, 0.06],
    "vi": [0.31, 0.34, 0.50, 0.47, 0.81, 0.34, 0.09, 0.59, 0.53, 1.00, 0.19],
    "zh": [0.44, 0.16, 0.03, 0.06, 0.38, 0.41, 0.31, 0.41, 0.06, 0.25, 1.00],
}
#: hybrid mode, same-language and mean cross-language per query language
MEASURED_HYBRID_SAME = 0.97  # the lowest same-language figure (de)
#: 0.193 while every keyword hit counted; 0.489 since a hit must hold 30 % of the query's IDF weight
#: (search.MIN_MATCH_SHARE): one-word hits on "in" or "the" no longer bury the other languages
MEASURED_HYBRID_CROSS_MEAN = 0.489
#: dense mean cross-language share, feedback minus one search (base model, this set)
MEASURED_FEEDBACK_GAIN = 0.093  # 0.539 -> 0.632


def floor(v: float) -> float:
    return max(0.0, round(v - MARGIN, 3))


@pytest.mark.skipif(not XQUAD_DIR.is_dir(), reason="XQuAD-R data not present")
def test_cross_lingual_retrieval_floor(tmp_path, base_encoder, capsys):
    import torch

    # one thread: on this shared 2-core machine two torch threads thrash (10x slower queries)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _run(tmp_path, base_encoder, capsys)
    finally:
        torch.set_num_threads(threads)


def _run(tmp_path, base_encoder, capsys):
    from hybridsearch.library import Library

    paras, questions = qx.load(XQUAD_DIR, per_paragraph=QUESTIONS)
    paras = {key: t for key, t in paras.items() if key[2] < PARAGRAPHS}
    questions = [q for q in questions if q[2] < PARAGRAPHS]
    folder = qx.build_folder(tmp_path / "xquad", paras)
    with Library(tmp_path / "lib", encoder=base_encoder) as lib:
        lib.add_folder(folder)
        rep = lib.index()
        assert rep.added == len(paras) and rep.failed == 0
        # the floors were measured with one search; feedback is checked against it below
        dense, _ = qx.evaluate(lib, questions, mode="dense-once")
        fed, _ = qx.evaluate(lib, questions, mode="dense")
        # weights 1:1 as when the floors were measured (the app's default gives keywords 0.3)
        hybrid, _ = qx.evaluate(lib, questions, mode="hybrid@1")
    with capsys.disabled():
        print("\ndense, one search\n" + qx.format_matrix(dense) + "\ndense, feedback\n" + qx.format_matrix(fed)
              + "\nhybrid\n" + qx.format_matrix(hybrid))
    langs = qx.LANGS
    failures = []
    for i, q in enumerate(langs):
        for j, t in enumerate(langs):
            want = floor(MEASURED_DENSE[q][j]) if MEASURED_DENSE else 0.0
            if dense[(q, t)] < want:
                failures.append(f"dense {q}->{t}: {dense[(q, t)]:.2f} < floor {want:.2f}")
        if hybrid[(q, q)] < floor(MEASURED_HYBRID_SAME):
            failures.append(f"hybrid {q}->{q}: {hybrid[(q, q)]:.2f} < floor {floor(MEASURED_HYBRID_SAME):.2f}")
    cross = qx.mean_cross(hybrid)
    if cross < floor(MEASURED_HYBRID_CROSS_MEAN):
        failures.append(f"hybrid mean cross-language {cross:.3f} < floor {floor(MEASURED_HYBRID_CROSS_MEAN):.3f}")
    # cross-language feedback finds the paragraph in other languages more often (measured with the
    # base model: MEASURED_FEEDBACK_GAIN), though zh questions, whose first hits are nearly all
    # Chinese with this model, lose some
    once_cross, fed_cross = qx.mean_cross(dense), qx.mean_cross(fed)
    if fed_cross < once_cross + MEASURED_FEEDBACK_GAIN - 0.03:
        failures.append(f"dense cross-language with feedback {fed_cross:.3f}, one search {once_cross:.3f}")
    assert not failures, "\n".join(failures)
