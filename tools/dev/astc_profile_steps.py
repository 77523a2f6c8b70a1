#!/usr/bin/python3
"""Step shares of a CUDA ASTC decode kernel from an Nsight Compute source-counter export.

  tools/dev/astc_profile_steps.py SOURCE.csv[.gz] LISTING.sass KERNEL TEXELS [--detail]

SOURCE.csv: `ncu -i REPORT --page source --csv --print-source sass` of one astc_decode_kernel
launch (tools/dev/astc_cuda_profile.sh makes it). LISTING.sass: `nvdisasm -g -c` of a cubin built
from the same kernels/src/astc_cuda.cu with the same nvcc and flags (-lineinfo), so that its
instructions are the report's, in the same order (checked opcode by opcode). KERNEL names the
instantiation as block size, profile and column count, e.g. 4x4L2 or 12x12H1. TEXELS: the
texels the launch decoded (8192*8192 for the compare program's tiling).

Each instruction's executed count goes to the step of its source line: the kernel body by its step comments
("// 1. Headers", "// 2. Colour values", "// 3. Endpoints", "// 4. Texels"), the helpers by the step that
calls them (bits_before: header; decode_group and its stores: sequences; sort_blocks: endpoints; the texel and
vote helpers: texels); lines inlined from other files count with the step of the kernel line before them.
Prints warp instructions per texel in total and per step, and per step the warp-state samples (all, and those
stalled on instruction fetch, `no_inst`) where the report has them (tools/dev/astc_cuda_profile.sh's
SourceCounters section). With --detail, also per step: the warp instructions a span of 32 blocks by pipe class
(alu: integer and logic instructions, which Hopper's ALU pipe takes a warp's every second cycle; fma: IMAD,
IDP and FP32 arithmetic; other: memory, branches, votes, ...), the most executed opcodes, and the warp-state
samples by stall reason. Standard library only.
"""
import collections
import csv
import gzip
import os
import re
import sys

SOURCE = "astc_cuda.cu"


# Where each step's code starts in kernels/src/astc_cuda.cu, in line order: the helpers by the
# step that calls them (block_need, after "Constants of step 4", counts as texels also where
# sort_blocks calls it), then the kernel body by its step comments; launch_size is host code.
MARKS = [
    (r"uint32_t bits_before\(", "header"),
    (r"void store_bytes_if\(", "sequences"),
    (r"void decode_group\(", "sequences"),
    (r"^// Constants of step 4", "texels"),
    (r"void sort_blocks\(", "endpoints"),
    (r"int pass_need\(", "texels"),
    (r"^__global__ void", "setup"),
    (r"// 1\. Headers", "header"),
    (r"// 2\. Colour values", "sequences"),
    (r"// 3\. Endpoints", "endpoints"),
    (r"// 4\. Texels", "texels"),
    (r"^void launch_size", "host"),
]


def step_ranges(path):
    """[(first line, step)] in line order; a line before the first mark is set-up."""
    marks = []
    with open(path) as f:
        for number, text in enumerate(f, 1):
            marks += [(number, step) for pattern, step in MARKS if re.search(pattern, text)]
    found = {step for _, step in marks}
    if len(marks) != len(MARKS) or not {"header", "sequences", "endpoints", "texels"} <= found:
        sys.exit(f"astc_profile_steps: {path} no longer has the {len(MARKS)} marks this script looks for")
    return sorted(marks)


def kernel_name(kernel):
    """KERNEL's parts: block width, height, profile (L or H), texel columns a lane."""
    m = re.fullmatch(r"(\d+)x(\d+)([LH])(\d)", kernel)
    if not m:
        sys.exit(f"astc_profile_steps: kernel '{kernel}' is not like 4x4L2")
    return m


def load_listing(path, kernel):
    """The (file, line, instruction) list of one kernel of an `nvdisasm -g -c` listing."""
    m = kernel_name(kernel)
    want = "astc_decode_kernelILi{}ELi{}ELb{}ELi{}E".format(m[1], m[2], 1 if m[3] == "H" else 0, m[4])
    out, current, location = [], False, ("", 0)
    with open(path) as f:
        for text in f:
            name = re.match(r"^\.text\.(\S+):", text)
            if name:
                current = want in name[1]
                continue
            loc = re.search(r'//## File "([^"]+)", line (\d+)', text)
            if loc:
                location = (loc[1].split("/")[-1], int(loc[2]))
                continue
            ins = re.match(r"\s+/\*[0-9a-f]{4,}\*/\s+(.*?);", text)
            if ins and current:
                out.append((location[0], location[1], ins[1].strip()))
    if not out:
        sys.exit(f"astc_profile_steps: no kernel {kernel} ({want}) in {path}")
    return out


