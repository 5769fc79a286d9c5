#!/usr/bin/env python3
"""Writes the small committed fixtures of Tests/ImagingTests/Fixtures.

valid/      tiny images in every decoded variant, each with NAME.expected.rgb: the RGB bytes
            (width, height in expected.tsv) the decoder must produce, from Pillow after
            ImageOps.exif_transpose (alpha composited on white by the formula the decoder
            documents; 16-bit channels reduced to their high byte).
malformed/  broken files and expected.tsv: file name, then the ImageError.Reason kind.
resize/     a synthetic 13 x 11 RGB image and Pillow's bicubic resize of it to several
            sizes, up and down (resize.tsv lists them).

Needs Pillow, numpy and ImageMagick's `convert`. Run from the repository root:
    python3 scripts/imaging/make_fixtures.py
"""
import io
import os
import random
import struct
import subprocess
import tempfile
import zlib

import numpy as np
from PIL import Image, ImageOps

ROOT = os.path.join("Tests", "ImagingTests", "Fixtures")
VALID = os.path.join(ROOT, "valid")
MALFORMED = os.path.join(ROOT, "malformed")
RESIZE = os.path.join(ROOT, "resize")


def gradient(w, h, seed=0):
    """Smooth colour ramps plus a little noise: exercises every channel and position."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    r = 255 * x / max(w - 1, 1)
    g = 255 * y / max(h - 1, 1)
    b = 128 + 100 * np.sin((x + 2 * y) / 3.0)
    img = np.stack([r, g, b], axis=-1) + rng.normal(0, 6, (h, w, 3))
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def composite_white(rgba):
    a = rgba[..., 3:4].astype(np.int64)
    c = rgba[..., :3].astype(np.int64)
    return ((c * a + 255 * (255 - a) + 127) // 255).astype(np.uint8)


def expected_of(path):
    """What Pillow shows for the file, as 8-bit RGB."""
    im = Image.open(path)
    im = ImageOps.exif_transpose(im)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        return composite_white(np.asarray(im.convert("RGBA")))
    return np.asarray(im.convert("RGB"))


def png_chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def write_png16(path, rgb16, gray=False):
    """A 16-bit PNG written by hand (Pillow cannot write 16-bit RGB)."""
    h, w = rgb16.shape[:2]
    color = 0 if gray else 2
    raw = b"".join(b"\x00" + rgb16[y].astype(">u2").tobytes() for y in range(h))
    data = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, color, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))
    open(path, "wb").write(data)


def exif_with_orientation(o):
    ex = Image.Exif()
    ex[0x0112] = o
    return ex.tobytes()


def make_valid():
    os.makedirs(VALID, exist_ok=True)
    rows = []
    base = Image.fromarray(gradient(8, 6))

    def add(name, expected=None):
        path = os.path.join(VALID, name)
        exp = expected if expected is not None else expected_of(path)
        open(path + ".expected.rgb", "wb").write(np.ascontiguousarray(exp).tobytes())
        rows.append((name, exp.shape[1], exp.shape[0]))

    base.save(os.path.join(VALID, "baseline.jpg"), quality=95)
    add("baseline.jpg")
    base.save(os.path.join(VALID, "progressive.jpg"), quality=95, progressive=True)
    add("progressive.jpg")
    base.convert("L").save(os.path.join(VALID, "gray.jpg"), quality=95)
    add("gray.jpg")
    base.convert("CMYK").save(os.path.join(VALID, "cmyk.jpg"), quality=95)
    add("cmyk.jpg")
    # YCCK: libjpeg's own writer (Pillow and ImageMagick write plain CMYK). Pillow hands
    # libjpeg-turbo's CMYK output through inverted, as for any Adobe CMYK file.
    tool = os.path.join(tempfile.mkdtemp(), "write_ycck")
    subprocess.run(["cc", "-O1", "-o", tool, os.path.join(os.path.dirname(__file__), "write_ycck.c"), "-ljpeg"],
                   check=True)
    raw = os.path.join(os.path.dirname(tool), "in.cmyk")
    open(raw, "wb").write(np.asarray(base.convert("CMYK")).tobytes())
    subprocess.run([tool, "8", "6", raw, os.path.join(VALID, "ycck.jpg")], check=True)
    add("ycck.jpg")
    base.save(os.path.join(VALID, "subsampled420.jpg"), quality=90, subsampling=2)
    add("subsampled420.jpg")
    base.save(os.path.join(VALID, "orientation6.jpg"), quality=95, exif=exif_with_orientation(6))
    add("orientation6.jpg")
    for o in range(1, 9):
        base.save(os.path.join(VALID, f"orientation{o}.png"), exif=exif_with_orientation(o))
        add(f"orientation{o}.png")

    base.save(os.path.join(VALID, "rgb8.png"))
    add("rgb8.png")
    base.convert("L").save(os.path.join(VALID, "gray8.png"))
    add("gray8.png")
    base.convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(os.path.join(VALID, "palette.png"))
    add("palette.png")
    rgba = np.dstack([np.asarray(base), np.linspace(0, 255, 48).reshape(6, 8).astype(np.uint8)])
    Image.fromarray(rgba, "RGBA").save(os.path.join(VALID, "alpha.png"))
    add("alpha.png")
    pal = base.convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    pal.info["transparency"] = 0
    pal.save(os.path.join(VALID, "palette-trns.png"), transparency=0)
    add("palette-trns.png")
    subprocess.run(["convert", os.path.join(VALID, "rgb8.png"), "-interlace", "PNG",
                    os.path.join(VALID, "interlaced.png")], check=True)
    add("interlaced.png", np.asarray(base))
    rng = np.random.default_rng(3)
    rgb16 = rng.integers(0, 65536, (6, 8, 3), dtype=np.uint16)
    write_png16(os.path.join(VALID, "rgb16.png"), rgb16)
    add("rgb16.png", (rgb16 >> 8).astype(np.uint8))
    gray16 = rng.integers(0, 65536, (6, 8), dtype=np.uint16)
    write_png16(os.path.join(VALID, "gray16.png"), gray16, gray=True)
    add("gray16.png", np.repeat((gray16 >> 8).astype(np.uint8)[..., None], 3, axis=2))

    base.save(os.path.join(VALID, "lossy.webp"), quality=90)
    add("lossy.webp")
    base.save(os.path.join(VALID, "lossless.webp"), lossless=True)
    add("lossless.webp", np.asarray(base))
    Image.fromarray(rgba, "RGBA").save(os.path.join(VALID, "alpha.webp"), lossless=True)
    add("alpha.webp", composite_white(rgba))
    frames = [base, Image.fromarray(255 - np.asarray(base))]
    frames[0].save(os.path.join(VALID, "animated.webp"), save_all=True, append_images=frames[1:],
                   lossless=True, duration=100, loop=0)
    add("animated.webp", np.asarray(base))

    with open(os.path.join(VALID, "expected.tsv"), "w") as f:
        for name, w, h in rows:
            f.write(f"{name}\t{w}\t{h}\n")


def make_malformed():
    os.makedirs(MALFORMED, exist_ok=True)
    cases = []

    def put(name, data, kind):
        open(os.path.join(MALFORMED, name), "wb").write(data)
        cases.append((name, kind))

    big = Image.fromarray(gradient(64, 48, seed=1))
    buf = io.BytesIO(); big.save(buf, "JPEG", quality=90); jpg = buf.getvalue()
    buf = io.BytesIO(); big.save(buf, "JPEG", quality=90, progressive=True); pjpg = buf.getvalue()
    buf = io.BytesIO(); big.save(buf, "PNG"); png = buf.getvalue()
    buf = io.BytesIO(); big.save(buf, "WEBP", quality=80); webp = buf.getvalue()
    sos = jpg.index(b"\xff\xda")

    put("empty.jpg", b"", "empty")
    put("garbage.bin", bytes(random.Random(7).randrange(256) for _ in range(300)), "unknownFormat")
    put("text.png", b"this is not a picture\n", "unknownFormat")
    put("wrong-magic.jpg", b"\x00" + jpg[1:], "unknownFormat")
    put("jpeg-soi-only.jpg", jpg[:3], "truncated")
    put("jpeg-header-cut.jpg", jpg[:40], "truncated")
    put("jpeg-before-scan.jpg", jpg[:sos], "truncated")
    put("jpeg-cut-25.jpg", jpg[: sos + (len(jpg) - sos) // 4], "truncated")
    put("jpeg-cut-75.jpg", jpg[: sos + 3 * (len(jpg) - sos) // 4], "truncated")
    put("jpeg-no-eoi.jpg", jpg[:-2], "truncated")
    put("progressive-cut-50.jpg", pjpg[: len(pjpg) // 2], "truncated")
    # A restart marker in the middle of the entropy data: the decoder loses sync.
    mid = sos + (len(jpg) - sos) // 2
    put("jpeg-corrupt-marker.jpg", jpg[:mid] + b"\xff\xd3" + jpg[mid + 2:], "corrupt")
    # Random bytes over half the entropy data.
    rng = random.Random(11)
    body = bytearray(jpg)
    for i in range(sos + 40, len(jpg) - 2):
        if rng.random() < 0.5:
            body[i] = rng.randrange(256)
    put("jpeg-corrupt-entropy.jpg", bytes(body), "corrupt")
    sof = jpg.index(b"\xff\xc0")
    put("jpeg-zero-width.jpg", jpg[: sof + 7] + b"\x00\x00" + jpg[sof + 9:], "corrupt")
    put("jpeg-huge.jpg", jpg[: sof + 5] + struct.pack(">HH", 65000, 65000) + jpg[sof + 9:], "tooLarge")
    put("jpeg-bad-components.jpg", jpg[: sof + 9] + b"\x07" + jpg[sof + 10:], "corrupt")

    ihdr = png[8:33]

    def png_with_ihdr(w, h, depth=8, color=2):
        return png[:8] + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, 0)) + png[33:]

    put("png-sig-only.png", png[:8], "truncated")
    put("png-cut-ihdr.png", png[:20], "truncated")
    put("png-cut-50.png", png[: len(png) // 2], "truncated")
    put("png-zero-width.png", png_with_ihdr(0, 48), "corrupt")
    put("png-huge.png", png_with_ihdr(100000, 100000), "tooLarge")
    put("png-bad-depth.png", png_with_ihdr(64, 48, depth=7), "corrupt")
    put("png-bad-crc.png", png[:29] + bytes([png[29] ^ 0xFF]) + png[30:], "corrupt")
    idat = png.index(b"IDAT")
    zbad = bytearray(png)
    for i in range(idat + 10, idat + 30):
        zbad[i] ^= 0x5A
    # Keep the CRC right so that zlib, not the CRC check, finds the damage.
    length = struct.unpack(">I", png[idat - 4: idat])[0]
    crc = zlib.crc32(bytes(zbad[idat: idat + 4 + length])) & 0xFFFFFFFF
    zbad[idat + 4 + length: idat + 8 + length] = struct.pack(">I", crc)
    put("png-corrupt-zlib.png", bytes(zbad), "corrupt")
    assert ihdr[4:8] == b"IHDR"

    put("webp-cut-header.webp", webp[:20], "truncated")
    put("webp-cut-50.webp", webp[: len(webp) // 2], "truncated")
    vp8 = webp.index(b"VP8 ")
    put("webp-bad-vp8.webp", webp[: vp8 + 8] + b"\x00" * 16 + webp[vp8 + 24:], "corrupt")
    # A lossless (VP8L) header declaring 16384 x 16384.
    bits = (16383) | (16383 << 14)
    vp8l = b"\x2f" + struct.pack("<I", bits) + b"\x00" * 8
    put("webp-huge.webp", b"RIFF" + struct.pack("<I", 4 + 8 + len(vp8l)) + b"WEBPVP8L"
        + struct.pack("<I", len(vp8l)) + vp8l, "tooLarge")

    put("header.gif", b"GIF89a\x40\x00\x30\x00\xf7\x00\x00" + b"\x00" * 32, "unsupportedFormat")
    put("header.tiff", b"II*\x00\x08\x00\x00\x00" + b"\x00" * 32, "unsupportedFormat")
    put("header.bmp", b"BM" + struct.pack("<IHHI", 70, 0, 0, 54) + b"\x00" * 56, "unsupportedFormat")
    put("header.heic", struct.pack(">I", 24) + b"ftypheic\x00\x00\x00\x00mif1heic", "unsupportedFormat")
    put("header.avif", struct.pack(">I", 24) + b"ftypavif\x00\x00\x00\x00mif1avif", "unsupportedFormat")

    with open(os.path.join(MALFORMED, "expected.tsv"), "w") as f:
        for name, kind in cases:
            f.write(f"{name}\t{kind}\n")


def make_resize():
    os.makedirs(RESIZE, exist_ok=True)
    src = gradient(13, 11, seed=5)
    # Sharp features make rounding differences visible.
    src[5, :, :] = 255
    src[:, 6, 0] = 0
    Image.fromarray(src).save(os.path.join(RESIZE, "source.png"))
    sizes = [(13, 11), (5, 4), (7, 11), (13, 3), (1, 1), (2, 9), (26, 22), (40, 17), (9, 30), (64, 64), (12, 3), (5, 2), (3, 1)]
    with open(os.path.join(RESIZE, "resize.tsv"), "w") as f:
        for w, h in sizes:
            out = np.asarray(Image.fromarray(src).resize((w, h), Image.BICUBIC))
            name = f"bicubic-{w}x{h}.rgb"
            open(os.path.join(RESIZE, name), "wb").write(out.tobytes())
            f.write(f"{name}\t{w}\t{h}\n")


if __name__ == "__main__":
    make_valid()
    make_malformed()
    make_resize()
    print("fixtures written under", ROOT)
