"""The training loop: hybrid batch training with in-batch-negative InfoNCE.

``train(cfg, data, on_progress, cancel)`` fine-tunes a model directory and writes an *overlay*
model (only the parameters training can change, fp16 safetensors, plus a model card) to
``cfg.out_dir``. Checkpoints (``cfg.out_dir/checkpoint``) make a run resumable; the best dev
checkpoint is what ends up in ``out_dir``.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from hybridsearch.errors import Cancelled, HybridSearchError
from hybridsearch.progress import CancelToken
from trainer.evaluate import PRIMARY, EvalSet, calibrate_language_offset, compute_metrics, evaluate_pair_set
from trainer.qa import PairSet, ParallelQA
from trainer.qa.mixture import Mixture, data_credits
from trainer.qa.records import KINDS
from trainer.samplers import (HARD_NEGATIVE_LANGUAGES, HardNegatives, MinedNegatives, MixtureBatch,
                              MixtureBatchSampler, make_sampler)

CHECKPOINT = "checkpoint"
#: Tokens per text when evaluating during training: what the runtime encodes (its default limit,
#: cut to the model's position table).
EVAL_MAX_LENGTH = 512


class TrainingOOM(HybridSearchError):
    """The GPU ran out of memory; the message names a smaller batch size to try."""


@dataclass
class TrainConfig:
    """Everything that defines a run (saved in the model card and the checkpoint)."""

    model: str = "base"
    out_dir: str = "trained-model"
    steps: int | None = 300
    epochs: float | None = None
    batch_size: int = 32
    lr: float = 3e-5
    temperature: float = 0.05
    alpha: float = 0.5
    max_length: int = 128
    freeze_embeddings: bool = True
    #: train only the top N transformer layers (None: all)
    train_layers: int | None = None
    symmetric: bool = False
    #: weight of the translation-alignment term (0: off): each answer is also pulled toward its
    #: translation in the question's language (another language for X-X pairs), in-batch InfoNCE
    align_weight: float = 0.0
    #: add, for every pair, another sentence of the answer's passage in the question's language as
    #: a negative for the whole batch (needs the pool of the SQuAD/XQuAD-R layout or `context`)
    hard_negatives: bool = False
    #: the hard negative's language: "question" (the language bias's competitor), "answer" (the
    #: cross-lingual competitor: a neighbour in the answer's language) or "both" (one of each)
    hard_negative_language: str = "question"
    #: mine the hard negatives instead (0: off): each question's K highest-ranked candidates under the
    #: starting model that are not one of its answers, in any language; one is drawn per pair
    mine_negatives: int = 0
    #: mine only candidates in the question's language
    mine_same_language: bool = False
    #: weight of the all-languages term (0: off): each question must rank its answer in *every*
    #: language above the other answers of the batch in every language, all translations alike
    #: (multi-positive InfoNCE). It encodes each pair's answer in all its languages
    all_languages_weight: float = 0.0
    #: weight of the all-questions term (0: off), the all-languages term's mirror on the question
    #: side: each pair's answer must rank its question in *every* language above the batch's other
    #: questions in every language, all translations alike. A question then has no language of its
    #: own toward its answer. It encodes each pair's question in all its languages
    all_questions_weight: float = 0.0
    dev_share: float = 0.1
    seed: int = 0
    eval_every: int = 50
    device: str = "auto"
    grad_accum: int = 1
    warmup: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    mixed_precision: bool = True
    resume: bool = True
    name: str | None = None
    #: the mixture's sources (``[KIND=]PATH[#SELECTOR][:WEIGHT]``, trainer/qa/mixture.py) when the
    #: run trains on several kinds of positives; recorded in the card
    sources: list[str] | None = None


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


def cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX), where autocast pays off."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((l for l in f if l.startswith("flags")), "")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _seed_all(seed: int) -> None:
    import torch

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
    primary metric (mAP for QA data, translation accuracy for bitext)."""
    from hybridsearch.encoder.runtime import pick_device
    from trainer.distributed import Dist

    if min(cfg.align_weight, cfg.all_languages_weight, cfg.all_questions_weight, cfg.mine_negatives) < 0:
        raise HybridSearchError("align_weight, all_languages_weight, all_questions_weight and mine_negatives "
                                "must be 0 or more")  # checked before anything loads
    if cfg.hard_negative_language not in HARD_NEGATIVE_LANGUAGES:
        raise HybridSearchError(f"hard_negative_language must be one of {', '.join(HARD_NEGATIVE_LANGUAGES)}, "
                                f"not {cfg.hard_negative_language!r}")
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
    import torch
    from hybridsearch.encoder import resolve_model
    from hybridsearch.encoder.runtime import embed_ids, load_bert, model_files, token_limit
    from trainer.loss import InBatchInfoNCE, multi_positive_nce

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
    prefix_q, prefix_a = "query: ", "passage: "
    tokenizer.no_padding()
    tokenizer.no_truncation()

    def tok(texts, limit=train_length):
        encs = tokenizer.encode_batch(texts)
        return [e.ids if len(e.ids) <= limit else e.ids[:limit - 1] + e.ids[-1:] for e in encs]

    def encode_texts(texts, prefix: str, stop=None) -> np.ndarray:
        """Vectors of whole texts, as search encodes them (training truncates at max_length);
        ``stop``: a cancel token checked between batches."""
        model.eval()
        with torch.inference_mode():
            out = _encode(model, tok([prefix + t for t in texts], eval_length), pad_id, device, embed_ids,
                          cancel=stop)
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
    loss_fn = InBatchInfoNCE(cfg.temperature, cfg.symmetric)
    align_fn = InBatchInfoNCE(cfg.temperature, symmetric=True)
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
        state = _load_checkpoint(ckpt, model, opt, sched, scaler, trainable)

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
            _save_overlay(model, trainable, files, out_dir, cfg, metrics, state)

    def save_checkpoint() -> None:
        if dist.main:
            _save_checkpoint(ckpt, model, opt, sched, scaler, trainable, state, cfg)

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
                    qv = embed(qs)
                    if cfg.all_languages_weight > 0 or cfg.all_questions_weight > 0:
                        keys, pos = all_language_answers(batch, sampler.langs_of)  # every id in all its languages
                    if cfg.all_languages_weight > 0:  # every answer in all its languages, the pairs' own among them
                        cv = embed([a_ids[k] for k in keys])
                        row = {k: n for n, k in enumerate(keys)}
                        av = cv[[row[(i, al)] for i, _, al in batch]]
                    else:
                        av = embed([a_ids[(i, al)] for i, _, al in batch])
                    nv = embed(negs) if negs else None
                    loss = loss_fn(qv, av, nv, mask)
                    if cfg.align_weight > 0:
                        twins = translation_twins(batch, sampler.langs_of, cfg.seed, state["step"])
                        tv = embed([a_ids[(i, tl)] for i, tl in twins])
                        loss = loss + cfg.align_weight * align_fn(av, tv)
                    if cfg.all_languages_weight > 0:
                        apos = torch.tensor(pos, dtype=torch.bool)
                        if nv is not None:  # the hard negatives compete too (a drawn answer is a positive)
                            cv, apos = torch.cat([cv, nv]), torch.cat([apos, mask], dim=1)
                        loss = loss + cfg.all_languages_weight * multi_positive_nce(qv, cv, apos, cfg.temperature)
                    if cfg.all_questions_weight > 0:  # every question in all its languages, as the answer's
                        allq = embed([q_ids[k] for k in keys])  # the same ids' questions are the positives
                        qpos = torch.tensor(pos, dtype=torch.bool)
                        loss = loss + cfg.all_questions_weight * multi_positive_nce(av, allq, qpos, cfg.temperature)
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
                state["history"].append({"step": state["step"], "loss": last_loss, **{k: dev[k] for k in (
                    "primary", "map", "mono_mrr", "cross_mrr", "qlf_rate", "rank_distance", "bitext_acc")
                    if k in dev}})
                if state["best"] is None or dev["primary"] > state["best"].get("primary", state["best"].get(PRIMARY)):
                    state["best"], state["best_step"] = dev, state["step"]
                    save_best(dev)
                save_checkpoint()
            elif es is None and state["step"] == total:
                save_best(None)
            if on_progress:
                on_progress(TrainProgress(state["step"], total, last_loss, sched.get_last_lr()[0],
                                          pairs_done / max(elapsed, 1e-9), eta, dev))
    except Cancelled:
        save_checkpoint()
        if dist.main and not (out_dir / "overlay.safetensors").is_file():
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
    far more texts than a run visits), with each kind's prefixes (:data:`KINDS`)."""

    def __init__(self, mixture: Mixture, tok):
        self.mixture, self.tok, self.cache = mixture, tok, {}

    def of(self, batch: MixtureBatch) -> tuple[list, list]:
        ps = self.mixture.sources[batch.source]
        _, _, lp, rp = KINDS[ps.kind]
        need = [(k, side, i, lang, prefix + texts[i][lang])
                for k, (i, x, y) in enumerate(batch.pairs)
                for side, lang, prefix, texts in (("l", x, lp, ps.left), ("r", y, rp, ps.right))
                if (batch.source, side, i, lang) not in self.cache]
        if need:
            for (_, side, i, lang, _), ids in zip(need, self.tok([t for *_, t in need])):
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


