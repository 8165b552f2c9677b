"""The training loop of hybrid batch training (the loop only).

``train(cfg, data, on_progress, cancel)`` fine-tunes a model directory and writes an *overlay*
model (:mod:`trainer.export`) to ``cfg.out_dir``. Batches come from :mod:`trainer.samplers`, the
objective is :class:`trainer.loss.HybridLoss`, checkpoints (:mod:`trainer.checkpoint`,
``cfg.out_dir/checkpoint``) make a run resumable; the best dev checkpoint is what ends up in
``out_dir``.
"""

from __future__ import annotations

import math
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from hybridsearch.encoder import resolve_model
from hybridsearch.encoder.runtime import PREFIXES, embed_ids, load_bert, model_files, pick_device, token_limit, truncate_ids
from hybridsearch.errors import Cancelled, HybridSearchError
from hybridsearch.progress import CancelToken
from hybridsearch.records import SUMMARY_KEYS
from trainer.checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint
from trainer.config import TrainConfig
from trainer.distributed import Dist
from trainer.evaluate import PRIMARY, EvalSet, calibrate_language_offset, compute_metrics, evaluate_pair_set
from trainer.export import OVERLAY, save_overlay
from trainer.loss import HybridLoss
from trainer.qa import PairSet, ParallelQA
from trainer.qa.mixture import Mixture
from trainer.qa.records import KINDS
from trainer.samplers import HardNegatives, MinedNegatives, MixtureBatch, MixtureBatchSampler, make_sampler

__all__ = ["CHECKPOINT", "TrainConfig", "TrainProgress", "TrainResult", "TrainingOOM", "train"]
#: Tokens per text when evaluating during training: what the runtime encodes (its default limit,
#: cut to the model's position table).
EVAL_MAX_LENGTH = 512


class TrainingOOM(HybridSearchError):
    """The GPU ran out of memory; the message names a smaller batch size to try."""


@dataclass
class TrainProgress:
    step: int
    total_steps: int
    loss: float
    lr: float
    pairs_per_s: float
    eta_s: float | None
    dev_metrics: dict | None = None
    message: str = ""


@dataclass
class TrainResult:
    out_dir: Path
    best_metrics: dict
    best_step: int
    history: list[dict] = field(default_factory=list)
    cancelled: bool = False
    #: a one-line remark for the user (e.g. the model could not be prepared for search yet)
    note: str | None = None


def cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX), where autocast pays off."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((l for l in f if l.startswith("flags")), "")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _trainable_names(model, cfg: TrainConfig) -> list[str]:
    """Which parameters train: all but the word embeddings (if frozen) and the lower layers."""
    n_layers = model.config.num_hidden_layers
    lowest = n_layers - cfg.train_layers if cfg.train_layers else 0
    names = []
    for name, _ in model.named_parameters():
        if cfg.freeze_embeddings and "word_embeddings" in name:
            continue
        if lowest > 0:
            if name.startswith("embeddings."):
                continue
            parts = name.split(".")
            if "layer" in parts:
                if int(parts[parts.index("layer") + 1]) < lowest:
                    continue
        names.append(name)
    return names


def total_steps_for(cfg: TrainConfig, batches_per_epoch: int) -> int:
    if cfg.steps:
        return int(cfg.steps)
    if cfg.epochs:
        return max(1, int(math.ceil(cfg.epochs * batches_per_epoch / cfg.grad_accum)))
    raise HybridSearchError("set either steps or epochs")


def train(cfg: TrainConfig, data: ParallelQA | Mixture, on_progress: Callable[[TrainProgress], None] | None = None,
          cancel: CancelToken | None = None, eval_data: ParallelQA | PairSet | None = None) -> TrainResult:
    """Fine-tune ``cfg.model`` on ``data`` (QA pairs, or a :class:`Mixture` of kinds of positives);
    evaluate on ``eval_data`` (or a dev split of QA ``data``) and keep the best checkpoint by its
    primary metric (mAP for QA data, the pool mAP of translations for bitext)."""
    cfg.check()  # before anything loads
    cancel = cancel or CancelToken()
    dist = Dist.from_env()  # several processes under torchrun: see trainer/distributed.py
    if dist.enabled and cfg.batch_size < dist.world:
        raise HybridSearchError(f"--batch-size {cfg.batch_size} is the global batch: it needs at least one "
                                f"pair for each of the {dist.world} processes")
    if not dist.main:
        on_progress = None  # rank 0 reports
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _seed_all(cfg.seed)

    if isinstance(data, Mixture):
        extras = [name for name, on in (("align_weight", cfg.align_weight), ("all_languages_weight",
                  cfg.all_languages_weight), ("all_questions_weight", cfg.all_questions_weight),
                  ("hard_negatives", cfg.hard_negatives), ("mine_negatives", cfg.mine_negatives)) if on]
        if extras:
            raise HybridSearchError(f"{', '.join(extras)} apply to one QA data set, not to a mixture of sources")
        sampler, hard = MixtureBatchSampler(data.sources, data.weights, cfg.batch_size, cfg.alpha, cfg.seed), None
    else:
        if eval_data is None and cfg.dev_share > 0:
            data, eval_data = data.split(cfg.dev_share, cfg.seed)
        if len(data.by_id) < 2:
            raise HybridSearchError("the training data needs at least 2 question ids")
        sampler = make_sampler(data, cfg.batch_size, cfg.alpha, cfg.seed)
        hard = (HardNegatives(data, cfg.hard_negative_language) if cfg.hard_negatives and not cfg.mine_negatives
                else None)
    total = total_steps_for(cfg, len(sampler))

    device = dist.start(pick_device(cfg.device))
    try:
        return _train(cfg, data, eval_data, sampler, hard, total, on_progress, cancel, dist, device)
    finally:
        dist.stop()


