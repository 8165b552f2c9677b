"""Batch samplers on synthetic datasets: X-X is monolingual, X-Y cross-lingual, hybrid honours alpha;
mixtures draw sources by weight, keep id groups apart and reseed per epoch."""

from __future__ import annotations

import pytest

from hybridsearch.errors import DataError
from trainer.qa import PairSet, ParallelQA, QARow
from trainer.samplers import (CrossLingualBatchSampler, HybridBatchSampler, MixtureBatchSampler,
                              MonolingualBatchSampler, make_sampler)

LANGS = ["de", "en", "es", "fr"]


def synthetic(n_ids: int = 100, partial: bool = False) -> ParallelQA:
    """n_ids ids in 4 languages; with ``partial`` every third id lacks some languages."""
    rows = []
    for i in range(n_ids):
        langs = [LANGS[i % 4], LANGS[(i + 1) % 4]] if partial and i % 3 == 0 else LANGS
        for l in langs:
            rows.append(QARow(str(i), l, f"q{i}{l}", f"a{i}{l}"))
    return ParallelQA(rows)


def many_batches(sampler, n: int) -> list:
    out, epoch = [], 0
    while len(out) < n:
        sampler.set_epoch(epoch)
        out.extend(sampler)
        epoch += 1
    return out[:n]


@pytest.mark.parametrize("partial", [False, True])
def test_monolingual_batches_use_one_language(partial):
    data = synthetic(partial=partial)
    batches = many_batches(MonolingualBatchSampler(data, 8, seed=1), 200)
    seen_langs = set()
    for b in batches:
        assert len(b) == 8
        assert all(q == a for _, q, a in b)
        assert len({q for _, q, _ in b}) == 1
        assert all(q in data.by_id[i] for i, q, _ in b)  # every pair really exists
        seen_langs.add(b[0][1])
    assert seen_langs == set(LANGS)


@pytest.mark.parametrize("partial", [False, True])
def test_crosslingual_batches_pair_different_languages(partial):
    data = synthetic(partial=partial)
    batches = many_batches(CrossLingualBatchSampler(data, 8, seed=1), 200)
    pairs = set()
    for b in batches:
        assert len(b) == 8
        for i, q, a in b:
            assert q != a
            assert q in data.by_id[i] and a in data.by_id[i]
            pairs.add((q, a))
    assert len(pairs) == 12  # every ordered language pair shows up


def test_hybrid_ratio_follows_alpha():
    data = synthetic()
    batches = many_batches(HybridBatchSampler(data, 8, alpha=0.3, seed=7), 2000)
    xx = sum(all(q == a for _, q, a in b) for b in batches)
    xy = sum(all(q != a for _, q, a in b) for b in batches)
    assert xx + xy == 2000  # every batch is purely one kind
    assert abs(xx / 2000 - 0.3) < 0.05


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_no_duplicate_ids_in_a_batch(alpha):
    data = synthetic(partial=True)
    for b in many_batches(make_sampler(data, 16, alpha, seed=3), 300):
        ids = [i for i, _, _ in b]
        assert len(ids) == len(set(ids))


def test_make_sampler_kinds():
    data = synthetic(10)
    assert make_sampler(data, 4, 1.0).kind == "xx"
    assert make_sampler(data, 4, 0.0).kind == "xy"
    assert make_sampler(data, 4, 0.5).kind == "hybrid"
    with pytest.raises(ValueError):
        HybridBatchSampler(data, 4, alpha=1.5)
    with pytest.raises(ValueError):
        HybridBatchSampler(data, 1, alpha=0.5)


def test_same_seed_same_batches_and_epochs_differ():
    data = synthetic()
    a, b = make_sampler(data, 8, 0.5, seed=11), make_sampler(data, 8, 0.5, seed=11)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    second = list(a)
    order = lambda batches: [i for bt in batches for i, _, _ in bt]  # noqa: E731
    assert order(first) != order(second)
    a.set_epoch(0)
    assert list(a) == first  # an epoch is reproducible (what resuming relies on)
    other_seed = list(make_sampler(data, 8, 0.5, seed=12))
    assert other_seed != first


def pooled() -> ParallelQA:
    """Two questions on one three-sentence passage (answers s0 and s1) and one on a one-sentence
    passage, in de and en, with the passage sentences in the pool."""
    pool = {l: [(f"a0:p0:s{k}", f"{l} sentence {k}") for k in range(3)] + [("a0:p1:s0", f"{l} alone")]
            for l in ("de", "en")}
    rows = []
    for l in ("de", "en"):
        rows.append(QARow("x", l, f"{l} q x", f"{l} sentence 0", answer_key="a0:p0:s0"))
        rows.append(QARow("y", l, f"{l} q y", f"{l} sentence 1", answer_key="a0:p0:s1"))
        rows.append(QARow("z", l, f"{l} q z", f"{l} alone", answer_key="a0:p1:s0"))
    return ParallelQA(rows, "pooled", pool)