def _encode(model, ids, pad_id, device, embed_ids, batch_size: int = 128, cancel=None) -> np.ndarray:
    order = np.argsort([len(x) for x in ids], kind="stable")
    out = np.zeros((len(ids), model.config.hidden_size), dtype=np.float32)
    for s in range(0, len(ids), batch_size):
        if cancel is not None:
            cancel.raise_if_cancelled()
        idx = order[s:s + batch_size]
        out[idx] = embed_ids(model, [ids[i] for i in idx], pad_id, device).float().cpu().numpy()
    return out


def _atomic_dir(target: Path, write) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        write(tmp)
        old = target.with_name(f".{target.name}.old")
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _save_overlay(model, trainable, files, out_dir: Path, cfg: TrainConfig, metrics, state) -> None:
    """Write the changed parameters (fp16) and the model card; atomic per file."""
    import torch
    from safetensors.torch import save_file
    from hybridsearch.encoder.convert import BASE_NAME

    sd = model.state_dict()
    keys = set(trainable)
    if files.overlay is not None:  # continuing from an overlay: keep what it changed too
        from safetensors import safe_open

        with safe_open(str(files.overlay), "pt") as f:
            keys |= set(f.keys())
    tensors = {k: sd[k].detach().to("cpu", torch.float16).contiguous() for k in sorted(keys)}
    tmp = out_dir / ".overlay.safetensors.tmp"
    save_file(tensors, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, out_dir / "overlay.safetensors")
    from hybridsearch.encoder.runtime import read_card, write_card

    base_card = files.card or {}
    # the weights' own card says whether they are the converted base (also when continuing from
    # an overlay, whose card names the overlay): then the new overlay names the base portably
    on_base = read_card(files.weights_dir).get("name") == BASE_NAME
    card = {
        "name": cfg.name or out_dir.name,
        "base": base_card.get("base", str(files.weights_dir)),
        "base_model": BASE_NAME if on_base else None,
        "base_model_dir": None if on_base else str(files.weights_dir.resolve()),
        "training": "hybrid batch training (in-batch-negative InfoNCE)",
        "data_credits": data_credits(cfg.sources) if cfg.sources else None,
        "recipe": {k: v for k, v in asdict(cfg).items() if k not in ("out_dir", "resume")},
        "best_step": state["step"],
        "dev_metrics": metrics,
        # search takes this from same-language passages' cosines; chosen on the dev split
        "language_offset": (metrics or {}).get("calibrated_offset"),
    }
    card = {k: v for k, v in card.items() if v is not None}
    write_card(out_dir, card)


