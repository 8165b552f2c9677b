"""Which models a person can pick in the app: base, bundled, and every model trained here."""

from __future__ import annotations

import json
from pathlib import Path


def trained_models() -> list[tuple[str, str]]:
    """(label, directory) for models trained in this app (overlays or full models with a card)."""
    from hybridsearch import paths

    out = []
    root = paths.models_dir()
    if not root.is_dir():
        return out
    for d in sorted(root.iterdir(), key=lambda p: p.stat().st_mtime if p.exists() else 0, reverse=True):
        try:
            if not d.is_dir() or d.name.startswith((".", "multilingual-e5")):
                continue
            card_path = d / "hybridsearch.json"
            if not card_path.is_file():
                continue
            if not ((d / "overlay.safetensors").is_file() or (d / "model.safetensors").is_file()):
                continue
            card = json.loads(card_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        label = card.get("name") or d.name
        if label == d.name:
            label = model_label(str(d))
        out.append((f"{label} (trained)", str(d)))
    return out


def model_options() -> list[tuple[str, str]]:
    """(label, model name or path) for the model pickers."""
    from hybridsearch.encoder import model_choices

    out = []
    for name, desc in model_choices().items():
        out.append((f"{name} — {desc}", name))
    out.extend(trained_models())
    return out


def model_label(name: str) -> str:
    """A short name for charts: 'base', the bundled name, or a trained model's folder name."""
    if name in ("base", "default"):
        return name
    import re

    p = Path(name)
    base = p.name if p.name else name
    m = re.fullmatch(r"trained-(\d{4})(\d\d)(\d\d)-(\d\d)(\d\d)(\d\d)", base)
    if m:  # folders made by the Training page: "trained 11-22 04:58"
        return f"trained {m[2]}-{m[3]} {m[4]}:{m[5]}"
    return base