def _train(cfg, data, eval_data, sampler, hard, total, on_progress, cancel, dist, device) -> TrainResult:
    out_dir = Path(cfg.out_dir)
    src_dir = resolve_model(cfg.model)
    files = model_files(src_dir)
    model, tokenizer = load_bert(files)
    train_length, eval_length = token_limit(model, cfg.max_length), token_limit(model, EVAL_MAX_LENGTH)
    model.to(device)
    pad_id = int(model.config.pad_token_id or 0)
    trainable = set(_trainable_names(model, cfg))
    for name, p in model.named_parameters():
        p.requires_grad_(name in trainable)
    params = [p for n, p in model.named_parameters() if n in trainable]

    # tokenise every question and answer once
    prefix_q, prefix_a = PREFIXES["query"], PREFIXES["passage"]
    tokenizer.no_padding()
    tokenizer.no_truncation()

    def tok(texts, limit=train_length):
        encs = tokenizer.encode_batch(texts)
        return [truncate_ids(e.ids, limit) for e in encs]

    def encode_texts(texts, prefix: str, stop=None) -> np.ndarray:
        """Vectors of whole texts, as search encodes them (training truncates at max_length);
        ``stop``: a cancel token checked between batches."""
        model.eval()
        with torch.inference_mode():
            out = _encode(model, tok([prefix + t for t in texts], eval_length), pad_id, device, cancel=stop)
        model.train()
        return out

    if isinstance(data, Mixture):
        q_ids = a_ids = {}
        mixture_tokens = MixtureTokens(data, tok)
    else:
        q_ids = dict(zip(((r.id, r.lang) for r in data.rows), tok([prefix_q + r.question for r in data.rows])))
        a_ids = dict(zip(((r.id, r.lang) for r in data.rows), tok([prefix_a + r.answer for r in data.rows])))

    decay = [p for n, p in model.named_parameters() if n in trainable and not ("LayerNorm" in n or n.endswith("bias"))]
    no_decay = [p for n, p in model.named_parameters() if n in trainable and ("LayerNorm" in n or n.endswith("bias"))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
    warm = int(cfg.warmup * total)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / max(1, warm) if s < warm else max(0.0, (total - s) / max(1, total - warm)))
    loss_fn = HybridLoss.from_config(cfg)
    # mixed precision: fp16/bf16 on CUDA; bf16 on CPUs with native bf16 (about 2x faster there)
    amp_device = "cuda" if device.startswith("cuda") else "cpu"
    use_amp = cfg.mixed_precision and (amp_device == "cuda" or (device == "cpu" and cpu_has_bf16()))
    amp_dtype = torch.bfloat16
    if amp_device == "cuda" and use_amp and not torch.cuda.is_bf16_supported():
        amp_dtype = torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)

    if isinstance(eval_data, PairSet):
        es = eval_data
    else:
        es = EvalSet.from_parallel_qa(eval_data) if eval_data is not None and eval_data.rows else None
    if cfg.mine_negatives:  # with the starting model, before any step (a resumed run mines the same)
        prefixes = {"query": prefix_q, "passage": prefix_a}
        try:  # minutes of encoding on a CPU: a cancel stops it, and nothing was trained or written
            hard = MinedNegatives(data, lambda texts, kind: encode_texts(texts, prefixes[kind], cancel),
                                  cfg.mine_negatives, cfg.mine_same_language)
        except Cancelled:
            return TrainResult(out_dir, {}, 0, [], cancelled=True)
    state = {"step": 0, "epoch": 0, "batch_in_epoch": 0, "best": None, "best_step": 0, "history": []}
    ckpt = out_dir / CHECKPOINT
    if cfg.resume and (ckpt / "state.json").is_file():
        state = load_checkpoint(ckpt, model, opt, sched, scaler)

    def evaluate() -> dict:
        # a cancel stops the evaluation too, unless other processes wait for this one (torchrun:
        # then every process stops together at the next step)
        stop = None if dist.enabled else cancel
        if isinstance(es, PairSet):  # selection on other data than QA pairs (e.g. FLORES dev bitext)
            prefixes = {"query": prefix_q, "passage": prefix_a}
            return evaluate_pair_set(lambda texts, kind: encode_texts(texts, prefixes[kind], stop), es)
        qv = encode_texts([t for _, _, t in es.queries], prefix_q, stop)
        cv = encode_texts([t for _, t in es.candidates], prefix_a, stop)
        scores = qv @ cv.T
        metrics = compute_metrics(scores, es)
        offset, table = calibrate_language_offset(scores, es)  # the card's offset for search
        return {**metrics, "calibrated_offset": offset, "map_calibrated": table[offset]}

    def save_best(metrics: dict | None) -> None:
        if dist.main:
            save_overlay(model, trainable, files, out_dir, cfg, metrics, state)

    def checkpoint() -> None:
        if dist.main:
            save_checkpoint(ckpt, model, opt, sched, scaler, trainable, state, cfg)

    dim = int(model.config.hidden_size)

    def embed(ids):
        """Vectors of the whole list; under torchrun each process encodes its slice of it."""
        mine = dist.shard(ids)
        local = embed_ids(model, mine, pad_id, device) if mine else \
            torch.zeros((0, dim), dtype=torch.float32, device=device)
        return dist.gather(local, dim)

    model.train()
    t0, pairs_done, last_loss = time.monotonic(), 0, float("nan")
    start_step = state["step"]
    batches = _batches(sampler, state)
    try:
        while state["step"] < total:
            if dist.any(cancel.cancelled):  # one process's Ctrl-C stops every process at the same step
                cancel.cancel()
            cancel.raise_if_cancelled()
            opt.zero_grad(set_to_none=True)
            step_loss = 0.0
            for micro in range(cfg.grad_accum):
                batch = next(batches)
                if isinstance(batch, MixtureBatch):  # one kind of positives per batch: in-batch InfoNCE
                    left, right = mixture_tokens.of(batch)
                    with torch.autocast(device_type=amp_device, dtype=amp_dtype, enabled=use_amp):
                        loss = loss_fn(embed(left), embed(right)) / cfg.grad_accum
                    scaler.scale(loss).backward()
                    step_loss += float(loss.detach())
                    pairs_done += len(batch.pairs)
                    continue
                qs = [q_ids[(i, ql)] for i, ql, _ in batch]
                negs = mask = None
                if hard is not None:
                    drawn = hard.draw(batch, random.Random(f"{cfg.seed}:hard:{state['step']}:{micro}"))
                    negs = tok([prefix_a + t for _, t in drawn])
                    mask = torch.tensor(hard.false_negatives(batch, drawn), dtype=torch.bool)
                with torch.autocast(device_type=amp_device, dtype=amp_dtype, enabled=use_amp):
                    # embedded in this order (dropout draws from one generator: a run stays reproducible)
                    qv = embed(qs)
                    keys = positives = all_answers = twins = all_questions = None
                    if loss_fn.needs_all_languages:  # every id of the batch in all its languages
                        keys, pos = all_language_answers(batch, sampler.langs_of)
                        positives = torch.tensor(pos, dtype=torch.bool)
                    if cfg.all_languages_weight > 0:  # every answer in all its languages, the pairs' own among them
                        all_answers = embed([a_ids[k] for k in keys])
                        row = {k: n for n, k in enumerate(keys)}
                        av = all_answers[[row[(i, al)] for i, _, al in batch]]
                    else:
                        av = embed([a_ids[(i, al)] for i, _, al in batch])
                    nv = embed(negs) if negs else None
                    if cfg.align_weight > 0:
                        pairs = translation_twins(batch, sampler.langs_of, cfg.seed, state["step"])
                        twins = embed([a_ids[(i, tl)] for i, tl in pairs])
                    if cfg.all_questions_weight > 0:  # the same ids' questions in all languages
                        all_questions = embed([q_ids[k] for k in keys])
                    loss = loss_fn(qv, av, nv, mask, twins, all_answers, all_questions, positives)
                    loss = loss / cfg.grad_accum
                scaler.scale(loss).backward()
                step_loss += float(loss.detach())
                pairs_done += len(batch)
            dist.sum_gradients(params)
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
            scaler.step(opt)
            scaler.update()
            sched.step()
            state["step"] += 1
            last_loss = step_loss
            elapsed = time.monotonic() - t0
            done_here = state["step"] - start_step
            eta = elapsed / done_here * (total - state["step"]) if done_here else None
            dev = None
            if es is not None and dist.main and (state["step"] % cfg.eval_every == 0 or state["step"] == total):
                dev = evaluate()
                dev.setdefault("primary", dev.get(PRIMARY))
                state["history"].append({"step": state["step"], "loss": last_loss,
                                         **{k: dev[k] for k in ("primary", *SUMMARY_KEYS, "bitext_acc") if k in dev}})
                if state["best"] is None or dev["primary"] > state["best"].get("primary", state["best"].get(PRIMARY)):
                    state["best"], state["best_step"] = dev, state["step"]
                    save_best(dev)
                checkpoint()
            elif es is None and state["step"] == total:
                save_best(None)
            if on_progress:
                on_progress(TrainProgress(state["step"], total, last_loss, sched.get_last_lr()[0],
                                          pairs_done / max(elapsed, 1e-9), eta, dev))
    except Cancelled:
        checkpoint()
        if dist.main and not (out_dir / OVERLAY).is_file():
            save_best(None)
        return TrainResult(out_dir, state["best"] or {}, state["best_step"], state["history"], cancelled=True)
    except torch.OutOfMemoryError as exc:
        raise TrainingOOM(
            f"the GPU ran out of memory at batch size {cfg.batch_size} (max length {cfg.max_length}). "
            f"Try batch size {max(2, cfg.batch_size // 2)}, or a shorter max length, or gradient "
            "accumulation to keep the effective batch.") from exc
    if es is None:
        save_best(None)
    if dist.main:
        shutil.rmtree(ckpt, ignore_errors=True)
    return TrainResult(out_dir, state["best"] or {}, state["best_step"], state["history"])


