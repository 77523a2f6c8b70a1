#!/usr/bin/python3
"""BC7 baseline: Geldreich's bc7enc (PyPI etcpak 0.9.15) on a directory of images.

Encodes every PNG with bc7enc at its quality ("uber") levels 0, 2 and 4 (linear RGBA
weights, all 64 partitions), decodes the blocks with `bcfeat codec decode` — the decoder
`bcfeat bench codecs` uses — and writes the mean RGB PSNR and the single-thread encode rate
as JSON, beside which `bcfeat bench codecs --formats bc7` gives bcfeat's own levels.

usage: /usr/bin/python3 tools/dev/bench_bc7enc.py BCFEAT IMAGE_DIR OUT.json
(PYTHONPATH=build/pydeps, where tools/setup.sh installs etcpak and archspec)
"""
import glob
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "interop"))
from harness import write_dds  # noqa: E402

import etcpak  # noqa: E402


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    bcfeat, image_dir, out = sys.argv[1:]
    paths = sorted(glob.glob(os.path.join(image_dir, "*.png")))
    if not paths:
        sys.exit(f"no .png files in {image_dir}")
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for uber in (0, 2, 4):
            params = etcpak.BC7CompressBlockParams()
            params.m_uber_level = uber
            psnr_sum, seconds, texels = 0.0, 0.0, 0
            for path in paths:
                rgba = np.asarray(Image.open(path).convert("RGBA"))
                height, width = rgba.shape[:2]
                start = time.perf_counter()
                blocks = etcpak.compress_bc7(rgba.tobytes(), width, height, params)
                seconds += time.perf_counter() - start
                texels += width * height
                dds, npy = os.path.join(work, "b.dds"), os.path.join(work, "b.npy")
                write_dds(dds, blocks, width, height, 98)
                subprocess.run([bcfeat, "codec", "decode", dds, npy], check=True, capture_output=True)
                decoded = np.load(npy)[..., :3].astype(np.float64)
                mse = np.mean((decoded - rgba[..., :3] / 255.0) ** 2)
                psnr_sum += 10 * np.log10(1.0 / mse)
            row = {"format": "bc7", "encoder": f"bc7enc (etcpak 0.9.15) uber {uber}", "psnr_db": psnr_sum / len(paths),
                   "cpu_encode_mtexel_s": texels / seconds / 1e6, "cpu_threads": 1}
            print(f"{row['encoder']}: {row['psnr_db']:.3f} dB, {row['cpu_encode_mtexel_s']:.2f} Mtexel/s", flush=True)
            rows.append(row)
    report = {"bench": "bc7enc baseline", "images": image_dir, "image_count": len(paths),
              "host": platform.node(), "cpu": platform.processor() or platform.machine(), "baselines": rows}
    with open(out + ".tmp", "w") as f:
        json.dump(report, f, indent=2)
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main()
