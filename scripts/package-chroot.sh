#!/usr/bin/env bash
# Install a built hcs .deb into a fresh Debian 12 root and prove it works there (run by
# scripts/package-check.sh --chroot; needs root and, the first time, the network to
# deb.debian.org). usage: package-chroot.sh DIR HCS_DEB
#   DIR: the root; made with `debootstrap --variant=minbase bookworm` when it holds none.
# In the root: dpkg -i (which stops on the missing libraries), apt-get -f install, then
# hcs --check on the shipped /etc/hcs, the center run as _hcs with $JOURNAL_STREAM naming
# its stderr (every log line must carry a <N> priority), both doctors, a patient booking
# and pricing a slot, a SIGHUP reload, a SIGTERM stop, and the booking still there after.
set -euo pipefail
dir=$1
deb=$2
[ "$(id -u)" -eq 0 ] || { echo "package-chroot.sh: needs root" >&2; exit 1; }
if [ ! -f "$dir/etc/debian_version" ]; then
    echo "== debootstrap bookworm into $dir"
    debootstrap --variant=minbase bookworm "$dir" http://deb.debian.org/debian >"$dir.log" 2>&1 ||
        { tail -20 "$dir.log"; exit 1; }
fi
cp /etc/resolv.conf "$dir/etc/resolv.conf"
# debootstrap writes no /etc/hosts; the installer of a Debian machine does, and the shipped
# center.conf listens on localhost (127.0.0.1 and ::1).
[ -f "$dir/etc/hosts" ] ||
    printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$dir/etc/hosts"
cp "$deb" "$dir/tmp/hcs.deb"
mount -t proc proc "$dir/proc"
trap 'umount "$dir/proc"' EXIT

cat >"$dir/tmp/hcs-check.sh" <<'IN'
#!/bin/bash
# Runs inside the root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
pids=
trap 'for p in $pids; do kill "$p" 2>/dev/null || true; done' EXIT
# Any hcs of an earlier run is removed first, with its state.
if dpkg -s hcs >/dev/null 2>&1; then dpkg --purge hcs >/dev/null; rm -rf /var/lib/hcs; fi
echo "== dpkg -i (the libraries are missing in a fresh root), then apt-get -f install"
dpkg -i /tmp/hcs.deb >/tmp/dpkg.log 2>&1 || grep -E 'depends on|dependency problems' /tmp/dpkg.log | head -5
apt-get update -qq
apt-get -f install -y -qq >/tmp/apt.log 2>&1 || { tail -20 /tmp/apt.log; exit 1; }
dpkg -s hcs | grep -E '^(Status|Version):'
echo "== hcs --check (no --config: /etc/hcs/center.conf)"
hcs --check
stat -c '%n %U:%G %a' /etc/hcs/users.txt /var/lib/hcs
getent passwd _hcs

# Wait up to 10 s for a line starting with $2 in file $1.
wait_line() {
    for _ in $(seq 100); do grep -q "^$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    echo "no line '$2' in $1:"; cat "$1"; return 1
}

echo "== the center as _hcs, its stderr a stream named by JOURNAL_STREAM"
rm -f /tmp/hcs.out /tmp/hcs.err
(
    export JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2)
    exec setpriv --reuid=_hcs --regid=_hcs --clear-groups hcs -v
) >/tmp/hcs.out 2> >(cat >/tmp/hcs.err) &
hcs_pid=$!
pids="$pids $hcs_pid"
wait_line /tmp/hcs.out 'Phase 1: The Health Center Server has port number 21000'
for i in 1 2; do
    setpriv --reuid=_hcs --regid=_hcs --clear-groups hcs-doctor --id "$i" >/tmp/doctor$i.out 2>&1 &
    eval doctor${i}_pid=$!
    pids="$pids $!"
    wait_line /tmp/doctor$i.out "Phase 3: Doctor $i has a static UDP port"
done
echo "== a patient books slot 2 (the sample files of /usr/share/doc/hcs/examples)"
mkdir -p /tmp/p && cp /usr/share/doc/hcs/examples/patient1* /tmp/p/
# As shipped: with Debian's /etc/hosts the patient reaches the center over ::1, asks the
# doctor there first, is refused (the doctors listen on 127.0.0.1) and asks 127.0.0.1.
# Exit status 0: booked and priced by the doctor.
hcs-patient --config-dir /tmp/p --id 1 --slot 2 </dev/null
echo "== SIGHUP: a reload"
kill -HUP "$hcs_pid"
wait_line /tmp/hcs.err '<6>hcs: reload: '
echo "== SIGTERM: a clean stop"
kill -TERM "$hcs_pid" "$doctor1_pid" "$doctor2_pid"
wait "$hcs_pid"
wait "$doctor1_pid" "$doctor2_pid" || true
sleep 0.2  # the stderr reader (cat) writes its last bytes
cat /tmp/hcs.err | head -20
grep -qv '^<[3467]>' /tmp/hcs.err && { echo "a log line without a priority"; exit 1; }
grep -q '^<6>hcs: caught signal 15, stopping' /tmp/hcs.err
echo "== the booking is in /var/lib/hcs/state.db after the restart"
(
    exec setpriv --reuid=_hcs --regid=_hcs --clear-groups hcs
) >/tmp/hcs2.out 2>&1 &
hcs_pid=$!
pids="$pids $hcs_pid"
wait_line /tmp/hcs2.out 'Phase 1: The Health Center Server has port number 21000'
hcs-patient --config-dir /tmp/p --id 1 --show | tee /tmp/show.out
grep -q 'Patient 1 has appointment 2 ' /tmp/show.out
kill -TERM "$hcs_pid"
wait "$hcs_pid"
echo "chroot check: OK"
IN
chroot "$dir" /bin/bash /tmp/hcs-check.sh