class MixtureTokens:
    """Token ids of a mixture's texts, made when a batch first needs them (a mixture can hold
    far more texts than a run visits), each side prefixed as search encodes it (:data:`KINDS`)."""

    def __init__(self, mixture: Mixture, tok):
        self.mixture, self.tok, self.cache = mixture, tok, {}

    def of(self, batch: MixtureBatch) -> tuple[list, list]:
        ps = self.mixture.sources[batch.source]
        lp, rp = (PREFIXES[kind] for kind in KINDS[ps.kind][2:])
        need = [(side, i, lang, prefix + texts[i][lang])
                for i, x, y in batch.pairs
                for side, lang, prefix, texts in (("l", x, lp, ps.left), ("r", y, rp, ps.right))
                if (batch.source, side, i, lang) not in self.cache]
        if need:
            for (side, i, lang, _), ids in zip(need, self.tok([t for *_, t in need])):
                self.cache[(batch.source, side, i, lang)] = ids
        return ([self.cache[(batch.source, "l", i, x)] for i, x, _ in batch.pairs],
                [self.cache[(batch.source, "r", i, y)] for i, _, y in batch.pairs])


def translation_twins(batch, langs_of: dict, seed: int, step: int) -> list[tuple[str, str]]:
    """For each (id, question lang, answer lang) pair, the (id, lang) of the answer's translation
    to align it with: the question's language for X-Y pairs, another language drawn for X-X pairs."""
    rng = random.Random(f"{seed}:{step}")
    out = []
    for i, ql, al in batch:
        if ql != al:
            out.append((i, ql))
        else:
            others = [l for l in langs_of[i] if l != al]
            out.append((i, rng.choice(others) if others else al))
    return out


