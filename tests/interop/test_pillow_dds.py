#!/usr/bin/python3
"""Pillow opens the .dds files bcfeat writes (DX10 header) and decodes them like bcfeat.

Pillow decodes with the textbook interpolation; the GPU texture units (which bcfeat
reproduces) weight BC1's 6-bit green third by 80/256 instead of 1/3 and BC4's steps by
36/257 instead of 1/7, so the two may differ by a few 1/255 — but no more. BC7 is
specified to the bit, so Pillow and bcfeat must agree exactly; Pillow returns BC6H as 8-bit
RGB, floor(half float × 255) clamped to [0, 255], which bcfeat's floats reproduce exactly
for UF16; for SF16 Pillow lands 1/255 low on ~0.4% of texels (always where value × 255 is
just above an integer: its signed path rounds differently from the texture units, which
bcfeat matches bit for bit), so SF16 gets a tolerance of 1.

Needs Pillow >= 10.2 (tools/setup.sh puts Pillow 11.3 from PyPI in build/pydeps).
usage: test_pillow_dds.py BCFEAT WORKDIR
"""
import os
import subprocess
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks  # noqa: E402

checks = Checks()
BCFEAT, check = checks.bcfeat, checks.check


# A smooth-plus-noise RGB test picture, 8-bit like a PNG, odd size on purpose.
y, x = np.mgrid[0:45, 0:62]
rng = np.random.default_rng(3)
picture = np.stack([128 + 100 * np.sin(x / 7.0), 128 + 90 * np.cos(y / 5.0), (x * 4 + y * 2) % 256], axis=-1)
picture = np.clip(picture + rng.normal(0, 6, picture.shape), 0, 255).astype(np.uint8)
Image.fromarray(picture).save("picture.png")

# (format, channels Pillow returns that bcfeat also stores, tolerance in 1/255)
cases = [("bc1", 3, 6), ("bc2", 3, 6), ("bc3", 3, 6), ("bc4_unorm", 1, 2), ("bc5_unorm", 2, 2), ("bc7", 4, 0),
         ("bc6h_uf16", 3, 0), ("bc6h_sf16", 3, 1)]
for fmt, channels, tolerance in cases:
    subprocess.run([BCFEAT, "codec", "encode", "picture.png", f"{fmt}.dds", "--format", fmt, "--quality", "normal"],
                   check=True, capture_output=True)
    subprocess.run([BCFEAT, "codec", "decode", f"{fmt}.dds", f"{fmt}.npy"], check=True, capture_output=True)
    ours = np.load(f"{fmt}.npy")
    with Image.open(f"{fmt}.dds") as image:
        check(image.size == (62, 45), f"Pillow opens {fmt}.dds with size {image.size}")
        theirs = np.asarray(image).astype(np.float64) / 255.0
    if theirs.ndim == 2:
        theirs = theirs[..., None]
    if fmt.startswith("bc6h"):
        ours = np.clip(np.floor(ours * 255), 0, 255) / 255
    diff = np.abs(ours[..., :channels] - theirs[..., :channels]) * 255
    check(diff.max() <= tolerance + 0.5, f"{fmt}: Pillow and bcfeat agree within {tolerance}/255 (max {diff.max():.2f})")

checks.finish()
