"""The training loop on a tiny random BERT: loss falls, cancel/resume, overlay output."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
from safetensors.torch import load_file

from hybridsearch.progress import CancelToken
from trainer.evaluate import OFFSET_GRID
from trainer.qa import ParallelQA, QARow
from trainer.train import CHECKPOINT, TrainConfig, train

LANG_WORDS = {"en": ("where is", "it is in"), "de": ("wo ist", "es ist in"), "es": ("dónde está", "está en")}


SYLLABLES = ["ka", "lo", "mi", "ru", "te", "zo", "ba", "ne", "fi", "gu", "pa", "so"]


def nonsense_word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(3))


def toy_data(n_ids: int = 40, seed: int = 0) -> ParallelQA:
    """n_ids made-up pairs in 3 languages: a nonsense name in the question, its place in the answer."""
    rng = random.Random(seed)
    rows = []
    for i in range(n_ids):
        name, place = nonsense_word(rng), nonsense_word(rng)
        for lang, (q, a) in LANG_WORDS.items():
            rows.append(QARow(f"id{i}", lang, f"{q} {name}?", f"{name} {a} {place}."))
    return ParallelQA(rows, "toy")


def trained_embedder(out_dir):
    """texts -> L2-normalised vectors [n, d] with the model a run wrote to ``out_dir``."""
    import torch
    from hybridsearch.encoder.runtime import embed_ids, load_bert, model_files

    model, tok = load_bert(model_files(out_dir))
    model.eval()
    tok.no_padding()

    def embed(texts: list[str]):
        with torch.inference_mode():
            return embed_ids(model, [e.ids for e in tok.encode_batch(texts)], 0, "cpu")
    return embed


def config(tmp_path, tiny_model_dir, **kw) -> TrainConfig:
    base = dict(model=str(tiny_model_dir), out_dir=str(tmp_path / "out"), steps=12, batch_size=8,
                lr=2e-3, temperature=0.1, alpha=0.5, max_length=32, dev_share=0.0, eval_every=1000,
                device="cpu", warmup=0.0, mixed_precision=False)
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir):
    """One 12-step run shared by the tests that inspect its result."""
    tmp = tmp_path_factory.mktemp("train")
    seen = []
    cfg = config(tmp, tiny_model_dir, dev_share=0.2, eval_every=6)
    result = train(cfg, toy_data(), on_progress=seen.append)
    return cfg, result, seen


def test_loss_falls_and_run_completes(trained):
    cfg, result, seen = trained
    assert [p.step for p in seen] == list(range(1, 13))
    assert all(p.total_steps == 12 for p in seen)
    losses = [p.loss for p in seen]
    assert all(math.isfinite(l) for l in losses)
    assert np.mean(losses[-4:]) < np.mean(losses[:4]) - 0.2, losses
    assert not result.cancelled
    assert [h["step"] for h in result.history] == [6, 12]  # dev evaluations
    assert result.best_step in (6, 12) and 0 < result.best_metrics["map"] <= 1
    assert not (result.out_dir / CHECKPOINT).exists()  # finished runs clean up their checkpoint


def test_overlay_changes_weights_but_not_frozen_embeddings(trained, tiny_model_dir):
    cfg, result, _ = trained
    original = load_file(str(tiny_model_dir / "model.safetensors"))
    overlay = load_file(str(result.out_dir / "overlay.safetensors"))
    assert "embeddings.word_embeddings.weight" not in overlay
    key = "encoder.layer.1.attention.self.query.weight"
    assert key in overlay
    assert (overlay[key].float() - original[key]).abs().max() > 1e-2  # far beyond fp16 rounding
    card = json.loads((result.out_dir / "hybridsearch.json").read_text())
    assert card["recipe"]["alpha"] == 0.5 and card["best_step"] == result.best_step
    assert card["base_model_dir"] == str(tiny_model_dir.resolve())
    # the same-language offset search will use, chosen on the dev split
    assert card["language_offset"] == result.best_metrics["calibrated_offset"] in OFFSET_GRID
    assert result.best_metrics["map_calibrated"] >= result.best_metrics["map"]


def test_overlay_model_loads_and_encodes(trained, tiny_model_dir):
    import torch

    from hybridsearch.encoder import Encoder

    _, result, _ = trained
    enc = Encoder(result.out_dir, device="cpu", max_length=32)
    vecs = enc.encode(["where is kalomi?", "wo ist kalomi?"], kind="query")
    assert vecs.shape == (2, 32) and np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    before = Encoder(tiny_model_dir, device="cpu", max_length=32)
    assert not np.allclose(vecs, before.encode(["where is kalomi?", "wo ist kalomi?"], kind="query"), atol=1e-3)
    # the frozen word embeddings are exactly the base model's
    assert torch.equal(enc.model.embeddings.word_embeddings.weight,
                       before.model.embeddings.word_embeddings.weight)


def test_cancel_then_resume(tmp_path, tiny_model_dir):
    cancel = CancelToken()
    steps = []

    def stop_at_2(p):
        steps.append(p.step)
        if p.step == 2:
            cancel.cancel()

    cfg = config(tmp_path, tiny_model_dir, steps=5)
    result = train(cfg, toy_data(16), on_progress=stop_at_2, cancel=cancel)
    assert result.cancelled
    assert max(steps) <= 3
    ckpt = tmp_path / "out" / CHECKPOINT
    state = json.loads((ckpt / "state.json").read_text())
    assert state["step"] == 2
    assert (tmp_path / "out" / "overlay.safetensors").is_file()

    resumed = []
    result2 = train(cfg, toy_data(16), on_progress=lambda p: resumed.append(p.step))
    assert not result2.cancelled
    assert resumed == [3, 4, 5]
    assert not ckpt.exists()


@pytest.mark.slow
def test_continuing_from_an_overlay_of_the_base_stays_portable(tmp_path, base_model_dir):
    """An overlay trained from another overlay of multilingual-e5-small names the base by name,
    not by this machine's path, so the model directory can be copied to another computer."""
    import torch
    from safetensors.torch import save_file

    first = tmp_path / "first"
    first.mkdir()
    ln = load_file(str(base_model_dir / "model.safetensors"))["embeddings.LayerNorm.weight"]
    save_file({"embeddings.LayerNorm.weight": (ln * 1.01).to(torch.float16).contiguous()},
              str(first / "overlay.safetensors"))
    (first / "hybridsearch.json").write_text(json.dumps({"name": "first", "base_model": "multilingual-e5-small"}))
    cfg = TrainConfig(model=str(first), out_dir=str(tmp_path / "second"), steps=1, batch_size=2,
                      max_length=16, dev_share=0.0, device="cpu", train_layers=1)
    train(cfg, toy_data(4))
    card = json.loads((tmp_path / "second" / "hybridsearch.json").read_text())
    assert card["base_model"] == "multilingual-e5-small" and "base_model_dir" not in card
    assert "embeddings.LayerNorm.weight" in load_file(str(tmp_path / "second" / "overlay.safetensors"))


