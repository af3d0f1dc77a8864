#!/usr/bin/env bash
# Test of `kiln completions SHELL`: the script loads in SHELL and completes commands, flags and
# their values. Exits 77 (skipped) when SHELL is not installed.
#   completions.sh bash|zsh|fish path/to/kiln
set -u
shell=$1 kiln=$2
command -v "$shell" >/dev/null 2>&1 || { echo "$shell is not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
# check WHAT EXPECTED ACTUAL: EXPECTED is a bash pattern.
check() {
    if [[ $3 == $2 ]]; then
        echo "ok: $1"
    else
        echo "FAILED: $1: expected $2, got: $3"
        failed=1
    fi
}
"$kiln" completions "$shell" >"$tmp/script" || { echo "kiln completions $shell failed"; exit 1; }

case $shell in
bash)
    # What bash offers for the words of a command line, the last one being completed.
    complete_words() {
        bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _kiln
                 [ ${#COMPREPLY[@]} = 0 ] || printf "%s\n" "${COMPREPLY[@]}"' \
            bash "$tmp/script" "$@" | sort | tr '\n' ' '
    }
    check "the script loads and registers _kiln" "complete -o filenames -F _kiln kiln" \
        "$(bash -c 'source <("$1" completions bash) && complete -p kiln' bash "$kiln")"
    check "commands" "*call*" "$(complete_words kiln ca)"
    check "a mistyped start offers nothing" "" "$(complete_words kiln zz)"
    check "global flags" "*--help*--version*" "$(complete_words kiln --)"
    check "flags of call" "--input " "$(complete_words kiln call plugin.wasm greet --inp)"
    check "choices of --log-level" "debug error info off trace warn " \
        "$(complete_words kiln call plugin.wasm greet --log-level '')"
    check "choices of --lang" "assemblyscript c cpp rust " "$(complete_words kiln new --lang '')"
    check "commands after help" "*call*completions*inspect*" "$(complete_words kiln help '')"
    check "shells after completions" "bash fish zsh " "$(complete_words kiln completions '')"
    touch "$tmp/plugin.wasm"
    check "a file for FILE" "$tmp/plugin.wasm " "$(complete_words kiln call "$tmp/plu")"
    check "a file for FILE after a flag without a value" "$tmp/plugin.wasm " \
        "$(complete_words kiln call --wasi "$tmp/plu")"
    check "nothing for FUNC, after a flag's value" "" \
        "$(complete_words kiln call --log-level info "$tmp/plugin.wasm" "$tmp/plu")"
    check "files for run's program" "$tmp/plugin.wasm " \
        "$(complete_words kiln run --dir . "$tmp/plu")"
    check "the commands of plugin" "audit call disable enable grant info list revoke validate " \
        "$(complete_words kiln plugin '')"
    check "a command of job" "status " "$(complete_words kiln job stat)"
    check "flags of plugin list" "--dir --help --json --plugin-dir " \
        "$(complete_words kiln plugin list --)"
    check "flags of job run" "--state " "$(complete_words kiln job run sum --sta)"
    mkdir "$tmp/plugins"
    check "a folder for --plugin-dir" "$tmp/plugins " \
        "$(complete_words kiln plugin list --plugin-dir "$tmp/plug")"
    check "a file for job run --db, after a flag's value" "$tmp/plugin.wasm " \
        "$(complete_words kiln job run sum --state '{}' --db "$tmp/plugin.w")"
    check "nothing after a command of plugin that is not one" "" \
        "$(complete_words kiln plugin nope --)"
    ;;
zsh)
    zsh -n "$tmp/script"
    check "syntax" 0 "$?"
    check "sourced after compinit, it registers _kiln for kiln" "_kiln" \
        "$(zsh -f -c 'autoload -Uz compinit && compinit -D -u && source "$1" && print -r -- $_comps[kiln]' \
            zsh "$tmp/script")"
    ;;
fish)
    fish --no-execute "$tmp/script"
    check "syntax" 0 "$?"
    fish_complete() {
        fish --no-config -c 'source $argv[1]; complete -C $argv[2]' "$tmp/script" "$1" |
            cut -f1 | sort | tr '\n' ' '
    }
    check "commands" "*call*" "$(fish_complete 'kiln ca')"
    check "flags of call" "*--input*" "$(fish_complete 'kiln call plugin.wasm greet --inp')"
    check "choices of --log-level" "debug error info off trace warn " \
        "$(fish_complete 'kiln call plugin.wasm greet --log-level ')"
    check "the commands of job" "cancel list logs pause resume run start status worker " \
        "$(fish_complete 'kiln job ')"
    check "flags of job list" "*--status*" "$(fish_complete 'kiln job list --')"
    check "no command of job after one" "" "$(fish_complete 'kiln job list ')"
    ;;
*)
    echo "unknown shell $shell"
    exit 2
    ;;
esac
exit $failed
