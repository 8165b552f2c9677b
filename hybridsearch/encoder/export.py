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
    halve_word_embeddings(raw, int(cfg.vocab_size))
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


def halve_word_embeddings(path: Path, vocab_size: int) -> bool:
    """Store the word-embedding table in float16, with a Cast to float32 after the lookup, when
    that loses nothing: when every value is a float16 number (weights kept in float16, as the
    package's are). The table is most of the model (96 M of 118 M parameters): the export shrinks
    from ~470 MB to ~280 MB. The looked-up values are the same; the vectors differ by rounding
    only (3.4e-7 at most on the real model), as the embedding layer norm no longer fuses. Returns
    whether it did."""
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
            return False  # the table feeds other nodes too (tied weights): leave the graph as it is
        values = numpy_helper.to_array(table)
        half = values.astype(np.float16)
        if not np.array_equal(half.astype(np.float32), values):
            return False
        name = table.name + ".float16"
        m.graph.initializer.remove(table)
        m.graph.initializer.append(numpy_helper.from_array(half, name))
        looked_up = node.output[0]
        node.input[0] = name
        node.output[0] = looked_up + ".float16"
        m.graph.node.insert(i + 1, helper.make_node("Cast", [node.output[0]], [looked_up],
                                                    to=TensorProto.FLOAT, name=looked_up + ".cast"))
        onnx.save(m, str(path))
        return True
    return False
