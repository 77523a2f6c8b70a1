#!/usr/bin/env python3
"""Generates kernels/src/blocks/bptc_tables.h from the BPTC specification tables.

Sources: ARB_texture_compression_bptc (Table.P2, Table.P3, Table.A2, Table.A3a/b, Table.MF,
Table.F), which the Khronos Data Format Specification and Microsoft's BC6H/BC7 pages repeat.
The partition rows are written here as 16-character strings (texel 0..15, row-major); the
BC6H layouts as the specification's field lists. The tests check the decoders built on these
tables against the GPU texture units, so a transcription error cannot pass unnoticed.

usage: python3 tools/dev/gen_bptc_tables.py > kernels/src/blocks/bptc_tables.h
"""
import re

P2 = """0011001100110011 0001000100010001 0111011101110111 0001001100110111 0000000100010011
0011011101111111 0001001101111111 0000000100110111 0000000000010011 0011011111111111
0000000101111111 0000000000010111 0001011111111111 0000000011111111 0000111111111111
0000000000001111 0000100011101111 0111000100000000 0000000010001110 0111001100010000
0011000100000000 0000100011001110 0000000010001100 0111001100110001 0011000100010000
0000100010001100 0110011001100110 0011011001101100 0001011111101000 0000111111110000
0111000110001110 0011100110011100 0101010101010101 0000111100001111 0101101001011010
0011001111001100 0011110000111100 0101010110101010 0110100101101001 0101101010100101
0111001111001110 0001001111001000 0011001001001100 0011101111011100 0110100110010110
0011110011000011 0110011010011001 0000011001100000 0100111001000000 0010011100100000
0000001001110010 0000010011100100 0110110010010011 0011011011001001 0110001110011100
0011100111000110 0110110011001001 0110001100111001 0111111010000001 0001100011100111
0000111100110011 0011001111110000 0010001011101110 0100010001110111"""

P3 = """0011001102212222 0001001122112221 0000200122112211 0222002200110111 0000000011221122
0011001100220022 0022002211111111 0011001122112211 0000000011112222 0000111111112222
0000111122222222 0012001200120012 0112011201120112 0122012201220122 0011011211221222
0011200122002220 0001001101121122 0111001120012200 0000112211221122 0022002200221111
0111011102220222 0001000122212221 0000001101220122 0000110022102210 0122012200110000
0012001211222222 0110122112210110 0000011012211221 0022110211020022 0110011020022222
0011012201220011 0000200022112221 0000000211221222 0222002200120011 0011001200220222
0120012001200120 0000111122220000 0120120120120120 0120201212010120 0011220011220011
0011112222000011 0101010122222222 0000000021212121 0022112200221122 0022001100220011
0220122102201221 0101222222220101 0000212121212121 0101010101012222 0222011102220111
0002111200021112 0000211221122112 0222011101110222 0002111211120002 0110011001102222
0000000021122112 0110011022222222 0022001100110022 0022112211220022 0000000000002112
0002000100020001 0222122202221222 0101222222222222 0111201122012220"""

A2 = """15,15,15,15,15,15,15,15, 15,15,15,15,15,15,15,15, 15, 2, 8, 2, 2, 8, 8,15,
 2, 8, 2, 2, 8, 8, 2, 2, 15,15, 6, 8, 2, 8,15,15, 2, 8, 2, 2, 2,15,15, 6,
 6, 2, 6, 8,15,15, 2, 2, 15,15,15,15,15, 2, 2,15"""
A3A = """3, 3,15,15, 8, 3,15,15, 8, 8, 6, 6, 6, 5, 3, 3, 3, 3, 8,15, 3, 3, 6,10,
 5, 8, 8, 6, 8, 5,15,15, 8,15, 3, 5, 6,10, 8,15, 15, 3,15, 5,15,15,15,15,
 3,15, 5, 5, 5, 8, 5,10, 5,10, 8,13,15,12, 3, 3"""
A3B = """15, 8, 8, 3,15,15, 3, 8, 15,15,15,15,15,15,15, 8, 15, 8,15, 3,15, 8,15, 8,
 3,15, 6,10,15,15,10, 8, 15, 3,15,10,10, 8, 9,10, 6,15, 8,15, 3, 6, 6, 8,
 15, 3,15,15,15,15,15,15, 15,15,15,15, 3,15,15, 8"""