# Opcode classes for --detail (the opcode before its first dot).
ALU = {"LOP3", "SHF", "PRMT", "IADD3", "ISETP", "SEL", "VIADDMNMX", "HMNMX2", "LEA", "MOV", "IMNMX", "VIMNMX",
       "VIMNMX3", "FLO", "POPC", "BMSK", "SGXT", "PLOP3", "P2R", "R2P", "VIADD", "IABS", "BREV", "FSEL", "FMNMX",
       "FSETP", "CS2R", "VABSDIFF4"}
FMA = {"IMAD", "IDP", "FFMA", "FMUL", "FADD", "HFMA2"}


def opcode(instruction):
    """The instruction's opcode with its modifiers, without a predicate."""
    return re.sub(r"^@!?U?P[T0-9]+\s+", "", instruction).split()[0]


def detail(listing, data, columns, steps):
    """--detail's counts per step: executed instructions by pipe class and by opcode, samples by stall reason."""
    executed = columns.index("Instructions Executed")
    reasons = [(c[len("stall_"):], i) for i, c in enumerate(columns)
               if c.startswith("stall_") and "Not Issued" not in c]
    pipes = collections.defaultdict(collections.Counter)
    ops = collections.defaultdict(collections.Counter)
    stalls = collections.defaultdict(collections.Counter)
    for (_, _, ins), row, step in zip(listing, data, steps):
        n = int(row[executed])
        op = opcode(ins)
        base = op.split(".")[0]
        pipes[step]["alu" if base in ALU else "fma" if base in FMA else "other"] += n
        ops[step][op] += n
        for reason, column in reasons:
            stalls[step][reason] += int(row[column] or 0)
    return pipes, ops, stalls


def main():
    want_detail = "--detail" in sys.argv[1:]
    args = [a for a in sys.argv[1:] if a != "--detail"]
    if len(args) != 4:
        sys.exit(__doc__)
    csv_path, listing_path, kernel, texels = args[0], args[1], args[2], float(args[3])
    opener = gzip.open if csv_path.endswith(".gz") else open
    with opener(csv_path, "rt") as f:
        rows = list(csv.reader(f))
    header = next(i for i, r in enumerate(rows) if "Instructions Executed" in r)
    executed = rows[header].index("Instructions Executed")
    source = rows[header].index("Source")
    data = rows[header + 1:]
    listing = load_listing(listing_path, kernel)
    if len(listing) != len(data):
        sys.exit(f"astc_profile_steps: {len(listing)} instructions in the listing, {len(data)} in the report")
    for i, ((_, _, ins), row) in enumerate(zip(listing, data)):
        if opcode(ins).split(".")[0] not in row[source]:
            sys.exit(f"astc_profile_steps: instruction {i} is {ins!r} in the listing, {row[source]!r} in the report")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    marks = step_ranges(os.path.join(root, "kernels", "src", SOURCE))
    totals = collections.Counter()
    samples, no_inst = collections.Counter(), collections.Counter()
    sampled = "Warp Stall Sampling (All Samples)" in rows[header] and "stall_no_inst" in rows[header]
    if sampled:
        sample_column = rows[header].index("Warp Stall Sampling (All Samples)")
        no_inst_column = rows[header].index("stall_no_inst")
    step = "setup"
    steps = []
    for (file, line, _), row in zip(listing, data):
        if file == SOURCE:  # other files' lines (inlined) keep the step of the line before
            step = "setup"
            for first, s in marks:
                if line < first:
                    break
                step = s
        steps.append(step)
        totals[step] += int(row[executed])
        if sampled:
            samples[step] += int(row[sample_column])
            no_inst[step] += int(row[no_inst_column])
    total = sum(totals.values())
    print(f"{kernel}: {total / texels:.2f} warp instructions per texel"
          + (f"; warp-state samples {sum(samples.values())}, no_inst {sum(no_inst.values())}" if sampled else ""))
    for s in ("setup", "header", "sequences", "endpoints", "texels"):
        print(f"  {s:<10} {totals[s] / texels:.2f}  {100 * totals[s] / total:4.1f}%"
              + (f"  samples {samples[s]:7d}  no_inst {no_inst[s]:6d}" if sampled else ""))
    if want_detail:
        m = kernel_name(kernel)
        spans = texels / (32 * int(m[1]) * int(m[2]))
        pipes, ops, stalls = detail(listing, data, rows[header], steps)
        print(f"per span of 32 blocks ({spans:.0f} spans): warp instructions by pipe class, top opcodes, stall reasons")
        for s in ("setup", "header", "sequences", "endpoints", "texels"):
            print(f"  {s:<10} " + " ".join(f"{c}={pipes[s][c] / spans:.0f}" for c in ("alu", "fma", "other")))
            print("      " + " ".join(f"{o}={n / spans:.0f}" for o, n in ops[s].most_common(8)))
            if sampled:
                print("      " + " ".join(f"{r}={n}" for r, n in stalls[s].most_common(6)))


if __name__ == "__main__":
    main()
