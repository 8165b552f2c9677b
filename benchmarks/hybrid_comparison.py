"""Reproduce the hybrid-batch-training comparison on XQuAD-R and print the dev table.

Trains X-X only, X-Y only and hybrid (plus extra variants) from the same base with the same
budget on articles 0-27 and evaluates each on articles 28-35 (LAReQA protocol), with the untrained
base as the first row. Results go to ``--out`` (one folder per run, ``table.json``, ``table.md``).

    python -m benchmarks.hybrid_comparison --out runs/compare --steps 300
    python -m benchmarks.hybrid_comparison --only hybrid-a0.5 --steps 30   # a quick look
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from benchmarks.common import XQUAD_DIR
from hybridsearch.records import SUMMARY_KEYS as COLUMNS
from trainer.evaluate import evaluate_model
from trainer.qa import load_xquad_r
from trainer.train import TrainConfig, train

#: name -> overrides of the shared recipe
VARIANTS = {
    "xx": {"alpha": 1.0},
    "xy": {"alpha": 0.0},
    "hybrid-a0.5": {"alpha": 0.5},
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(XQUAD_DIR))
    ap.add_argument("--out", default="runs/compare")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--temperature", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--only", nargs="*", help="run only these variants")
    ap.add_argument("--extra", action="append", default=[],
                    help='extra variant as NAME:JSON, e.g. \'a0.3-lr1e-4:{"alpha":0.3,"lr":1e-4}\'')
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=None,
                    help="CPU threads (1 avoids thread thrashing on a busy machine)")
    args = ap.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    variants = dict(VARIANTS)
    for spec in args.extra:
        name, js = spec.split(":", 1)
        variants[name] = json.loads(js)
    if args.only:  # in the order given
        variants = {k: variants[k] for k in args.only}

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train_data = load_xquad_r(args.data, articles=range(0, 28))
    dev = load_xquad_r(args.data, articles=range(28, 36))
    table = json.loads((out / "table.json").read_text()) if (out / "table.json").is_file() else {}

    if "base" not in table:
        t = time.time()
        table["base"] = {"metrics": evaluate_model("base", dev, device=args.device), "seconds": time.time() - t}
        _save(out, table)
    for name, overrides in variants.items():
        if name in table:
            continue
        recipe = dict(model="base", out_dir=str(out / name), steps=args.steps, batch_size=args.batch_size,
                      lr=args.lr, temperature=args.temperature, seed=args.seed, max_length=args.max_length, eval_every=args.steps,
                      dev_share=0.0, device=args.device, name=name)
        recipe.update(overrides)
        cfg = TrainConfig(**recipe)
        t = time.time()
        speeds = []

        def log(p, name=name):
            speeds.append(p.pairs_per_s)
            if p.step % 25 == 0 or p.dev_metrics:
                m = p.dev_metrics
                dev_map = (f" dev mAP {m['map']:.3f} mono {m['mono_mrr']:.3f} cross {m['cross_mrr']:.3f}"
                           f" qlf {m['qlf_rate']:.3f}") if m else ""
                print(f"{name}: step {p.step}/{p.total_steps} loss {p.loss:.3f} "
                      f"{p.pairs_per_s:.1f} pairs/s{dev_map}", flush=True)

        result = train(cfg, train_data, eval_data=dev, on_progress=log)
        table[name] = {"metrics": result.best_metrics, "seconds": time.time() - t,
                       "pairs_per_s": speeds[-1] if speeds else None, "recipe": recipe}
        _save(out, table)
        print(_markdown(table), flush=True)
    print(_markdown(table))
    return 0


def _markdown(table: dict) -> str:
    lines = ["| run | " + " | ".join(COLUMNS) + " | train s | pairs/s |",
             "|---|" + "---|" * (len(COLUMNS) + 2)]
    for name, row in table.items():
        m = row["metrics"]
        cells = [f"{m[c]:.3f}" if c != "rank_distance" else f"{m[c]:.0f}" for c in COLUMNS]
        sec = f"{row['seconds']:.0f}" if name != "base" else "-"
        pps = f"{row['pairs_per_s']:.1f}" if row.get("pairs_per_s") else "-"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {sec} | {pps} |")
    return "\n".join(lines)


def _save(out: Path, table: dict) -> None:
    (out / "table.json").write_text(json.dumps(table, indent=2))
    (out / "table.md").write_text(_markdown(table) + "\n")


if __name__ == "__main__":
    sys.exit(main())
