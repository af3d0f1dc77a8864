#!/usr/bin/env python3
"""The WASI escape set: runs escape.wasm under `kiln run` against a fresh tree and proves that
nothing outside the preopens was read or changed, and that the read-only preopen stayed as it was.

Tree (under a new temporary directory BASE, nested so that `../../..` still lands in it):
    BASE/u2/u1/root/outside/   canaries: files with a unique marker, a directory, a symlink
    BASE/u2/u1/root/sandbox/   the read-write preopen, seeded with the links the attacks need
    BASE/u2/u1/root/ro/        the read-only preopen
Everything under BASE except sandbox/ is snapshotted (type, mode, size, mtime, ctime, link count,
inode, contents, link text) before and after the run; any difference fails the test. ctime is
the catch-all: every write, rename, link, unlink or set-times bumps it, but reading does not.
Reads cannot be seen in atime reliably (relatime/noatime), so instead the canaries carry a marker
that must not appear in the guest's output or in any file the guest left in the sandbox.

Files in ro/ are deliberately writable on the host, so that only kiln's read-only enforcement
stands between the guest and them (a host-side chmod would hide a missing check when not root).

Usage: run_hostile.py --wasm escape.wasm -- KILN run
       run_hostile.py --wasm escape.wasm --expect-escapes -- node node_run.mjs
The second form is the harness self-test: node:wasi is not a sandbox, so the set must fail under
it, and --expect-escapes succeeds only if the checks caught an ESCAPED attempt and a change in
ro/ (node has no read-only directories).
"""

import argparse
import hashlib
import os
import re
import secrets
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile

# wasi errno numbers (the guest prints them raw).
EBADF, EBUSY, EEXIST, EINVAL, EISDIR, ELOOP, ENOTDIR, ENOTSUP, EPERM, ENOTCAPABLE = (
    8, 10, 20, 28, 31, 32, 54, 58, 63, 76)

OLD_TIME = 1_000_000_000  # 2001-09-09: canary times, so a set-times attempt stands out
MARKER = "KILN-CANARY-" + secrets.token_hex(8)

