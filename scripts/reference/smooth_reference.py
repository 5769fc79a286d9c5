"""Smooth CDAM and Integrated CDAM by PyTorch autograd: the fixture the Swift tests compare with.

    python3 scripts/reference/smooth_reference.py --model DIR \
        --out Tests/AttributionTests/Fixtures/smooth_chelsea112.safetensors

DIR is the converted model (`cdam model fetch`). The input is the chelsea photo of
ViTTests/Fixtures/forward_chelsea.safetensors, average-pooled 2x2 to 112 x 112 (8 x 8 patches): small
fixtures, the same arithmetic. The targets are those of AttributionTests/Fixtures/attr_chelsea.safetensors.
The Gaussian noise is drawn here (torch.manual_seed) and stored, so Swift uses exactly these draws;
the input and the noise are stored as float16 and the reference computes with the rounded values.

The maps (T: the last block's norm1 output, G = dF/dT, sums over the width j, patch tokens i):
  Smooth CDAM      S_i = 1/N sum_s sum_j T_s,ij G_s,ij,  T_s the tokens of the noisy copy s
  Integrated CDAM  S_i = sum_j T_ij gbar_ij,  gbar = sum_k w_k G(path point k),  T the input's tokens
Perturbed `pixels`: x_s = x + sigma * (max x - min x) * eps_s; the path x' + a (x - x').
Perturbed `tokens`: the same applied to T with the last block's input (the residual) fixed, which is the
function CDAM differentiates; the path starts at the baseline image's T.
Rules over M steps, a_k = k / M: riemann k = 1..M, w = 1/M; trapezoid k = 0..M, w = 1/M, halved at the ends.
Baselines (in normalised pixels): black (0 before normalisation), mean (the image's per-channel mean),
blurred (separable Gaussian, sigma = max(H, W) / 16 px, radius ceil(3 sigma), edges replicated).
"""
import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_model as ref  # noqa: E402

SAMPLES = 3
SIGMA = 0.1
STEPS = 4


def load_targets(path):
    t = load_file(path)
    return [
        ref.Target("mean", "mean", c=t["targets.mean.c"]),
        ref.Target("contrast", "contrast", c=t["targets.contrast.c"]),
        ref.Target("probe", "probe", w=t["targets.probe.w"], b=t["targets.probe.b"]),
        ref.Target("cosine", "cosine", c=t["targets.cosine.c"]),
    ]


def last_block_input(model, x):
    """The residual stream entering the last block [B,N,D] (no grad)."""
    with torch.no_grad():
        h = model.embeddings(x)
        for layer in model.encoder.layer[:-1]:
            h = layer(h)
    return h


def from_tokens(model, h, t):
    """The CLS embedding [B,D] from the last block's norm1 output t [B,N,D], the residual h fixed."""
    last = model.encoder.layer[-1]
    attended, _ = last.attention(t)
    x1 = h + last.layer_scale1(attended)
    out = x1 + last.layer_scale2(last.mlp(last.norm2(x1)))
    return model.layernorm(out)[:, 0]


def gradients(model, h, t, targets):
    """T (detached) and {target: G [B,N,D]} at the tokens t (leaf)."""
    t = t.detach().requires_grad_()
    e = from_tokens(model, h.expand(t.shape[0], -1, -1), t)
    grads = {}
    for target in targets:
        (g,) = torch.autograd.grad(target(e).sum(), t, retain_graph=True)
        grads[target.name] = g
    return t.detach(), grads


def pixel_tokens(model, x):
    """Last-block input h and T = its norm1, for images x [B,C,H,W]."""
    h = last_block_input(model, x)
    with torch.no_grad():
        t = model.encoder.layer[-1].norm1(h)
    return h, t


def cdam_of(t, g):
    return (t[:, 1:] * g[:, 1:]).sum(-1)   # [B, N-1]