def test_long_texts_fit_a_model_with_few_positions(tmp_path, tiny_model_dir):
    """Texts longer than the model's position table (128 here) are cut there, not crashed on."""
    long = ParallelQA([QARow(r.id, r.lang, r.question, " ".join([r.answer] * 60)) for r in toy_data(12).rows], "long")
    result = train(config(tmp_path, tiny_model_dir, steps=2, eval_every=2, max_length=256), long, eval_data=long)
    assert 0.0 <= result.best_metrics["map"] <= 1.0


def test_translation_twins_pair_answers_with_the_question_language():
    """The alignment partner of an X-Y answer is its translation in the question's language; an X-X
    answer gets a translation in another language; the draw is seeded by (seed, step)."""
    from trainer.train import translation_twins

    langs_of = {"a": ["de", "en", "es"], "b": ["de", "en", "es"], "c": ["en"]}
    batch = [("a", "en", "de"), ("b", "es", "es"), ("c", "en", "en")]
    twins = translation_twins(batch, langs_of, seed=0, step=3)
    assert twins[0] == ("a", "en")
    assert twins[1][0] == "b" and twins[1][1] in ("de", "en")
    assert twins[2] == ("c", "en")  # no translation: the answer itself (a no-op pair)
    assert twins == translation_twins(batch, langs_of, seed=0, step=3)
    draws = {translation_twins(batch, langs_of, seed=0, step=s)[1][1] for s in range(40)}
    assert draws == {"de", "en"}


def test_alignment_term_brings_translations_closer(tmp_path, tiny_model_dir):
    """With the alignment term the answers' translations end up closer to each other than without."""
    data = toy_data(24)

    def translation_similarity(out_dir) -> float:
        embed = trained_embedder(out_dir)
        sims = []
        for i in range(24):
            v = embed(["passage: " + r.answer for r in data.rows if r.id == f"id{i}"])
            sims.append(float((v @ v.T).mean()))
        return float(np.mean(sims))

    plain = train(config(tmp_path / "p", tiny_model_dir, steps=20), data).out_dir
    aligned = train(config(tmp_path / "a", tiny_model_dir, steps=20, align_weight=2.0), data).out_dir
    assert translation_similarity(aligned) > translation_similarity(plain) + 0.01


