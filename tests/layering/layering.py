#!/usr/bin/env python3
"""The CTest `layering`: every #include under src/, include/, tools/ and pdk/ must follow the
one-way dependency rule (CONVENTIONS.md, docs/embedding.md "Components").

    layering.py ROOT

Each file belongs to a layer by its path: src/LAYER/..., include/kiln/LAYER/..., a top-level
public header by PUBLIC_HEADERS (engine-level unless listed), tools/ above everything, and pdk/
and tools/kiln/templates/ are guest code. An include is resolved as the compiler would find it
(the including file's folder, then src/ and include/; guest code looks in pdk/c/include/ first)
and is refused when:
  - a layer includes a higher one (LAYERS gives the order; layers of one rank may include each
    other);
  - src/engine/interp/ and src/engine/jit/ include each other;
  - a public header includes a private one (src/ is not installed);
  - guest code includes any host header.
Each refusal is printed as `file:line: FROM -> TO: why (#include ...)`. A file under src/ or
include/kiln/ whose folder is no layer in LAYERS is refused too, so a new layer must be placed
in the order before its includes are checked.

Before the tree, the script checks itself on fixture/, a tree of good and bad includes, and
fails unless it finds exactly the refusals listed in fixture/expected.txt.
"""

import os
import re
import sys

# The order of the layers: a layer may include its own rank and below.
LAYERS = {
    "base": 0,
    "engine": 1,
    "text": 2,
    "wasi": 2,
    "plugin": 3,
    "manager": 4,
    "hostfns": 5,
    "dispatch": 5,
    "jobs": 6,
    "actors": 6,
    "registry": 6,
    "server": 7,
    "capi": 8,
    "tools": 9,
}
# Top-level public headers of a layer other than the engine. error.hpp is the public half of
# base's Result/Error; the .def X-macro lists in include/kiln/ rank with it (see layer_of).
PUBLIC_HEADERS = {
    "error.hpp": "base",
    "text.hpp": "text",
    "wasi.hpp": "wasi",
    "plugin.hpp": "plugin",
    "manager.hpp": "manager",
    "state_db.hpp": "manager",
    "kiln.h": "capi",
}
# Parts of the engine that are siblings: neither includes the other.
SIBLINGS = {"interp", "jit"}
GUEST = "guest code"
SCANNED = ("src", "include", "tools", "pdk")
EXTENSIONS = (".c", ".cc", ".cpp", ".h", ".hpp", ".def", ".inc")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def layer_of(rel):
    """The layer of a path relative to the root, GUEST, or None with the reason it has none."""
    parts = rel.split("/")
    if parts[0] == "pdk" or rel.startswith("tools/kiln/templates/"):
        return GUEST, None
    if parts[0] == "tools":
        return "tools", None
    if parts[0] == "src" and len(parts) > 2:
        name = parts[1]
    elif parts[0] == "include" and len(parts) > 3 and parts[1] == "kiln":
        name = parts[2]
    elif parts[0] == "include" and len(parts) == 3 and parts[1] == "kiln":
        if parts[2].endswith(".def"):
            return "base", None
        return PUBLIC_HEADERS.get(parts[2], "engine"), None
    else:
        return None, "outside the layers"
    if name not in LAYERS:
        return None, (f"{name} is no layer of the order "
                      "(add it to LAYERS in tests/layering/layering.py)")
    return name, None


def engine_part(rel):
    """interp or jit for a file in those folders of the engine, else None."""
    parts = rel.split("/")
    if len(parts) > 3 and parts[:2] == ["src", "engine"] and parts[2] in SIBLINGS:
        return parts[2]
    return None


def resolve(root, rel, kind, name, guest):
    """The included file relative to root, as the compiler would find it, or None."""
    candidates = []
    if kind == '"':
        candidates.append(os.path.join(os.path.dirname(rel), name))
    elif not name.startswith("kiln/"):
        return None  # a system or third-party header
    if guest:
        candidates.append(os.path.join("pdk/c/include", name))
    if kind == '"':
        candidates.append(os.path.join("src", name))
    candidates.append(os.path.join("include", name))
    for candidate in candidates:
        candidate = os.path.normpath(candidate)
        if not candidate.startswith("..") and os.path.isfile(os.path.join(root, candidate)):
            return candidate.replace(os.sep, "/")
    return None


def sources(root):
    for top in SCANNED:
        for folder, dirs, files in os.walk(os.path.join(root, top)):
            dirs[:] = sorted(d for d in dirs if d != "node_modules")
            for f in sorted(files):
                if f.endswith(EXTENSIONS):
                    yield os.path.relpath(os.path.join(folder, f), root).replace(os.sep, "/")


def check(root):
    """Returns (refusals, files, includes) for the tree at root."""
    refusals = []
    files = includes = 0
    for rel in sources(root):
        files += 1
        layer, why = layer_of(rel)
        if layer is None and (rel.startswith("src/") or rel.startswith("include/")):
            refusals.append(f"{rel}: {why}")
            continue
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
        for number, line in enumerate(lines, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            kind, name = m.groups()
            target = resolve(root, rel, kind, name, layer == GUEST)
            if target is None:
                continue
            includes += 1
            to, _ = layer_of(target)
            where = f"{rel}:{number}: {layer} -> {to or target}"
            directive = f"(#include {kind}{name}{'>' if kind == '<' else kind})"
            if layer == GUEST:
                if to != GUEST:
                    refusals.append(f"{where}: guest code includes a host header {directive}")
                continue
            if to == GUEST or to is None:
                continue
            if rel.startswith("include/") and target.startswith("src/"):
                refusals.append(f"{where}: a public header includes a private one {directive}")
            elif LAYERS[to] > LAYERS[layer]:
                refusals.append(f"{where}: a lower layer includes a higher one {directive}")
            elif {engine_part(rel), engine_part(target)} == SIBLINGS:
                refusals.append(
                    f"{rel}:{number}: {engine_part(rel)} -> {engine_part(target)}: "
                    f"interp/ and jit/ never include each other {directive}")
    return refusals, files, includes


def self_test():
    """Fails unless the check finds exactly the expected refusals in fixture/."""
    fixture = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixture")
    with open(os.path.join(fixture, "expected.txt"), encoding="utf-8") as f:
        expected = [line for line in f.read().splitlines() if line and not line.startswith("#")]
    found, _, _ = check(fixture)
    missed = [r for r in expected if r not in found]
    extra = [r for r in found if r not in expected]
    for r in missed:
        print(f"self-test: not refused: {r}")
    for r in extra:
        print(f"self-test: refused but not expected: {r}")
    if missed or extra or not expected:
        print("layering: the self-test on fixture/ failed; the check cannot be trusted")
        return False
    print(f"layering: self-test: all {len(expected)} bad arrows of fixture/ refused")
    return True


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    if not self_test():
        return 1
    refusals, files, includes = check(sys.argv[1])
    for r in refusals:
        print(r)
    print(f"layering: {files} files, {includes} includes of the tree's own headers, "
          f"{len(refusals)} against the rule")
    if files == 0 or includes == 0:
        print(f"layering: nothing to check under {sys.argv[1]}")
        return 1
    return 1 if refusals else 0


if __name__ == "__main__":
    sys.exit(main())
