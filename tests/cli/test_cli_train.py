"""``hybridsearch data check``, ``train`` and ``evaluate`` run in-process on tiny inputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hybridsearch.cli import main

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "resources" / "examples" / "qa-example.jsonl"
XQUAD_DIR = REPO.parent / "shared" / "data" / "xquad-r"  # as in tests/conftest.py


def train_cli(out, model, *options: str) -> int:
    """``hybridsearch train`` on the example pairs, on the CPU, batch 4, 32 tokens, plus ``options``."""
    return main(["train", str(EXAMPLE), "--out", str(out), "--model", str(model), "--batch-size", "4",
                 "--max-length", "32", "--device", "cpu", *options])


def test_data_check_good_file(capsys):
    assert main(["data", "check", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "ids:       12" in out and "X-Y" in out


def test_data_check_bad_file_lists_every_line(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "lang": "en", "question": "Q?", "answer": "A."}\n'
                   '{"id": "1", "lang": "de", "question": "F?", "answer": ""}\n'
                   'not json\n'
                   '{"id": "1", "lang": "klingon", "question": "Q?", "answer": "A."}\n', encoding="utf-8")
    assert main(["data", "check", str(bad)]) == 2
    out = capsys.readouterr().out
    assert 'line 2: field "answer" is empty' in out
    assert "line 3: invalid JSON" in out
    assert 'line 4: unknown language code "klingon"' in out
    assert "3 problems" in out


def test_data_check_missing_file(tmp_path, capsys):
    assert main(["data", "check", str(tmp_path / "nope.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_train_refuses_bad_data_before_loading_a_model(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,lang,question,answer\n1,en,Q,A\n", encoding="utf-8")
    assert main(["train", str(bad), "--out", str(tmp_path / "m"), "--model", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "line 2" in err and "two languages" in err
    assert not (tmp_path / "m").exists()


def test_train_writes_overlay(tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "model"
    rc = train_cli(out, tiny_model_dir, "--steps", "3", "--dev-share", "0.25", "--lr", "1e-3")
    assert rc == 0
    captured = capsys.readouterr()
    assert "languages: 4 (de, en, es, fr)" in captured.out
    assert "only the CPU" in captured.err or "on the CPU" in captured.err
    assert "Model written to" in captured.out
    assert "overall" in captured.out and "mAP" in captured.out  # final dev table
    assert (out / "overlay.safetensors").is_file()
    card = json.loads((out / "hybridsearch.json").read_text())
    assert card["recipe"]["steps"] == 3 and card["recipe"]["batch_size"] == 4
    # the model is ready for search: its first search does not wait for the one-time export
    from hybridsearch.encoder.onnx_engine import engine_dir, is_exported
    from hybridsearch.encoder.runtime import model_files

    assert is_exported(engine_dir(model_files(out)))


def test_train_with_the_all_languages_term_warns_about_cpu_memory(tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "model"
    rc = train_cli(out, tiny_model_dir, "--steps", "2", "--dev-share", "0", "--all-languages-weight", "0.5")
    assert rc == 0
    err = capsys.readouterr().err
    assert "all 4 languages (16 passages a step)" in err and "memory" in err
    card = json.loads((out / "hybridsearch.json").read_text())
    assert card["recipe"]["all_languages_weight"] == 0.5


@pytest.mark.skipif(not (XQUAD_DIR / "en.json").is_file(), reason="XQuAD-R data not present")
def test_evaluate_xquad_slice(tmp_path, tiny_model_dir, capsys):
    report, table = tmp_path / "r.json", tmp_path / "t.csv"
    rc = main(["evaluate", str(tiny_model_dir), str(XQUAD_DIR), "--articles", "28-28",
               "--report", str(report), "--csv", str(table), "--device", "cpu"])
    assert rc == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    for lang in ("ar", "de", "en", "zh"):
        assert any(l.startswith(lang + " ") for l in lines), out
    overall = next(l for l in lines if l.startswith("overall"))
    assert len(overall.split()) == 6  # mAP, mono MRR, cross MRR, rank distance, QLF rate
    metrics = json.loads(report.read_text())["metrics"]
    assert metrics["n_languages"] == 11 and 0 <= metrics["map"] <= 1
    assert table.read_text().splitlines()[0].startswith("language,map")


def test_evaluate_articles_only_for_xquad(tmp_path, capsys):
    assert main(["evaluate", "base", str(EXAMPLE), "--articles", "28-35"]) == 2
    assert "XQuAD-R" in capsys.readouterr().err
    assert main(["evaluate", "base", str(EXAMPLE), "--articles", "x-y"]) == 2


@pytest.mark.slow
def test_train_real_base_model_three_steps(tmp_path, capsys):
    """3 real steps on multilingual-e5-small (CPU): finite losses, an overlay that loads and encodes."""
    import math

    from hybridsearch.encoder import Encoder
    from trainer.qa import load_parallel_qa
    from trainer.train import TrainConfig, train

    out = tmp_path / "model"
    cfg = TrainConfig(model="base", out_dir=str(out), steps=3, batch_size=4, max_length=48,
                      dev_share=0.0, device="cpu")
    seen = []
    train(cfg, load_parallel_qa(EXAMPLE), on_progress=seen.append)
    assert [p.step for p in seen] == [1, 2, 3]
    assert all(math.isfinite(p.loss) and p.loss > 0 for p in seen)
    assert (out / "overlay.safetensors").is_file()
    vec = Encoder(out, device="cpu").encode(["Wann ist das Büro geschlossen?"], kind="query")
    assert vec.shape == (1, 384)
    # and the command line accepts --model base
    rc = main(["train", str(EXAMPLE), "--out", str(tmp_path / "cli"), "--model", "base", "--steps", "1",
               "--batch-size", "4", "--max-length", "48", "--dev-share", "0", "--device", "cpu"])
    assert rc == 0 and (tmp_path / "cli" / "overlay.safetensors").is_file()


def test_train_resumes_from_a_checkpoint(tmp_path, tiny_model_dir, capsys):
    """A cancelled run leaves a checkpoint; the same command continues from it and says so."""
    from hybridsearch.progress import CancelToken
    from trainer.qa import load_parallel_qa
    from trainer.train import TrainConfig, train

    out = tmp_path / "model"
    cancel = CancelToken()
    cfg = TrainConfig(model=str(tiny_model_dir), out_dir=str(out), steps=4, batch_size=4, max_length=32,
                      dev_share=0.0, device="cpu", lr=5e-3)
    train(cfg, load_parallel_qa(EXAMPLE), on_progress=lambda p: cancel.cancel(), cancel=cancel)
    assert (out / "checkpoint" / "state.json").is_file()
    rc = train_cli(out, tiny_model_dir, "--steps", "4", "--dev-share", "0", "--lr", "1e-3")
    assert rc == 0
    captured = capsys.readouterr()
    assert "Resuming from the checkpoint" in captured.out and "at step 1" in captured.out
    assert "lr 0.005 -> 0.001" in captured.err  # changed options are pointed out
    assert "CPU time estimate" in captured.out
    assert not (out / "checkpoint").exists()


def test_ctrl_c_saves_a_checkpoint_and_says_how_to_resume(tmp_path, tiny_model_dir, capsys, monkeypatch):
    """Ctrl-C (SIGINT) during step 1 stops the run after that step, with a resumable checkpoint."""
    import signal

    import trainer.train as train_mod

    real_train = train_mod.train

    def train_with_ctrl_c(cfg, data, on_progress=None, cancel=None, eval_data=None):
        def progress(p):
            on_progress(p)
            if p.step == 1:
                signal.raise_signal(signal.SIGINT)
        return real_train(cfg, data, on_progress=progress, cancel=cancel, eval_data=eval_data)

    monkeypatch.setattr(train_mod, "train", train_with_ctrl_c)
    out = tmp_path / "model"
    before = signal.getsignal(signal.SIGINT)
    rc = train_cli(out, tiny_model_dir, "--steps", "20", "--dev-share", "0")
    assert rc == 130
    stdout = capsys.readouterr().out
    assert "Stopped at step 1" in stdout and "Resume with: hybridsearch train" in stdout
    state = json.loads((out / "checkpoint" / "state.json").read_text())
    assert state["step"] == 1
    assert signal.getsignal(signal.SIGINT) is before  # the app's own handler is back


def test_train_options_reach_the_config():
    """Every documented option lands in TrainConfig; bad values are refused with a clear message."""
    from hybridsearch.cli import build_parser
    from hybridsearch.errors import HybridSearchError
    from hybridsearch.cli.train import _config_from_args

    args = build_parser().parse_args([
        "train", "d.jsonl", "--out", "o", "--model", "m", "--alpha", "0.3", "--epochs", "2",
        "--batch-size", "16", "--lr", "1e-4", "--temperature", "0.02", "--max-length", "64",
        "--no-freeze-embeddings", "--train-layers", "4", "--symmetric", "--align-weight", "0.5", "--hard-negatives",
        "--hard-negative-language", "both", "--all-questions-weight", "0.3", "--all-languages-weight", "0.7", "--dev-share", "0.2",
        "--seed", "5", "--eval-every", "10", "--grad-accum", "2", "--device", "cpu", "--no-resume"])
    cfg = _config_from_args(args)
    assert (cfg.model, cfg.out_dir, cfg.alpha, cfg.steps, cfg.epochs) == ("m", "o", 0.3, None, 2.0)
    assert (cfg.batch_size, cfg.lr, cfg.temperature, cfg.max_length) == (16, 1e-4, 0.02, 64)
    assert not cfg.freeze_embeddings and cfg.train_layers == 4 and cfg.symmetric
    assert cfg.align_weight == 0.5 and cfg.hard_negatives and cfg.all_languages_weight == 0.7
    assert cfg.hard_negative_language == "both" and cfg.all_questions_weight == 0.3
    assert (cfg.dev_share, cfg.seed, cfg.eval_every, cfg.grad_accum, cfg.device) == (0.2, 5, 10, 2, "cpu")
    assert cfg.resume is False
    defaults = _config_from_args(build_parser().parse_args(["train", "d.jsonl", "--out", "o"]))
    assert defaults.steps == 300 and defaults.resume and defaults.freeze_embeddings and defaults.model == "base"
    assert not defaults.hard_negatives and defaults.align_weight == 0.0 and defaults.all_languages_weight == 0.0
    assert defaults.hard_negative_language == "question" and defaults.all_questions_weight == 0.0
    with pytest.raises(HybridSearchError, match="alpha"):
        _config_from_args(build_parser().parse_args(["train", "d", "--out", "o", "--alpha", "1.5"]))
    with pytest.raises(HybridSearchError, match="align-weight"):
        _config_from_args(build_parser().parse_args(["train", "d", "--out", "o", "--align-weight", "-1"]))
    with pytest.raises(HybridSearchError, match="all-languages-weight"):
        _config_from_args(build_parser().parse_args(["train", "d", "--out", "o", "--all-languages-weight", "-1"]))
    with pytest.raises(HybridSearchError, match="all-questions-weight"):
        _config_from_args(build_parser().parse_args(["train", "d", "--out", "o", "--all-questions-weight", "-1"]))
    with pytest.raises(HybridSearchError, match="batch-size"):
        _config_from_args(build_parser().parse_args(["train", "d", "--out", "o", "--batch-size", "1"]))
    with pytest.raises(SystemExit):  # --steps and --epochs exclude each other
        build_parser().parse_args(["train", "d", "--out", "o", "--steps", "3", "--epochs", "1"])


def test_evaluate_json_on_a_qa_file(tiny_model_dir, capsys):
    assert main(["evaluate", str(tiny_model_dir), str(EXAMPLE), "--json", "--device", "cpu"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["n_queries"] == 39 and metrics["n_languages"] == 4
    for key in ("map", "mono_mrr", "cross_mrr", "rank_distance", "qlf_rate", "de_map", "en_fr_mrr"):
        assert key in metrics


def test_train_reports_bad_eval_data_lines(tmp_path, capsys):
    bad = tmp_path / "dev.tsv"
    bad.write_text("id\tlang\tquestion\tanswer\n1\ten\tQ\tA\n1\txx\tQ\tA\n", encoding="utf-8")
    rc = main(["train", str(EXAMPLE), "--out", str(tmp_path / "m"), "--eval-data", str(bad)])
    assert rc == 2
    err = capsys.readouterr().err
    assert 'line 3: unknown language code "xx"' in err and "Nothing was trained" in err


def test_train_with_mined_negatives(tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "mined"
    assert train_cli(out, tiny_model_dir, "--steps", "2", "--dev-share", "0.25", "--mine-negatives", "3",
                     "--mine-same-language") == 0
    assert "Mining hard negatives" in capsys.readouterr().out
    card = json.loads((out / "hybridsearch.json").read_text())
    assert card["recipe"]["mine_negatives"] == 3 and card["recipe"]["mine_same_language"] is True
    assert train_cli(tmp_path / "bad", tiny_model_dir, "--mine-negatives", "-1") == 2
    assert "--mine-negatives must be 0 or more" in capsys.readouterr().err


def test_evaluate_calibrates_and_saves_the_same_language_offset(tmp_path, tiny_model_dir, capsys):
    model = tmp_path / "m"
    shutil.copytree(tiny_model_dir, model)
    assert main(["evaluate", str(model), str(EXAMPLE), "--calibrate", "--save-offset", "--json",
                 "--device", "cpu"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["map_calibrated"] >= metrics["map"] and metrics["language_offset"] == 0.0
    assert metrics["feedback"] == 1.0 and "map_language_fair" in metrics  # search's feedback is reported
    card = json.loads((model / "hybridsearch.json").read_text())
    assert card["language_offset"] == round(metrics["calibrated_offset"], 4)
    assert card["name"] == "tiny-test-bert" and card["language_offset_data"] == str(EXAMPLE)
    # from now on the model evaluates (and searches) with it; --language-offset overrides it
    card["language_offset"] = 0.03
    (model / "hybridsearch.json").write_text(json.dumps(card))
    assert main(["evaluate", str(model), str(EXAMPLE), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    row = [l for l in out.splitlines() if l.startswith("language-fair ")]
    assert row and "same-language offset 0.0300, cross-language feedback" in row[0]
    assert main(["evaluate", str(model), str(EXAMPLE), "--device", "cpu", "--language-offset", "0"]) == 0
    row = [l for l in capsys.readouterr().out.splitlines() if l.startswith("language-fair ")]
    assert row and "offset" not in row[0] and "cross-language feedback" in row[0]
    assert main(["evaluate", str(model), str(EXAMPLE), "--device", "cpu", "--language-offset", "0",
                 "--no-feedback"]) == 0
    assert "language-fair" not in capsys.readouterr().out


def test_save_offset_needs_a_model_directory_and_calibration(capsys):
    assert main(["evaluate", "base", str(EXAMPLE), "--calibrate", "--save-offset"]) == 2
    assert "not a model directory" in capsys.readouterr().err
    assert main(["evaluate", "base", str(EXAMPLE), "--save-offset"]) == 2
    assert "--save-offset needs --calibrate" in capsys.readouterr().err
    assert main(["evaluate", "base", str(EXAMPLE), "--language-offset", "1"]) == 2
    assert "from 0 to 0.2" in capsys.readouterr().err