def test_hard_negatives_are_passage_neighbours_in_the_question_language():
    import random

    from trainer.samplers import HardNegatives

    hn = HardNegatives(pooled())
    rng = random.Random(0)
    seen = set()
    for _ in range(50):
        batch = [("x", "en", "de"), ("y", "de", "de"), ("z", "en", "en")]
        drawn = hn.draw(batch, rng)
        assert len(drawn) == 2  # z's passage has no other sentence
        (l0, t0), (l1, t1) = drawn
        assert l0 == "en" and t0 in ("en sentence 1", "en sentence 2")  # never x's own answer
        assert l1 == "de" and t1 in ("de sentence 0", "de sentence 2")
        seen |= {t0, t1}
        mask = hn.false_negatives(batch, drawn)
        # "en sentence 1" is y's answer in English: no negative for y; "de sentence 0" is x's
        assert mask[1][0] == (t0 == "en sentence 1") and mask[0][1] == (t1 == "de sentence 0")
        assert not any(mask[2])
    assert seen == {"en sentence 1", "en sentence 2", "de sentence 0", "de sentence 2"}


def test_hard_negatives_in_the_answer_language_or_both():
    """"answer": the neighbour is in the answer's language (what a one-language pool confuses);
    "both": one in each language, a single one when question and answer share it."""
    import random

    from trainer.samplers import HardNegatives

    batch = [("x", "en", "de"), ("y", "de", "de"), ("z", "en", "en")]
    answer_side, both = HardNegatives(pooled(), "answer"), HardNegatives(pooled(), "both")
    rng = random.Random(0)
    for _ in range(30):
        drawn = answer_side.draw(batch, rng)
        assert [l for l, _ in drawn] == ["de", "de"]  # x's answer is German; z has no neighbour
        assert drawn[0][1] in ("de sentence 1", "de sentence 2")  # never x's own German answer
        assert drawn[1][1] in ("de sentence 0", "de sentence 2")
        assert answer_side.false_negatives(batch, drawn)[1][0] == (drawn[0][1] == "de sentence 1")
        drawn = both.draw(batch, rng)
        assert [l for l, _ in drawn] == ["en", "de", "de"]  # x: one per language; y: de-de gives one
        assert drawn[0][1] in ("en sentence 1", "en sentence 2") and drawn[1][1] in ("de sentence 1", "de sentence 2")
    with pytest.raises(ValueError, match="question, answer, both"):
        HardNegatives(pooled(), "passage")


def test_hard_negatives_from_context_or_a_clear_error():
    from hybridsearch.errors import DataError
    from trainer.samplers import HardNegatives

    rows = [QARow("b", l, "How do I stop the chain squeaking?", "Put oil on every link.",
                  "Maintenance. Put oil on every link. Wipe off the rest!") for l in ("en", "de")]
    hn = HardNegatives(ParallelQA(rows))
    assert hn.neighbours[("b", "en")] == ["Maintenance.", "Wipe off the rest!"]
    no_context = ParallelQA([QARow("b", l, "q", "a") for l in ("en", "de")])
    with pytest.raises(DataError, match="context"):
        HardNegatives(no_context)


def test_mined_negatives_are_the_top_non_answers_in_any_language():
    """Mined with the model's own ranking: the question's answers (in every language) are skipped,
    the next K candidates are kept in rank order, whatever their language."""
    import random

    import numpy as np

    from trainer.samplers import MinedNegatives

    data = pooled()
    texts = sorted({t for items in data.pool.values() for _, t in items})
    # x's answers rank first, then German sentence 2, English sentence 1, then the rest
    prefer = {"de sentence 0": 1.0, "en sentence 0": 0.99, "de sentence 2": 0.8, "en sentence 1": 0.6,
              "en alone": 0.3, "de sentence 1": 0.2}

    def encode(batch, kind):
        out = np.zeros((len(batch), len(texts)), dtype=np.float32)
        for n, t in enumerate(batch):
            if kind == "passage":
                out[n, texts.index(t)] = 1.0
            else:
                out[n] = [prefer.get(c, 0.1) if " q x" in t else 0.5 for c in texts]
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    mined = MinedNegatives(data, encode, top_k=2)
    assert mined.neighbours[("x", "en")] == [("de", "de sentence 2"), ("en", "en sentence 1")]
    assert mined.neighbours[("x", "de")] == mined.neighbours[("x", "en")]
    for key, cands in mined.neighbours.items():  # never an answer of the question's own id
        own = {r.answer for r in data.rows if r.id == key[0]}
        assert len(cands) == 2 and not own & {t for _, t in cands}
    same = MinedNegatives(data, encode, top_k=2, same_language=True)
    assert same.neighbours[("x", "en")] == [("en", "en sentence 1"), ("en", "en alone")]
    assert same.neighbours[("x", "de")] == [("de", "de sentence 2"), ("de", "de sentence 1")]
    batch = [("x", "en", "de"), ("y", "de", "de")]
    drawn = mined.draw(batch, random.Random(1))
    assert len(drawn) == 2 and drawn[0] in mined.neighbours[("x", "en")]
    # "en sentence 1" is y's answer: when x draws it, it is no negative for y
    mask = mined.false_negatives(batch, drawn)
    assert mask[1][0] == (drawn[0] == ("en", "en sentence 1"))


