#!/usr/bin/env bash
# Regenerates the quote fixtures from swtpm + tpm2-tools (run by hand; the outputs are committed
# so the unit tests need no TPM). Each directory holds: ek.pub, ak.pub, ak.name (TPM2B_PUBLIC /
# Name as tpm2 createek/createak write them), quote.msg (TPMS_ATTEST), quote.sig
# (TPMT_SIGNATURE), nonce (hex), pcrs.sha1 / pcrs.sha256 (raw values of PCRs 0 and 14, in order).
set -euo pipefail
cd "$(dirname "$0")"
PORT=${PORT:-34010}
for kind in rsa-rsassa rsa-rsapss ecc-ecdsa; do
  rm -rf "$kind" && mkdir "$kind"
  state=$(mktemp -d)
  swtpm socket --tpm2 --server type=tcp,port=$PORT --ctrl type=tcp,port=$((PORT + 1)) --tpmstate dir="$state" \
    --flags not-need-init,startup-clear --seccomp action=none &
  pid=$!
  trap "kill $pid 2>/dev/null" EXIT
  sleep 0.5
  export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$PORT"
  alg=${kind%%-*}; scheme=${kind#*-}
  tmp=$(mktemp -d)
  tpm2 createek -c "$tmp/ek.ctx" -G rsa -u "$kind/ek.pub" >/dev/null
  tpm2 flushcontext -t
  tpm2 createak -C "$tmp/ek.ctx" -c "$tmp/ak.ctx" -G "$alg" -g sha256 -s "$scheme" -u "$kind/ak.pub" -n "$kind/ak.name" >/dev/null
  tpm2 flushcontext -t
  tpm2 pcrextend 14:sha1=$(printf a | sha1sum | cut -c1-40),sha256=$(printf a | sha256sum | cut -c1-64)
  nonce=$(head -c 32 /dev/urandom | xxd -p -c 64)
  echo "$nonce" > "$kind/nonce"
  tpm2 quote -c "$tmp/ak.ctx" -l sha1:0,14+sha256:0,14 -q "$nonce" -m "$kind/quote.msg" -s "$kind/quote.sig" -g sha256 --scheme "$scheme" >/dev/null
  tpm2 pcrread sha1:0,14 -o "$kind/pcrs.sha1" >/dev/null
  tpm2 pcrread sha256:0,14 -o "$kind/pcrs.sha256" >/dev/null
  kill $pid; wait $pid 2>/dev/null || true
  rm -rf "$state" "$tmp"
done
