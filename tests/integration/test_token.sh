#!/usr/bin/env bash
# Shell test of POST /user/token against running chatd (tests/integration/run.sh
# starts them): tokens are minted here with Node's crypto (jwt_mint.mjs), not
# with the library chatd verifies them with. Prints TAP; exits 0 only when
# every check passed.
#
# Environment:
#   TOKEN_URL      chatd with --jwt-key KEYS/secret --jwt-jwks KEYS/jwks.json
#                  --jwt-issuer https://app.example --jwt-audience chat
#   TOKEN_PEM_URL  chatd with only --jwt-key KEYS/rsa.pub.pem
#   TOKEN_LIMITED_URL  chatd like TOKEN_URL with 3 logins per address a minute
#   CHAT_URL       chatd without token keys; CHAT_NOCACHE_URL one without the session cache
#   TOKEN_KEYS     the folder jwt_mint.mjs keys wrote
#   CHAT_REDIS_PORT the Redis of them all; CHATD_BIN chatd, for a start that must fail
#   CHAT_BIN       the chat CLI (optional)
set -u
here=$(cd "$(dirname "$0")" && pwd)
keys=$TOKEN_KEYS
url=$TOKEN_URL
tmp=$(mktemp -d "${TMPDIR:-/tmp}/token-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
iss='"iss":"https://app.example","aud":"chat"'
run_id="$$-$RANDOM"

n=0
failed=0
# check DESCRIPTION COMMAND...: one TAP line for the outcome of COMMAND.
check() {
  local desc=$1
  shift
  n=$((n + 1))
  if "$@"; then
    echo "ok $n - $desc"
  else
    echo "not ok $n - $desc"
    echo "#   status $status; headers: $(tr '\n' ' ' <"$tmp/h" 2>/dev/null | cut -c1-300)"
    echo "#   body: $(cut -c1-300 "$tmp/b" 2>/dev/null)"
    failed=$((failed + 1))
  fi
}

# mint ALG KEYFILE CLAIMS [HEADER]: a token on stdout.
mint() { node "$here/jwt_mint.mjs" sign "$@"; }

status=0
# post URL BODY [CURL ARGS...]: POST URL/user/token; status, headers in $tmp/h, body in $tmp/b.
post() {
  local to=$1 body=$2
  shift 2
  status=$(curl -s -o "$tmp/b" -D "$tmp/h" -w '%{http_code}' -X POST "$to/user/token" \
    -H 'Content-Type: application/json' --data-binary "$body" "$@")
  tr -d '\r' <"$tmp/h" >"$tmp/h2" && mv "$tmp/h2" "$tmp/h"
}
# exchange TOKEN [URL]: post {"token": TOKEN}.
exchange() { post "${2:-$url}" "{\"token\":\"$1\"}"; }
# cookie: the session token the last reply set.
cookie() { sed -n 's/^Set-Cookie: authKey=\([^;]*\);.*/\1/p' "$tmp/h"; }
# get URL PATH SESSION: GET with the session; status and body as post's.
get() { status=$(curl -s -o "$tmp/b" -D "$tmp/h" -w '%{http_code}' -b "authKey=$3" "$1$2"); }
# send URL ROOM SESSION TEXT
send() {
  local path=/room/$2/message/
  [[ $2 == lobby ]] && path=/message/
  status=$(curl -s -o "$tmp/b" -D "$tmp/h" -w '%{http_code}' -b "authKey=$3" -X POST "$1$path" \
    -H 'Content-Type: application/json' -d "{\"text\":\"$4\"}")
}
body_has() { grep -q -- "$1" "$tmp/b"; }
refused() { # refused REASON-WORDS: 401 invalid_token with those words
  [[ $status == 401 ]] && body_has '"code":"invalid_token"' && body_has "$1"
}
# wait_for SECONDS COMMAND...: polls COMMAND until it succeeds, at most SECONDS.
wait_for() {
  local deadline=$(($(date +%s) + $1))
  shift
  until "$@"; do
    (($(date +%s) > deadline)) && return 1
    sleep 0.1
  done
}
field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" "$tmp/b"; }


# ---- a token user is made, named and kept ----
sub="app-user-$run_id"
tok=$(mint HS256 "$keys/secret" "{\"sub\":\"$sub\",\"name\":\"Ann App\",\"exp\":\"+600\",$iss}")
exchange "$tok"
first_id=$(field id)
s1=$(cookie)
check "HS256 token: 200 with the user and an HttpOnly session cookie" eval \
  '[[ $status == 200 && -n $first_id && -n $s1 ]] && body_has "\"name\":\"Ann App\"" &&
   body_has "\"email\":\"\"" && grep -q "^Set-Cookie: authKey=.*HttpOnly; SameSite=Strict" "$tmp/h"'
max_age=$(sed -n 's/^Set-Cookie: authKey=.*Max-Age=\([0-9]*\).*/\1/p' "$tmp/h")
check "the cookie lives no longer than the token (Max-Age $max_age <= 600)" \
  eval '[[ -n $max_age ]] && (( max_age > 500 && max_age <= 600 ))'
get "$url" /user/ "$s1"
check "GET /user/ shows the token user" eval \
  '[[ $status == 200 ]] && body_has "\"id\":\"$first_id\"" && body_has "\"name\":\"Ann App\""'
tok=$(mint RS256 "$keys/rsa.pem" "{\"sub\":\"$sub\",\"name\":\"Ann Renamed\",\"exp\":\"+600\",$iss}" '{"kid":"rsa-1"}')
post "$url" '' -H "Authorization: Bearer $tok"
s2=$(cookie)
check "RS256 (JWKS kid rsa-1) as a Bearer header: the same user, renamed" eval \
  '[[ $status == 200 && $(field id) == "$first_id" ]] && body_has "\"name\":\"Ann Renamed\""'
tok=$(mint ES256 "$keys/ec.pem" "{\"sub\":\"$sub\",\"exp\":\"+600\",$iss}" '{"kid":"ec-1"}')
exchange "$tok"
check "ES256 (JWKS kid ec-1): the same user; no name claim: named by sub" eval \
  '[[ $status == 200 && $(field id) == "$first_id" ]] && body_has "\"name\":\"$sub\""'
send "$url" lobby "$s2" "hello from a token user"
check "the token user sends to the lobby" eval '[[ $status == 201 ]] && body_has "\"userId\":\"$first_id\""'

# ---- an e-mail account cannot be reached by a token ----
email="victim-$run_id@example.com"
reg=$(curl -s -X POST "$url/user/" -H 'Content-Type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"victim-password\"}")
email_id=$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' <<<"$reg")
tok=$(mint HS256 "$keys/secret" "{\"sub\":\"$email\",\"exp\":\"+600\",$iss}")
exchange "$tok"
check "a token whose sub is an account's e-mail gets another user" eval \
  '[[ $status == 200 && -n $email_id && $(field id) != "$email_id" ]]'
login=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$url/user/" -H 'Content-Type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"victim-password\"}")
check "the e-mail account still logs in with its password" eval '[[ $login == 200 ]]'
pw=$(curl -s -o "$tmp/b" -w '%{http_code}' -X PUT "$url/user/password" -b "authKey=$s1" \
  -H 'Content-Type: application/json' -d '{"oldPassword":"whatever1","newPassword":"whatever2"}')
check "a token user has no password to change: 403 no_password" eval \
  '[[ $pw == 403 ]] && body_has "\"code\":\"no_password\""'

# ---- rooms ----
create_status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/room/" -b "authKey=$s1" \
  -H 'Content-Type: application/json' -d "{\"name\":\"elsewhere-$$\"}")
tok=$(mint HS256 "$keys/secret" "{\"sub\":\"roomy-$run_id\",\"exp\":\"+600\",\"rooms\":[\"lobby\",\"team-$$\"],$iss}")
exchange "$tok"
s3=$(cookie)
roomy_id=$(field id)
send "$url" lobby "$s3" "allowed"
lobby_status=$status
send "$url" "elsewhere-$$" "$s3" "not allowed"
check "rooms claim: the lobby takes its message, another room answers 403 room_not_allowed" eval \
  '[[ $create_status == 201 && $lobby_status == 201 && $status == 403 ]] && body_has "\"code\":\"room_not_allowed\""'
denied=$(curl -s -o "$tmp/b" -w '%{http_code}' -X POST "$url/room/" -b "authKey=$s3" \
  -H 'Content-Type: application/json' -d '{"name":"not-listed"}')
allowed=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/room/" -b "authKey=$s3" \
  -H 'Content-Type: application/json' -d "{\"name\":\"team-$$\"}")
check "rooms claim: creating an unlisted room is 403, a listed one 201" eval \
  '[[ $denied == 403 && $allowed == 201 ]]'
# A private room of another user, the token user invited: its reads are
# outside the claim (403), a public room's stay open to anyone.
curl -s -o /dev/null -X POST "$url/room/" -b "authKey=$s1" -H 'Content-Type: application/json' \
  -d "{\"name\":\"hidden-$$\",\"kind\":\"private\"}"
invited=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/room/hidden-$$/member" -b "authKey=$s1" \
  -H 'Content-Type: application/json' -d "{\"userId\":\"$roomy_id\"}")
get "$url" "/room/hidden-$$/message/" "$s3"
history_status=$status
history_code=$(field code)
get "$url" "/stream?rooms=hidden-$$" "$s3"
check "rooms claim: a private room's history and stream outside it are 403 room_not_allowed" eval \
  '[[ $invited == 200 && $history_status == 403 && $history_code == room_not_allowed && $status == 403 ]] && body_has "\"code\":\"room_not_allowed\""'
get "$url" "/room/elsewhere-$$/message/" "$s3"
check "rooms claim: a public room outside it is read as by anyone (200)" eval '[[ $status == 200 ]]'

# ---- others find a token user by its id: invitations and direct conversations ----
owner_reg=$(curl -s -X POST "$url/user/" -H 'Content-Type: application/json' \
  -d "{\"email\":\"inviter-$run_id@example.com\",\"password\":\"inviter-password\"}")
owner_key=$(sed -n 's/.*"authKey":"\([^"]*\)".*/\1/p' <<<"$owner_reg")
# as_owner METHOD PATH [BODY]: a request of that e-mail user; status and body as post's.
as_owner() {
  status=$(curl -s -o "$tmp/b" -D "$tmp/h" -w '%{http_code}' -X "$1" "$url$2" -b "authKey=$owner_key" \
    -H 'Content-Type: application/json' ${3:+-d "$3"})
}
as_owner POST /room/ "{\"name\":\"byid-$$\",\"kind\":\"private\"}"
as_owner POST "/room/byid-$$/member" "{\"userId\":\"$first_id\"}"
check "an invitation by the token user's id: 200, and the user reads the private room" eval \
  '[[ $status == 200 ]] && get "$url" "/room/byid-$$/message/" "$s1" && [[ $status == 200 ]]'
as_owner POST /dm/ "{\"userId\":\"$first_id\"}"
dm=$(field name)
check "a direct conversation by the token user's id: 201, listed for the token user" eval \
  '[[ $status == 201 && $dm == dm-* ]] && get "$url" /room/ "$s1" && [[ $status == 200 ]] && body_has "$dm"'
del=$(curl -s -o "$tmp/b" -w '%{http_code}' -X DELETE "$url/user/" -b "authKey=$s1" \
  -H 'Content-Type: application/json' -d '{"password":"whatever1"}')
check "a token user deletes no account with a password: 403 no_password" eval \
  '[[ $del == 403 ]] && body_has "\"code\":\"no_password\""'

# ---- the session ends with the token, with logout, with a version bump ----
tok=$(mint HS256 "$keys/secret" "{\"sub\":\"short-$run_id\",\"exp\":\"+2\",$iss}")
exchange "$tok"
s4=$(cookie)
get "$url" /user/ "$s4"
first=$status
session_over() { get "$url" /user/ "$s4"; [[ $status == 401 ]]; }
check "a session from a token that expires in 2 s is refused once it expired" eval \
  '[[ $first == 200 ]] && wait_for 15 session_over'
curl -s -o /dev/null -X DELETE "$url/user/session" -b "authKey=$s2"
get "$url" /user/ "$s2"
check "DELETE /user/session ends a token session" eval '[[ $status == 401 ]]'
handle=$(redis-cli -p "$CHAT_REDIS_PORT" --scan --pattern 'user:jwt:*' | while read -r k; do
  [[ $(redis-cli -p "$CHAT_REDIS_PORT" hget "$k" sub) == "$sub" ]] && echo "$k"; done)
get "$CHAT_NOCACHE_URL" /user/ "$s1"
before=$status
redis-cli -p "$CHAT_REDIS_PORT" hincrby "$handle" pv 1 >/dev/null
get "$CHAT_NOCACHE_URL" /user/ "$s1"
check "raising the token user's pv (revocation) ends its sessions" eval \
  '[[ -n $handle && $before == 200 && $status == 401 ]]'

# ---- a locked account (PUT /user/<id>/lock sets the field) exchanges no token ----
redis-cli -p "$CHAT_REDIS_PORT" hset "$handle" locked 1 >/dev/null
exchange "$(mint HS256 "$keys/secret" "{\"sub\":\"$sub\",\"exp\":\"+600\",$iss}")"
check "a locked token user's exchange: 403 account_locked" eval \
  '[[ $status == 403 ]] && body_has "\"code\":\"account_locked\""'
redis-cli -p "$CHAT_REDIS_PORT" hdel "$handle" locked >/dev/null
exchange "$(mint HS256 "$keys/secret" "{\"sub\":\"$sub\",\"exp\":\"+600\",$iss}")"
check "unlocked again, the exchange gives a session" eval '[[ $status == 200 ]]'

# ---- a token with a jti is exchanged once ----
tok=$(mint HS256 "$keys/secret" "{\"sub\":\"once-$run_id\",\"jti\":\"jti-$run_id\",\"exp\":\"+600\",$iss}")
exchange "$tok"
once=$status
exchange "$tok"
check "a token with a jti: 200 once, then 401 invalid_token" eval \
  '[[ $once == 200 ]] && refused "exchanged before"'

# ---- hostile tokens ----
claims="{\"sub\":\"hostile-$run_id\",\"exp\":\"+600\",$iss}"
exchange "$(mint HS256 "$keys/secret" "{\"sub\":\"x\",\"exp\":\"-120\",$iss}")"
check "expired token: 401" refused "expired"
exchange "$(mint HS256 "$keys/secret" "{\"sub\":\"x\",\"exp\":\"+600\",\"nbf\":\"+300\",$iss}")"
check "token not valid yet (nbf): 401" refused "not valid yet"
exchange "$(mint HS256 "$keys/secret" "{\"sub\":\"x\",\"exp\":\"+600\",\"iss\":\"https://app.example\",\"aud\":\"mail\"}")"
check "wrong audience: 401" refused "audience"
exchange "$(mint HS256 "$keys/secret" "{\"sub\":\"x\",\"exp\":\"+600\",\"iss\":\"https://evil.example\",\"aud\":\"chat\"}")"
check "wrong issuer: 401" refused "issuer"
tok=$(mint HS256 "$keys/secret" "$claims")
at=$((${#tok} - 10))
exchange "${tok:0:at}$([[ ${tok:at:1} == A ]] && echo B || echo A)${tok:at+1}"
check "a changed signature: 401" refused "signature"
exchange "$(mint none none "$claims")AAAA"
check "alg none: 401" refused "algorithm"
exchange "$(mint HS256 "$keys/rsa.pub.pem" "$claims")"
check "HS256 signed with the RSA public key's PEM: 401, and no key text in the reply" eval \
  'refused "signature" && ! body_has "BEGIN" && ! body_has "$(head -c 16 "$keys/secret")"'
exchange "$(mint RS256 "$keys/rsa.pem" "$claims" '{"kid":"rsa-9"}')"
check "unknown kid: 401" refused "kid"
exchange "eyJ$(head -c 10000 /dev/zero | tr '\0' 'A').e30.AAAA"
check "a 10 kB token: 401 too large" refused "too large"
exchange '%%%.!!!.???'
check "garbage: 401" refused "compact form"
post "$url" '{"token":'
check "a body that is not JSON: 400 bad_json" eval '[[ $status == 400 ]] && body_has "\"code\":\"bad_json\""'
post "$url" '{"token":42}'
check "a body without a token string: 400 bad_request" eval \
  '[[ $status == 400 ]] && body_has "\"code\":\"bad_request\""'

# ---- other configurations ----
exchange "$(mint HS256 "$keys/rsa.pub.pem" "{\"sub\":\"x\",\"exp\":\"+600\"}")" "$TOKEN_PEM_URL"
confused=$status
grep -q 'not accepted' "$tmp/b" && confused_reason=1 || confused_reason=0
exchange "$(mint RS256 "$keys/rsa.pem" "{\"sub\":\"pem-$run_id\",\"exp\":\"+600\"}")" "$TOKEN_PEM_URL"
check "a PEM-only chatd: RS256 200; HS256 with that PEM as secret 401 (no HS256 key)" eval \
  '[[ $status == 200 && $confused == 401 && $confused_reason == 1 ]]'
exchange "$(mint HS256 "$keys/secret" "$claims")" "$CHAT_URL"
check "a chatd without token keys: 404 token_login_off" eval \
  '[[ $status == 404 ]] && body_has "\"code\":\"token_login_off\""'
limited_addr="198.51.100.$((RANDOM % 200 + 10))"
codes=()
for _ in 1 2 3 4; do
  post "$TOKEN_LIMITED_URL" "{\"token\":\"$(mint HS256 "$keys/secret" "$claims")\"}" \
    -H "X-Forwarded-For: $limited_addr"
  codes+=("$status")
done
check "exchanges are rate-limited per address like logins (3 a minute: ${codes[*]})" eval \
  '[[ "${codes[*]}" == "200 200 200 429" ]] && grep -q "^Retry-After:" "$tmp/h"'
"$CHATD_BIN" --port 1 --redis 127.0.0.1:1 --jwt-key "$keys/rsa-small.pub.pem" >"$tmp/small.log" 2>&1
small=$?
check "chatd refuses to start with a 1024-bit RSA key" eval \
  '(( small != 0 )) && grep -q "unusable token key" "$tmp/small.log"'

# ---- the chat CLI ----
if [[ -x ${CHAT_BIN:-} ]]; then
  export CHAT_SESSION_FILE=$tmp/cli-session
  tok=$(mint HS256 "$keys/secret" "{\"sub\":\"cli-$run_id\",\"name\":\"Cli Token\",\"exp\":\"+600\",$iss}")
  out=$(CHAT_TOKEN=$tok "$CHAT_BIN" --server "$url" login --token 2>&1) && sent=$("$CHAT_BIN" send "from the cli" 2>&1)
  cli_status=$?
  check "chat login --token (\$CHAT_TOKEN), then chat send" eval \
    '[[ $cli_status == 0 && $out == "logged in as Cli Token (id "* && $sent == *"Cli Token: from the cli"* ]]'
  out=$(printf 'not-a-token\n' | "$CHAT_BIN" --server "$url" login --token 2>&1)
  cli_status=$?
  check "chat login --token with a bad token on stdin: exit 1 with the reason" eval \
    '[[ $cli_status == 1 && $out == *"not a signed JWT"* ]]'
fi

echo "1..$n"
exit $((failed > 0))
