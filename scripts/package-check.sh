#!/usr/bin/env bash
# The packaging check (scripts/test.sh runs it; about two minutes on two cores):
#   - the man pages lint clean (mandoc -Tlint, man --warnings);
#   - the Debian package builds from a copy of the tree (dpkg-buildpackage -us -uc -b, which
#     also runs the unit tests) and lintian reports no error or warning;
#   - a DESTDIR install (cmake --install of the package's /usr build) holds exactly the files
#     of tests/package/install.txt, and the .deb those of tests/package/deb.txt (with modes);
#   - the units verify (systemd-analyze verify) and score an exposure of at most 2.0
#     (systemd-analyze security --offline=true);
#   - the installed build reads /etc/hcs by default; the man pages agree with its --help.
# With --chroot [DIR], it then installs the .deb into a Debian 12 root made by debootstrap
# (downloaded once into DIR, default /tmp/hcs-chroot) and proves it there: dpkg -i and
# apt-get -f install, hcs --check on /etc/hcs, the center started as _hcs with its log on
# a journal-like stream, two doctors, a patient booking, a SIGHUP reload, a clean stop.
# Needs root for --chroot only. Leaves nothing behind but DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
chroot_dir=
if [ "${1:-}" = --chroot ]; then
    chroot_dir=${2:-${HCS_CHROOT:-/tmp/hcs-chroot}}
fi
jobs=$(nproc 2>/dev/null || echo 2)
work=$(mktemp -d "${TMPDIR:-/tmp}/hcs-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
failed=0
fail() {
    echo "FAIL: $*" >&2
    failed=1
}

echo "== man pages: mandoc -Tlint, man --warnings"
for page in man/*.[1-8]; do
    out=$(mandoc -Tlint -W warning "$page" 2>&1) || fail "mandoc -Tlint $page: $out"
    out=$(man --warnings -l "$page" 2>&1 >/dev/null) || true
    [ -z "$out" ] || fail "man --warnings $page: $out"
done

echo "== dpkg-buildpackage -us -uc -b on a copy of the tree"
mkdir "$work/src"
git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$work/src"
if ! (cd "$work/src" && DEB_BUILD_OPTIONS="parallel=$jobs ${DEB_BUILD_OPTIONS:-}" \
    dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1); then
    tail -40 "$work/build.log"
    echo "FAIL: dpkg-buildpackage" >&2
    exit 1
fi
deb=$(ls "$work"/hcs_*_*.deb)
grep -E 'tests passed|tests failed' "$work/build.log" || true
echo "built $(basename "$deb")"

echo "== lintian"
if ! lintian --fail-on error,warning "$deb" >"$work/lintian" 2>&1; then
    cat "$work/lintian"
    fail "lintian"
fi
grep -E '^[EW]: ' "$work/lintian" && fail "lintian reports errors or warnings"

echo "== DESTDIR install and the .deb's files"
obj=$(ls -d "$work"/src/obj-*)
DESTDIR="$work/destdir" cmake --install "$obj" >/dev/null
(cd "$work/destdir" && find . \( -type f -o -type d -empty \) -printf '%y %P\n' |
    awk '{ print $2 ($1 == "d" ? "/" : "") }' | sort) >"$work/install.txt"
diff -u --label expected tests/package/install.txt --label "DESTDIR install" "$work/install.txt" ||
    fail "the DESTDIR install differs from tests/package/install.txt"
dpkg-deb -c "$deb" | awk '{ p = $6; sub(/^\.\//, "", p); if (p == "") next
    if (p ~ /\/$/ && p != "var/lib/hcs/" && p != "etc/hcs/") next; print $1, $2, p }' \
    >"$work/deb.txt"
diff -u --label expected tests/package/deb.txt --label "$(basename "$deb")" "$work/deb.txt" ||
    fail "the .deb's files differ from tests/package/deb.txt"

echo "== systemd units: verify and exposure"
stage=$work/src/debian/hcs
mkdir "$work/units"
for unit in hcs.service hcs-doctor@.service; do
    # The unit as installed, with ExecStart pointing into the staged package.
    sed "s|=/usr/sbin/|=$stage/usr/sbin/|" "$stage/lib/systemd/system/$unit" >"$work/units/$unit"
done
for unit in hcs.service hcs-doctor@1.service; do
    out=$(cd "$work/units" && MANPATH="$stage/usr/share/man:" systemd-analyze verify "$unit" 2>&1) ||
        fail "systemd-analyze verify $unit"
    [ -z "$out" ] || fail "systemd-analyze verify $unit: $out"
done
for unit in hcs.service hcs-doctor@.service; do
    score=$(cd "$work/units" && systemd-analyze security --offline=true "$unit" 2>/dev/null |
        sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
    echo "$unit: exposure $score"
    awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.0) }' ||
        fail "$unit: exposure ${score:-unknown} is above 2.0"
done
if [ -f /lib/systemd/system/memcached.service ]; then
    systemd-analyze security --offline=true /lib/systemd/system/memcached.service 2>/dev/null |
        sed -n 's/.*Overall exposure level for \(.*\): \([0-9.]*\).*/\1: exposure \2 (for comparison)/p'
fi

echo "== the installed build: /etc/hcs by default, --help and the man pages agree"
"$stage/usr/sbin/hcs" --help | grep -q 'FILE defaults to /etc/hcs/center.conf' ||
    fail "the package's hcs does not default to /etc/hcs/center.conf"
"$stage/usr/sbin/hcs-doctor" --help | grep -q 'else /etc/hcs)' ||
    fail "the package's hcs-doctor does not default to /etc/hcs"
bash tests/test_manpages.sh "$obj" "$src" || fail "man pages and --help"

if [ -n "$chroot_dir" ]; then
    bash scripts/package-chroot.sh "$chroot_dir" "$deb" || fail "the install into $chroot_dir"
fi

[ "$failed" -eq 0 ] || exit 1
echo "package check: OK"