def test_hard_negatives_teach_the_answer_from_its_neighbour(tmp_path, tiny_model_dir):
    """Each answer's passage also says where the person was born (same name, another place). In-batch
    negatives never show that sentence; with hard negatives the model learns to rank the answer above
    it, so the question-answer margin over the neighbour grows."""
    rng = random.Random(1)
    born = {"en": "was born in", "de": "wurde geboren in", "es": "nació en"}
    rows = []
    for i in range(24):
        name, place, home = nonsense_word(rng), nonsense_word(rng), nonsense_word(rng)
        for lang, (q, a) in LANG_WORDS.items():
            answer = f"{name} {a} {place}."
            rows.append(QARow(f"id{i}", lang, f"{q} {name}?", answer, f"{answer} {name} {born[lang]} {home}."))
    data = ParallelQA(rows, "toy-context")

    def margin(out_dir) -> float:
        embed = trained_embedder(out_dir)
        out = []
        for r in rows:
            neighbour = r.context[len(r.answer) + 1:]
            v = embed(["query: " + r.question, "passage: " + r.answer, "passage: " + neighbour])
            out.append(float(v[0] @ v[1] - v[0] @ v[2]))
        return float(np.mean(out))

    plain = margin(train(config(tmp_path / "p", tiny_model_dir, steps=20), data).out_dir)
    hard = margin(train(config(tmp_path / "h", tiny_model_dir, steps=20, hard_negatives=True), data).out_dir)
    assert hard > plain + 0.05, (plain, hard)


def test_all_language_answers_list_every_translation_of_each_pair():
    from trainer.train import all_language_answers

    langs_of = {"a": ["de", "en", "es"], "b": ["en", "es"]}
    keys, pos = all_language_answers([("a", "en", "en"), ("b", "es", "en")], langs_of)
    assert keys == [("a", "de"), ("a", "en"), ("a", "es"), ("b", "en"), ("b", "es")]
    assert pos == [[True, True, True, False, False], [False, False, False, True, True]]


@pytest.mark.parametrize("term", ["all_languages_weight", "all_questions_weight"])
def test_all_languages_terms_lower_language_bias(tmp_path, tiny_model_dir, term):
    """Trained on X-X batches only, the toy model scores a question's answer in its own language well
    above the same answer in the other languages. The all-languages term (every answer translation
    a positive of the question) narrows that gap, and so does its mirror, the all-questions term
    (every question translation a positive of the answer)."""
    data = toy_data(24)

    def same_language_gap(out_dir) -> float:
        embed = trained_embedder(out_dir)
        gaps = []
        for i in range(24):
            rows = [r for r in data.rows if r.id == f"id{i}"]
            q = embed(["query: " + r.question for r in rows])
            a = embed(["passage: " + r.answer for r in rows])
            s = (q @ a.T).numpy()
            gaps.append(float(np.diag(s).mean() - s[~np.eye(len(rows), dtype=bool)].mean()))
        return float(np.mean(gaps))

    plain = same_language_gap(train(config(tmp_path / "p", tiny_model_dir, steps=20, alpha=1.0), data).out_dir)
    mixed = same_language_gap(train(config(tmp_path / "m", tiny_model_dir, steps=20, alpha=1.0,
                                           **{term: 2.0}), data).out_dir)
    assert mixed < 0.85 * plain, (plain, mixed)


def test_cancel_while_mining_negatives_stops_before_training(tmp_path, tiny_model_dir):
    """Mining encodes every question and candidate first (minutes on a CPU); a cancel then stops
    it at the next batch, and no model or checkpoint is written."""
    class CancelledDuringMining(CancelToken):
        def raise_if_cancelled(self):
            self.cancel()  # the person clicks Cancel as the first encoding batch is due
            super().raise_if_cancelled()

    steps = []
    cfg = config(tmp_path, tiny_model_dir, steps=5, mine_negatives=2)
    result = train(cfg, toy_data(16), on_progress=lambda p: steps.append(p.step), cancel=CancelledDuringMining())
    assert result.cancelled and steps == [] and result.best_step == 0
    assert not (tmp_path / "out" / "overlay.safetensors").exists()
    assert not (tmp_path / "out" / CHECKPOINT).exists()
