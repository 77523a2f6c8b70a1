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
