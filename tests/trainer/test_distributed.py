"""Training under torchrun: several processes share one global batch and give the one-process result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hybridsearch.cli import main
from trainer.distributed import Dist

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "resources" / "examples" / "qa-example.jsonl"


def test_one_process_is_a_pass_through(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    d = Dist.from_env()
    assert not d.enabled and d.main
    items = list(range(7))
    assert d.shard(items) is items
    assert d.any(True) and not d.any(False)


def test_slices_in_rank_order_rebuild_every_list():
    for n in (3, 4, 7, 16):
        parts = [Dist(world=3, rank=r).shard(list(range(n))) for r in range(3)]
        assert sum(parts, []) == list(range(n))
        assert all(parts)  # every process gets at least one text when there are enough


def _with_passages(tmp_path: Path) -> Path:
    rows = [json.loads(line) for line in EXAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps({**r, "context": f"A note first. {r['answer']} More below."},
                                       ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_two_processes_train_like_one(tmp_path, tiny_model_dir):
    """torchrun with 2 CPU processes (gloo): same weights as one process on the same global batches,
    with hard negatives and the all-languages term, whose lists split unevenly across processes."""
    from safetensors.numpy import load_file

    import shutil

    data = _with_passages(tmp_path)
    model = tmp_path / "tiny-no-dropout"  # dropout draws differ between 1 and 2 processes
    shutil.copytree(tiny_model_dir, model)
    config = json.loads((model / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (model / "config.json").write_text(json.dumps(config))
    options = ["--model", str(model), "--batch-size", "5", "--max-length", "32", "--device", "cpu",
               "--steps", "3", "--dev-share", "0", "--lr", "1e-2", "--hard-negatives",
               "--all-languages-weight", "0.5",
               "--no-mixed-precision"]  # bf16 rounding would differ with the slices
    assert main(["train", str(data), "--out", str(tmp_path / "one"), *options]) == 0
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          "-m", "hybridsearch", "train", str(data), "--out", str(tmp_path / "two"), *options],
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("Model written to") == 1  # rank 0 speaks for both processes
    one, two = load_file(str(tmp_path / "one" / "overlay.safetensors")), \
        load_file(str(tmp_path / "two" / "overlay.safetensors"))
    base = load_file(str(model / "model.safetensors"))
    assert one.keys() == two.keys()
    import numpy as np

    def distance(a, b):  # over all trained parameters
        return float(np.sqrt(sum(((a[k].astype("float32") - b[k].astype("float32")) ** 2).sum() for k in one)))

    moved, apart = distance(one, base), distance(one, two)
    assert moved > 0.1  # training changed the weights ...
    assert apart < moved / 20  # ... and both runs changed them alike
