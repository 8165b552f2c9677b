"""Export a trained model: an *overlay* (only the parameters training changed, fp16 safetensors)
plus its model card, written into the run's output directory. The runtime applies the overlay
on top of the base model it names."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from hybridsearch import atomic
from hybridsearch.encoder.convert import BASE_NAME
from hybridsearch.encoder.runtime import read_card, write_card
from trainer.qa.mixture import data_credits

OVERLAY = "overlay.safetensors"


def save_overlay(model, trainable, files, out_dir: Path, cfg, metrics, state) -> None:
    """Write the changed parameters (fp16) and the model card; atomic per file."""
    sd = model.state_dict()
    keys = set(trainable)
    if files.overlay is not None:  # continuing from an overlay: keep what it changed too
        with safe_open(str(files.overlay), "pt") as f:
            keys |= set(f.keys())
    tensors = {k: sd[k].detach().to("cpu", torch.float16).contiguous() for k in sorted(keys)}
    atomic.write_file(out_dir / OVERLAY, lambda tmp: save_file(tensors, str(tmp), metadata={"format": "pt"}))
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
        "data_credits": data_credits(cfg.sources) if getattr(cfg, "sources", None) else None,
        "recipe": {k: v for k, v in asdict(cfg).items() if k not in ("out_dir", "resume")},
        "best_step": state["step"],
        "dev_metrics": metrics,
        # search takes this from same-language passages' cosines; chosen on the dev split
        "language_offset": (metrics or {}).get("calibrated_offset"),
    }
    card = {k: v for k, v in card.items() if v is not None}
    write_card(out_dir, card)


def prepare_for_search(out_dir: Path, note=None) -> str | None:
    """Export the trained model for the search engine now, so its first search does not wait for it.

    Returns None when done, or a one-line reason when the export failed: the model is still
    good, and the export is tried again when it is first used (torch answers if it fails again).
    """
    from hybridsearch.encoder.onnx_engine import ensure_exported
    from hybridsearch.encoder.runtime import model_files
    from hybridsearch.errors import HybridSearchError

    try:
        ensure_exported(model_files(out_dir), note=note)
    except (HybridSearchError, OSError, RuntimeError, ValueError) as exc:
        return f"the model could not be prepared for search now ({exc}); it will be at its first use"
    return None