# ------------------------------------------------------------------------ mixture of kinds of pairs

def qa_pairs(n: int, kind: str = "qa-paragraph", shared: int = 1) -> PairSet:
    """n integer ids; questions in de/en/es, positives in de/en (every third id: en only);
    ``shared`` consecutive ids share one positive (one id group)."""
    left = {str(i): {l: f"q{i}{l}" for l in ("de", "en", "es")} for i in range(n)}
    right = {str(i): ({"en": f"p{i // shared}en"} if i % 3 == 0 else
                      {l: f"p{i // shared}{l}" for l in ("de", "en")}) for i in range(n)}
    return PairSet(kind, left, right, f"{kind}-{n}")


def bitext(n: int, langs=("ar", "de", "en", "zh")) -> PairSet:
    return PairSet("bitext", {str(1000 + i): {l: f"s{i}{l}" for l in langs} for i in range(n)}, {}, "bitext")


def mixture_batches(sampler, n: int) -> list:
    return many_batches(sampler, n)


def test_mixture_batches_hold_one_source_and_real_pairs_of_its_kind():
    qa, bt = qa_pairs(60), bitext(40)
    batches = mixture_batches(MixtureBatchSampler([qa, bt], [1, 1], 8, alpha=0.5, seed=2), 400)
    modes = {(b.kind, b.mode) for b in batches}
    assert modes == {("qa-paragraph", "xx"), ("qa-paragraph", "xy"), ("bitext", "xx"), ("bitext", "xy")}
    for b in batches:
        ps = [qa, bt][b.source]
        assert b.kind == ps.kind and len(b.pairs) == 8
        for i, x, y in b.pairs:
            assert x in ps.left[i] and y in ps.right[i]  # the pair exists
        langs = {(x, y) for _, x, y in b.pairs}
        if b.kind == "qa-paragraph" and b.mode == "xx":
            assert len(langs) == 1 and all(x == y for x, y in langs)
        elif b.kind == "bitext" and b.mode == "xx":
            assert len(langs) == 1 and all(x != y for x, y in langs)  # one language pair per batch
        else:
            assert all(x != y for x, y in langs)


def test_mixture_follows_source_weights_and_alpha():
    qa, bt = qa_pairs(60), bitext(40)
    batches = mixture_batches(MixtureBatchSampler([qa, bt], [3, 1], 8, alpha=0.3, seed=5), 4000)
    share = sum(b.source == 0 for b in batches) / len(batches)
    assert abs(share - 0.75) < 0.03
    for kind in ("qa-paragraph", "bitext"):
        of_kind = [b for b in batches if b.kind == kind]
        assert abs(sum(b.mode == "xx" for b in of_kind) / len(of_kind) - 0.3) < 0.04
    only_qa = mixture_batches(MixtureBatchSampler([qa, bt], [1, 0], 8, alpha=0.3, seed=5), 300)
    assert {b.source for b in only_qa} == {0}


def test_mixture_never_puts_two_ids_of_one_group_in_a_batch():
    qa = qa_pairs(60, shared=3)  # ids 0-2 share a paragraph, 3-5 the next, ...
    assert len(set(qa.group.values())) == 20
    for b in mixture_batches(MixtureBatchSampler([qa], None, 8, alpha=0.5, seed=1), 500):
        groups = [qa.group[i] for i, _, _ in b.pairs]
        assert len(groups) == len(set(groups))
        assert len(b.pairs) >= 2


def test_mixture_reseeds_per_epoch_and_epochs_reproduce():
    def make(seed):
        return MixtureBatchSampler([qa_pairs(60), bitext(40)], [1, 2], 8, alpha=0.5, seed=seed)

    a = make(11)
    first = list(a)
    assert first == list(make(11))
    a.set_epoch(1)
    second = list(a)
    assert second != first
    a.set_epoch(0)
    assert list(a) == first
    assert list(make(12)) != first
    assert len(first) == (60 + 40) // 8


def test_mixture_refuses_bad_settings():
    with pytest.raises(ValueError):
        MixtureBatchSampler([bitext(10)], [1], 1)
    with pytest.raises(ValueError):
        MixtureBatchSampler([bitext(10)], [1, 2], 4)
    with pytest.raises(ValueError):
        MixtureBatchSampler([bitext(10)], [1], 4, alpha=2)
    with pytest.raises(DataError):
        MixtureBatchSampler([bitext(1)], [1], 4)  # one id: no negative in any batch