# BC6H: mode number, transformed, partition bits, endpoint bits, delta bits (r, g, b), layout.
BC6H = [
    (0, 1, 5, 10, (5, 5, 5), "m[1:0],g2[4],b2[4],b3[4],r0[9:0],g0[9:0],b0[9:0],r1[4:0],g3[4],g2[3:0],"
     "g1[4:0],b3[0],g3[3:0],b1[4:0],b3[1],b2[3:0],r2[4:0],b3[2],r3[4:0],b3[3]"),
    (1, 1, 5, 7, (6, 6, 6), "m[1:0],g2[5],g3[4],g3[5],r0[6:0],b3[0],b3[1],b2[4],g0[6:0],b2[5],b3[2],"
     "g2[4],b0[6:0],b3[3],b3[5],b3[4],r1[5:0],g2[3:0],g1[5:0],g3[3:0],b1[5:0],b2[3:0],r2[5:0],r3[5:0]"),
    (2, 1, 5, 11, (5, 4, 4), "m[4:0],r0[9:0],g0[9:0],b0[9:0],r1[4:0],r0[10],g2[3:0],g1[3:0],g0[10],"
     "b3[0],g3[3:0],b1[3:0],b0[10],b3[1],b2[3:0],r2[4:0],b3[2],r3[4:0],b3[3]"),
    (6, 1, 5, 11, (4, 5, 4), "m[4:0],r0[9:0],g0[9:0],b0[9:0],r1[3:0],r0[10],g3[4],g2[3:0],g1[4:0],"
     "g0[10],g3[3:0],b1[3:0],b0[10],b3[1],b2[3:0],r2[3:0],b3[0],b3[2],r3[3:0],g2[4],b3[3]"),
    (10, 1, 5, 11, (4, 4, 5), "m[4:0],r0[9:0],g0[9:0],b0[9:0],r1[3:0],r0[10],b2[4],g2[3:0],g1[3:0],"
     "g0[10],b3[0],g3[3:0],b1[4:0],b0[10],b2[3:0],r2[3:0],b3[1],b3[2],r3[3:0],b3[4],b3[3]"),
    (14, 1, 5, 9, (5, 5, 5), "m[4:0],r0[8:0],b2[4],g0[8:0],g2[4],b0[8:0],b3[4],r1[4:0],g3[4],g2[3:0],"
     "g1[4:0],b3[0],g3[3:0],b1[4:0],b3[1],b2[3:0],r2[4:0],b3[2],r3[4:0],b3[3]"),
    (18, 1, 5, 8, (6, 5, 5), "m[4:0],r0[7:0],g3[4],b2[4],g0[7:0],b3[2],g2[4],b0[7:0],b3[3],b3[4],"
     "r1[5:0],g2[3:0],g1[4:0],b3[0],g3[3:0],b1[4:0],b3[1],b2[3:0],r2[5:0],r3[5:0]"),
    (22, 1, 5, 8, (5, 6, 5), "m[4:0],r0[7:0],b3[0],b2[4],g0[7:0],g2[5],g2[4],b0[7:0],g3[5],b3[4],"
     "r1[4:0],g3[4],g2[3:0],g1[5:0],g3[3:0],b1[4:0],b3[1],b2[3:0],r2[4:0],b3[2],r3[4:0],b3[3]"),
    (26, 1, 5, 8, (5, 5, 6), "m[4:0],r0[7:0],b3[1],b2[4],g0[7:0],b2[5],g2[4],b0[7:0],b3[5],b3[4],"
     "r1[4:0],g3[4],g2[3:0],g1[4:0],b3[0],g3[3:0],b1[5:0],b2[3:0],r2[4:0],b3[2],r3[4:0],b3[3]"),
    (30, 0, 5, 6, (6, 6, 6), "m[4:0],r0[5:0],g3[4],b3[0],b3[1],b2[4],g0[5:0],g2[5],b2[5],b3[2],"
     "g2[4],b0[5:0],g3[5],b3[3],b3[5],b3[4],r1[5:0],g2[3:0],g1[5:0],g3[3:0],b1[5:0],b2[3:0],r2[5:0],r3[5:0]"),
    (3, 0, 0, 10, (10, 10, 10), "m[4:0],r0[9:0],g0[9:0],b0[9:0],r1[9:0],g1[9:0],b1[9:0]"),
    (7, 1, 0, 11, (9, 9, 9), "m[4:0],r0[9:0],g0[9:0],b0[9:0],r1[8:0],r0[10],g1[8:0],g0[10],b1[8:0],b0[10]"),
    (11, 1, 0, 12, (8, 8, 8), "m[4:0],r0[9:0],g0[9:0],b0[9:0],r1[7:0],r0[10:11],g1[7:0],g0[10:11],b1[7:0],b0[10:11]"),
    (15, 1, 0, 16, (4, 4, 4), "m[4:0],r0[9:0],g0[9:0],b0[9:0],r1[3:0],r0[10:15],g1[3:0],g0[10:15],b1[3:0],b0[10:15]"),
]


