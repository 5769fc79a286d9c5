"""Writes the PyTorch reference for concepts at an earlier block: the network truncated after block L
(blocks 1..L, then the final LayerNorm), its CLS embedding and the CDAM maps at the tokens entering
block L's attention (the output of block L's norm1), by full autograd with a hook, for L = 11, 10, 6.

    python3 scripts/reference/layers_reference.py --model ~/.local/share/cdam/models/dinov2-small-imgfocus \
        --out Tests/AttributionTests/Fixtures/layers_chelsea.safetensors

Input: the chelsea input of Tests/ViTTests/Fixtures/forward_chelsea.safetensors (read from there, so
both sides use the same floats). Targets: probe f = w . e + b (torch.manual_seed(3); w = randn(384) /
sqrt(384); b = 0.25, as make_fixtures.py) and cosine f = cos(e, c) with c = the truncated network's
CLS of torch.manual_seed(0); randn(1, 3, 224, 224).
"""
import argparse
import os
import sys

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_model as ref  # noqa: E402

BLOCKS = (11, 10, 6)


def truncated_cls(model, x, blocks, hook=None):
    """CLS of the final LayerNorm after blocks 1..`blocks` (1-based); `hook` sees block L's norm1 output."""
    h = model.embeddings(x)
    for layer in model.encoder.layer[:blocks]:
        h = layer(h)
    return model.layernorm(h)[:, 0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(2)
    model = ref.load_model(args.model, attention="eager")
    here = os.path.dirname(os.path.abspath(__file__))
    x = load_file(os.path.join(here, "../../Tests/ViTTests/Fixtures/forward_chelsea.safetensors"))["input"]
    x = x.reshape(1, 3, 224, 224)
    torch.manual_seed(3)
    w = torch.randn(384) / 384 ** 0.5
    b = torch.tensor(0.25)
    torch.manual_seed(0)
    x_random = torch.randn(1, 3, 224, 224)
    out = {"probe.w": w, "probe.b": b.reshape(1)}
    for blocks in BLOCKS:
        with torch.no_grad():
            c = truncated_cls(model, x_random, blocks)[0]
        out[f"block{blocks}.cosine.c"] = c
        kept = {}

        def keep(module, inputs, output):
            output.retain_grad()
            kept["T"] = output

        handle = model.encoder.layer[blocks - 1].norm1.register_forward_hook(keep)
        for name, score in [("probe", lambda e: e @ w + b),
                            ("cosine", lambda e: (e @ c) / (e.norm(dim=-1) * c.norm()))]:
            model.zero_grad(set_to_none=True)
            e = truncated_cls(model, x, blocks)
            f = score(e)[0]
            f.backward()
            t, g = kept["T"][0].detach(), kept["T"].grad[0]
            out[f"block{blocks}.cls"] = e[0].detach()
            out[f"block{blocks}.{name}.score"] = f.detach().reshape(1)
            out[f"block{blocks}.{name}.cdam"] = (t[1:] * g[1:]).sum(-1)
        handle.remove()
    out = {k: v.detach().float().contiguous() for k, v in out.items()}
    save_file(out, args.out)
    print(f"{args.out}: {os.path.getsize(args.out) / 1e3:.1f} kB, {len(out)} tensors")


if __name__ == "__main__":
    main()
