"""The reference pipeline for cdam's end-to-end checks on real photos: `embed` and `query` print the
JSON shapes of docs/INTERFACE.md, computed by PyTorch on the same converted weights; `compare`
reports how closely cdam's JSON output agrees with them.

    python3 scripts/reference/query_reference.py embed --model DIR IMAGE... > ref.json
    python3 scripts/reference/query_reference.py query --model DIR --examples DIR [--examples DIR]
        [--kind mean|cosine|contrast|centred] [--background DIR] [--maps cdam,am,rollout,rp,tam]
        [--size S|HxW] IMAGE... > ref.json
    python3 scripts/reference/query_reference.py compare cdam.json ref.json

Preprocessing is the paper's: PIL open, RGB, bicubic resize to S x S, /255, ImageNet mean/std
(no EXIF rotation unless --exif-transpose). Concept vectors are mean CLS embeddings of the example
images at 224x224. CDAM uses the backward stopped at the last norm1 output (the same G as the
notebook's full backward, checked in make_fixtures.py).
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np
import torch
from PIL import Image, ImageOps

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_model as ref  # noqa: E402

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


def parse_size(text):
    if "x" in text:
        h, w = text.lower().split("x")
        return int(h), int(w)
    return int(text), int(text)


def load_image(path, exif):
    image = Image.open(path)
    if exif:
        image = ImageOps.exif_transpose(image)
    return image


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def images_in(directory):
    return sorted(os.path.join(directory, n) for n in os.listdir(directory)
                  if os.path.splitext(n)[1].lower() in IMAGE_EXTENSIONS)


def cls_embedding(model, x):
    with torch.no_grad():
        return model(pixel_values=x).last_hidden_state[:, 0]


def mean_embedding(model, paths, exif):
    return torch.cat([cls_embedding(model, ref.preprocess(load_image(p, exif))) for p in paths]).mean(0)


def stopped_cdam(model, x, target):
    """CDAM with the backward stopped at T, the last block's norm1 output. Returns (f, [N-1])."""
    t, e = ref.stopped_forward(model, x)
    f = target(e)[0]
    f.backward()
    return f.item(), (t[0, 1:] * t.grad[0, 1:]).sum(-1).detach()


def attention_maps(model, x, target, want_rp):
    recorder = ref.Recorder(model, attentions=True)
    model.zero_grad(set_to_none=True)
    if want_rp:
        f = target(model(pixel_values=x).last_hidden_state[:, 0])[0]
        f.backward()
    else:
        with torch.no_grad():
            model(pixel_values=x)
    attentions = [a[0].detach() for a in recorder.attentions]
    rp = ref.relevance_propagation(attentions, [a.grad[0] for a in recorder.attentions]) if want_rp else None
    recorder.close()
    return attentions, rp


def command_embed(args, model):
    results, errors = [], []
    size = parse_size(args.size)
    for path in args.images:
        try:
            x = ref.preprocess(load_image(path, args.exif_transpose), size)
        except Exception as error:  # a broken image is reported, the others still run
            errors.append({"image": path, "error": f"{path}: {error}"})
            continue
        e = cls_embedding(model, x)[0]
        results.append({"image": path, "sha256": sha256(path), "size": list(size),
                        "embedding": [float(v) for v in e]})
    return {"model": args.model_name, "results": results, "errors": errors}


def build_targets(args, model):
    examples = [mean_embedding(model, images_in(d), args.exif_transpose) for d in args.examples]
    names = [os.path.basename(os.path.normpath(d)) for d in args.examples]
    if args.kind == "contrast":
        if len(examples) != 2:
            raise SystemExit("--kind contrast takes exactly two --examples folders")
        return [ref.Target(f"{names[0]}-not-{names[1]}", "contrast", c=examples[0] - examples[1])]
    if args.kind == "centred":
        if not args.background:
            raise SystemExit("--kind centred needs --background DIR")
        mu = mean_embedding(model, images_in(args.background), args.exif_transpose)
        return [ref.Target(n, "mean", c=c - mu) for n, c in zip(names, examples)]
    return [ref.Target(n, args.kind, c=c) for n, c in zip(names, examples)]