def layout_codes(layout):
    """One code per block bit after the mode bits: endpoint·48 + channel·16 + bit."""
    codes = []
    for field in layout.split(","):
        match = re.fullmatch(r"([mrgb])(\d?)\[(\d+)(?::(\d+))?\]", field.strip())
        name, endpoint, high, low = match.group(1), match.group(2), int(match.group(3)), match.group(4)
        low = high if low is None else int(low)
        # v[a:b]: the block's bits, lowest first, fill v[b], then towards v[a] (a < b: reversed).
        bits = list(range(low, high + 1)) if high >= low else list(range(low, high - 1, -1))
        if name == "m":
            continue
        channel = "rgb".index(name)
        codes += [int(endpoint) * 48 + channel * 16 + b for b in bits]
    return codes


def partition_words(text):
    return [sum(int(c) << (2 * i) for i, c in enumerate(row)) for row in text.split()]


def numbers(text):
    return [int(v) for v in text.replace("\n", " ").replace(",", " ").split()]


def emit(name, ctype, values, per_line):
    """A host array, a device copy, and one accessor that picks the right one.

    The device copy is in global memory (read through the L1 cache), not __constant__:
    neighbouring threads look up different partitions and modes, and the constant cache
    serialises a warp's distinct addresses.
    """
    lines = []
    for i in range(0, len(values), per_line):
        lines.append("    " + ", ".join(values[i:i + per_line]) + ",")
    size = len(values)
    accessor = name[1].lower() + re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name[2:])
    macro = f"BCFEAT_{accessor.upper()}_VALUES"  # the values once, for both copies
    body = f"#define {macro} \\\n" + " \\\n".join(lines) + "\n"
    return (body + f"static const {ctype} {name}Host[{size}] = {{{macro}}};\n"
            f"#if defined(__CUDACC__)\nstatic __device__ const {ctype} {name}Device[{size}] = {{{macro}}};\n#endif\n"
            f"#undef {macro}\n"
            f"BCFEAT_HD {ctype} {accessor}(int i) {{\n#if defined(__CUDA_ARCH__)\n  return {name}Device[i];\n"
            f"#else\n  return {name}Host[i];\n#endif\n}}\n")


def main():
    p2, p3 = partition_words(P2), partition_words(P3)
    a2, a3a, a3b = numbers(A2), numbers(A3A), numbers(A3B)
    assert len(p2) == len(p3) == len(a2) == len(a3a) == len(a3b) == 64
    out = ["// Generated by tools/dev/gen_bptc_tables.py from the BPTC specification tables; do not edit.",
           "//",
           "// Partitions: 2 bits per texel (texel i at bits 2i..2i+1, row-major) giving its subset.",
           "// Anchors: the texel whose index drops its top bit, for subset 1 (and 2) of each partition.",
           "// BC6H layouts: for each block bit after the mode bits, endpoint·48 + channel·16 + bit",
           "// (endpoints r0g0b0 = 0, r1.. = 1, r2.. = 2, r3.. = 3; channels r, g, b).",
           "#pragma once", "", "#include <cstdint>", "", '#include "bcfeat/kernels/host_device.h"', "",
           "namespace bcfeat {", "namespace bptc {", ""]
    out.append(emit("kPartitions2", "uint32_t", [f"0x{v:08x}u" for v in p2], 6))
    out.append(emit("kPartitions3", "uint32_t", [f"0x{v:08x}u" for v in p3], 6))
    out.append(emit("kAnchor2", "uint8_t", [str(v) for v in a2], 16))
    out.append(emit("kAnchor3Second", "uint8_t", [str(v) for v in a3a], 16))
    out.append(emit("kAnchor3Third", "uint8_t", [str(v) for v in a3b], 16))
    rows, layouts = [], []
    for code, transformed, pbits, epb, delta, layout in BC6H:
        codes = layout_codes(layout)
        mode_bits = 2 if code < 2 else 5
        assert mode_bits + len(codes) == (77 if pbits else 65), code
        rows += [code, transformed, pbits, epb, delta[0], delta[1], delta[2], mode_bits, len(codes)]
        layouts.append(codes + [255] * (75 - len(codes)))
    out.append("// BC6H modes in the order of Table.MF, 9 bytes each: mode code, transformed, partition bits,")
    out.append("// endpoint bits, delta bits r/g/b, mode-field width, bits of endpoint data.")
    out.append(emit("kBc6hModes", "uint8_t", [str(v) for v in rows], 9))
    flat = []
    for codes in layouts:
        flat += [str(v) for v in codes]
    out.append("// 75 codes per BC6H mode (255 past the end of its endpoint data).")
    out.append(emit("kBc6hLayout", "uint8_t", flat, 25))
    out += ["}  // namespace bptc", "}  // namespace bcfeat", ""]
    print("\n".join(out))


if __name__ == "__main__":
    main()