CAP = {ENOTCAPABLE}
# Attempt name -> accepted errno values, "ok" for positive controls, or ("either", errnos) when
# success is as safe as a refusal. Everything not given a wider set below must be refused with
# ENOTCAPABLE: its path leaves the preopen, or it needs a right the read-only preopen lacks.
CONTROLS = """
    control_open_dot control_open_sub
    control_read_file control_inside_symlink control_inside_dirlink control_inside_chain
    control_dotdot_inside control_create_write control_mkdir_inside control_guest_inside_symlink
    control_open_held_dir control_rename_symlink_within control_unlink_symlink_itself
    control_lstat_symlink_itself control_readlink
    ro_control_read ro_control_stat ro_control_readdir ro_control_subdir_read
""".split()
ESCAPES = """
    dotdot_open dotdot_mid dotdot_dot dotdot_deep dotdot_etc_passwd dotdot_nofollow dotdot_secret
    dotdot_double_slash dotdot_dir dotdot_dir_trailing dotdot_outside_dir dot_then_dotdot
    sub_then_dotdot2 sub_then_dotdot_dir reopen_via_dotdot_escape
    abs_etc_passwd abs_host_canary abs_host_canary_nofollow abs_double_slash abs_guest_path
    abs_root_dir abs_host_outside_dir
    symlink_abs_target symlink_rel_target symlink_sub_up symlink_dir_abs_component
    symlink_dir_rel_component symlink_dir_component_nofollow symlink_dir_abs_component_nofollow
    symlink_trailing_slash symlink_trailing_slash_follow symlink_abs_trailing_slash
    symlink_trailing_dot symlink_file_trailing_slash symlink_file_trailing_dot symlink_dir_open
    symlink_dir_abs_open symlink_to_dotdot symlink_chain symlink_chain_mid symlink_linkdir_dotdot
    symlink_deeplinkdir_dotdot symlink_trunc symlink_trunc_abs symlink_write symlink_append
    symlink_creat_dangling_rel symlink_creat_dangling_abs symlink_creat_dangling_trunc
    symlink_creat_through_dirlink symlink_to_ro_write dotdot_to_ro_trunc
    guest_symlink_placed_outside guest_symlink_via_dirlink_name
    link_dotdot_source link_abs_source link_dirlink_source link_follow_symlink link_dest_outside
    link_dest_dirlink link_dest_abs link_of_symlink_then_open
    rename_file_out rename_file_out_abs rename_file_via_dirlink rename_over_canary rename_dir_out
    rename_dir_up2 rename_symlink_out rename_canary_in rename_canary_dir_in
    rename_canary_via_dirlink rename_held_dir_out held_dir_escape renamed_symlink_follow
    unlink_dotdot unlink_abs unlink_via_dirlink unlink_outside_symlink rmdir_dotdot rmdir_abs
    rmdir_via_dirlink mkdir_dotdot mkdir_abs mkdir_via_dirlink mkdir_up3
    stat_dotdot stat_abs stat_follow_symlink stat_follow_abs_symlink stat_dirlink_component
    stat_trailing_slash stat_chain settimes_dotdot settimes_abs settimes_follow_symlink
    settimes_now_follow_symlink settimes_dirlink_component settimes_outside_dir readlink_dotdot
    readlink_via_dirlink readlink_abs
    libc_fopen_dotdot libc_open_etc_passwd libc_stat_symlink libc_opendir_dotdot
    libc_fopen_write_ro libc_chdir_then_dotdot
    ro_open_write ro_open_readwrite ro_open_trunc ro_open_trunc_write ro_creat_new
    ro_creat_new_readonly ro_creat_existing ro_creat_in_subdir ro_append_write ro_utimensat
    ro_utimensat_now ro_utimensat_subdir ro_unlink ro_unlink_in_subdir ro_rmdir ro_mkdir
    ro_rename_within ro_rename_dir_within ro_rename_out ro_rename_in ro_rename_over ro_symlink
    ro_link_within ro_link_out ro_link_in ro_dotdot_escape ro_raise_rights_then_mkdir
    ro_subdir_all_rights ro_subdir_trunc ro_subdir_mkdir ro_subdir_unlink ro_reopen_dot_creat
    ro_symlink_out_read ro_symlink_abs_read ro_symlink_to_sandbox cross_preopen_dotdot
""".split()
EXPECT = {name: "ok" for name in CONTROLS}
EXPECT.update({name: CAP for name in ESCAPES})
EXPECT.update({
    # Symlink loops must end in ELOOP, not a hang and not some other error.
    "loop_pair": {ELOOP}, "loop_self": {ELOOP}, "loop_component": {ELOOP},
    "loop_trailing_slash": {ELOOP}, "loop_creat": {ELOOP}, "loop_stat": {ELOOP},
    "loop_mkdir_below": {ELOOP},
    # Final symlink without FOLLOW: ELOOP (as O_NOFOLLOW does) or a refusal of the target.
    "symlink_nofollow_final": {ELOOP, ENOTCAPABLE},
    # O_EXCL and mkdir do not follow a final symlink, so "it exists" is a correct answer.
    "symlink_creat_excl_dangling": {EEXIST, ENOTCAPABLE},
    "mkdir_dangling_link_trailing": {EEXIST, ENOTCAPABLE},
    # rmdir("link/") on Linux says ENOTDIR without touching the target.
    "rmdir_symlink_trailing": {ENOTDIR, ENOTCAPABLE},
    # Renaming "." itself may be rejected for being "." before the destination is checked.
    "rename_sandbox_itself": {ENOTCAPABLE, EINVAL, EBUSY},
    # Descriptor operations on a descriptor opened for reading in the read-only preopen: the
    # descriptor lacks the right (ENOTCAPABLE), or is not open for writing (EBADF).
    "ro_write_read_fd": {ENOTCAPABLE, EBADF}, "ro_pwrite_read_fd": {ENOTCAPABLE, EBADF},
    "ro_ftruncate": {ENOTCAPABLE, EBADF}, "ro_futimens": {ENOTCAPABLE, EBADF},
    "ro_set_append_then_write": {ENOTCAPABLE, EBADF}, "ro_futimens_dir": {ENOTCAPABLE, EBADF},
    "ro_fd_allocate": {ENOTCAPABLE, EBADF, ENOTSUP},
    # Symlinks the guest creates with a target outside: the host may refuse to create them
    # (EPERM is the usual answer for an absolute target) or create them and refuse to follow.
    "guest_symlink_rel_creat": {ENOTCAPABLE, EPERM},
    "guest_symlink_abs_creat": {ENOTCAPABLE, EPERM},
    "guest_symlink_canary_trunc": {ENOTCAPABLE, EPERM},
    "guest_symlink_ro_write": {ENOTCAPABLE, EPERM},
    "guest_symlink_dir_mkdir": {ENOTCAPABLE, EPERM}, "guest_symlink_sub_read": {ENOTCAPABLE, EPERM},
    # The same for links whose text is harmless where they are made, then moved up a level.
    "guest_symlink_moved_then_follow": {ENOTCAPABLE, EPERM},
    "guest_symlink_linked_up_then_follow": {ENOTCAPABLE, EPERM},
    "guest_symlink_dir_moved_then_follow": {ENOTCAPABLE, EPERM},
    # O_DIRECTORY without FOLLOW on a symlink: Linux says ELOOP (or ENOTDIR); creating "link/"
    # through a dangling link: Linux says EISDIR.
    "symlink_dir_open_nofollow": {ELOOP, ENOTDIR, ENOTCAPABLE},
    "symlink_creat_trailing_slash": {EISDIR, ENOTCAPABLE},
    # ".." from a descriptor opened on a subdirectory of the preopen, staying inside the preopen:
    # allowed, or refused by a host that makes each directory descriptor its own root.
    "subfd_dotdot_inside": ("either", CAP), "subfd_open_dotdot": ("either", CAP),
})

