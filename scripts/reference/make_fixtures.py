"""Writes the PyTorch reference fixtures the Swift tests compare with (forward pass and CDAM maps).

    python3 scripts/reference/make_fixtures.py --model DIR \
        --out-vit Tests/ViTTests/Fixtures --out-attr Tests/AttributionTests/Fixtures

DIR is the converted model (`cdam model fetch`, or ModelFetch into a models directory). Everything is
float32 on the CPU, transformers Dinov2Model with eager attention, seeded with torch.manual_seed.
The fixtures' README.md says what each tensor is.
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np
import torch
import transformers
from PIL import Image
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_model as ref  # noqa: E402


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save(tensors, path, description):
    tensors = {k: v.detach().float().cpu().clone().contiguous() for k, v in tensors.items()}
    save_file(tensors, path)
    description["files"][os.path.basename(path)] = {k: list(v.shape) for k, v in sorted(tensors.items())}
    print(f"{path}: {os.path.getsize(path) / 1e6:.2f} MB")


def chelsea_image():
    from skimage import data
    return Image.fromarray(data.chelsea())


def forward_reference(model, x, full_attention=True, norm1=True):
    """HF model outputs plus the last norm1 output, and a check of the submodule-built forward."""
    recorder = ref.Recorder(model, attentions=False)
    with torch.inference_mode():
        out = model(pixel_values=x, output_attentions=True)
        rebuilt = ref.forward_tokens(model, x)
    recorder.close()
    tokens = out.last_hidden_state[0]
    rebuilt_diff = (rebuilt[0] - tokens).abs().max().item()
    attention = out.attentions[-1][0]
    tensors = {
        "input": x,
        "cls": tokens[0],
        "tokens": tokens,
    }
    if norm1:
        tensors["norm1_last"] = recorder.norm1[0]
    if full_attention:
        tensors["attn_last"] = attention
    else:
        tensors["attn_last_cls"] = attention[:, 0, :]
    return tensors, rebuilt_diff


def mean_cls(model, inputs):
    with torch.no_grad():
        return model(pixel_values=inputs).last_hidden_state[:, 0].mean(0)


def make_targets(model):
    torch.manual_seed(1)
    c = mean_cls(model, torch.randn(3, 3, 224, 224))
    torch.manual_seed(2)
    smooth = torch.nn.functional.interpolate(torch.randn(3, 3, 4, 4), size=(224, 224), mode="bicubic",
                                             align_corners=False) * 1.5
    c_b = mean_cls(model, smooth)
    torch.manual_seed(3)
    w = torch.randn(384) / 384 ** 0.5
    b = torch.tensor([0.25])
    targets = [
        ref.Target("mean", "mean", c=c),
        ref.Target("contrast", "contrast", c=c - c_b),
        ref.Target("probe", "probe", w=w, b=b),
        ref.Target("cosine", "cosine", c=c),
    ]
    stored = {
        "targets.mean.c": c,
        "targets.contrast.a": c,
        "targets.contrast.b": c_b,
        "targets.contrast.c": c - c_b,
        "targets.probe.w": w,
        "targets.probe.b": b,
        "targets.cosine.c": c,
    }
    return targets, stored


def attribution_reference(model, x, targets, stored):
    """Score, G = df/dT, CDAM and RP per target (full autograd with the notebook's hook), AM and
    rollout once, TAM per target."""
    tensors = dict(stored)
    recorder = ref.Recorder(model, attentions=True)
    attentions = None
    for target in targets:
        recorder.reset()
        model.zero_grad(set_to_none=True)
        out = model(pixel_values=x, output_attentions=False)
        e = out.last_hidden_state[:, 0]
        f = target(e)[0]
        f.backward()
        t = recorder.norm1[0].detach()
        g = recorder.norm1.grad[0]
        attentions = [a[0].detach() for a in recorder.attentions]
        gradients = [a.grad[0] for a in recorder.attentions]
        tensors[f"{target.name}.score"] = f.detach().reshape(1)
        if target.kind != "cosine":  # size budget: cosine is checked through its CDAM map
            tensors[f"{target.name}.G"] = g
        tensors[f"{target.name}.cdam"] = (t[1:] * g[1:]).sum(-1)
        tensors[f"{target.name}.rp"] = ref.relevance_propagation(attentions, gradients)
    recorder.close()
    tensors["am"] = ref.attention_map(attentions[-1])
    tensors["rollout"] = ref.rollout(attentions)
    tam, _ = ref.token_ablation(model, x, targets)
    for name, values in tam.items():
        tensors[f"{name}.tam"] = values
    return tensors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--out-vit", required=True)
    parser.add_argument("--out-attr", required=True)
    args = parser.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

    model = ref.load_model(args.model, attention="eager")
    weights = os.path.join(args.model, "model.safetensors")
    common = {
        "model": os.path.basename(os.path.normpath(args.model)),
        "weights_sha256": sha256(weights),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "dtype": "float32",
        "attention": "eager",
        "generator": "scripts/reference/make_fixtures.py",
    }
    os.makedirs(args.out_vit, exist_ok=True)
    os.makedirs(args.out_attr, exist_ok=True)
    vit = dict(common, files={}, inputs={}, checks={})
    attr = dict(common, files={}, inputs={}, checks={})

    torch.manual_seed(0)
    x224 = torch.randn(1, 3, 224, 224)
    torch.manual_seed(10)
    x224x336 = torch.randn(1, 3, 224, 336)
    x_chelsea = ref.preprocess(chelsea_image(), (224, 224))
    vit["inputs"] = {
        "forward_random224": "torch.manual_seed(0); torch.randn(1, 3, 224, 224)",
        "forward_random224x336": "torch.manual_seed(10); torch.randn(1, 3, 224, 336)",
        "forward_chelsea": "skimage.data.chelsea() (300x451 RGB), PIL bicubic resize to 224x224, /255, "
                           "ImageNet mean/std",
    }

    # To stay near 8 MB in all: the full last attention only at random224, no norm1_last at 224x336.
    for name, x, full, norm1 in [("forward_random224", x224, True, True),
                                 ("forward_random224x336", x224x336, False, False),
                                 ("forward_chelsea", x_chelsea, False, True)]:
        tensors, diff = forward_reference(model, x, full_attention=full, norm1=norm1)
        vit["checks"][f"{name}: submodule forward vs Dinov2Model, max |diff|"] = diff
        save(tensors, os.path.join(args.out_vit, f"{name}.safetensors"), vit)

    targets, stored = make_targets(model)
    attr["inputs"] = {
        "attr_random224": "the input of ViTTests/Fixtures/forward_random224.safetensors",
        "attr_chelsea": "the input of ViTTests/Fixtures/forward_chelsea.safetensors",
    }
    attr["targets"] = {
        "mean": "f = e . c, c = mean CLS of torch.manual_seed(1); torch.randn(3, 3, 224, 224)",
        "contrast": "f = e . (a - b), a = targets.mean.c, b = mean CLS of torch.manual_seed(2); "
                    "interpolate(torch.randn(3, 3, 4, 4), (224, 224), bicubic) * 1.5",
        "probe": "f = w . e + b, torch.manual_seed(3); w = torch.randn(384) / sqrt(384); b = 0.25",
        "cosine": "f = e . c / (|e| |c|), c = targets.mean.c",
    }
    for name, x in [("attr_random224", x224), ("attr_chelsea", x_chelsea)]:
        tensors = attribution_reference(model, x, targets, stored)
        with torch.inference_mode():
            e = model(pixel_values=x).last_hidden_state[:, 0]
        drift = max(abs(t(e).item() - tensors[f"{t.name}.score"].item()) for t in targets)
        attr["checks"][f"{name}: scores with and without grad, max |diff|"] = drift
        save(tensors, os.path.join(args.out_attr, f"{name}.safetensors"), attr)

    for directory, description in [(args.out_vit, vit), (args.out_attr, attr)]:
        with open(os.path.join(directory, "fixtures.json"), "w") as f:
            json.dump(description, f, indent=1, sort_keys=True)
            f.write("\n")
    print(json.dumps({"vit": vit["checks"], "attr": attr["checks"]}, indent=1))


if __name__ == "__main__":
    main()
