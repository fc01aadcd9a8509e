#!/usr/bin/env bash
# The man pages agree with the programs: the options each --help lists are the options its
# page's OPTIONS (or PASSWORDS) list describes, and hcs.conf(5) describes every key of every
# section common/config.c reads, no more, no less. Then it checks itself: an option added to
# one side only, or a key missing from the page, must make a comparison fail.
# usage: test_manpages.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
man=$src/man
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The options of a --help text (stdin): -x and --long of the lines that start with them.
help_options() {
    grep -E '^ +-' | sed -E 's/^ +//; s/  .*//' | grep -oE -- '(^|[ ,])--?[A-Za-z][A-Za-z-]*' |
        sed -E 's/^[ ,]//' | sort -u
}

# The options a man page's section (.Sh NAME) lists as .It Fl ... items.
man_options() {
    awk -v want="$2" '
        /^\.Sh / { on = ($0 == ".Sh " want); next }
        on && /^\.It Fl / {
            for (i = 2; i <= NF; i++)
                if ($i == "Fl" && i < NF) { o = $(i + 1); gsub(/\\-/, "-", o); print "-" o }
        }' "$1" | sort -u
}

# The keys config.c reads, as section:key.
config_keys() {
    grep -oE 'CFG_[A-Z]+\((center|doctor|patient)_config, [a-z0-9_]+|CFG_IN\("[a-z]+", "[a-z0-9_]+"' "$1" |
        sed -E 's/CFG_IN\("([a-z]+)", "([a-z0-9_]+)"/\1:\2/; s/CFG_[A-Z]+\(([a-z]+)_config, /\1:/' |
        sort -u
}

# The keys hcs.conf(5) describes, as section:key (the section from the last .Ss "[name]").
man_keys() {
    awk '
        /^\.Ss / && match($0, /\[[a-z]+\]/) { sect = substr($0, RSTART + 1, RLENGTH - 2); next }
        /^\.Sh / { sect = "" }
        sect != "" && /^\.It Cm / { print sect ":" $3 }' "$1" | sort -u
}

# Compare two lists (files); say what differs. Returns 1 when they differ.
compare() {
    local what=$1 a=$2 b=$3
    if ! diff -u --label "$what: --help / config.c" --label "$what: man page" "$a" "$b" >"$tmp/diff"; then
        cat "$tmp/diff"
        return 1
    fi
}

# One program: its --help against its page's section.
check_program() {
    local what=$1 page=$2 section=$3
    shift 3
    "$@" --help | help_options >"$tmp/help"
    man_options "$page" "$section" >"$tmp/man"
    [ -s "$tmp/help" ] && [ -s "$tmp/man" ] || { echo "$what: no options found"; return 1; }
    compare "$what" "$tmp/help" "$tmp/man"
}

check_program hcs "$man/hcs.8" OPTIONS "$build/hcs" || fail=1
check_program "hcs passwd" "$man/hcs.8" PASSWORDS "$build/hcs" passwd || fail=1
check_program hcs-doctor "$man/hcs-doctor.8" OPTIONS "$build/doctor" || fail=1
check_program hcs-patient "$man/hcs-patient.1" OPTIONS "$build/patient" || fail=1
config_keys "$src/common/config.c" >"$tmp/keys"
man_keys "$man/hcs.conf.5" >"$tmp/mankeys"
[ "$(wc -l <"$tmp/keys")" -ge 30 ] || { echo "config.c: too few keys found"; fail=1; }
compare "hcs.conf(5) keys" "$tmp/keys" "$tmp/mankeys" || fail=1

# The comparison must be able to fail: an option only in a page, only in --help, a key only
# in config.c.
cp "$man/hcs-doctor.8" "$tmp/extra.8"
sed -i 's/^\.It Fl \\-check$/.It Fl \\-check\n.It Fl \\-bogus/' "$tmp/extra.8"
if check_program "self-test" "$tmp/extra.8" OPTIONS "$build/doctor" >/dev/null; then
    echo "self-test: an option only in the page went unnoticed"
    fail=1
fi
printf '#!/bin/sh\n"%s" --help\necho "      --bogus           new"\n' "$build/doctor" >"$tmp/doctor"
chmod +x "$tmp/doctor"
if check_program "self-test" "$man/hcs-doctor.8" OPTIONS "$tmp/doctor" >/dev/null; then
    echo "self-test: an option only in --help went unnoticed"
    fail=1
fi
grep -v '^\.It Cm tls_session' "$man/hcs.conf.5" >"$tmp/less.5"
man_keys "$tmp/less.5" >"$tmp/mankeys"
if compare "self-test" "$tmp/keys" "$tmp/mankeys" >/dev/null; then
    echo "self-test: a key missing from hcs.conf(5) went unnoticed"
    fail=1
fi
[ "$fail" -eq 0 ] && echo "man pages agree with --help and config.c"
exit "$fail"
