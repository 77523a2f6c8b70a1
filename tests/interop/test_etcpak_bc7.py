#!/usr/bin/python3
"""BC7 against an independent encoder: Geldreich's bc7enc as shipped in etcpak.

- blocks bc7enc writes (several quality levels, so many modes and partitions) decode to
  the same bytes in bcfeat and in Pillow's independent decoder (etcpak 0.9.15's own
  decompress functions crash, so Pillow decodes);
- bcfeat's `high` is at least as good as bc7enc's fastest level on the same picture.

Needs etcpak 0.9.15 + archspec and Pillow 11.3 (tools/setup.sh puts them in build/pydeps).
usage: test_etcpak_bc7.py BCFEAT WORKDIR
"""
import os
import subprocess
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, write_dds  # noqa: E402

import etcpak  # noqa: E402

checks = Checks()
BCFEAT, check = checks.bcfeat, checks.check

# Smooth gradients, edges and noise with a varying alpha, 64 × 48 (whole blocks).
y, x = np.mgrid[0:48, 0:64]
rng = np.random.default_rng(7)
picture = np.stack([128 + 100 * np.sin(x / 6.0), 128 + 90 * np.cos(y / 4.0), (x * 4 + y * 2) % 256,
                    255 - (x * 3) % 200], axis=-1)
picture[:, 32:] = picture[:, 32:][..., [2, 0, 1, 3]]  # a hard edge through every row
picture = np.clip(picture + rng.normal(0, 10, picture.shape), 0, 255).astype(np.uint8)
Image.fromarray(picture, "RGBA").save("picture.png")


def psnr(decoded):
    mse = np.mean((decoded[..., :3].astype(np.float64) - picture[..., :3]) ** 2)
    return 10 * np.log10(255.0 ** 2 / mse)


def bcfeat_decode(dds):
    subprocess.run([BCFEAT, "codec", "decode", dds, "out.npy"], check=True, capture_output=True)
    return np.rint(np.load("out.npy") * 255.0).astype(np.uint8)


def pillow_decode(dds):
    with Image.open(dds) as image:
        return np.asarray(image.convert("RGBA"))


baseline_psnr = None
for uber in (0, 2, 4):
    params = etcpak.BC7CompressBlockParams()
    params.m_uber_level = uber
    blocks = etcpak.compress_bc7(picture.tobytes(), 64, 48, params)
    write_dds(f"bc7enc_{uber}.dds", blocks, 64, 48, 98)
    modes = {((b & -b).bit_length() - 1) for b in blocks[::16] if b}
    ours, theirs = bcfeat_decode(f"bc7enc_{uber}.dds"), pillow_decode(f"bc7enc_{uber}.dds")
    check(np.array_equal(ours, theirs), f"bc7enc uber {uber} blocks (modes {sorted(modes)}): bcfeat decode == Pillow decode")
    if uber == 0:
        baseline_psnr = psnr(ours)

subprocess.run([BCFEAT, "codec", "encode", "picture.png", "high.dds", "--format", "bc7", "--quality", "high"],
               check=True, capture_output=True)
ours = bcfeat_decode("high.dds")
check(psnr(ours) >= baseline_psnr - 0.05,
      f"bcfeat high {psnr(ours):.2f} dB vs bc7enc uber 0 {baseline_psnr:.2f} dB on the test picture")

checks.finish()
