"""Shared scaffolding of the interop scripts: arguments, a fresh work directory, checks.

Each script is run as `script.py BCFEAT WORKDIR` by CTest with /usr/bin/python3.
"""
import os
import shutil
import sys


class Checks:
    def __init__(self):
        if len(sys.argv) != 3:
            sys.exit(f"usage: {sys.argv[0]} BCFEAT WORKDIR")
        self.bcfeat = sys.argv[1]
        work = sys.argv[2]
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        os.chdir(work)
        self.failures = []

    def check(self, condition, what):
        print(("ok: " if condition else "FAIL: ") + what)
        if not condition:
            self.failures.append(what)

    def finish(self):
        print(f"{len(self.failures)} failures")
        sys.exit(1 if self.failures else 0)


def write_dds(path, blocks, width, height, dxgi_format):
    """A DX10 .dds file around raw blocks (16-byte blocks of 4×4 texels), as bcfeat writes."""
    import struct
    header = struct.pack("<4sIIIIIII44xIIIIIIIIIIIII", b"DDS ", 124, 0x1 | 0x2 | 0x4 | 0x1000 | 0x80000, height, width,
                         len(blocks), 0, 1, 32, 0x4, 0x30315844, 0, 0, 0, 0, 0, 0x1000, 0, 0, 0, 0)
    dx10 = struct.pack("<IIIII", dxgi_format, 3, 0, 1, 0)
    with open(path, "wb") as f:
        f.write(header + dx10 + bytes(blocks))
