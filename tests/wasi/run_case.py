#!/usr/bin/env python3
"""Runs one WASI conformance case and compares its stdout and exit code with the expected ones.

    run_case.py --expected=FILE.out --work=DIR [--exit=N] [--stdin=FILE] [--stderr=REGEX]
                [--timeout=SECONDS] [--dir=GUEST[=FIXTURE]]... [--ro-dir=GUEST[=FIXTURE]]...
                [--env=K=V]... [--arg=ARG]... [--known-different=REASON] [--update]
                -- RUNNER... FILE.wasm

RUNNER is the command that takes `kiln run`'s flags: `kiln run` itself, or node with
node_wasi.mjs. Each --dir/--ro-dir becomes a fresh host directory under --work (a copy of FIXTURE,
else empty) preopened as GUEST. Stdin is a pipe that the harness fills with FILE (or nothing) and
closes. The program runs in the directory of FILE.wasm and is named by its base name, so argv[0] is
the same on every machine. Stderr is not compared, only searched for REGEX when one is given.
Options take the form --name=VALUE so that empty values and values starting with dashes survive
CMake and the parsing here.

A read-only preopen whose contents change fails the case even when the output matches.
--known-different marks a runner known to deviate from the spec on this case: a mismatch (or a
timeout) then reports the reason and exits 77, CTest's skip code. --update rewrites the expected
file from this run, for use by hand after checking the output.
"""
import difflib
import os
import re
import shlex
import shutil
import subprocess
import sys

SKIP = 77


def host_name(guest):
    """A host directory name for a guest path: '/sandbox' -> 'sandbox', '.' -> 'dot'."""
    name = guest.strip("/").replace("/", "_")
    return "dot" if name in ("", ".") else name


def snapshot(root):
    """Everything about a tree that a write could change: names, types, contents, link targets."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                state[rel] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                state[rel] = ("dir", None)
            else:
                with open(path, "rb") as f:
                    state[rel] = ("file", f.read())
    return state


class Options:
    """The command line, parsed by hand: argparse would take an --arg=-- apart."""
    KEYS = ("expected", "work", "stdin", "stderr", "known_different", "exit", "timeout", "update",
            "dir", "ro_dir", "env", "arg")

    def __init__(self, argv):
        self.expected = self.work = self.stdin = self.stderr = self.known_different = None
        self.exit, self.timeout, self.update = 0, 60.0, False
        self.dir, self.ro_dir, self.env, self.arg = [], [], [], []
        while argv and argv[0] != "--":
            name, eq, value = argv.pop(0).partition("=")
            key = name[2:].replace("-", "_")
            if not name.startswith("--") or key not in self.KEYS:
                sys.exit(f"run_case.py: unknown option {name}")
            if key == "update":
                self.update = True
            elif not eq:
                sys.exit(f"run_case.py: {name} needs =VALUE")
            elif isinstance(getattr(self, key), list):
                getattr(self, key).append(value)
            elif key == "exit":
                self.exit = int(value)
            elif key == "timeout":
                self.timeout = float(value)
            else:
                setattr(self, key, value)
        if len(argv) < 3 or not self.expected or not self.work:
            sys.exit("run_case.py: needs --expected=, --work= and -- RUNNER... FILE.wasm")
        self.command = argv[1:]


def main():
    opts = Options(sys.argv[1:])
    *runner, wasm = opts.command
    shutil.rmtree(opts.work, ignore_errors=True)
    os.makedirs(opts.work)

    flags, read_only = [], {}
    for kind, specs in (("--dir", opts.dir), ("--ro-dir", opts.ro_dir)):
        for spec in specs:
            guest, _, fixture = spec.partition("=")
            host = os.path.join(opts.work, host_name(guest))
            if fixture:
                shutil.copytree(fixture, host, symlinks=True)
            else:
                os.makedirs(host)
            flags += [kind, f"{host}::{guest}"]
            if kind == "--ro-dir":
                read_only[guest] = (host, snapshot(host))
    for kv in opts.env:
        flags += ["--env", kv]

    command = runner + flags + [os.path.basename(wasm)] + opts.arg
    stdin = b""
    if opts.stdin:
        with open(opts.stdin, "rb") as f:
            stdin = f.read()
    print("command:", shlex.join(command))
    try:
        result = subprocess.run(command, cwd=os.path.dirname(os.path.abspath(wasm)), input=stdin,
                                capture_output=True, timeout=opts.timeout)
    except subprocess.TimeoutExpired:
        print(f"timed out after {opts.timeout:g}s")
        if opts.known_different:
            print(f"SKIP: known difference: {opts.known_different}")
            return SKIP
        print(f"FAIL (work directory kept: {opts.work})")
        return 1

    if opts.update:
        with open(opts.expected, "wb") as f:
            f.write(result.stdout)
        print(f"updated {opts.expected}; exit code was {result.returncode}")
        return 0

    with open(opts.expected, "rb") as f:
        expected = f.read()
    problems = []
    if result.returncode != opts.exit:
        problems.append(f"exit code {result.returncode}, expected {opts.exit}")
    if result.stdout != expected:
        diff = difflib.unified_diff(
            expected.decode("utf-8", "replace").splitlines(keepends=True),
            result.stdout.decode("utf-8", "replace").splitlines(keepends=True),
            fromfile=opts.expected, tofile="stdout")
        problems.append("stdout differs:\n" + "".join(diff).rstrip("\n"))
    stderr = result.stderr.decode("utf-8", "replace")
    if opts.stderr is not None and not re.search(opts.stderr, stderr, re.MULTILINE):
        problems.append(f"stderr does not match: {opts.stderr}")
    for guest, (host, before) in read_only.items():
        if snapshot(host) != before:
            problems.append(f"read-only preopen {guest} was modified")

    if not problems:
        if opts.known_different:
            print(f"note: matches although marked known-different ({opts.known_different}); "
                  "the mark in tests/wasi/CMakeLists.txt may be stale")
        shutil.rmtree(opts.work, ignore_errors=True)
        print("ok")
        return 0
    print("\n".join(problems))
    if stderr:
        print("--- stderr:\n" + stderr.rstrip("\n"))
    if opts.known_different:
        print(f"SKIP: known difference: {opts.known_different}")
        return SKIP
    print(f"FAIL (work directory kept: {opts.work})")
    return 1


if __name__ == "__main__":
    sys.exit(main())