def blurred(x):
    _, c, height, width = x.shape
    sigma = max(height, width) / 16
    radius = math.ceil(3 * sigma)
    i = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-i * i / (2 * sigma * sigma))
    k = (k / k.sum()).float()
    y = F.pad(x, (radius, radius, 0, 0), mode="replicate")
    y = F.conv2d(y, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    y = F.pad(y, (0, 0, radius, radius), mode="replicate")
    return F.conv2d(y, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def baseline(kind, x):
    if kind == "black":
        mean = torch.tensor(ref.IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(ref.IMAGENET_STD).view(1, 3, 1, 1)
        return ((0 - mean) / std).expand_as(x).clone()
    if kind == "mean":
        return x.mean(dim=(2, 3), keepdim=True).expand_as(x).clone()
    if kind == "blurred":
        return blurred(x)
    raise ValueError(kind)


def rule(name, steps):
    if name == "riemann":
        return [(k / steps, 1 / steps) for k in range(1, steps + 1)]
    return [(k / steps, (0.5 if k in (0, steps) else 1) / steps) for k in range(0, steps + 1)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    tests = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests")
    model = ref.load_model(args.model, attention="eager")
    targets = load_targets(os.path.join(tests, "AttributionTests", "Fixtures", "attr_chelsea.safetensors"))
    x224 = load_file(os.path.join(tests, "ViTTests", "Fixtures", "forward_chelsea.safetensors"))["input"]
    x = F.avg_pool2d(x224, 2).half().float()                      # [1,3,112,112]
    torch.manual_seed(14)
    eps_pixels = torch.randn(SAMPLES, *x.shape[1:]).half().float()
    h, t = pixel_tokens(model, x)
    eps_tokens = torch.randn(SAMPLES, *t.shape[1:]).half().float()

    out = {"input": x.half(), "noise.pixels": eps_pixels.half(), "noise.tokens": eps_tokens.half(),
           "settings.sigma": torch.tensor([SIGMA]), "settings.steps": torch.tensor([float(STEPS)])}
    _, g = gradients(model, h, t, targets)
    for target in targets:
        out[f"cdam.{target.name}"] = cdam_of(t, g[target.name])[0]

    # Smooth CDAM, both perturbations.
    xs = x + SIGMA * (x.max() - x.min()) * eps_pixels
    hs, ts = pixel_tokens(model, xs)
    ts, gs = gradients(model, hs, ts, targets)
    for target in targets:
        out[f"smooth.pixels.{target.name}"] = cdam_of(ts, gs[target.name]).mean(0)
    tt = t + SIGMA * (t.max() - t.min()) * eps_tokens
    tt, gt = gradients(model, h, tt, targets)
    for target in targets:
        out[f"smooth.tokens.{target.name}"] = cdam_of(tt, gt[target.name]).mean(0)

    # Integrated CDAM: every rule, baseline and perturbation.
    checks = {}
    for base in ["black", "blurred", "mean"]:
        x0 = baseline(base, x)
        _, t0 = pixel_tokens(model, x0)
        for name in ["trapezoid", "riemann"]:
            points = rule(name, STEPS)
            alphas = torch.tensor([a for a, _ in points]).view(-1, 1, 1, 1)
            weights = torch.tensor([w for _, w in points]).view(-1, 1, 1)
            hp, tp = pixel_tokens(model, x0 + alphas * (x - x0))
            _, gp = gradients(model, hp, tp, targets)
            tk = t0 + alphas.view(-1, 1, 1) * (t - t0)
            _, gk = gradients(model, h, tk, targets)
            for target in targets:
                for mode, grads in [("pixels", gp), ("tokens", gk)]:
                    gbar = (weights * grads[target.name]).sum(0, keepdim=True)
                    out[f"integrated.{mode}.{name}.{base}.{target.name}"] = cdam_of(t, gbar)[0]
        checks[f"{base}: max |baseline|"] = x0.abs().max().item()

    tensors = {k: v.detach().contiguous() for k, v in out.items()}
    save_file(tensors, args.out)
    print(f"{args.out}: {os.path.getsize(args.out) / 1e3:.0f} kB, {len(tensors)} tensors")
    print(json.dumps(checks, indent=1))


if __name__ == "__main__":
    main()