def command_query(args, model):
    maps = args.maps.split(",")
    size = parse_size(args.size)
    targets = build_targets(args, model)
    results, errors = [], []
    for path in args.images:
        try:
            x = ref.preprocess(load_image(path, args.exif_transpose), size)
        except Exception as error:  # a broken image is reported, the others still run
            errors.append({"image": path, "error": f"{path}: {error}"})
            continue
        grid = [size[0] // 14, size[1] // 14]
        tam = ref.token_ablation(model, x, targets, batch=8)[0] if "tam" in maps else {}
        entries = []
        for target in targets:
            score, cdam = stopped_cdam(model, x, target)
            attentions, rp = attention_maps(model, x, target, "rp" in maps)
            available = {"cdam": cdam, "am": ref.attention_map(attentions[-1]),
                         "rollout": ref.rollout(attentions), "rp": rp, "tam": tam.get(target.name)}
            entries.append({"name": target.name, "kind": target.kind if args.kind != "centred" else "centred",
                            "score": score,
                            "maps": {m: [float(v) for v in available[m]] for m in maps}})
        results.append({"image": path, "sha256": sha256(path), "size": list(size), "grid": grid,
                        "targets": entries})
    return {"model": args.model_name, "results": results, "errors": errors}


def command_compare(args):
    with open(args.ours) as f:
        ours = json.load(f)
    with open(args.reference) as f:
        reference = json.load(f)
    by_image = {os.path.basename(r["image"]): r for r in reference["results"]}
    worst = 1.0
    for result in ours["results"]:
        other = by_image.get(os.path.basename(result["image"]))
        if other is None:
            print(f"{result['image']}: not in the reference")
            continue
        if "embedding" in result:
            a, b = np.array(result["embedding"]), np.array(other["embedding"])
            cosine = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
            worst = min(worst, cosine)
            print(f"{result['image']}: embedding cosine {cosine:.6f}, max |diff| {np.abs(a - b).max():.3e}")
        reference_targets = {t["name"]: t for t in other.get("targets", [])}
        for target in result.get("targets", []):
            match = reference_targets.get(target["name"])
            if match is None:
                print(f"{result['image']} {target['name']}: not in the reference")
                continue
            line = [f"{result['image']} {target['name']}: score {target['score']:.5g} vs {match['score']:.5g}"]
            for name, values in target["maps"].items():
                if name in match["maps"]:
                    a, b = np.array(values), np.array(match["maps"][name])
                    r = float(np.corrcoef(a, b)[0, 1])
                    worst = min(worst, r)
                    line.append(f"{name} r={r:.5f} maxdiff/max={np.abs(a - b).max() / np.abs(b).max():.2e}")
            print("; ".join(line))
    print(f"worst agreement (cosine or r): {worst:.6f}")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("embed", "query"):
        p = sub.add_parser(name)
        p.add_argument("--model", required=True, help="converted model directory")
        p.add_argument("--size", default="224", help="S or HxW, multiples of 14")
        p.add_argument("--exif-transpose", action="store_true")
        p.add_argument("images", nargs="+")
        if name == "query":
            p.add_argument("--examples", action="append", required=True)
            p.add_argument("--kind", default="mean", choices=["mean", "cosine", "contrast", "centred"])
            p.add_argument("--background")
            p.add_argument("--maps", default="cdam")
    p = sub.add_parser("compare")
    p.add_argument("ours", help="cdam's --json output")
    p.add_argument("reference", help="this script's output for the same images")
    args = parser.parse_args()
    if args.command == "compare":
        return command_compare(args)
    torch.set_num_threads(2)
    args.model_name = os.path.basename(os.path.normpath(args.model))
    model = ref.load_model(args.model, attention="eager")
    document = command_embed(args, model) if args.command == "embed" else command_query(args, model)
    json.dump(document, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
