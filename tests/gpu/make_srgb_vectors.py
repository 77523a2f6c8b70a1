#!/usr/bin/python3
"""Texture-unit vectors for the sRGB variants of BC1, BC2, BC3 and BC7, and the sRGB table.

On a GPU machine (as recorded on an H100):
  bcfeat codec encode SOURCE.npy DIR/srgb_F.dds --format F --srgb          (a 64x64 image)
  bcfeat codec decode DIR/srgb_F.dds DIR/srgb_F_texture.npy --device texture
  and, for the table, a BC7 sRGB image whose block i is the constant level i (i = 0..255):
  bcfeat codec decode LEVELS.dds DIR/levels_texture.npy --device texture

  make_srgb_vectors.py pack DIR    writes tests/data/texture_F_srgb.bin (BCTV layout,
                                   tests/data/README.md): the file's blocks and the texels
  make_srgb_vectors.py table DIR   prints the 256 half-float bits the texture units return for
                                   each 8-bit level (kernels/src/srgb_table.h)
"""
import os
import struct
import sys

import numpy as np

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
command, directory = sys.argv[1], sys.argv[2]
if command == "pack":
    for name, block_bytes in (("bc1", 8), ("bc2", 16), ("bc3", 16), ("bc7", 16)):
        data = open(os.path.join(directory, f"srgb_{name}.dds"), "rb").read()[148:]
        image = np.load(os.path.join(directory, f"srgb_{name}_texture.npy"))  # [64, 64, 4]
        count = len(data) // block_bytes
        texels = np.zeros((count, 16, 4), np.float32)
        for b in range(count):
            by, bx = divmod(b, 16)
            texels[b] = image[by * 4:by * 4 + 4, bx * 4:bx * 4 + 4].reshape(16, 4)
        with open(os.path.join(DATA, f"texture_{name}_srgb.bin"), "wb") as f:
            f.write(b"BCTV" + struct.pack("<III", 1, block_bytes, count) + data + texels.tobytes())
else:
    image = np.load(os.path.join(directory, "levels_texture.npy"))  # [64, 64, 4]
    levels = image[::4, ::4, 0].reshape(256)  # block i (row-major, 16 per row) is level i
    bits = levels.astype(np.float16).view(np.uint16)
    assert np.array_equal(bits.view(np.float16).astype(np.float32), levels), "the texture units return half floats"
    print(",\n".join(", ".join(f"0x{b:04x}" for b in bits[i:i + 8]) for i in range(0, 256, 8)))
