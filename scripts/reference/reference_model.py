"""Reference pieces shared by make_fixtures.py and bench_torch.py: loading the converted model,
the paper's preprocessing, a forward pass built from the HuggingFace submodules (so that tokens can
be dropped), the target scores and the comparison maps of docs/CDAM.md.

Shapes: B batch, N tokens (CLS first), D width, H heads.
"""
import numpy as np
import torch
from PIL import Image
from transformers import Dinov2Model

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def load_model(directory, attention="eager"):
    """Dinov2Model from a converted directory, float32, eval mode; refuses missing/unexpected keys."""
    model, info = Dinov2Model.from_pretrained(directory, output_loading_info=True, attn_implementation=attention)
    problems = {k: v for k, v in info.items() if v}
    if problems:
        raise SystemExit(f"{directory}: loading problems {problems}")
    return model.float().eval()


def preprocess(image, size=(224, 224)):
    """The notebook's pipeline: RGB, PIL bicubic resize to (H, W), /255, ImageNet mean/std -> [1,3,H,W]."""
    height, width = size
    resized = image.convert("RGB").resize((width, height), Image.BICUBIC)
    array = np.asarray(resized, dtype=np.float32) / 255.0
    array = (array - np.array(IMAGENET_MEAN, dtype=np.float32)) / np.array(IMAGENET_STD, dtype=np.float32)
    return torch.from_numpy(array.transpose(2, 0, 1).copy()).unsqueeze(0)


def embed_tokens(model, x):
    """Patch embedding + CLS + interpolated position embeddings: [B,N,D] before block 0."""
    return model.embeddings(x)


def run_blocks(model, h):
    """Blocks 0..L-1 then the final LayerNorm, on a token sequence h [B,N,D]."""
    for layer in model.encoder.layer:
        h = layer(h)
    return model.layernorm(h)


def forward_tokens(model, x):
    """The forward pass rebuilt from the submodules: final tokens [B,N,D]."""
    return run_blocks(model, embed_tokens(model, x))


class Target:
    """A scalar score of the CLS embedding e [B,D] -> [B]."""

    def __init__(self, name, kind, **tensors):
        self.name = name
        self.kind = kind
        self.tensors = tensors

    def __call__(self, e):
        t = self.tensors
        if self.kind in ("mean", "contrast"):
            return e @ t["c"]
        if self.kind == "probe":
            return e @ t["w"] + t["b"]
        if self.kind == "cosine":
            return (e @ t["c"]) / (e.norm(dim=-1) * t["c"].norm())
        raise ValueError(self.kind)


class Recorder:
    """Forward hooks that keep (with grad) the last block's norm1 output T and every block's
    attention probabilities, the way the CDAM notebook places its hook."""

    def __init__(self, model, attentions=True):
        self.handles = []
        self.norm1 = None
        self.attentions = []
        last = model.encoder.layer[-1]
        self.handles.append(last.norm1.register_forward_hook(self._keep_norm1))
        if attentions:
            for layer in model.encoder.layer:
                self.handles.append(layer.attention.register_forward_hook(self._keep_attention))

    def _keep_norm1(self, module, inputs, output):
        if output.requires_grad:
            output.retain_grad()
        self.norm1 = output

    def _keep_attention(self, module, inputs, output):
        probabilities = output[1]
        if probabilities.requires_grad:
            probabilities.retain_grad()
        self.attentions.append(probabilities)

    def reset(self):
        self.norm1 = None
        self.attentions = []

    def close(self):
        for handle in self.handles:
            handle.remove()


def stopped_forward(model, x):
    """Blocks 0..10 without gradients, then the last block from T = its norm1 output, T a leaf that
    requires grad: the backward stops at T, where CDAM takes its gradient. Returns (T, CLS embedding)."""
    last = model.encoder.layer[-1]
    with torch.no_grad():
        h = model.embeddings(x)
        for layer in model.encoder.layer[:-1]:
            h = layer(h)
    t = last.norm1(h).detach().requires_grad_()
    attended, _ = last.attention(t)
    h = h + last.layer_scale1(attended)
    h = h + last.layer_scale2(last.mlp(last.norm2(h)))
    return t, model.layernorm(h)[:, 0]


def attention_map(attention_last):
    """AM: last-block CLS-row attention over patches, mean over heads. [H,N,N] -> [N-1]."""
    return attention_last[:, 0, 1:].mean(0)


def rollout(attentions):
    """Attention rollout (Abnar & Zuidema 2020) as docs/CDAM.md states it. list of [H,N,N] -> [N-1]."""
    n = attentions[0].shape[-1]
    eye = torch.eye(n, dtype=torch.float64)
    r = eye.clone()
    for a in attentions:
        mixed = 0.5 * eye + 0.5 * a.double().mean(0)
        mixed = mixed / mixed.sum(-1, keepdim=True)
        r = mixed @ r
    return r[0, 1:].float()


def relevance_propagation(attentions, gradients):
    """RP, the gradient-weighted attention rule as the CDAM notebook computes it. [N-1]."""
    n = attentions[0].shape[-1]
    r = torch.eye(n)
    for a, g in zip(attentions, gradients):
        cam = (g * a).clamp(min=0).mean(0)
        r = r + cam @ r
    return r[0, 1:]


def token_ablation(model, x, targets, batch=32):
    """TAM: f(all) - f(without patch token i), token i dropped after the position embeddings.
    Returns {target name: [N-1]} and the CLS embeddings of the ablated sequences [N-1,D]."""
    with torch.inference_mode():
        h = embed_tokens(model, x)[0]
        n = h.shape[0]
        full = run_blocks(model, h.unsqueeze(0))[:, 0]
        cls = []
        for start in range(1, n, batch):
            stop = min(start + batch, n)
            rows = [torch.cat([h[:i], h[i + 1:]]) for i in range(start, stop)]
            cls.append(run_blocks(model, torch.stack(rows))[:, 0])
        cls = torch.cat(cls)
        return {t.name: (t(full) - t(cls)) for t in targets}, cls
