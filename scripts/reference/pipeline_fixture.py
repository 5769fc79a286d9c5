"""Reference CLS embeddings of real photos a fresh Debian machine has (opencv-doc), through the reference
pipeline: PIL open, RGB, bicubic resize to 224x224, /255, ImageNet mean/std, transformers Dinov2Model.

    python3 scripts/reference/pipeline_fixture.py --model DIR --out Tests/CLITests/Fixtures/pipeline_cls.json

The CLI test checks `cdam embed --json` against these at cosine >= 0.9995.
"""
import argparse
import json
import os
import sys

import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_model as ref  # noqa: E402

PHOTOS = "/usr/share/doc/opencv-doc/examples/data"
NAMES = ["apple.jpg", "fruits.jpg", "baboon.jpg", "messi5.jpg", "butterfly.jpg"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(2)
    model = ref.load_model(args.model, attention="eager")
    out = {"pipeline": "PIL bicubic 224x224, /255, ImageNet mean/std; transformers Dinov2Model, float32",
           "photos": PHOTOS, "cls": {}}
    for name in NAMES:
        image = Image.open(os.path.join(PHOTOS, name)).convert("RGB")
        x = ref.preprocess(image, (224, 224))
        with torch.inference_mode():
            e = model(pixel_values=x).last_hidden_state[0, 0]
        out["cls"][name] = [round(float(v), 6) for v in e]
    with open(args.out, "w") as f:
        json.dump(out, f)
    print(f"{args.out}: {len(NAMES)} embeddings")


if __name__ == "__main__":
    main()
