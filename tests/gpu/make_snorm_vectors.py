#!/usr/bin/python3
"""Texture-unit vectors for BC4/BC5 snorm blocks with a -128 endpoint.

  make_snorm_vectors.py dds DIR    writes DIR/bc4_snorm.dds and DIR/bc5_snorm.dds: 512 blocks
                                   each, (e0, e1) = (-128, x) and (x, -128) for every x, every
                                   index 0..7 twice per block (BC5's green channel has the same
                                   blocks in reverse order)
  (on a GPU machine:  bcfeat codec decode DIR/F.dds DIR/F_texture.npy --device texture)
  make_snorm_vectors.py pack DIR   writes tests/data/texture_<F>_minus128.bin (BCTV layout,
                                   tests/data/README.md) from those blocks and DIR/F_texture.npy
"""
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
from harness import write_dds  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")


def bc4_block(e0, e1):
    bits = sum(index << (3 * i) for i, index in enumerate(list(range(8)) * 2))
    return struct.pack("<bb", e0, e1) + bits.to_bytes(6, "little")


def blocks(name):
    red = [bc4_block(*pair) for x in range(-128, 128) for pair in ((-128, x), (x, -128))]
    return red if name == "bc4_snorm" else [red[i] + red[-1 - i] for i in range(len(red))]


FORMATS = {"bc4_snorm": (81, 1), "bc5_snorm": (84, 2)}  # DXGI format, channels
command, directory = sys.argv[1], sys.argv[2]
for name, (dxgi, channels) in FORMATS.items():
    data = blocks(name)
    if command == "dds":
        os.makedirs(directory, exist_ok=True)
        write_dds(os.path.join(directory, name + ".dds"), b"".join(data), 64 * 4, len(data) // 64 * 4, dxgi)
    else:
        image = np.load(os.path.join(directory, name + "_texture.npy"))  # [32, 256, channels]
        texels = np.zeros((len(data), 16, 4), np.float32)
        texels[..., 3] = 1.0
        for b in range(len(data)):
            by, bx = divmod(b, 64)
            texels[b, :, :channels] = image[by * 4:by * 4 + 4, bx * 4:bx * 4 + 4].reshape(16, channels)
        with open(os.path.join(DATA, f"texture_{name}_minus128.bin"), "wb") as f:
            f.write(b"BCTV" + struct.pack("<III", 1, len(data[0]), len(data)) + b"".join(data) + texels.tobytes())
