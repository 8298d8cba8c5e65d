#!/bin/sh
# mint-token.sh SECRET_FILE SUB NAME [ROOM...]: prints an HS256 token (JWT)
# for POST /user/token, as an application's backend would make one for its
# logged-in user: valid for 10 minutes, with a jti (so it is exchanged once)
# and, when rooms are given, a "rooms" claim. Needs openssl; chatd must run
# with --jwt-key SECRET_FILE (and no --jwt-issuer/--jwt-audience).
set -eu
secret_file=$1 sub=$2 name=$3
shift 3
# base64url without padding (RFC 7515)
b64() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
rooms=""
for room in "$@"; do rooms="$rooms${rooms:+,}\"$room\""; done
exp=$(($(date +%s) + 600))
jti=$(openssl rand -hex 8)
header=$(printf '{"alg":"HS256","typ":"JWT"}' | b64)
claims=$(printf '{"sub":"%s","name":"%s","exp":%d,"jti":"%s"%s}' "$sub" "$name" "$exp" "$jti" \
  "${rooms:+,\"rooms\":[$rooms]}" | b64)
# HS256: HMAC-SHA256 keyed with the file's text less its final newline, as
# chatd reads it (make it with: openssl rand -hex 32 > jwt.secret)
sig=$(printf '%s.%s' "$header" "$claims" |
  openssl dgst -sha256 -hmac "$(cat "$secret_file")" -binary | b64)
printf '%s.%s.%s\n' "$header" "$claims" "$sig"
