"""Build all-MiniLM-L6-v2 as an ONNX graph straight from its safetensors, without torch.

The graph is a plain BERT encoder with mean pooling and L2 normalisation, i.e. exactly
what sentence-transformers computes for this model. It is laid out like a PyTorch export
(mask arithmetic, Q/K/V paths) so onnxruntime's BERT optimizer fuses its attention.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 18  # ReduceL2 with axes as an input; LayerNormalization


def read_safetensors(path: Path) -> dict[str, np.ndarray[Any, Any]]:
    """The float32 tensors of a safetensors file (format: u64 header size, JSON, data)."""
    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + size])
    base = 8 + size
    tensors: dict[str, np.ndarray[Any, Any]] = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue  # position_ids (int64) is implied by the graph
        start, end = info["data_offsets"]
        data = np.frombuffer(raw[base + start : base + end], dtype=np.float32)
        tensors[name] = data.reshape(info["shape"])
    return tensors


class _Graph:
    """A tiny node/initializer accumulator with unique names."""

    def __init__(self, weights: dict[str, np.ndarray[Any, Any]]) -> None:
        self.w = weights
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def const(self, name: str, value: Any, dtype: Any = np.float32) -> str:
        array = np.ascontiguousarray(np.asarray(value, dtype=dtype))
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def op(self, kind: str, inputs: list[str], out: str | None = None, **attrs: Any) -> str:
        self._n += 1
        out = out or f"{kind.lower()}_{self._n}"
        self.nodes.append(helper.make_node(kind, inputs, [out], name=f"{kind}_{self._n}", **attrs))
        return out

    def linear(self, x: str, prefix: str) -> str:
        # torch Linear stores [out, in]; MatMul wants [in, out].
        weight = self.const(f"{prefix}.weight_t", self.w[f"{prefix}.weight"].T)
        bias = self.const(f"{prefix}.bias", self.w[f"{prefix}.bias"])
        return self.op("Add", [self.op("MatMul", [x, weight]), bias])

    def layer_norm(self, x: str, prefix: str, eps: float) -> str:
        gamma = self.const(f"{prefix}.weight", self.w[f"{prefix}.weight"])
        beta = self.const(f"{prefix}.bias", self.w[f"{prefix}.bias"])
        return self.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=eps)


def build_model(model_dir: Path) -> onnx.ModelProto:
    """input_ids, attention_mask (int64 [batch, seq]) -> sentence_embedding [batch, dim]."""
    config = json.loads((model_dir / "config.json").read_text())
    hidden, heads = int(config["hidden_size"]), int(config["num_attention_heads"])
    layers, eps = int(config["num_hidden_layers"]), float(config["layer_norm_eps"])
    head_dim = hidden // heads
    g = _Graph(read_safetensors(model_dir / "model.safetensors"))
    w = g.w

    ids, mask = "input_ids", "attention_mask"
    words = g.op(
        "Gather", [g.const("word_embeddings", w["embeddings.word_embeddings.weight"]), ids]
    )
    seq_len = g.op("Shape", [ids], start=1, end=2)
    # token_type_ids are always 0 for single sentences: fold that row into the positions.
    positions = (
        w["embeddings.position_embeddings.weight"] + w["embeddings.token_type_embeddings.weight"][0]
    )
    zero = g.const("zero", [0], np.int64)
    pos = g.op("Slice", [g.const("positions", positions), zero, seq_len])
    x = g.layer_norm(g.op("Add", [words, pos]), "embeddings.LayerNorm", eps)

    # (1 - mask) * -10000 broadcast over heads and queries, as BERT's export spells it.
    m1 = g.op("Unsqueeze", [mask, g.const("axis_1", [1], np.int64)])
    m2 = g.op("Unsqueeze", [m1, g.const("axis_2", [2], np.int64)])
    inverted = g.op("Sub", [g.const("one", 1.0), g.op("Cast", [m2], to=TensorProto.FLOAT)])
    mask_bias = g.op("Mul", [inverted, g.const("minus_inf", -10000.0)])

    split = g.const("split_heads", [0, 0, heads, head_dim], np.int64)
    merge = g.const("merge_heads", [0, 0, hidden], np.int64)
    scale = g.const("scale", math.sqrt(head_dim))
    for i in range(layers):
        p = f"encoder.layer.{i}."

        def project(name: str, perm: list[int], p: str = p, x: str = x) -> str:
            shaped = g.op("Reshape", [g.linear(x, p + f"attention.self.{name}"), split])
            return g.op("Transpose", [shaped], perm=perm)

        q = project("query", [0, 2, 1, 3])
        k = project("key", [0, 2, 3, 1])
        v = project("value", [0, 2, 1, 3])
        scores = g.op("Add", [g.op("Div", [g.op("MatMul", [q, k]), scale]), mask_bias])
        probs = g.op("Softmax", [scores], axis=-1)
        context = g.op("Transpose", [g.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
        attended = g.linear(g.op("Reshape", [context, merge]), p + "attention.output.dense")
        x = g.layer_norm(g.op("Add", [attended, x]), p + "attention.output.LayerNorm", eps)
        h = g.linear(x, p + "intermediate.dense")
        # Exact (erf) GELU, as BERT uses.
        erf = g.op("Erf", [g.op("Div", [h, g.const(f"sqrt2_{i}", math.sqrt(2.0))])])
        gelu = g.op(
            "Mul",
            [
                g.op("Mul", [h, g.const(f"half_{i}", 0.5)]),
                g.op("Add", [erf, g.const(f"one_{i}", 1.0)]),
            ],
        )
        out = g.linear(gelu, p + "output.dense")
        x = g.layer_norm(g.op("Add", [out, x]), p + "output.LayerNorm", eps)

    # Mean over real tokens, then unit length: cosine similarity becomes a dot product.
    weights = g.op(
        "Unsqueeze", [g.op("Cast", [mask], to=TensorProto.FLOAT), g.const("axis_m1", [2], np.int64)]
    )
    axis1 = g.const("axis_seq", [1], np.int64)
    summed = g.op("ReduceSum", [g.op("Mul", [x, weights]), axis1], keepdims=0)
    count = g.op("Clip", [g.op("ReduceSum", [weights, axis1], keepdims=0), g.const("tiny", 1e-9)])
    mean = g.op("Div", [summed, count])
    norm = g.op("ReduceL2", [mean, g.const("axis_last", [-1], np.int64)], keepdims=1)
    g.op("Div", [mean, g.op("Clip", [norm, g.const("tinier", 1e-12)])], out="sentence_embedding")

    graph = helper.make_graph(
        g.nodes,
        "all-MiniLM-L6-v2",
        [
            helper.make_tensor_value_info(ids, TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info(mask, TensorProto.INT64, ["batch", "sequence"]),
        ],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", hidden])],
        g.inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="llmforge"
    )
    model.ir_version = 8  # readable by every onnxruntime of the last years
    onnx.checker.check_model(model)
    return model
