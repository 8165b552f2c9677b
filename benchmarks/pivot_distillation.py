"""Experiment: pull every language onto the English vectors of the starting model (XQuAD-R).

A continuation of a model (``--model``, the bundled one by default) in the spirit of multilingual
knowledge distillation: the starting model's own English question and answer vectors, computed
once, are the teacher; each step, a batch of training ids is encoded in a random non-English
language (question and answer) and in English, and every vector is pulled toward its English
teacher vector (mean of 1 - cosine, times ``--weight``). ``--nce`` adds the usual in-batch InfoNCE
on cross-lingual pairs. Trains on articles 0-27 and prints the LAReQA summary on articles 28-35
every ``--eval-every`` steps. Nothing is saved: it measures whether the idea helps.

``--teacher centroid`` pulls toward a language-free point instead: the mean of the starting
model's vectors of a question (and answer) in all its languages. ``--questions-only`` pulls only
the questions (each batch id in two random languages); answers keep the starting model's space.

    python benchmarks/pivot_distillation.py --steps 50 --lr 2e-5 --nce 0 --threads 2
    python benchmarks/pivot_distillation.py --teacher centroid --questions-only --steps 100 --threads 2
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from trainer.data import load_xquad_r  # noqa: E402
from trainer.evaluate import SUMMARY_COLUMNS, EvalSet, evaluate_encoder  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "xquad-r"))
    ap.add_argument("--model", default="default")
    ap.add_argument("--pivot", default="en")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument("--weight", type=float, default=50.0)
    ap.add_argument("--nce", type=float, default=1.0, help="weight of the in-batch InfoNCE term")
    ap.add_argument("--temperature", type=float, default=0.01)
    ap.add_argument("--eval-every", type=int, default=25)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--teacher", choices=("pivot", "centroid"), default="pivot",
                    help="pivot: the --pivot language's vectors; centroid: the mean over all languages")
    ap.add_argument("--questions-only", action="store_true", help="pull the questions only")
    args = ap.parse_args(argv)

    import torch
    import torch.nn.functional as F

    from hybridsearch.encoder import load_encoder

    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    enc = load_encoder(args.model, device="cpu", threads=args.threads)
    by_id: dict[str, dict] = {}
    for r in load_xquad_r(args.data, articles=range(0, 28)).rows:
        by_id.setdefault(r.id, {})[r.lang] = r
    ids = [i for i, rows in by_id.items() if (args.pivot in rows or args.teacher == "centroid") and len(rows) > 1]
    dev = EvalSet.from_parallel_qa(load_xquad_r(args.data, articles=range(28, 36)))

    def report(step: int) -> None:
        enc.model.eval()
        m = evaluate_encoder(enc, dev)
        enc.model.train()
        print(f"step {step:4d}  " + "  ".join(f"{h} {m[k]:.4f}" for k, h in SUMMARY_COLUMNS), flush=True)

    def teacher(kind: str):
        texts = "question" if kind == "query" else "answer"
        if args.teacher == "pivot":
            return torch.tensor(enc.encode([getattr(by_id[i][args.pivot], texts) for i in ids], kind=kind,
                                           max_length=128))
        flat = [(n, getattr(r, texts)) for n, i in enumerate(ids) for r in by_id[i].values()]
        vecs = torch.tensor(enc.encode([t for _, t in flat], kind=kind, max_length=128))
        sums = torch.zeros(len(ids), vecs.shape[1]).index_add_(0, torch.tensor([n for n, _ in flat]), vecs)
        return F.normalize(sums, dim=1)

    teacher_q = teacher("query")
    teacher_a = None if args.questions_only else teacher("passage")
    row = {i: k for k, i in enumerate(ids)}
    model = enc.model
    model.train()
    model.embeddings.word_embeddings.weight.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    warm = max(1, args.steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, 1 - s / args.steps))

    def embed(texts, kind):
        return enc.embed_batch(enc.tokenize(texts, kind, max_length=128))

    def pull(vecs, teacher):
        return (1 - (vecs * teacher).sum(1)).mean()

    report(0)
    start = time.monotonic()
    for step in range(1, args.steps + 1):
        batch = rng.sample(ids, args.batch_size)
        k = torch.tensor([row[i] for i in batch])
        lang = [rng.choice([x for x in by_id[i] if x != args.pivot or args.teacher == "centroid"]) for i in batch]
        other = [rng.choice([x for x in by_id[i] if x != l]) for i, l in zip(batch, lang)]
        q = embed([by_id[i][l].question for i, l in zip(batch, lang)], "query")
        if args.questions_only:  # the question in two languages, both pulled to the same point
            q_other = embed([by_id[i][o].question for i, o in zip(batch, other)], "query")
            dist = (pull(q, teacher_q[k]) + pull(q_other, teacher_q[k])) / 2
        else:
            pivot = args.pivot if args.teacher == "pivot" else None
            second = [pivot or o for o in other]
            a = embed([by_id[i][l].answer for i, l in zip(batch, lang)], "passage")
            q_pivot = embed([by_id[i][x].question for i, x in zip(batch, second)], "query")
            a_pivot = embed([by_id[i][x].answer for i, x in zip(batch, second)], "passage")
            dist = (pull(q, teacher_q[k]) + pull(a, teacher_a[k]) + pull(q_pivot, teacher_q[k])
                    + pull(a_pivot, teacher_a[k])) / 4
        loss = args.weight * dist
        if args.nce > 0:  # the question against its answer in another language, in-batch negatives
            a_other = embed([by_id[i][l].answer for i, l in zip(batch, other)], "passage")
            loss = loss + args.nce * F.cross_entropy(q @ a_other.T / args.temperature, torch.arange(len(batch)))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if step % args.eval_every == 0 or step == args.steps:
            print(f"  {args.batch_size * step / (time.monotonic() - start):.1f} ids/s, distance {dist.item():.4f}")
            report(step)
    return 0


if __name__ == "__main__":
    sys.exit(main())