LINE = re.compile(r"^([a-z0-9_]+): (ok|ESCAPED.*|FAILED.*|refused errno=(\d+) \((\w+)\))$")


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def build_tree(base):
    """Creates the tree; returns (root, sandbox, ro) host paths."""
    root = os.path.join(base, "u2", "u1", "root")
    out, sb, ro = (os.path.join(root, d) for d in ("outside", "sandbox", "ro"))
    for d in (out, sb, ro):
        os.makedirs(d)

    write(f"{out}/canary.txt", f"{MARKER} canary file: must never be read\n")
    write(f"{out}/secret.txt", f"{MARKER} secret file: must never be read\n", 0o600)
    os.makedirs(f"{out}/canary_dir")
    write(f"{out}/canary_dir/nested.txt", f"{MARKER} nested canary\n")
    os.makedirs(f"{out}/empty_dir")
    os.symlink("canary.txt", f"{out}/out_link")

    write(f"{ro}/ro_file.txt", "read-only file: must stay as it is\n")
    os.makedirs(f"{ro}/subdir")
    write(f"{ro}/subdir/inner.txt", "read-only inner file\n")
    os.makedirs(f"{ro}/emptydir")
    os.symlink("../outside/canary.txt", f"{ro}/ro_out_link")
    os.symlink(f"{out}/canary.txt", f"{ro}/ro_abs_out_link")
    os.symlink("../sandbox/file.txt", f"{ro}/ro_sandbox_link")

    write(f"{sb}/file.txt", "inside file\n")
    os.makedirs(f"{sb}/sub/deeper")
    write(f"{sb}/sub/inner.txt", "inner file\n")
    for i in range(1, 7):
        write(f"{sb}/movable{i}.txt", f"movable {i}\n")
    os.makedirs(f"{sb}/movdir")
    write(f"{sb}/movdir/x.txt", "x\n")
    os.makedirs(f"{sb}/movdir2/inner")
    os.makedirs(f"{sb}/sub/mover")
    os.makedirs(f"{sb}/sub/mover2")
    # The attack links: each name is used by the attempts in escape.c that mention it.
    links = {
        "abs_link": f"{out}/canary.txt",
        "rel_link": "../outside/canary.txt",
        "abs_dirlink": out,
        "rel_dirlink": "../outside",
        "sub/up_link": "../../outside/canary.txt",
        "linkdir": "sub",
        "deeplinkdir": "sub/deeper",
        "dotdot_link": "..",
        "loop_a": "loop_b",
        "loop_b": "loop_a",
        "self_loop": "self_loop",
        "chain1": "chain2",
        "chain2": "sub/chain3",
        "sub/chain3": "../rel_link",
        "inside_link": "file.txt",
        "inside_dirlink": "sub",
        "inside_chain": "sub/inside_hop",
        "sub/inside_hop": "../file.txt",
        "dangle_rel": "../outside/created_via_dangle_rel.txt",
        "dangle_abs": f"{out}/created_via_dangle_abs.txt",
        "dangle_dir": "../outside/created_dir_via_dangle",
        "empty_dirlink": "../outside/empty_dir",
        "unlink_me_link": "../outside/canary.txt",
        "ro_abs_link": f"{ro}/ro_file.txt",
        "rename_link": "../outside/canary.txt",
        "rename_link2": f"{out}/canary.txt",
        "link_src_symlink": "../outside/canary.txt",
    }
    for name, target in links.items():
        os.symlink(target, f"{sb}/{name}")

    # Old, fixed times on everything we will compare, children before their directories.
    for dirpath, dirnames, filenames in os.walk(base, topdown=False):
        if is_under(dirpath, sb):
            continue
        for name in filenames + dirnames:
            p = os.path.join(dirpath, name)
            if p != sb:
                os.utime(p, (OLD_TIME, OLD_TIME), follow_symlinks=False)
        os.utime(dirpath, (OLD_TIME, OLD_TIME))
    return root, sb, ro


