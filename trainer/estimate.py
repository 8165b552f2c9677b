"""What a training run will cost before it starts: time on a CPU, memory, and whether the dev split
is big enough to mean anything. No Qt; the Training page shows these numbers.

The time estimate is calibrated on this computer: :func:`measure_cpu_rate` times a few real
training steps (forward and backward passes of the chosen model at the chosen length) and
:func:`cpu_seconds` scales that rate to the planned run. Before the measurement is done the
estimate uses :data:`CPU_PAIRS_PER_S`, a rough figure, and says so.
"""

from __future__ import annotations

import time

#: Rough CPU training speed of multilingual-e5-small (question+answer pairs per second, max length
#: 128, 2-4 cores): used only until a warm-up has measured this computer.
CPU_PAIRS_PER_S = 5.0
#: Loading the model and the dev evaluations add roughly this much to a CPU run (seconds).
CPU_OVERHEAD_S = 30.0
#: Memory one passage of 128 tokens takes while training on a CPU (activations and gradients):
#: batch 16 with the all-languages term over 11 languages (224 texts a step) peaked at about 14 GB.
CPU_GB_PER_TEXT = 0.0625
#: Fewer dev question ids than this and the dev metrics are noise (one id: mAP 1.000 or 0.000).
MIN_DEV_IDS = 30


def texts_per_pair(languages: int, all_languages: bool, hard_negatives: bool) -> int:
    """Texts encoded for each pair of a batch: question, answer, a hard negative, and with the
    all-languages term the answer in every language (which replaces the answer itself)."""
    return 1 + (languages if all_languages else 1) + (1 if hard_negatives else 0)


def cpu_rate(texts: int, max_length: int, measured_pairs_per_s: float | None = None) -> float:
    """Pairs per second for pairs of ``texts`` texts at ``max_length`` tokens.

    ``measured_pairs_per_s`` is a warm-up's rate for plain pairs (2 texts) at 128 tokens."""
    base = measured_pairs_per_s or CPU_PAIRS_PER_S
    return base * 2 / texts * 128 / max(1, max_length)


def cpu_seconds(pairs: int, texts: int, max_length: int, measured_pairs_per_s: float | None = None) -> float:
    """Seconds a CPU run of ``pairs`` pairs takes, overhead included."""
    return CPU_OVERHEAD_S + pairs / cpu_rate(texts, max_length, measured_pairs_per_s)


def cpu_memory_gb(batch_size: int, texts: int, max_length: int) -> float:
    """Peak memory (GB) of one training step on a CPU."""
    return batch_size * texts * CPU_GB_PER_TEXT * max_length / 128


def dev_ids(n_ids: int, dev_share: float) -> int:
    """Question ids the dev split will hold (as ``ParallelQA.split`` rounds them)."""
    return int(round(n_ids * dev_share)) if dev_share > 0 else 0


def dev_split_warning(n_ids: int, dev_share: float) -> str | None:
    """A sentence for the person when the dev split is too small for its metrics to mean anything."""
    n = dev_ids(n_ids, dev_share)
    if dev_share <= 0:
        return None
    if n < MIN_DEV_IDS:
        return (f"The dev split holds {n} question id{'s' if n != 1 else ''}: its metrics (dev mAP) will be "
                f"noise, not a measure of the model. Use a file with more ids (at least "
                f"{int(MIN_DEV_IDS / max(dev_share, 1e-9)) + 1} at this dev share) or evaluate on other data.")
    return None


def measure_cpu_rate(model: str, max_length: int = 128, batch_pairs: int = 4, steps: int = 2,
                     freeze_embeddings: bool = True, cancel=None) -> float:
    """Pairs per second of real training steps on this CPU (plain pairs, at 128 tokens).

    Loads ``model``, runs one step to warm up, then times ``steps`` forward-and-backward passes
    over ``2 * batch_pairs`` texts of ``max_length`` tokens; the result is scaled to 128 tokens.
    """
    import torch

    from hybridsearch.encoder import resolve_model
    from hybridsearch.encoder.runtime import load_bert, model_files

    bert, _ = load_bert(model_files(resolve_model(model)))
    bert.train()
    if freeze_embeddings:  # as training does: the word embeddings are most of the parameters
        bert.get_input_embeddings().weight.requires_grad_(False)
    params = [p for p in bert.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5)
    n = 2 * batch_pairs
    ids = torch.randint(1000, 20000, (n, max_length))
    mask = torch.ones_like(ids)

    def step():
        out = bert(input_ids=ids, attention_mask=mask).last_hidden_state.mean(1)
        loss = (out @ out.T).logsumexp(1).mean()
        loss.backward()
        opt.step()
        opt.zero_grad()
    step()
    t0 = time.perf_counter()
    for _ in range(steps):
        if cancel is not None:
            cancel.raise_if_cancelled()
        step()
    secs = (time.perf_counter() - t0) / steps
    return batch_pairs / secs * max_length / 128
