"""Training checkpoints: what a stopped run needs to resume at the same step.

``checkpoint/`` inside the output directory holds the trainable parameters, the AdamW moments
(both safetensors) and ``state.json`` (step, epoch, position in the epoch, best dev metrics,
scheduler and scaler state, the config). It is written atomically and removed when a run ends.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from hybridsearch import atomic

CHECKPOINT = "checkpoint"


def checkpoint_state(out_dir: Path) -> dict | None:
    """The saved state of a run's checkpoint in ``out_dir`` (step, config, …), or None."""
    path = Path(out_dir) / CHECKPOINT / "state.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def save_checkpoint(ckpt: Path, model, opt, sched, scaler, trainable, state, cfg) -> None:
    """Write the trainable parameters, the optimizer moments (safetensors, no pickles) and the
    loop's state to ``ckpt``, atomically (the directory is swapped in whole)."""
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

    atomic.write_dir(ckpt, write)


def load_checkpoint(ckpt: Path, model, opt, sched, scaler) -> dict:
    """Restore what :func:`save_checkpoint` wrote into ``model``, ``opt``, ``sched`` and
    ``scaler``; return the loop's state."""
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
