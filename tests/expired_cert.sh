#!/usr/bin/env bash
# tests/expired_cert.sh CERTS OUTDIR: an expired server certificate for
# localhost (valid in January 2020 only), signed by the dev CA in CERTS, as
# OUTDIR/expired.pem and OUTDIR/expired.key. OpenSSL 3.0's `ca` takes explicit
# dates, so the certificate is expired without touching any clock.
set -eu
certs=$(cd "$1" && pwd)
mkdir -p "$2"
cd "$2"
touch index.txt
echo 01 >serial
printf '[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nserial=serial\nnew_certs_dir=.\ndefault_md=sha256\npolicy=p\ncopy_extensions=copy\n[p]\ncommonName=supplied\n' >ca.cnf
openssl ecparam -name prime256v1 -genkey -noout -out expired.key
openssl req -new -key expired.key -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -out expired.csr
openssl ca -batch -config ca.cnf -cert "$certs/ca.pem" -keyfile "$certs/ca.key" \
  -startdate 20200101000000Z -enddate 20200201000000Z -in expired.csr -out expired.pem
