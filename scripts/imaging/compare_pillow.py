#!/usr/bin/env python3
"""Compares the Swift decode + resize with Pillow on real photos.

Writes Pillow's outputs (after ImageOps.exif_transpose, as RGB) to a scratch directory,
then runs the gated Swift test that decodes and resizes the same files and prints a table
of mean absolute differences (8-bit units). 16-bit PNGs are left out: Pillow clips them.

    python3 scripts/imaging/compare_pillow.py [IMAGES_DIR] [--out scripts/imaging/pillow-compare.txt]
"""
import argparse
import os
import subprocess
import sys
import tempfile

from PIL import Image, ImageOps

OUTPUTS = [("resize-224x224", 224, 224, False), ("crop-224x224", 224, 224, True),
           ("resize-154x210", 210, 154, False), ("resize-448x448", 448, 448, False)]


def crop_resize(im, w, h):
    """Shorter-side resize then centre crop, the geometry Preprocessing(crop: true) uses."""
    iw, ih = im.size
    if w / iw >= h / ih:
        nw, nh = w, max(h, int(w * ih / iw))
    else:
        nw, nh = max(w, int(h * iw / ih)), h
    r = im.resize((nw, nh), Image.BICUBIC)
    top, left = int(round((nh - h) / 2.0)), int(round((nw - w) / 2.0))
    return r.crop((left, top, left + w, top + h))


def is_16bit_png(path):
    with open(path, "rb") as f:
        head = f.read(32)
    return head[:8] == b"\x89PNG\r\n\x1a\n" and head[24] == 16


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("images", nargs="?", default="/work/shared/images")
    ap.add_argument("--out", default="scripts/imaging/pillow-compare.txt")
    ap.add_argument("--scratch", default=None)
    args = ap.parse_args()
    scratch = args.scratch or tempfile.mkdtemp(prefix="cdam-pillow-")
    os.makedirs(scratch, exist_ok=True)
    rows, skipped, n = [], [], 0
    for root, _, files in sorted(os.walk(args.images)):
        for name in sorted(files):
            path = os.path.join(root, name)
            if is_16bit_png(path):
                skipped.append(path)
                continue
            try:
                im = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
            except Exception as e:  # noqa: BLE001 - reported, the Swift side reports its own
                skipped.append(f"{path} ({e})")
                continue
            n += 1
            outs = [("decoded", im.size[0], im.size[1], False, im)]
            for kind, w, h, crop in OUTPUTS:
                out = crop_resize(im, w, h) if crop else im.resize((w, h), Image.BICUBIC)
                outs.append((kind, w, h, crop, out))
            for kind, w, h, crop, out in outs:
                raw = f"{n:04d}-{kind}.rgb"
                with open(os.path.join(scratch, raw), "wb") as f:
                    f.write(out.tobytes())
                rows.append(f"{path}\t{kind}\t{w}\t{h}\t{int(crop)}\t{raw}")
    with open(os.path.join(scratch, "manifest.tsv"), "w") as f:
        f.write("\n".join(rows) + "\n")
    env = dict(os.environ, CDAM_PILLOW_COMPARE_DIR=scratch)
    result = subprocess.run(["swift", "test", "--filter", "ImagingTests.compareWithPillowOnSharedImages"],
                            env=env)
    with open(os.path.join(scratch, "table.txt")) as f:
        table = f.read()
    import PIL
    header = (f"Swift Imaging vs Pillow {PIL.__version__} ({len(rows)} outputs of {n} images under {args.images})\n"
              f"MAD = mean |ours - Pillow| over all bytes, 8-bit units; the target is <= 0.5.\n"
              f"Left out (16-bit PNG or unreadable by Pillow): {len(skipped)}\n")
    with open(args.out, "w") as f:
        f.write(header + table)
    print(header + table)
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