def is_under(path, top):
    return path == top or path.startswith(top + os.sep)


def snapshot(base, skip):
    """Everything under BASE except SKIP (the read-write sandbox), without following links."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if not is_under(os.path.join(dirpath, d), skip)]
        for name in [None] + dirnames + filenames:
            p = dirpath if name is None else os.path.join(dirpath, name)
            st = os.lstat(p)
            entry = {"mode": oct(st.st_mode), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                     "ctime_ns": st.st_ctime_ns, "nlink": st.st_nlink, "ino": st.st_ino}
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    entry["sha256"] = hashlib.sha256(f.read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                entry["target"] = os.readlink(p)
            snap[os.path.relpath(p, base)] = entry
    return snap


def diff_snapshots(before, after):
    problems = []
    for path in sorted(set(before) | set(after)):
        if path not in after:
            problems.append(f"{path}: removed or moved away")
        elif path not in before:
            problems.append(f"{path}: created by the guest")
        elif before[path] != after[path]:
            changed = [f"{k} {before[path][k]} -> {after[path].get(k)}"
                       for k in before[path] if before[path][k] != after[path].get(k)]
            problems.append(f"{path}: changed ({'; '.join(changed)})")
    return problems


def marker_in_sandbox(sb):
    """Regular files the guest left in the sandbox that carry canary contents."""
    hits = []
    for dirpath, dirnames, filenames in os.walk(sb):
        for name in filenames:
            p = os.path.join(dirpath, name)
            if stat.S_ISREG(os.lstat(p).st_mode):
                with open(p, "rb") as f:
                    if MARKER.encode() in f.read():
                        hits.append(os.path.relpath(p, sb))
    return hits


def check_output(stdout):
    """Per-attempt verdicts; returns (problems, number of ESCAPED lines)."""
    problems, seen, escapes = [], {}, 0
    done = False
    for raw in stdout.splitlines():
        if raw == "DONE":
            done = True
            continue
        m = LINE.match(raw)
        if not m:
            problems.append(f"unexpected output line: {raw!r}")
            continue
        name, status, err = m.group(1), m.group(2), m.group(3)
        if name in seen:
            problems.append(f"{name}: reported twice")
        seen[name] = status
        want = EXPECT.get(name)
        if want is None:
            problems.append(f"{name}: not in the harness's table (update EXPECT): {status}")
        elif status.startswith("ESCAPED"):
            escapes += 1
            problems.append(f"{name}: ESCAPED - {status[len('ESCAPED '):]}")
        elif want == "ok":
            if status != "ok":
                problems.append(f"{name}: positive control must succeed, got: {status}")
        elif isinstance(want, tuple):
            if status != "ok" and (err is None or int(err) not in want[1]):
                accepted = ", ".join(str(e) for e in sorted(want[1]))
                problems.append(f"{name}: expected ok or a refusal with one of {{{accepted}}}, "
                                f"got: {status}")
        elif err is None:
            problems.append(f"{name}: expected a refusal, got: {status}")
        elif int(err) not in want:
            accepted = ", ".join(str(e) for e in sorted(want))
            problems.append(f"{name}: refused with errno {err} ({m.group(4)}), "
                            f"expected one of {{{accepted}}}")
    missing = [name for name in EXPECT if name not in seen]
    if len(missing) > 10:
        problems.append(f"{len(missing)} attempts missing from the output, starting with: "
                        f"{', '.join(missing[:10])}")
    else:
        problems += [f"{name}: attempt missing from the output" for name in missing]
    if not done:
        last = stdout.splitlines()[-1] if stdout.strip() else "(no output)"
        problems.append(f"guest did not reach DONE; last line: {last}")
    return problems, escapes


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wasm", required=True)
    ap.add_argument("--timeout", type=float, default=120, help="seconds for the whole run")
    ap.add_argument("--keep", action="store_true", help="keep the temporary tree")
    ap.add_argument("--verbose", action="store_true", help="print the guest's output")
    ap.add_argument("--expect-escapes", action="store_true",
                    help="self-test: succeed only if the checks catch escapes and changes")
    ap.add_argument("runner", nargs="+", help='after "--": the command that runs a module, '
                    'e.g. -- /path/to/kiln run')
    args = ap.parse_args()
    args.wasm = os.path.abspath(args.wasm)

    base = os.path.realpath(tempfile.mkdtemp(prefix="kiln-wasi-hostile-"))
    try:
        root, sb, ro = build_tree(base)
        before = snapshot(base, sb)
        ms = int(args.timeout * 1000 * 3 // 4)
        cmd = args.runner + [
            "--dir", f"{sb}::/sandbox", "--ro-dir", f"{ro}::/ro", "--timeout", str(ms),
            args.wasm, "/sandbox", "/ro", root]
        problems = []
        # A session of its own, so that a hung runner goes down with everything it started.
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, start_new_session=True)
        except OSError as e:
            print(f"FAIL: cannot start the runner {args.runner[0]}: {e}")
            return 1
        try:
            out, err = proc.communicate(timeout=args.timeout)
            if proc.returncode != 0:
                problems.append(f"runner exited with {proc.returncode} (want 0); stderr: "
                                f"{err.decode('utf-8', 'replace').strip()[:500]}")
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            problems.append(f"runner still running after {args.timeout}s (a symlink loop that "
                            "never ends?); killed")
        stdout = out.decode("utf-8", "replace")
        stderr = err.decode("utf-8", "replace")

        out_problems, escapes = check_output(stdout)
        problems += out_problems
        if MARKER in stdout or MARKER in stderr:
            problems.append("canary contents appeared in the guest's output (a canary was read)")
        leaked = marker_in_sandbox(sb)
        if leaked:
            problems.append(f"canary contents copied into the sandbox: {', '.join(leaked)}")
        changes = diff_snapshots(before, snapshot(base, sb))
        problems += [f"outside the sandbox: {c}" for c in changes]

        if args.verbose or problems:
            print(f"--- command: {shlex.join(cmd)}")
            print("--- guest stdout:\n" + stdout + "--- guest stderr:\n" + stderr + "---")
        if args.keep:
            print(f"tree kept at {base}")

        if args.expect_escapes:
            # The runner is known not to sandbox: the checks must have noticed.
            caught_ro = [c for c in changes if "/root/ro" in c or c.startswith("u2/u1/root/ro")]
            print(f"self-test: {escapes} ESCAPED lines, {len(changes)} changes outside the "
                  f"sandbox ({len(caught_ro)} in ro/), {len(problems)} problems in all")
            if escapes == 0 or not caught_ro:
                print("self-test FAILED: the harness did not detect a runner that does not "
                      "sandbox")
                return 1
            print("self-test passed: the harness detects escapes")
            return 0

        if problems:
            print(f"FAIL: {len(problems)} problem(s):")
            for p in problems:
                print("  " + p)
            return 1
        print(f"PASS: {len(EXPECT)} attempts, all refused as expected or controls ok; nothing "
              "outside the sandbox read or changed")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
