"""Does the way token states become one vector hold cross-lingual quality? (XQuAD-R)

The encoder mean-pools its last layer. Two alternatives, measured on the frozen model's states
(train = articles 0-27, dev = 28-35; states cached under ``--cache``):

* **layers**: mean pooling of an earlier layer alone, or the last layer plus ``a`` times an
  earlier one (both normalised). Middle layers of multilingual encoders are often said to be
  more language-neutral.
* **attention pooling**: each token weighted by softmax(v . h) within its text instead of
  alike (v = 0 is mean pooling), with v trained on the training articles by a full-pool loss
  (each question against each language's pool, its answer there the positive; temperature
  0.01, Adam). ``--side query`` trains a query-side v only; ``both`` one v per side.

    python benchmarks/pooling.py --model default --threads 2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from language_offset import SPLITS, add_vector_options  # noqa: E402
from trainer.data import load_xquad_r  # noqa: E402
from trainer.evaluate import SUMMARY_COLUMNS, EvalSet, compute_metrics  # noqa: E402


def normalise(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def cached_states(es: EvalSet, model: str, split: str, cache: Path, threads=None, _enc: dict = {}) -> dict:
    """Per text kind ('query', 'passage'): the mean-pooled vector of every layer [layers, n, dim]
    and the last layer's token states (flat, with each text's token offsets)."""
    path = cache / f"{Path(model).name}_{split}.npz"
    if path.is_file():
        return dict(np.load(path))
    import torch

    from hybridsearch.encoder.runtime import padded_batch

    if model not in _enc:
        from hybridsearch.encoder import load_encoder

        _enc[model] = load_encoder(model, threads=threads)
    enc = _enc[model]
    out = {}
    texts = {"query": [t for _, _, t in es.queries], "passage": [t for _, t in es.candidates]}
    for kind, items in texts.items():
        ids = enc.tokenize(items, kind)
        order = np.argsort([len(x) for x in ids], kind="stable")
        layers = np.zeros((enc.model.config.num_hidden_layers + 1, len(ids), enc.dim), np.float32)
        last: list = [None] * len(ids)
        with torch.inference_mode():
            for start in range(0, len(ids), 64):
                idx = order[start:start + 64]
                inp, mask = padded_batch([ids[i] for i in idx], enc.pad_id)
                hs = enc.model(input_ids=inp, attention_mask=mask, output_hidden_states=True).hidden_states
                m = mask.unsqueeze(-1).float()
                for layer, h in enumerate(hs):
                    layers[layer, idx] = ((h * m).sum(1) / m.sum(1)).numpy()
                for r, i in enumerate(idx):
                    last[i] = hs[-1][r, :len(ids[i])].numpy().astype(np.float16)
        out[f"{kind}_layers"] = layers.astype(np.float16)
        out[f"{kind}_states"] = np.concatenate(last)
        out[f"{kind}_offsets"] = np.concatenate([[0], np.cumsum([len(x) for x in ids])])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    return out


def summary(q: np.ndarray, c: np.ndarray, es: EvalSet) -> str:
    m = compute_metrics(normalise(q) @ normalise(c).T, es)
    return "  ".join(f"{m[k]:.3f}" for k, _ in SUMMARY_COLUMNS)


def layer_table(states: dict, es: EvalSet, split: str, earlier=(9, 10, 11), mixes=(0.25, 0.5)) -> None:
    q, c = states["query_layers"].astype(np.float32), states["passage_layers"].astype(np.float32)
    top = len(q) - 1
    for layer in (*earlier, top):
        print(f"{split:5}  layer {layer:<2} alone         {summary(q[layer], c[layer], es)}", flush=True)
    for layer in earlier:
        for a in mixes:
            mq = normalise(q[top]) + a * normalise(q[layer])
            mc = normalise(c[top]) + a * normalise(c[layer])
            print(f"{split:5}  layer {top} + {a:.2f} x {layer:<2}  {summary(mq, mc, es)}", flush=True)


class AttentionPool:
    """softmax(v . h) pooling over a text's token states; v = 0 is mean pooling."""

    def __init__(self, states: dict, kind: str):
        import torch

        offsets = states[f"{kind}_offsets"]
        self.h = torch.from_numpy(states[f"{kind}_states"].astype(np.float32))
        self.seg = torch.from_numpy(np.repeat(np.arange(len(offsets) - 1), np.diff(offsets)))
        self.n = len(offsets) - 1

    def __call__(self, v):
        import torch

        w = torch.exp((self.h @ v).clamp(-20, 20))
        den = torch.zeros(self.n).index_add(0, self.seg, w)
        num = torch.zeros(self.n, self.h.shape[1]).index_add(0, self.seg, w.unsqueeze(-1) * self.h)
        return torch.nn.functional.normalize(num / den.unsqueeze(-1), dim=-1)


def pool_loss(q, c, es: EvalSet, temperature: float):
    """Mean over languages L of the cross-entropy of each question against L's pool (answer in L)."""
    import torch

    cand_lang = np.array([lang for lang, _ in es.candidates])
    scores = q @ c.T / temperature
    terms = []
    for lang in es.languages:
        cols = np.flatnonzero(cand_lang == lang)
        where = {int(k): n for n, k in enumerate(cols)}
        rows, target = zip(*[(r, where[es.relevant[i][lang]]) for r, (i, _, _) in enumerate(es.queries)
                             if lang in es.relevant[i]])
        terms.append(torch.nn.functional.cross_entropy(scores[list(rows)][:, cols], torch.tensor(target)))
    return sum(terms) / len(terms)


def train_attention(train: dict, dev: dict, es_train: EvalSet, es_dev: EvalSet, side: str,
                    steps: int, lr: float, every: int, temperature: float = 0.01) -> None:
    import torch

    pools = {name: (AttentionPool(s, "query"), AttentionPool(s, "passage")) for name, s in
             (("train", train), ("dev", dev))}
    dim = pools["train"][0].h.shape[1]
    vq = torch.zeros(dim, requires_grad=True)
    vp = torch.zeros(dim, requires_grad=side == "both")
    opt = torch.optim.Adam([vq] + ([vp] if side == "both" else []), lr=lr)

    def dev_row(step, loss):
        with torch.no_grad():
            q, c = (p(v).numpy() for p, v in zip(pools["dev"], (vq, vp)))
        print(f"dev    attention ({side}) step {step:<4} loss {loss:.4f}  {summary(q, c, es_dev)}", flush=True)

    dev_row(0, float("nan"))
    t0 = time.monotonic()
    for step in range(1, steps + 1):
        qp, cp = pools["train"]
        loss = pool_loss(qp(vq), cp(vp), es_train, temperature)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % every == 0 or step == steps:
            dev_row(step, float(loss.detach()))
    print(f"({steps} steps in {time.monotonic() - t0:.0f} s)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_vector_options(ap)
    ap.set_defaults(cache="runs/pooling-cache")  # token states and every layer, not cached_vectors' vectors
    ap.add_argument("--side", choices=("query", "both"), nargs="+", default=["query", "both"])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--every", type=int, default=20)
    args = ap.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    sets, states = {}, {}
    print("split  pooling                " + "  ".join(h for _, h in SUMMARY_COLUMNS))
    for split in ("dev", "train"):
        sets[split] = EvalSet.from_parallel_qa(load_xquad_r(args.data, articles=SPLITS[split]))
        states[split] = cached_states(sets[split], args.model, split, Path(args.cache), args.threads)
        layer_table(states[split], sets[split], split)
    for side in args.side:
        train_attention(states["train"], states["dev"], sets["train"], sets["dev"], side,
                        args.steps, args.lr, args.every)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
