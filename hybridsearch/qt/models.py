"""Which models a person can pick in the app: base, bundled, and every model trained here."""

from __future__ import annotations

import json
from pathlib import Path

from hybridsearch.encoder.card import has_card, read_card
from hybridsearch.errors import ModelError


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
            if not has_card(d):
                continue
            if not ((d / "overlay.safetensors").is_file() or (d / "model.safetensors").is_file()):
                continue
            card = read_card(d)
        except (OSError, ModelError):
            continue
        note = read_note(d)
        label = note.get("name") or card.get("name") or d.name
        if label == d.name:
            label = model_label(str(d))
        steps = (card.get("recipe") or {}).get("steps") if isinstance(card.get("recipe"), dict) else None
        data = Path(str(card.get("data") or "")).name if isinstance(card.get("data"), str) else ""
        facts = [f for f in (data, f"{steps} steps" if steps else "") if f]
        if note.get("cancelled_at_step") is not None:
            facts.append(f"cancelled at step {note['cancelled_at_step']}")
        out.append((f"{label} (trained{': ' + ', '.join(facts) if facts else ''})", str(d)))
    return out


#: What the app notes about a model it trained (a name the person gave it, a cancelled run).
NOTE = "app-note.json"


def read_note(model_dir) -> dict:
    try:
        return json.loads((Path(model_dir) / NOTE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def write_note(model_dir, **changes) -> None:
    """Update the app's note of ``model_dir`` (written whole to a temporary name, then renamed)."""
    import os

    note = {**read_note(model_dir), **changes}
    tmp = Path(model_dir) / f".{NOTE}.tmp"
    tmp.write_text(json.dumps(note, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, Path(model_dir) / NOTE)


def mark_cancelled(settings, model_dir: str, step: int) -> None:
    """Note that ``model_dir`` holds a run cancelled at ``step`` (the lists then say so)."""
    write_note(model_dir, cancelled_at_step=int(step))


def rename_model(model_dir: str, name: str) -> None:
    """Give a trained model a name of the person's choosing (the folder stays as it is)."""
    write_note(model_dir, name=name.strip() or None)


def delete_model(model_dir: str) -> None:
    """Delete a model trained in this app (only folders inside the app's models directory)."""
    import shutil

    from hybridsearch import paths

    d = Path(model_dir).resolve()
    if paths.models_dir().resolve() not in d.parents or not has_card(d):
        raise ValueError(f"{d} is not a model trained in this app")
    shutil.rmtree(d)


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
