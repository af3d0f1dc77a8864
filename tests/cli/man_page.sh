#!/usr/bin/env bash
# Test of `kiln man`: the page the build wrote (and installs) is what kiln prints, groff formats
# it without a warning, and it describes every command with its flags and examples.
#   man_page.sh path/to/kiln path/to/built/kiln.1
set -u
kiln=$1 built=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() {
    echo "FAILED: $*"
    failed=1
}
"$kiln" man >"$tmp/kiln.1" || fail "kiln man exited $?"
cmp -s "$tmp/kiln.1" "$built" || fail "$built differs from the output of kiln man"
if command -v groff >/dev/null 2>&1; then
    # ASCII without bold or underlining, so that the text can be searched.
    groff -man -Tascii -P-cbou -ww "$tmp/kiln.1" >"$tmp/page.txt" 2>"$tmp/warnings"
    [ -s "$tmp/warnings" ] && fail "groff warns: $(cat "$tmp/warnings")"
    # Every command kiln help lists under Subcommands.
    commands=$("$kiln" help | sed -n '/^Subcommands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
    [ "$(echo "$commands" | wc -w)" -ge 10 ] || fail "kiln help lists too few commands: $commands"
    for command in $commands; do
        grep -q "kiln $command" "$tmp/page.txt" || fail "no section for kiln $command"
    done
    grep -q -- "--allow-missing-imports" "$tmp/page.txt" || fail "kiln call's flags are missing"
    grep -q "Examples:" "$tmp/page.txt" || fail "no examples"
    grep -q "kiln call plugin.wasm greet -i World" "$tmp/page.txt" || fail "kiln call's examples"
else
    echo "groff is not installed: the page is not formatted"
fi
[ $failed = 0 ] && echo "ok"
exit $failed
