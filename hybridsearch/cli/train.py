"""``hybridsearch train``, ``hybridsearch evaluate`` and ``hybridsearch data check``: the trainer
from the command line (option defaults come from :class:`trainer.config.TrainConfig`).

Each command imports the trainer modules it runs when it runs (only the light ``config`` and
``samplers`` are imported here), so ``hybridsearch`` and its other commands start without them.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from hybridsearch.errors import DataError, HybridSearchError, InputError
from hybridsearch.progress import format_duration
from hybridsearch.records import SUMMARY_COLUMNS
from trainer.config import DEFAULTS, TrainConfig
from trainer.qa import detect, load_pair_sets, load_parallel_qa, load_xquad_r, split_selector
from trainer.qa.checks import format_problems
from trainer.qa.loader import looks_like_squad
from trainer.qa.loader import parse_articles as parse_article_indices
from trainer.qa.mixture import load_mixture, load_source, parse_source
from trainer.qa.records import KINDS
from trainer.samplers import HARD_NEGATIVE_LANGUAGES


def register(sub) -> None:
    t = sub.add_parser("train", help="fine-tune the encoder on parallel QA pairs (hybrid batch training)",
                       description="Fine-tune a multilingual encoder with hybrid batch training: each "
                                   "batch is X-X (one language) with probability --alpha, else X-Y.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("data", nargs="?", default=None,
                   help="parallel QA file (.jsonl, .csv, .tsv; see docs/qa-format.md) or an XQuAD-R folder "
                        "(XQuAD-R: FOLDER#0-27 picks articles); or give --source instead")
    t.add_argument("--source", action="append", default=[], metavar="[KIND=]PATH[#SEL][:WEIGHT]",
                   help="train on a mixture: repeat for each source of pairs (QA files, XQuAD-R, MLQA-style "
                        "sets, Mintaka JSON, line-aligned text, FLORES folders, TMX), each with a sampling "
                        "weight (default 1) and optionally the kind of pairs to take from it "
                        "(qa-sentence, qa-paragraph, question-question, bitext); see docs/training.md")
    t.add_argument("--out", required=True, help="directory for the trained model (and its checkpoint)")
    t.add_argument("--model", default=DEFAULTS.model, help="model to start from: 'base', 'default' or a model directory")
    t.add_argument("--alpha", type=float, default=DEFAULTS.alpha, help="share of X-X (monolingual) batches, 0..1")
    length = t.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, default=None, help=f"optimizer steps ({DEFAULTS.steps} when neither --steps nor --epochs is given)")
    length.add_argument("--epochs", type=float, default=None, help="passes over the training ids")
    t.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size)
    t.add_argument("--lr", type=float, default=DEFAULTS.lr)
    t.add_argument("--temperature", type=float, default=DEFAULTS.temperature)
    t.add_argument("--max-length", type=int, default=DEFAULTS.max_length, help="tokens per question/answer")
    t.add_argument("--no-freeze-embeddings", action="store_true", help="also train the word embeddings")
    t.add_argument("--train-layers", type=int, default=DEFAULTS.train_layers, help="train only the top N transformer layers")
    t.add_argument("--no-mixed-precision", action="store_true",
                   help="compute in float32 (mixed precision is used on CUDA and on CPUs with native bf16)")
    t.add_argument("--symmetric", action="store_true", help="add the answer->question loss direction")
    t.add_argument("--align-weight", type=float, default=DEFAULTS.align_weight,
                   help="weight of the translation-alignment term (0: off; see docs/training.md)")
    t.add_argument("--all-languages-weight", type=float, default=DEFAULTS.all_languages_weight,
                   help="weight of the all-languages term: each question ranks its answer in every "
                        "language above the batch's other answers (0: off; see docs/training.md)")
    t.add_argument("--all-questions-weight", type=float, default=DEFAULTS.all_questions_weight,
                   help="weight of the all-questions term: each answer ranks its question in every "
                        "language above the batch's other questions (0: off; see docs/training.md)")
    t.add_argument("--hard-negatives", action="store_true",
                   help="add another sentence of each answer's passage as a negative (see docs/training.md)")
    t.add_argument("--hard-negative-language", choices=HARD_NEGATIVE_LANGUAGES,
                   default=DEFAULTS.hard_negative_language,
                   help="with --hard-negatives: the neighbour's language, the question's (default), the "
                        "answer's, or one of each (see docs/training.md)")
    t.add_argument("--mine-negatives", type=int, default=DEFAULTS.mine_negatives, metavar="K",
                   help="hard negatives mined with the starting model instead: one of each question's K "
                        "highest-ranked non-answers, in any language (0: off; see docs/training.md)")
    t.add_argument("--mine-same-language", action="store_true",
                   help="with --mine-negatives: mine only candidates in the question's language")
    t.add_argument("--dev-share", type=float, default=DEFAULTS.dev_share, help="share of ids held out for the dev set")
    t.add_argument("--eval-data", default=None,
                   help="choose checkpoints on this file/folder instead of a dev split: QA data (mAP) or "
                        "translations (pool mAP), e.g. ../shared/data/parallel/flores#dev")
    t.add_argument("--seed", type=int, default=DEFAULTS.seed)
    t.add_argument("--eval-every", type=int, default=DEFAULTS.eval_every, help="evaluate (and checkpoint) every N steps")
    t.add_argument("--grad-accum", type=int, default=DEFAULTS.grad_accum, help="batches per optimizer step")
    t.add_argument("--device", default=DEFAULTS.device, help="auto (CUDA > MPS > CPU), cpu, cuda, cuda:1, mps")
    t.add_argument("--no-resume", action="store_true", help="ignore a checkpoint in --out and start over")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="LAReQA-style retrieval evaluation of a model on parallel QA data")
    e.add_argument("model", help="'base', 'default' or a model directory")
    e.add_argument("data", help="parallel QA file or XQuAD-R folder; or translations (FLORES folder#split, "
                                "line-aligned text, TMX: translation retrieval accuracy) or an MLQA-style set "
                                "(question -> paragraph)")
    e.add_argument("--paragraphs", action="store_true",
                   help="QA data: rank the paragraphs (every language in one pool) instead of the answer "
                        "sentences, as the app retrieves paragraph-size chunks")
    e.add_argument("--articles", default=None,
                   help="XQuAD-R article indices, e.g. 28-35 or 28,30 (XQuAD-R folders only)")
    e.add_argument("--json", action="store_true", help="print every metric as JSON")
    e.add_argument("--report", default=None, metavar="FILE.json", help="save the metrics as a JSON report")
    e.add_argument("--csv", default=None, metavar="FILE.csv", help="save the per-language table as CSV")
    e.add_argument("--language-offset", type=float, default=None, metavar="X",
                   help="also rank with this same-language offset instead of the model card's (0: off)")
    e.add_argument("--no-feedback", action="store_true",
                   help="rank the 'language-fair' row without cross-language feedback (search --no-feedback)")
    e.add_argument("--calibrate", action="store_true",
                   help="find the same-language offset with the best mAP on this data")
    e.add_argument("--save-offset", action="store_true",
                   help="with --calibrate: write that offset into MODEL's card, for search to use")
    e.add_argument("--device", default="auto")
    e.set_defaults(func=cmd_evaluate)

    d = sub.add_parser("data", help="parallel QA data commands")
    dsub = d.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)
    c = dsub.add_parser("check", help="validate a QA file and print its summary or every problem")
    c.add_argument("file")
    c.set_defaults(func=cmd_data_check)


# ---------------------------------------------------------------------------------------- helpers


def summary_lines(summary: dict) -> list[str]:
    """A ParallelQA summary -> printable lines."""
    per = ", ".join(f"{l} {n}" for l, n in summary["rows_per_language"].items())
    return [f"  languages: {len(summary['languages'])} ({', '.join(summary['languages'])})",
            f"  ids:       {summary['ids']}",
            f"  rows:      {summary['rows']} ({per})",
            f"  pairs:     {summary['xx_pairs']} X-X (same language), {summary['xy_pairs']} X-Y (cross-lingual)"]


def metrics_table(metrics: dict) -> str:
    """Per-language table plus the overall row (mAP, mono/cross MRR, rank distance, QLF rate)."""
    cols, W = SUMMARY_COLUMNS, len("language-fair ")
    langs = sorted({k[:-len("_map")] for k in metrics if k.endswith("_map") and k != "map"})
    head = f"{'language':<{W}}" + "".join(f"{h:>11}" for _, h in cols)

    def cell(v):
        return f"{v:>11.4f}" if isinstance(v, float) and v == v else f"{'-':>11}"

    lines = [head, "-" * len(head)]
    for l in langs:
        lines.append(f"{l:<{W}}" + "".join(cell(metrics.get(f"{l}_{k}")) for k, _ in cols))
    lines.append("-" * len(head))
    lines.append(f"{'overall':<{W}}" + "".join(cell(metrics.get(k)) for k, _ in cols))
    extra = [f"{k}={metrics[k]:.4f}" for k in ("mono_r1", "mono_r10", "cross_r1", "cross_r10") if k in metrics]
    if extra:
        lines.append("recall: " + "  ".join(extra))
    if "map_language_fair" in metrics:
        how = [f"same-language offset {metrics['language_offset']:.4f}"] if metrics.get("language_offset") else []
        how += ["cross-language feedback"] if metrics.get("feedback") else []
        lines.append(f"{'language-fair':<{W}}" + "".join(cell(metrics.get(f"{k}_language_fair")) for k, _ in cols)
                     + f"   (as search ranks: {', '.join(how)}"
                     + ("; MRR: filtered to one language)" if metrics.get("feedback") else ")"))
    if "calibrated_offset" in metrics:
        lines.append(f"calibrated: same-language offset {metrics['calibrated_offset']:.4f} gives mAP "
                     f"{metrics['map_calibrated']:.4f} on this data")
    if "n_queries" in metrics:
        lines.append(f"queries: {int(metrics['n_queries'])} in {int(metrics.get('n_languages', 0))} languages")
    return "\n".join(lines)


def parse_articles(text: str | None) -> list[int] | None:
    """``"28-35"`` / ``"28,30,33-34"`` -> sorted article indices; None when not given."""
    try:
        return parse_article_indices(text)
    except DataError:
        raise HybridSearchError(f"--articles wants indices like 28-35 or 28,30, not {text!r}") from None


def _load(path: str, articles=None):
    p = Path(path)
    if articles is not None:
        if not p.exists():
            raise DataError(f"no such file or folder: {p}")
        if not (p.is_dir() or looks_like_squad(p)):
            raise HybridSearchError("--articles applies only to XQuAD-R data (a folder of {lang}.json)")
        data = load_xquad_r(p, articles=articles)
        if not data.rows:
            raise DataError(f"no questions in articles {articles[0]}-{articles[-1]} of {p}")
        return data
    return load_parallel_qa(p)


# ------------------------------------------------------------------------------------ data check

def _print_problems(exc: DataError, source: str | None = None, file=None) -> None:
    """Every (line, message) of a DataError, one per line, under a count."""
    file = file or sys.stderr
    n = len(exc.problems)
    head = f"{source}: " if source else "error: "
    print(f"{head}{n} problem{'s' if n != 1 else ''} in the data; nothing was loaded", file=file)
    for line in format_problems(exc.problems):
        print(f"  {line}", file=file)


def pair_lines(pair_sets) -> list[str]:
    """What pairs each kind allows, one line per kind."""
    out = []
    for ps in pair_sets:
        s = ps.summary()
        left, right = KINDS[ps.kind][:2]
        arrow = "<->" if ps.symmetric else "->"
        counts = (f"{s['xy_pairs']} X-Y pairs" if ps.symmetric else
                  f"{s['xx_pairs']} X-X, {s['xy_pairs']} X-Y pairs")
        out.append(f"  {ps.kind:<17} ({left} {arrow} {right}): {s['ids']} ids in {len(s['languages'])} "
                   f"languages ({', '.join(s['languages'])}), {s['groups']} id groups; {counts}")
    return out


def cmd_data_check(args) -> int:
    try:
        fmt = detect(split_selector(args.file)[0])
        data = load_parallel_qa(args.file) if fmt in ("qa-file", "xquad-r") else None
        pair_sets = data.pair_sets() if data is not None else load_pair_sets(args.file)
    except DataError as exc:
        if not exc.problems:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        _print_problems(exc, args.file, sys.stdout)
        return 2
    print(f"{args.file}: OK ({fmt})")
    if data is not None:
        print("\n".join(summary_lines(data.summary())))
    print("  pairs it allows for training:")
    print("\n".join(pair_lines(pair_sets)))
    return 0


# -------------------------------------------------------------------------------------- evaluate

def cmd_evaluate(args) -> int:
    from tqdm import tqdm

    from hybridsearch.progress import CancelToken
    from trainer.evaluate import metrics_csv, evaluate_model, write_report

    if args.save_offset and not args.calibrate:
        raise InputError("--save-offset needs --calibrate")
    if args.save_offset and not (Path(args.model) / "hybridsearch.json").is_file():
        raise InputError(f"--save-offset writes the model card, but {args.model} is not a model directory "
                         "with a hybridsearch.json (trained models have one)")
    from hybridsearch.encoder.runtime import language_offset_option_error

    if problem := language_offset_option_error(args.language_offset):
        raise InputError(problem)
    fmt = detect(split_selector(args.data)[0])
    if args.paragraphs or fmt not in ("qa-file", "xquad-r"):
        return _evaluate_pairs(args, fmt)
    data = _load(args.data, parse_articles(args.articles))
    bar = None

    def on_progress(p):
        nonlocal bar
        if bar is None:  # created once the model has loaded, so load errors print cleanly
            bar = tqdm(total=p.total, initial=p.done, desc="encoding", unit="text", file=sys.stderr,
                       dynamic_ncols=True)
        bar.n = p.done
        bar.refresh()

    try:
        metrics = evaluate_model(args.model, data, on_progress=on_progress, cancel=CancelToken(),
                                 device=args.device, language_offset=args.language_offset,
                                 calibrate=args.calibrate, feedback=not args.no_feedback)
    finally:
        if bar is not None:
            bar.close()
    if args.save_offset:
        save_language_offset(Path(args.model), metrics["calibrated_offset"], args.data, args.articles)
    if args.report:
        write_report(metrics, args.report, model=str(args.model), data=str(args.data),
                     articles=args.articles)
    if args.csv:
        Path(args.csv).write_text(metrics_csv(metrics), encoding="utf-8")
    if args.json:
        print(json.dumps(metrics, indent=2))
        return 0
    print(f"model: {args.model}   data: {args.data}" + (f" (articles {args.articles})" if args.articles else ""))
    print(metrics_table(metrics))
    for what, path in (("report", args.report), ("CSV", args.csv)):
        if path:
            print(f"{what} written to {path}")
    if args.save_offset:
        print(f"same-language offset {metrics['calibrated_offset']:.4f} written to {Path(args.model) / 'hybridsearch.json'}")
    return 0


def _evaluate_pairs(args, fmt: str) -> int:
    """``evaluate`` on pairs that are not (question, answer sentence): question -> paragraph mAP
    (every language in one pool) or translation retrieval accuracy."""
    from hybridsearch.encoder import load_encoder
    from trainer.evaluate import evaluate_encoder_on_pairs, write_report
    if args.calibrate or args.save_offset or args.csv:
        raise InputError("--calibrate, --save-offset and --csv apply to question -> answer sentence data")
    if fmt in ("qa-file", "xquad-r"):
        data = _load(args.data, parse_articles(args.articles))
        kinds = {ps.kind: ps for ps in data.pair_sets()}
        if "qa-paragraph" not in kinds:
            raise DataError(f"{args.data} has no paragraphs (rows need a context) to rank")
        ps = kinds["qa-paragraph"]
    else:
        if args.articles:
            raise HybridSearchError("--articles applies only to XQuAD-R data (a folder of {lang}.json)")
        ps = load_source(parse_source(args.data), training=False)
    metrics = evaluate_encoder_on_pairs(load_encoder(args.model, device=args.device), ps)
    if args.report:
        write_report(metrics, args.report, model=str(args.model), data=str(args.data), articles=args.articles,
                     kind=ps.kind)
    if args.json:
        print(json.dumps(metrics, indent=2))
        return 0
    print(f"model: {args.model}   data: {args.data}" + (f" (articles {args.articles})" if args.articles else "")
          + f"   pairs: {ps.kind}")
    if ps.symmetric:
        langs = ps.languages
        print("translations: accuracy (nearest sentence of each other language, mean) and mAP (all "
              "translations in one pool of every language)")
        print(f"  {'language':<10}{'accuracy':>10}{'pool mAP':>10}")
        for x in langs:
            print(f"  {x:<10}{metrics.get(f'{x}_bitext_acc', float('nan')):>10.4f}"
                  f"{metrics.get(f'{x}_bitext_map', float('nan')):>10.4f}")
        print(f"  {'overall':<10}{metrics['bitext_acc']:>10.4f}{metrics['bitext_map']:>10.4f}"
              f"   ({len(ps.left)} ids, {len(langs)} languages)")
    else:
        print("question -> paragraph, every language in one pool")
        print(metrics_table(metrics))
    return 0


def save_language_offset(model_dir: Path, offset: float, data, articles=None) -> None:
    """Record a calibrated same-language offset (and where it was chosen) in a model's card."""
    from hybridsearch.encoder.runtime import read_card, write_card

    card = read_card(model_dir)
    card["language_offset"] = round(float(offset), 4)
    card["language_offset_data"] = str(data) + (f" (articles {articles})" if articles else "")
    write_card(model_dir, card)