def _save_checkpoint(ckpt: Path, model, opt, sched, scaler, trainable, state, cfg) -> None:
    import torch
    from safetensors.torch import save_file

    def write(d: Path):
        sd = model.state_dict()
        save_file({k: sd[k].detach().cpu().contiguous() for k in sorted(trainable)}, str(d / "params.safetensors"))
        # optimizer moments as safetensors too (no pickles anywhere)
        moments = {}
        names = {id(p): n for n, p in model.named_parameters()}
        for group in opt.param_groups:
            for p in group["params"]:
                st = opt.state.get(p)
                if st:
                    n = names[id(p)]
                    moments[f"{n}::exp_avg"] = st["exp_avg"].cpu().contiguous()
                    moments[f"{n}::exp_avg_sq"] = st["exp_avg_sq"].cpu().contiguous()
                    moments[f"{n}::step"] = torch.as_tensor(st["step"]).reshape(1).float().cpu()
        if moments:
            save_file(moments, str(d / "optimizer.safetensors"))
        meta = {k: v for k, v in state.items()}
        meta["sched_last_epoch"] = sched.last_epoch
        meta["scaler_scale"] = float(scaler.get_scale()) if scaler.is_enabled() else None
        meta["config"] = asdict(cfg)
        (d / "state.json").write_text(json.dumps(meta, indent=2))

    _atomic_dir(ckpt, write)


def _load_checkpoint(ckpt: Path, model, opt, sched, scaler, trainable) -> dict:
    import torch
    from safetensors.torch import load_file

    params = load_file(str(ckpt / "params.safetensors"))
    own = model.state_dict()
    with torch.no_grad():
        for k, v in params.items():
            own[k].copy_(v)
    mom_path = ckpt / "optimizer.safetensors"
    if mom_path.is_file():
        moments = load_file(str(mom_path))
        by_name = dict(model.named_parameters())
        for key in {k.split("::")[0] for k in moments}:
            p = by_name[key]
            dev = p.device
            opt.state[p] = {"exp_avg": moments[f"{key}::exp_avg"].to(dev),
                            "exp_avg_sq": moments[f"{key}::exp_avg_sq"].to(dev),
                            "step": moments[f"{key}::step"].reshape(()).clone()}
    meta = json.loads((ckpt / "state.json").read_text())
    sched.last_epoch = meta.pop("sched_last_epoch")
    for g, base_lr in zip(opt.param_groups, sched.base_lrs):
        g["lr"] = base_lr * sched.lr_lambdas[0](sched.last_epoch)
    sched._last_lr = [g["lr"] for g in opt.param_groups]
    scale = meta.pop("scaler_scale", None)
    if scale and scaler.is_enabled():
        scaler.update(scale)
    meta.pop("config", None)
    return meta
