#!/usr/bin/env bash
# Install the Debian 12 packages hcs needs to build and test, when missing,
# plus any package named as an argument (scripts/fuzz.sh adds clang).
# As root it installs them; otherwise it prints the apt-get line and fails.
set -euo pipefail

packages=(gcc make cmake pkg-config libevent-dev libcmocka-dev libinih-dev libsqlite3-dev libcrypt-dev libedit-dev libpq-dev libssl-dev openssl postgresql-15 valgrind strace iproute2
    sqlite3 build-essential debhelper dpkg-dev fakeroot lintian mandoc man-db systemd debootstrap tshark "$@")
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "hcs needs: ${missing[*]}" >&2
    echo "run as root: apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
