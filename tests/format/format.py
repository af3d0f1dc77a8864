#!/usr/bin/env python3
"""The CTest `format`: the tree's C and C++ files follow .clang-format, as clang-format 14 reads
it (other versions format some constructs differently, so they are not used).

    format.py CLANG_FORMAT ROOT

Checks every .c, .cc, .cpp, .h and .hpp file under FOLDERS, except the templates of `kiln new`
(written out verbatim into new projects), with `clang-format --dry-run --Werror`, and lists the
files that differ. Exits 77 (skipped) when CLANG_FORMAT is not clang-format 14.
"""

import os
import re
import subprocess
import sys

FOLDERS = ("src", "include", "tools", "tests", "bench", "examples", "pdk")
SKIPPED = ("tools/kiln/templates",)
EXTENSIONS = (".c", ".cc", ".cpp", ".h", ".hpp")
BATCH = 50


def files(root):
    for top in FOLDERS:
        for folder, dirs, names in os.walk(os.path.join(root, top)):
            rel_folder = os.path.relpath(folder, root).replace(os.sep, "/")
            dirs[:] = sorted(d for d in dirs if d != "node_modules" and
                             f"{rel_folder}/{d}" not in SKIPPED)
            for name in sorted(names):
                if name.endswith(EXTENSIONS):
                    yield f"{rel_folder}/{name}"


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    clang_format, root = sys.argv[1], sys.argv[2]
    try:
        version = subprocess.run([clang_format, "--version"], capture_output=True, text=True,
                                 check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"format: cannot run {clang_format} ({e}): skipping")
        return 77
    if not re.search(r"clang-format version 14\.", version):
        print(f"format: {version.strip()} is not clang-format 14: skipping")
        return 77

    checked = list(files(root))
    differ = []
    for i in range(0, len(checked), BATCH):
        batch = checked[i:i + BATCH]
        result = subprocess.run([clang_format, "--dry-run", "--Werror", *batch], cwd=root,
                                capture_output=True, text=True)
        # Each difference is reported as FILE:LINE:COLUMN: error: ...
        found = {m.group(1) for m in re.finditer(r"^(.+?):\d+:\d+: error:", result.stderr, re.M)}
        differ += [f for f in batch if f in found]
        if result.returncode != 0 and not found:
            print(result.stderr)
            print(f"format: {clang_format} failed")
            return 1
    for f in differ:
        print(f"not formatted: {f}")
    print(f"format: {len(checked)} files, {len(differ)} not as .clang-format says")
    if differ:
        print(f"fix with: clang-format -i {' '.join(differ)}")
    if not checked:
        print(f"format: no files under {root}")
        return 1
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