# ----------------------------------------------------------------------------------------- train



def _config_from_args(args):
    if not 0.0 <= args.alpha <= 1.0:
        raise HybridSearchError(f"--alpha must be between 0 and 1, not {args.alpha}")
    if args.align_weight < 0:
        raise HybridSearchError(f"--align-weight must be 0 or more, not {args.align_weight}")
    if args.all_languages_weight < 0:
        raise HybridSearchError(f"--all-languages-weight must be 0 or more, not {args.all_languages_weight}")
    if args.all_questions_weight < 0:
        raise HybridSearchError(f"--all-questions-weight must be 0 or more, not {args.all_questions_weight}")
    if args.mine_negatives < 0:
        raise HybridSearchError(f"--mine-negatives must be 0 or more, not {args.mine_negatives}")
    for name in ("batch_size", "grad_accum", "eval_every", "max_length"):
        if getattr(args, name) < 1:
            raise HybridSearchError(f"--{name.replace('_', '-')} must be at least 1")
    if args.batch_size < 2:
        raise HybridSearchError("--batch-size must be at least 2 (the other pairs of a batch are the negatives)")
    if args.steps is not None and args.steps < 1:
        raise HybridSearchError("--steps must be at least 1")
    if args.epochs is not None and args.epochs <= 0:
        raise HybridSearchError("--epochs must be positive")
    return TrainConfig(
        model=args.model, out_dir=args.out,
        steps=None if args.epochs is not None else (args.steps or DEFAULTS.steps),
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, temperature=args.temperature,
        alpha=args.alpha, max_length=args.max_length, freeze_embeddings=not args.no_freeze_embeddings,
        train_layers=args.train_layers, symmetric=args.symmetric,
        align_weight=args.align_weight, all_languages_weight=args.all_languages_weight,
        all_questions_weight=args.all_questions_weight,
        hard_negatives=args.hard_negatives, hard_negative_language=args.hard_negative_language,
        mine_negatives=args.mine_negatives,
        mine_same_language=args.mine_same_language, dev_share=args.dev_share,
        seed=args.seed, eval_every=args.eval_every, device=args.device, grad_accum=args.grad_accum,
        mixed_precision=not args.no_mixed_precision, resume=not args.no_resume,
        sources=[str(s) for s in args.source] or None)


