#!/bin/sh
# make-certs.sh: a throwaway CA and a certificate of the center for the TLS demo.
#
#   config/tls/make-certs.sh [-f] DIR
#
# writes into DIR (made 0700 if missing):
#   ca.pem       the CA's certificate: what the patients trust (tls_ca)
#   center.pem   the center's certificate, for localhost, 127.0.0.1 and ::1 (tls_cert)
#   center.key   its private key, mode 0600 (tls_key)
# The CA's private key is deleted once it has signed center.pem, so nothing
# else can ever be made that this CA vouches for. Files already there are
# kept (exit 1) unless -f is given. Never commit these files: .gitignore
# lists config/tls/certs/.
set -eu

usage() {
    echo "usage: $0 [-f] DIR" >&2
    exit 1
}

force=0
while getopts f opt; do
    case $opt in
    f) force=1 ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
dir=$1
days=365

for f in ca.pem center.pem center.key; do
    if [ -e "$dir/$f" ] && [ $force -eq 0 ]; then
        echo "$0: $dir/$f exists; -f replaces it" >&2
        exit 1
    fi
done

umask 077
mkdir -p "$dir"
tmp=$(mktemp -d "$dir/.make-certs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$days" \
    -keyout "$tmp/ca.key" -out "$tmp/ca.pem" -subj "/CN=hcs demo CA (throwaway)" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>"$tmp/log" || { cat "$tmp/log" >&2; exit 1; }
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$tmp/center.key" -out "$tmp/center.csr" -subj "/CN=localhost" \
    2>"$tmp/log" || { cat "$tmp/log" >&2; exit 1; }
cat >"$tmp/ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
EXT
openssl x509 -req -in "$tmp/center.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" \
    -CAcreateserial -days "$days" -extfile "$tmp/ext" -out "$tmp/center.pem" \
    2>"$tmp/log" || { cat "$tmp/log" >&2; exit 1; }

chmod 0644 "$tmp/ca.pem" "$tmp/center.pem"
chmod 0600 "$tmp/center.key"
mv -f "$tmp/ca.pem" "$tmp/center.pem" "$tmp/center.key" "$dir/"
echo "$dir: ca.pem, center.pem, center.key (0600) for localhost, 127.0.0.1 and ::1, $days days"
