"""Train a model, then measure it next to the model search uses now, on the same dev split.

No Qt: the Training page runs :func:`train_and_compare` in a worker thread and charts its result.
"""

from __future__ import annotations

from hybridsearch.errors import Cancelled
from hybridsearch.progress import Progress

#: Key of the comparison entry that says why the current model could not be measured.
ERROR_KEY = "_error"


def train_and_compare(cfg, data, current_model: str, current_label: str, on_progress=None, cancel=None,
                      extra_sources=()):
    """Train with ``cfg`` on ``data``; then evaluate ``current_model`` on the run's dev split.

    ``extra_sources``: (PairSet, weight, spec) of other sources to mix in. The QA data is then split
    first, its training part is one source of the mixture (weight 1, question -> answer), and its
    dev split still chooses the checkpoint and serves the comparison.

    Returns ``(TrainResult, {label: flat metrics dict})`` with the current model under
    ``"current model (<current_label>)"`` and the new one under ``"new model"``; when the current
    model fails to evaluate, its message is under :data:`ERROR_KEY` (the new model is still good).
    A cancelled run returns an empty comparison.
    """
    from hybridsearch.errors import HybridSearchError
    from trainer.evaluate import evaluate_model
    from trainer.train import train

    from trainer.export import prepare_for_search

    if extra_sources:
        from trainer.qa.mixture import Mixture

        part, dev = data.split(cfg.dev_share, cfg.seed) if cfg.dev_share > 0 else (data, None)
        qa = {ps.kind: ps for ps in part.pair_sets()}["qa-sentence"]
        mixture = Mixture([qa, *(ps for ps, _, _ in extra_sources)], [1.0, *(w for _, w, _ in extra_sources)],
                          [str(data.source), *(spec for _, _, spec in extra_sources)])
        res = train(cfg, mixture, on_progress=on_progress, cancel=cancel, eval_data=dev)
    else:
        res = train(cfg, data, on_progress=on_progress, cancel=cancel)
    comparison: dict = {}
    if not res.cancelled:
        if on_progress:
            on_progress(Progress("prepare", 0, None, "preparing the new model for search (once, about a minute)"))
        res.note = prepare_for_search(res.out_dir)
    if res.cancelled or cfg.dev_share <= 0 or not res.best_metrics:
        return res, comparison
    _, dev = data.split(cfg.dev_share, cfg.seed)
    if on_progress:
        on_progress(Progress("compare", 0, None, f"evaluating the current model ({current_label})"))
    try:
        comparison[f"current model ({current_label})"] = evaluate_model(current_model, dev, cancel=cancel)
    except Cancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - the new model is still good; say what failed
        comparison[ERROR_KEY] = (str(exc) if isinstance(exc, HybridSearchError) else
                                 f"{type(exc).__name__}: {exc}").strip() or type(exc).__name__
    comparison["new model"] = res.best_metrics
    return res, comparison
