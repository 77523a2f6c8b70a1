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


# --- DDS variants as other writers produce them -----------------------------------------------
def patched(source, target, dxgi):
    """`source` with its DX10 header's DXGI format set to `dxgi`."""
    data = bytearray(open(source, "rb").read())
    data[128:132] = int(dxgi).to_bytes(4, "little")
    open(target, "wb").write(bytes(data))


def decode(path, *extra):
    result = subprocess.run([BCFEAT, "codec", "decode", path, path + ".npy", *extra], capture_output=True, text=True)
    return result, (np.load(path + ".npy") if result.returncode == 0 else None)


def srgb_to_linear(c):  # IEC 61966-2-1, in float64
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


# BC7_UNORM_SRGB (99) and BC7_TYPELESS (97): Pillow reads both (the stored values, exactly).
subprocess.run([BCFEAT, "codec", "encode", "picture.png", "bc7_srgb.dds", "--format", "bc7", "--srgb"], check=True,
               capture_output=True)
check(open("bc7_srgb.dds", "rb").read()[128] == 99, "codec encode --srgb writes DXGI_FORMAT_BC7_UNORM_SRGB")
with Image.open("bc7_srgb.dds") as image:
    stored = np.asarray(image).astype(np.float64) / 255.0
result, raw = decode("bc7_srgb.dds", "--srgb", "stored")
# bcfeat's float32 k/255 against Pillow's 8-bit k: equal as 8-bit codes.
check(raw is not None and np.array_equal(np.rint(raw * 255), stored * 255), "BC7 sRGB, --srgb stored: Pillow's stored values, exactly")
result, linear = decode("bc7_srgb.dds")
expected = stored.copy()
expected[..., :3] = srgb_to_linear(stored[..., :3])
# The texture units' table (test_kernels checks it bit for bit) is within 0.0038 of the curve.
check(linear is not None and np.abs(linear - expected).max() < 0.0038 and np.array_equal(np.rint(linear[..., 3] * 255), stored[..., 3] * 255),
      "BC7 sRGB decodes to linear colour (within 0.0038 of the sRGB curve on Pillow's values), alpha as stored")
check("sRGB colour decoded to linear" in result.stdout, "decode says it converted sRGB colour")
patched("bc7_srgb.dds", "bc7_typeless.dds", 97)
with Image.open("bc7_typeless.dds") as image:
    typeless_pillow = np.asarray(image).astype(np.float64) / 255.0
result, typeless = decode("bc7_typeless.dds")
check(typeless is not None and np.array_equal(np.rint(typeless * 255), typeless_pillow * 255),
      "BC7_TYPELESS reads as UNORM, as Pillow reads it")

# BC1/BC2/BC3 sRGB (72, 75, 78; Pillow reads only their UNORM codes): the stored values are the
# UNORM file's, the linear ones the sRGB curve of those.
for fmt, unorm in (("bc1", 71), ("bc2", 74), ("bc3", 77)):
    patched(f"{fmt}.dds", f"{fmt}_srgb.dds", unorm + 1)
    with Image.open(f"{fmt}.dds") as image:
        check(image.size == (62, 45), f"{fmt}: the UNORM file opens in Pillow")
    _, unorm_values = decode(f"{fmt}.dds")
    _, stored = decode(f"{fmt}_srgb.dds", "--srgb", "stored")
    _, linear = decode(f"{fmt}_srgb.dds")
    ok = stored is not None and linear is not None and np.array_equal(stored, unorm_values)
    expected = unorm_values.astype(np.float64)
    expected[..., :3] = srgb_to_linear(expected[..., :3])
    same_table = linear is not None and all(  # one linear value per stored level, across formats
        np.unique(linear[..., :3][np.rint(stored[..., :3] * 255) == level]).size == 1 for level in np.unique(np.rint(stored[..., :3] * 255)))
    check(ok and same_table and np.abs(linear - expected).max() < 0.0038,
          f"{fmt} sRGB: stored = the UNORM file's values, linear within 0.0038 of their sRGB curve, one value per level")
info = subprocess.run([BCFEAT, "codec", "info", "bc1_srgb.dds"], capture_output=True, text=True)
check("sRGB-encoded" in info.stdout, "codec info says the colour is sRGB-encoded")

# BC6H_TYPELESS (94) is refused: it does not say whether the values are signed.
patched("bc6h_uf16.dds", "bc6h_typeless.dds", 94)
result, _ = decode("bc6h_typeless.dds")
check(result.returncode == 2 and "BC6H_TYPELESS" in result.stderr and len(result.stderr.strip().splitlines()) == 1,
      f"BC6H_TYPELESS: exit 2 and one line ({result.stderr.strip()})")
result = subprocess.run([BCFEAT, "codec", "encode", "picture.png", "x.dds", "--format", "bc4_unorm", "--srgb"],
                        capture_output=True, text=True)
check(result.returncode == 2 and "no sRGB variant" in result.stderr, "--srgb on a format without an sRGB variant exits 2")

checks.finish()