def _resume_command(args) -> str:
    argv = [a for a in sys.argv[1:] if a != "--no-resume"]
    return " ".join(["hybridsearch", *argv]) if argv[:1] == ["train"] else \
        f"hybridsearch train {args.data} --out {args.out} (with the same options)"


def cmd_train(args) -> int:
    from dataclasses import asdict

    from tqdm import tqdm

    from hybridsearch.encoder.runtime import pick_device
    from hybridsearch.progress import CancelToken
    from trainer.checkpoint import checkpoint_state  # torch loads only when training
    from trainer.devices import available_devices
    from trainer.distributed import Dist
    from trainer.export import prepare_for_search
    from trainer.train import train

    cfg = _config_from_args(args)
    if not Dist.from_env().main:  # under torchrun, rank 0 speaks for every process
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # its warnings and errors still show
    if not args.data and not args.source:
        raise InputError("give the training data: a QA file or folder, or one --source per source of a mixture")
    loaded = {}
    for key, path in (("data", args.data), ("eval", args.eval_data), ("mixture", args.source)):
        if not path:
            continue
        try:
            if key == "mixture":
                loaded[key] = load_mixture(([args.data] if args.data else []) + list(path))
            elif key == "eval" and detect(split_selector(path)[0]) not in ("qa-file", "xquad-r"):
                loaded[key] = load_source(parse_source(path), training=False)
            else:
                loaded[key] = load_parallel_qa(path)
        except DataError as exc:
            if not exc.problems:
                raise
            _print_problems(exc, f"error: {path}")
            print("Nothing was trained. Fix these lines and run again "
                  f"(check a file alone with: hybridsearch data check {path})", file=sys.stderr)
            return 2
    data = loaded.get("mixture") or loaded["data"]
    if "mixture" in loaded:
        print("Training mixture: OK")
        for row in data.summary():
            print(f"  {row['share']:>4.0%}  {row['kind']:<17} {row['ids']:>6} ids, {len(row['languages'])} languages"
                  f"  {row['spec']}")
    else:
        print(f"Training data {args.data}: OK")
        print("\n".join(summary_lines(data.summary())))
    eval_data = loaded.get("eval")
    if eval_data is not None:
        what = (f"{len(eval_data.by_id)} ids, {len(eval_data.rows)} rows" if hasattr(eval_data, "rows") else
                f"{eval_data.kind}, {len(eval_data.left)} ids in {len(eval_data.languages)} languages")
        print(f"Dev data {args.eval_data}: {what} (checkpoints are chosen on it)")
    elif "mixture" in loaded:
        print("No dev set (a mixture is not split; give --eval-data): the model of the last step is saved")
    elif cfg.dev_share > 0:
        print(f"Dev set: {cfg.dev_share:.0%} of the ids held out (seed {cfg.seed})")
    else:
        print("No dev set (--dev-share 0): the model of the last step is saved")

    device = pick_device(cfg.device)
    if device == "cpu":
        gpus = [d for d in available_devices() if d.kind != "cpu"]
        cpu = available_devices()[-1]
        why = "only the CPU is available" if not gpus else "training on the CPU (--device cpu)"
        print(f"warning: {why} ({cpu.name}). Training on a CPU is slow: expect seconds per step "
              f"for the base model; a time estimate follows after a few steps.", file=sys.stderr)
        if cfg.all_languages_weight > 0 and hasattr(data, "by_id"):
            langs = max(len(v) for v in data.by_id.values())
            print(f"warning: --all-languages-weight encodes every pair's answer in all {langs} languages "
                  f"({cfg.batch_size * langs} passages a step) and needs much memory on a CPU: with the base "
                  "model and 11 languages, batch 16 took about 14 GB and batch 32 more than 24 GB. "
                  "Use a GPU or a small --batch-size.", file=sys.stderr)

    if cfg.mine_negatives:
        print(f"Mining hard negatives: each question's {cfg.mine_negatives} highest-ranked non-answers under the "
              "starting model (encodes every question and candidate once before the first step)")
    out_dir = Path(cfg.out_dir)
    state = checkpoint_state(out_dir) if cfg.resume else None
    if state is None and (out_dir / "overlay.safetensors").is_file():
        print(f"warning: {out_dir} already holds a trained model; this run will replace it",
              file=sys.stderr)
    if state is not None:
        print(f"Resuming from the checkpoint in {out_dir} at step {state.get('step')} "
              "(use --no-resume to start over)")
        old = state.get("config") or {}
        new = asdict(cfg)
        changed = [k for k in old if k not in ("out_dir", "resume", "name") and old.get(k) != new.get(k)]
        if changed:
            print("warning: options differ from the checkpoint's run: "
                  + ", ".join(f"{k} {old[k]!r} -> {new.get(k)!r}" for k in changed), file=sys.stderr)

    cancel = CancelToken()
    bar = None
    estimated = False
    latest_map = None
    first_step = None

    def on_progress(p) -> None:
        nonlocal bar, estimated, latest_map, first_step
        if bar is None:
            bar = tqdm(total=p.total_steps, initial=p.step - 1, desc="training", unit="step",
                       file=sys.stderr, dynamic_ncols=True)
        bar.update(p.step - bar.n)
        if p.dev_metrics and "bitext_acc" in p.dev_metrics:
            latest_map = None
            bar.write(f"step {p.step}: dev translations: pool mAP {p.dev_metrics['bitext_map']:.4f}  "
                      f"accuracy {p.dev_metrics['bitext_acc']:.4f}")
        elif p.dev_metrics:
            latest_map = p.dev_metrics.get("map")
            bar.write(f"step {p.step}: dev mAP {latest_map:.4f}  mono MRR "
                      f"{p.dev_metrics.get('mono_mrr', float('nan')):.4f}  cross MRR "
                      f"{p.dev_metrics.get('cross_mrr', float('nan')):.4f}")
        post = {"loss": f"{p.loss:.4f}", "lr": f"{p.lr:.2e}", "pairs/s": f"{p.pairs_per_s:.1f}"}
        if latest_map is not None:
            post["dev mAP"] = f"{latest_map:.4f}"
        bar.set_postfix(post, refresh=True)
        if first_step is None:
            first_step = p.step
        # the first step pays for warm-up; estimate from three steps (or the first, if that is all)
        measured = p.step - first_step + 1
        if device == "cpu" and not estimated and p.eta_s is not None and p.step < p.total_steps \
                and (measured >= 3 or p.total_steps - first_step < 3):
            estimated = True
            bar.write(f"CPU time estimate: about {format_duration(p.eta_s)} for the remaining "
                      f"{p.total_steps - p.step} steps (measured over {measured} step"
                      f"{'s' if measured > 1 else ''})")

    interrupted = []

    def on_sigint(signum, frame):
        if interrupted:  # second Ctrl-C: stop at once
            raise KeyboardInterrupt
        interrupted.append(True)
        cancel.cancel()
        msg = "\nstopping after this step and saving a checkpoint (Ctrl-C again to quit at once)"
        (bar.write if bar is not None else print)(msg)

    own_handler = threading.current_thread() is threading.main_thread()
    if own_handler:
        old_handler = signal.signal(signal.SIGINT, on_sigint)
    try:
        result = train(cfg, data, on_progress=on_progress, cancel=cancel, eval_data=eval_data)
    finally:
        if own_handler:
            signal.signal(signal.SIGINT, old_handler if old_handler is not None else signal.SIG_DFL)
        if bar is not None:
            bar.close()

    if result.cancelled:
        st = checkpoint_state(out_dir) or {}
        print(f"Stopped at step {st.get('step', '?')}; the checkpoint is saved in {out_dir / 'checkpoint'}.")
        print(f"Resume with: {_resume_command(args)}")
        return 130
    print(f"Model written to {out_dir} (overlay.safetensors + hybridsearch.json); "
          f"use it with --model {out_dir}")
    problem = prepare_for_search(out_dir, note=lambda msg: print(msg, flush=True))
    if problem:
        print(f"note: {problem}")
    if result.best_metrics:
        print(f"Dev metrics of the saved model (step {result.best_step}):")
        if "bitext_acc" in result.best_metrics:
            print(f"translations: pool mAP {result.best_metrics['bitext_map']:.4f}, accuracy "
                  f"{result.best_metrics['bitext_acc']:.4f}")
        else:
            print(metrics_table(result.best_metrics))
    return 0