def all_language_answers(batch, langs_of: dict) -> tuple[list[tuple[str, str]], list[list[bool]]]:
    """The (id, lang) of every batch id's answer (or question) in each of its languages, and
    positives[j][k]: text k belongs to pair j's id."""
    keys = [(i, lang) for i, _, _ in batch for lang in langs_of[i]]
    return keys, [[k[0] == i for k in keys] for i, _, _ in batch]


def _batches(sampler, state):
    """Endless batches, reseeding per epoch, skipping what a resumed run already consumed."""
    skip = state["batch_in_epoch"]
    while True:
        sampler.set_epoch(state["epoch"])
        for b, batch in enumerate(sampler):
            if b < skip:
                continue
            state["batch_in_epoch"] = b + 1
            yield batch
        skip = 0
        state["epoch"] += 1
        state["batch_in_epoch"] = 0


def _encode(model, ids, pad_id, device, batch_size: int = 128, cancel=None) -> np.ndarray:
    order = np.argsort([len(x) for x in ids], kind="stable")
    out = np.zeros((len(ids), model.config.hidden_size), dtype=np.float32)
    for s in range(0, len(ids), batch_size):
        if cancel is not None:
            cancel.raise_if_cancelled()
        idx = order[s:s + batch_size]
        out[idx] = embed_ids(model, [ids[i] for i in idx], pad_id, device).float().cpu().numpy()
    return out
