#!/usr/bin/python3
"""numpy interop for feature files and scalar quantizers (Debian's python3-numpy).

1. Files numpy writes (.npy float32/float16, 2-D and 3-D; .safetensors written per the
   format spec with numpy) are read by bcfeat exactly: fp16 quantization of fp16 data
   reproduces them bit for bit, and of fp32 data matches numpy's own float16 cast.
2. A tensor bcfeat writes (.npy) is read by numpy.
3. bcfeat's int and fp8 quantizers match an independent numpy implementation of the
   documented algorithm (fp8 rounding from ml_dtypes when it is installed).

usage: test_numpy.py BCFEAT WORKDIR
"""
import json
import os
import struct
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks  # noqa: E402

checks = Checks()
BCFEAT, check = checks.bcfeat, checks.check


def run(path, *overrides, key=""):
    """Runs quantize_baseline on `path` and returns (metrics, reconstruction)."""
    out = "out_" + str(len(os.listdir(".")))
    args = [BCFEAT, "run", "cfg.yaml", f"features.path={path}", f"output={out}", *overrides]
    if key:
        args.append(f"features.key={key}")
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"bcfeat failed ({proc.returncode}): {proc.stderr}")
    (run_dir,) = [d for d in os.listdir(out) if os.path.isdir(os.path.join(out, d))]
    metrics = json.load(open(os.path.join(out, run_dir, "metrics.json")))["metrics"]
    return metrics, np.load(os.path.join(out, run_dir, "reconstructed.npy"))


with open("cfg.yaml", "w") as f:
    f.write("experiment: quantize_baseline\nfeatures: {source: file}\nsave_reconstruction: true\n")

rng = np.random.default_rng(0)
x32 = (rng.standard_normal((2, 12, 20)) * 3).astype(np.float32)
x16 = x32.astype(np.float16)

# 1 + 2: fp16 data round-trips bit for bit; bcfeat's .npy output is read by numpy.
np.save("x16.npy", x16)
metrics, y = run("x16.npy", "compression.method=fp16")
check(y.dtype == np.float32 and y.shape == x16.shape, "numpy reads bcfeat's .npy with dtype and shape")
check(np.array_equal(y, x16.astype(np.float32)), "float16 .npy read exactly")
check(metrics["mse"] == 0.0, "fp16 of fp16 data is lossless")

np.save("x32_2d.npy", x32[0])
metrics, y = run("x32_2d.npy", "compression.method=fp16")
expect = x32[0].astype(np.float16).astype(np.float32)
check(y.shape == (1, 12, 20), "[N, D] input becomes [1, N, D]")
check(np.array_equal(y[0], expect), "fp16 rounding matches numpy's float16 cast")
mse = float(np.mean((expect.astype(np.float64) - x32[0]) ** 2))
check(abs(metrics["mse"] - mse) <= 1e-12 * max(mse, 1e-30), f"mse matches numpy ({metrics['mse']} vs {mse})")
check(metrics["max_abs_err"] == float(np.max(np.abs(expect - x32[0]))), "max_abs_err matches numpy")

# safetensors written by hand with numpy, per the format specification.
def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        data = np.ascontiguousarray(array).tobytes()
        header[name] = {"dtype": {"float32": "F32", "float16": "F16"}[array.dtype.name],
                        "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))

write_safetensors("feats.safetensors", {"layer4": x16, "layer8": x32})
_, y = run("feats.safetensors", "compression.method=fp16", key="layer4")
check(np.array_equal(y, x16.astype(np.float32)), "safetensors F16 tensor read exactly by key")
_, y = run("feats.safetensors", "compression.method=bf16", key="layer8")
bf16 = ((x32.view(np.uint32).astype(np.uint64) + 0x7FFF + ((x32.view(np.uint32) >> 16) & 1)) >> 16).astype(np.uint32)
check(np.array_equal(y, (bf16 << 16).astype(np.uint32).view(np.float32)), "bf16 rounding matches numpy bit arithmetic")


# 3: int quantization, independent numpy implementation of the documented algorithm.
def half_down(v):
    h = np.float16(v)
    return np.nextafter(h, np.float16(-np.inf)) if np.float32(h) > v else h


def half_up(v):
    h = np.float16(v)
    return np.nextafter(h, np.float16(np.inf)) if np.float32(h) < v else h


def int_reference(x, bits, group):
    levels = 2 ** bits - 1
    out = np.empty_like(x)
    flat, res = x.reshape(-1, x.shape[-1]), out.reshape(-1, x.shape[-1])
    for t in range(flat.shape[0]):
        for start in range(0, flat.shape[1], group):
            g = flat[t, start:start + group]
            lo = np.float32(half_down(np.float32(g.min())))
            hi = np.float32(g.max())
            step = np.float32(half_up(np.float32((hi - lo) / np.float32(levels)))) if hi > lo else np.float32(0)
            if step > 0:
                q = np.clip(np.rint((g - lo) / step), 0, levels)
            else:
                q = np.zeros_like(g)
            res[t, start:start + group] = lo + q.astype(np.float32) * step
    return out


np.save("x32.npy", x32)
for bits, group in [(4, 8), (3, 7), (8, 20)]:
    metrics, y = run("x32.npy", "compression.method=int", f"compression.bits={bits}", f"compression.group_size={group}")
    ref = int_reference(x32, bits, group)
    check(np.array_equal(y, ref), f"int{bits} g{group} matches the numpy reference")
    groups = 2 * 12 * -(-20 // group)
    check(metrics["bytes"] == groups * 4 + -(-(x32.size * bits) // 8), f"int{bits} g{group} byte count")

try:
    import ml_dtypes
except ImportError:
    ml_dtypes = None
if ml_dtypes is None:
    print("skip: ml_dtypes not installed, fp8 comparison not run")
else:
    for fmt, dtype, top in [("e4m3", ml_dtypes.float8_e4m3fn, 448.0), ("e5m2", ml_dtypes.float8_e5m2, 57344.0)]:
        metrics, y = run("x32.npy", "compression.method=fp8", f"compression.fp8_format={fmt}", "compression.group_size=0")
        amax = np.abs(x32).max(axis=-1, keepdims=True)
        scale = np.vectorize(lambda a: np.float32(half_up(np.float32(a / np.float32(top)))))(amax).astype(np.float32)
        ref = np.clip(x32 / scale, -top, top).astype(dtype).astype(np.float32) * scale
        check(np.array_equal(y, ref), f"fp8 {fmt} matches ml_dtypes")

checks.finish()
