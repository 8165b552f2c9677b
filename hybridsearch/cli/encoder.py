"""``hybridsearch encode`` and ``hybridsearch model info``."""

from __future__ import annotations

import argparse
import json

import numpy as np

from hybridsearch.encoder import load_encoder, resolve_model
from hybridsearch.encoder.runtime import model_files
from hybridsearch.records import SUMMARY_COLUMNS


def positive_int(text: str) -> int:
    """argparse type: a whole number of 1 or more (a clear usage error otherwise, not a traceback)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def device_name(text: str) -> str:
    """argparse type: auto, cpu, cuda, cuda:N or mps."""
    t = text.strip().lower()
    if t in ("auto", "cpu", "cuda", "mps") or (t.startswith("cuda:") and t[5:].isdigit()):
        return t
    raise argparse.ArgumentTypeError(f"unknown device {text!r}: use auto, cpu, cuda, cuda:N or mps")


def add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="default",
                   help="'default' (bundled hybrid-trained model), 'base', or a model directory")
    p.add_argument("--device", type=device_name, default="auto",
                   help="auto (CUDA > MPS > CPU), cpu, cuda, cuda:1, mps")
    p.add_argument("--threads", type=positive_int, default=None, help="CPU threads for the encoder")


def register(sub) -> None:
    p = sub.add_parser("encode", help="encode texts and print vectors or their similarities")
    p.add_argument("texts", nargs="+", help="texts to encode")
    p.add_argument("--kind", choices=["query", "passage"], default="query")
    p.add_argument("--similarities", action="store_true",
                   help="print the cosine similarity matrix instead of the vectors")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    add_model_options(p)
    p.set_defaults(func=cmd_encode)

    m = sub.add_parser("model", help="model commands")
    msub = m.add_subparsers(dest="model_command", metavar="SUBCOMMAND", required=True)
    info = msub.add_parser("info", help="print the model card and shape of a model")
    info.add_argument("--model", default="default")
    info.add_argument("--json", action="store_true")
    info.set_defaults(func=cmd_model_info)


def cmd_encode(args) -> int:
    enc = load_encoder(args.model, device=args.device, threads=args.threads)
    vecs = enc.encode(args.texts, kind=args.kind)
    if args.similarities:
        sims = vecs @ vecs.T
        if args.json:
            print(json.dumps({"texts": args.texts, "similarities": np.round(sims, 4).tolist()},
                             ensure_ascii=False))
            return 0
        width = max(len(t[:30]) for t in args.texts)
        for t, row in zip(args.texts, sims):
            print(f"{t[:30]:<{width}}  " + "  ".join(f"{v:6.3f}" for v in row))
        return 0
    if args.json:
        print(json.dumps({"model": enc.name, "dim": enc.dim,
                          "vectors": np.round(vecs, 6).tolist()}, ensure_ascii=False))
        return 0
    for t, v in zip(args.texts, vecs):
        head = " ".join(f"{x:+.4f}" for x in v[:8])
        print(f"{t[:40]!r}: [{head} ...] dim={enc.dim}")
    return 0


def cmd_model_info(args) -> int:
    files = model_files(resolve_model(args.model))
    cfg = json.loads((files.weights_dir / "config.json").read_text())
    info = {
        "name": files.name,
        "directory": str(files.overlay.parent if files.overlay else files.weights_dir),
        "base_weights": str(files.weights_dir),
        "overlay": str(files.overlay) if files.overlay else None,
        "architecture": cfg.get("model_type"), "layers": cfg.get("num_hidden_layers"),
        "dim": cfg.get("hidden_size"), "vocab_size": cfg.get("vocab_size"),
        "card": files.card,
    }
    if args.json:
        print(json.dumps(info, indent=2, ensure_ascii=False))
        return 0
    for key in ("name", "directory", "overlay", "architecture", "layers", "dim", "vocab_size"):
        if info[key] is not None:
            print(f"{key:>13}: {info[key]}")
    card = files.card
    for key in ("base", "training", "data", "recipe"):
        if key in card:
            val = card[key] if isinstance(card[key], str) else json.dumps(card[key], ensure_ascii=False)
            print(f"{key:>13}: {val}")
    if card.get("language_offset"):
        where = f" (chosen on {card['language_offset_data']})" if card.get("language_offset_data") else ""
        print(f"{'search':>13}: takes {card['language_offset']} from the cosine of passages in the query's "
              f"language{where}")
    if "evaluation" in card:
        rows = card["evaluation"] if isinstance(card["evaluation"], list) else [card["evaluation"]]
        print(f"   evaluation: {card.get('evaluation_data', '')}")
        print(_evaluation_table(rows))
        if card.get("evaluation_note"):
            print(f"         note: {card['evaluation_note']}")
    return 0


def _evaluation_table(rows: list) -> str:
    """The model card's evaluation rows as an aligned table (unknown shapes fall back to JSON)."""
    if not all(isinstance(r, dict) and "run" in r for r in rows):
        return "\n".join("     " + json.dumps(r, ensure_ascii=False) for r in rows)
    width = max(len(str(r["run"])) for r in rows) + 2
    lines = ["     " + "run".ljust(width) + "".join(f"{h:>11}" for _, h in SUMMARY_COLUMNS) + "   recipe"]
    for r in rows:
        cells = "".join(f"{r[k]:>11.4f}" if isinstance(r.get(k), (int, float)) else f"{'-':>11}"
                        for k, _ in SUMMARY_COLUMNS)
        extra = " ".join(f"{k}={r[k]}" for k in ("alpha", "steps", "batch_size", "lr", "temperature", "measured")
                         if k in r)
        lines.append("     " + str(r["run"]).ljust(width) + cells + "   " + extra)
    return "\n".join(lines)
