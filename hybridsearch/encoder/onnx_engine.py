"""The ONNX Runtime engine: the same ``encode(texts, kind) -> vectors`` as the torch runtime, without torch.

A model directory is exported once with torch (:mod:`hybridsearch.encoder.export`) to an ONNX graph that ONNX
Runtime's transformer optimiser has fused (attention, layer norm, GELU), then optimised once more
by ONNX Runtime itself and saved, so that a new process only loads it (no optimisation at start).
The result lives in the cache under ``engine/`` in a directory named after the model's identity
and the files' sizes and times: a changed model gets a new directory, and the directory is written
under a temporary name and renamed, so a killed export never leaves a file that is used.

Only ``onnxruntime``, ``tokenizers`` and ``numpy`` are imported to encode; ``torch`` is imported
by the export only.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np

from hybridsearch import atomic, paths
from hybridsearch.encoder import export
from hybridsearch.encoder.export import GRAPH, OPSET, WEIGHTS
from hybridsearch.encoder.runtime import ModelFiles, TextEncoder, check_weights, model_files, model_identity
from hybridsearch.errors import ModelError

#: Bump when the exported graph changes (opset, fusion, inputs), so older caches are rebuilt.
EXPORT_VERSION = 2
META = "engine.json"
#: Exports of other models kept in the cache besides the one in use: the most recently used. Each is
#: 190-470 MB, so a person who trains and evaluates many models does not fill the disk with them. The
#: models the app ships (the base, the bundled overlays) keep theirs.
KEEP_EXPORTS = 3


def cache_key(files: ModelFiles) -> str:
    """Directory name of ``files``' export: identity, plus sizes and times of every file it is built from."""
    h = hashlib.sha256(f"v{EXPORT_VERSION}".encode())
    for p in (files.weights_dir / "config.json", files.weights_dir / "model.safetensors", files.overlay):
        if p is not None:
            st = p.stat()
            h.update(f"{p.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode())
    return f"{model_identity(files)}-onnx-fp32-{h.hexdigest()[:10]}"


def engine_dir(files: ModelFiles, root: Path | None = None) -> Path:
    return (Path(root) if root else paths.models_dir() / "engine") / cache_key(files)


def is_exported(target: Path) -> bool:
    return (target / META).is_file() and (target / GRAPH).is_file() and (target / WEIGHTS).is_file()


def shipped_name(files: ModelFiles, identity: str | None = None) -> str:
    """Directory name of an export shipped with a packaged build: the weights' identity alone
    (paths and times differ on every install; the identity does not)."""
    return f"{identity or model_identity(files)}-onnx-fp32-v{EXPORT_VERSION}"


def shipped_dir(files: ModelFiles) -> Path | None:
    """The export a packaged build ships for exactly these weights, if there is one.

    The package's first search then needs neither torch nor a minute of export.
    """
    identity = model_identity(files)  # reads the head of each weights file: once
    target = paths.resources_dir() / "models" / "engine" / shipped_name(files, identity)
    if not is_exported(target):
        return None
    try:
        meta = json.loads((target / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = meta.get("identity") == identity and meta.get("export_version") == EXPORT_VERSION
    return target if ok else None


def write_export(files: ModelFiles, target: Path) -> None:
    """Export ``files`` into ``target`` (a directory swapped in whole; ``engine.json`` written last)."""
    def write(tmp: Path) -> None:
        t0 = time.perf_counter()
        export.export_onnx(files, tmp)
        meta = {"identity": model_identity(files), "engine": "onnxruntime", "precision": "fp32",
                "export_version": EXPORT_VERSION, "opset": OPSET, "source": str(files.weights_dir),
                "overlay": str(files.overlay) if files.overlay else None,
                "export_seconds": round(time.perf_counter() - t0, 1)}
        (tmp / META).write_text(json.dumps(meta, indent=2))

    target.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_dir(target, write)  # replaces an incomplete leftover of a killed export


def needs_export(files: ModelFiles, root: Path | None = None) -> bool:
    """Whether :func:`ensure_exported` would export ``files`` first (nothing shipped or cached)."""
    if root is None and shipped_dir(files) is not None:
        return False
    return not is_exported(engine_dir(files, root))


def ensure_exported(files: ModelFiles, root: Path | None = None, note=None) -> Path:
    """Return the engine directory of ``files``, exporting the model first if it is not there.

    The export is written into a temporary sibling and renamed into place; ``engine.json`` is the
    last file written, so a directory without it is never used.
    """
    if root is None:
        shipped = shipped_dir(files)
        if shipped is not None:
            return shipped
    target = engine_dir(files, root)
    if is_exported(target):
        atomic.mark_used(target)
        atomic.remove_abandoned(target.parent, unlocked_after=3600)  # exports a quit or killed app left
        return target
    if note is not None:
        note(f"note: preparing the model {files.name} for ONNX Runtime (once per model, about a minute)")
    write_export(files, target)
    _drop_stale(target)
    return target


def _drop_stale(current: Path) -> None:
    """Remove older exports of the same model directory (its files changed), exports of models
    whose files are gone (a moved or removed installation, a deleted model), and all but the
    :data:`KEEP_EXPORTS` most recently used exports of other models than those the app ships, so
    the cache does not grow by an export (190-470 MB) for each model ever used."""
    def source(d: Path):
        try:
            meta = json.loads((d / META).read_text())
        except (OSError, ValueError):
            return None
        return meta.get("source"), meta.get("overlay")

    def gone(src) -> bool:
        return any(p and not Path(p).exists() for p in src)

    def evictable(d: Path):
        src = source(d)
        return None if src is None or _shipped_model(*src) else src

    atomic.remove_stale_siblings(current, source, gone)
    atomic.keep_recent_siblings(current, KEEP_EXPORTS, evictable)


def _shipped_model(weights_dir, overlay) -> bool:
    """True for an export of a model the app ships: the base (its weights alone) or an overlay among
    the app's resources (the bundled models)."""
    from hybridsearch.encoder.convert import base_model_dirs

    try:
        if overlay:
            return Path(overlay).resolve().is_relative_to(paths.resources_dir().resolve())
        return any(Path(weights_dir).resolve() == b.resolve() for b in base_model_dirs())
    except (OSError, TypeError):
        return False


def ort_providers(device: str) -> list[str]:
    """ONNX Runtime providers for ``device`` ('cpu' or 'cuda[:n]'), CPU always last."""
    return ["CUDAExecutionProvider", "CPUExecutionProvider"] if device.startswith("cuda") else ["CPUExecutionProvider"]


class OnnxEncoder(TextEncoder):
    """Sentence encoder on ONNX Runtime: the torch runtime's vectors (cosine ≥ 0.9999) without torch."""

    engine = "onnxruntime"

    def __init__(self, model_dir: str | Path, device: str | None = None, threads: int | None = None,
                 max_length: int = 512, batch_size: int = 32, root: Path | None = None, note=None):
        import onnxruntime as ort

        files = model_files(model_dir)
        check_weights(files)
        super().__init__(files, Path(model_dir), max_length, batch_size)
        self.device = "cpu" if device in (None, "auto") else device
        if not self.device.startswith(("cpu", "cuda")):
            raise ModelError(f"ONNX Runtime cannot run on {self.device}")
        self.engine_dir = ensure_exported(files, root, note)
        so = ort.SessionOptions()
        # the saved graph is already optimised: loading it must not optimise it again
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        so.log_severity_level = 3
        # idle threads sleep instead of spinning: on a busy machine (a desktop indexing, other
        # programs) spinning threads fight for the cores; measured under load on 2 cores, a query
        # took 89 ms with spinning and 16 ms without
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.add_session_config_entry("session.inter_op.allow_spinning", "0")
        if threads:
            so.intra_op_num_threads = int(threads)
        providers = ort_providers(self.device)
        if providers[0] not in ort.get_available_providers():
            raise ModelError(f"this ONNX Runtime has no {providers[0]}")
        try:
            self.session = ort.InferenceSession(str(self.engine_dir / GRAPH), so, providers=providers)
        except Exception as exc:  # onnxruntime raises its own error types for damaged graphs
            raise ModelError(f"the exported model {self.engine_dir / GRAPH} does not load: {exc}") from exc

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        width = max(len(x) for x in batch)
        ids = np.full((len(batch), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for r, x in enumerate(batch):
            ids[r, :len(x)] = x
            mask[r, :len(x)] = 1
        hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        m = mask[:, :, None].astype(np.float32)
        pooled = (hidden * m).sum(1) / np.maximum(m.sum(1), 1.0)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return (pooled / norms).astype(np.float32)
