#!/usr/bin/env bash
# Shell test of the server API (/api/v1/...) and chatctl against running
# chatd (tests/integration/run.sh starts them): keys made, used and revoked
# with chatctl on Redis, every route with its errors, retries, the per-key
# rate limit, the audit log and hostile input. Prints TAP; exits 0 only
# when every check passed.
#
# Environment:
#   CHAT_URL, CHAT_URL2  two chatd on the same Redis (the second with the session cache)
#   CHAT_LIMITED_URL     a chatd with --limit-api-key 3/60
#   CHAT_REDIS_PORT      their Redis; CHATD_LOG the first chatd's log
#   CHATCTL_BIN          chatctl
set -u
url=$CHAT_URL
url2=$CHAT_URL2
ctl=$CHATCTL_BIN
tmp=$(mktemp -d "${TMPDIR:-/tmp}/server-api-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
export CHATD_REDIS="127.0.0.1:$CHAT_REDIS_PORT" CHAT_SERVER=$url
run_id="$$-$RANDOM"

n=0
failed=0
status=0
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
# api METHOD PATH [BODY] [CURL ARGS...]: a call with $key on $at (default
# $url); status, headers in $tmp/h, body in $tmp/b.
at=$url
api() {
  local method=$1 path=$2 body=${3:-}
  shift 3 2>/dev/null || shift $#
  local data=()
  [[ -n $body ]] && data=(-H 'Content-Type: application/json' --data-binary "$body")
  status=$(curl -s -o "$tmp/b" -D "$tmp/h" -w '%{http_code}' -X "$method" "$at$path" \
    -H "Authorization: Bearer $key" "${data[@]}" "$@")
  tr -d '\r' <"$tmp/h" >"$tmp/h2" && mv "$tmp/h2" "$tmp/h"
}
body_has() { grep -q -- "$1" "$tmp/b"; }
is_error() { [[ $status == "$1" ]] && body_has "\"code\":\"$2\""; }
field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" "$tmp/b" | head -1; }
# register EMAIL NAME: a user; its id in $reg_id, its session in $reg_session.
register() {
  curl -s -o "$tmp/b" -X POST "$url/user/" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$1\",\"password\":\"server-api-password\",\"name\":\"$2\"}"
  reg_id=$(field id)
  reg_session=$(field authKey)
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

# ---- keys ----
"$ctl" key create --name "backend $run_id" >"$tmp/key" 2>"$tmp/key.err"
created=$?
key=$(sed -n 's/^key: *//p' "$tmp/key")
key_id=$(sed -n 's/^id: *//p' "$tmp/key")
check "chatctl key create prints an id and a key once (ck_<id>_<secret>)" eval \
  '[[ $created == 0 && $key == ck_${key_id}_* && ${#key} == 84 ]] && grep -q "shown this once" "$tmp/key.err"'
secret=${key##*_}
stored=$(redis-cli -c -p "$CHAT_REDIS_PORT" --raw hgetall "apikey:$key_id")
check "Redis keeps the key's hash and name, never its secret" eval \
  '[[ $stored == *"backend $run_id"* && $stored != *"$secret"* ]] && (( $(grep -c . <<<"$stored") == 6 ))'
"$ctl" key list >"$tmp/list"
check "chatctl key list shows the key by id and name" grep -q "^$key_id .*backend $run_id" "$tmp/list"
export CHAT_API_KEY=$key

api GET /api/v1/room ''
check "a key opens the server API (GET /api/v1/room: 200)" eval '[[ $status == 200 ]]'
at=$url2 api GET /api/v1/room ''
check "the same key works on a second chatd" eval '[[ $status == 200 ]]'

# ---- who may call ----
register "owner-$run_id@example.com" "Olga Owner"
owner=$reg_id owner_session=$reg_session
register "bob-$run_id@example.com" "Bob"
bob=$reg_id bob_session=$reg_session
register "carol-$run_id@example.com" "Carol"
carol=$reg_id
status=$(curl -s -o "$tmp/b" -w '%{http_code}' "$url/api/v1/room")
check "no key: 401 invalid_api_key" is_error 401 invalid_api_key
status=$(curl -s -o "$tmp/b" -w '%{http_code}' -b "authKey=$owner_session" "$url/api/v1/room")
check "a session cookie is no key: 401 invalid_api_key" is_error 401 invalid_api_key
status=$(curl -s -o "$tmp/b" -w '%{http_code}' -H "Authorization: Bearer $owner_session" "$url/api/v1/room")
check "a session token as Bearer is no key: 401 invalid_api_key" is_error 401 invalid_api_key
status=$(curl -s -o "$tmp/b" -w '%{http_code}' -H "Authorization: Bearer $key" "$url/user/")
check "a key is no session on the user routes: 401 unauthorized" is_error 401 unauthorized
status=$(curl -s -o "$tmp/b" -w '%{http_code}' -X POST -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' -d '{"text":"x"}' "$url/message/")
check "a key cannot send as a user on POST /message/: 401" is_error 401 unauthorized
# the secret with its last digit changed (never to itself)
last=${secret: -1}
altered="${secret%?}$([[ $last == 0 ]] && echo 1 || echo 0)"
for bad in "ck_${key_id}_${altered}" "ck_${key_id}_${secret}0" "CK_${key_id}_${secret}" \
  "ck_${key_id}_${secret^^}" "ck_0000000000000000_${secret}" "ck_${key_id}" "ck_" \
  "$(head -c 3000 /dev/zero | tr '\0' a)" "ck_${key_id}_${secret//[0-9]/g}"; do
  status=$(curl -s -o "$tmp/b" -w '%{http_code}' -H "Authorization: Bearer $bad" "$url/api/v1/room")
  is_error 401 invalid_api_key || { echo "#   accepted: ${bad:0:90}"; break; }
done
check "wrong, altered, upper-case, unknown, truncated and huge keys: 401 invalid_api_key" \
  is_error 401 invalid_api_key
status=$(curl -s -o "$tmp/b" -w '%{http_code}' -H "Authorization: Basic $key" "$url/api/v1/room")
check "another scheme than Bearer: 401" is_error 401 invalid_api_key

# ---- rooms ----
room="api-$$-$RANDOM"
api POST /api/v1/room "{\"name\":\"$room\",\"ownerId\":\"$owner\"}"
check "POST /api/v1/room: 201, a public room owned by the user" eval \
  '[[ $status == 201 ]] && body_has "\"kind\":\"public\"" && body_has "\"ownerId\":\"$owner\""'
api POST /api/v1/room "{\"name\":\"$room\",\"ownerId\":\"$owner\"}"
check "the same creation again (a retry): 200" eval '[[ $status == 200 ]]'
api POST /api/v1/room "{\"name\":\"$room\",\"ownerId\":\"$bob\"}"
check "the name with another owner: 409 room_taken" is_error 409 room_taken
api POST /api/v1/room "{\"name\":\"$room\",\"kind\":\"private\",\"ownerId\":\"$owner\"}"
check "the name as another kind: 409 room_taken" is_error 409 room_taken
api POST /api/v1/room "{\"name\":\"p-$room\",\"kind\":\"private\",\"ownerId\":\"$owner\"}"
check "a private room: 201" eval '[[ $status == 201 ]] && body_has "\"kind\":\"private\""'
curl -s -o "$tmp/b" -b "authKey=$owner_session" "$url/room/"
check "the owner sees both rooms as owner in GET /room/" eval \
  'body_has "\"name\":\"$room\"" && body_has "\"name\":\"p-$room\"" && body_has "\"role\":\"owner\""'
api POST /api/v1/room "{\"name\":\"x-$room\",\"ownerId\":\"0123456789abcdef0123456789abcdef\"}"
check "an unknown owner: 404 unknown_user" is_error 404 unknown_user
api POST /api/v1/room "{\"name\":\"x-$room\"}"
check "no owner: 400 invalid_user_id" is_error 400 invalid_user_id
api POST /api/v1/room "{\"name\":\"Bad Name\",\"ownerId\":\"$owner\"}"
check "a bad room name: 400 invalid_room" is_error 400 invalid_room
api POST /api/v1/room "{\"name\":\"x-$room\",\"kind\":\"direct\",\"ownerId\":\"$owner\"}"
check "kind direct (those come from POST /dm/): 400 invalid_kind" is_error 400 invalid_kind
api POST /api/v1/room "{\"name\":\"lobby\",\"ownerId\":\"$owner\"}"
check "the lobby cannot be given an owner: 409 room_taken" is_error 409 room_taken
# pages that start just before the names (other tests' rooms may come first)
api GET "/api/v1/room?after=p-${room%-*}-&limit=5" ''
private_listed=$(grep -c "\"p-$room\"" "$tmp/b")
api GET "/api/v1/room?after=${room%-*}-&limit=5" ''
check "GET /api/v1/room lists the public room, not the private one" eval \
  '[[ $status == 200 && $private_listed == 0 ]] && body_has "\"$room\"" && grep -qi "^X-Next-After: " "$tmp/h"'
api GET "/api/v1/room?limit=0" ''
check "GET /api/v1/room?limit=0: 400 invalid_query" is_error 400 invalid_query

# ---- members ----
api POST "/api/v1/room/p-$room/member" "{\"userId\":\"$bob\"}"
check "POST member: Bob is a member, with an event" eval \
  '[[ $status == 200 ]] && body_has "\"role\":\"member\"" && body_has "\"eventId\""'
api POST "/api/v1/room/p-$room/member" "{\"userId\":\"$bob\"}"
check "the same add again: 200 without a second event" eval \
  '[[ $status == 200 ]] && body_has "\"role\":\"member\"" && ! body_has eventId'
api PUT "/api/v1/room/p-$room/member" "{\"userId\":\"$bob\",\"role\":\"moderator\"}"
check "PUT member role moderator: 200" eval '[[ $status == 200 ]] && body_has "\"role\":\"moderator\""'
api PUT "/api/v1/room/p-$room/member" "{\"userId\":\"$owner\",\"role\":\"member\"}"
check "the last owner cannot step down: 409 last_owner" is_error 409 last_owner
api PUT "/api/v1/room/p-$room/member" "{\"userId\":\"$carol\",\"role\":\"moderator\"}"
check "a role for a non-member: 404 not_member" is_error 404 not_member
api PUT "/api/v1/room/p-$room/member" "{\"userId\":\"$bob\",\"role\":\"king\"}"
check "an unknown role: 400 invalid_role" is_error 400 invalid_role
api GET "/api/v1/room/p-$room/member" ''
check "GET member lists the owner and Bob with names" eval \
  '[[ $status == 200 ]] && body_has "\"userId\":\"$owner\",\"role\":\"owner\",\"name\":\"Olga Owner\"" &&
   body_has "\"userId\":\"$bob\",\"role\":\"moderator\""'
curl -s -o "$tmp/b" -b "authKey=$bob_session" "$url/room/p-$room/message/"
check "Bob reads the private room as a user now" eval 'body_has "\"event\":\"invited\""'
api PUT "/api/v1/room/$room/member" "{\"userId\":\"$carol\",\"role\":\"banned\"}"
check "PUT banned: Carol is banned from the public room" eval '[[ $status == 200 ]] && body_has "\"role\":\"banned\""'
api GET "/api/v1/room/$room/member" ''
check "the server API's member list shows the ban" body_has "\"userId\":\"$carol\",\"role\":\"banned\""
api POST "/api/v1/room/$room/member" "{\"userId\":\"$carol\"}"
check "adding a banned user: 409 user_banned" is_error 409 user_banned
api DELETE "/api/v1/room/$room/member?userId=$carol" ''
check "DELETE member lifts the ban" eval '[[ $status == 200 ]] && body_has "\"role\":\"\""'
api DELETE "/api/v1/room/$room/member?userId=$carol" ''
check "the same DELETE again: 200, nothing to do" eval '[[ $status == 200 ]] && ! body_has eventId'
api DELETE "/api/v1/room/$room/member?userId=nope" ''
check "DELETE member with a bad user id: 400 invalid_user_id" is_error 400 invalid_user_id
api GET "/api/v1/room/no-such-$room/member" ''
check "the members of a room that does not exist: 404 not_found" is_error 404 not_found

# ---- messages ----
api POST "/api/v1/room/$room/message" '{"text":"maintenance at noon","clientMsgId":"notice-1"}'
first=$(field id)
check "publish as the system: 201, userId system" eval \
  '[[ $status == 201 && -n $first ]] && body_has "\"userId\":\"system\"" && body_has "\"name\":\"System\""'
api POST "/api/v1/room/$room/message" '{"text":"maintenance at noon","clientMsgId":"notice-1"}'
check "the same publish again: 201, the same message, Idempotent-Replayed" eval \
  '[[ $status == 201 && $(field id) == "$first" ]] && grep -qi "^Idempotent-Replayed: true" "$tmp/h"'
at=$url2 api POST "/api/v1/room/$room/message" '{"text":"maintenance at noon","clientMsgId":"notice-1"}'
check "the retry on another chatd: the same message" eval '[[ $status == 201 && $(field id) == "$first" ]]'
api POST "/api/v1/room/$room/message" "{\"text\":\"hi from the app\",\"clientMsgId\":\"u-1\",\"userId\":\"$bob\"}"
check "publish as Bob: his id and name" eval \
  '[[ $status == 201 ]] && body_has "\"userId\":\"$bob\"" && body_has "\"name\":\"Bob\""'
api POST "/api/v1/room/$room/message" '{"text":"no id"}'
check "publish without a clientMsgId: 400 invalid_client_msg_id" is_error 400 invalid_client_msg_id
api POST "/api/v1/room/$room/message" '{"text":"header id"}' -H 'Idempotency-Key: hdr-1'
check "the Idempotency-Key header serves as the client message id" eval '[[ $status == 201 ]]'
api POST "/api/v1/room/$room/message" '{"text":"","clientMsgId":"e-1"}'
check "empty text: 400 invalid_text" is_error 400 invalid_text
api POST "/api/v1/room/$room/message" "{\"text\":\"x\",\"clientMsgId\":\"c-1\",\"userId\":\"$carol\"}"
api_carol=$status
api PUT "/api/v1/room/$room/member" "{\"userId\":\"$carol\",\"role\":\"banned\"}"
api POST "/api/v1/room/$room/message" "{\"text\":\"x\",\"clientMsgId\":\"c-2\",\"userId\":\"$carol\"}"
check "publish as a user banned from the room: 409 user_banned (201 before the ban)" eval \
  '[[ $api_carol == 201 ]] && is_error 409 user_banned'
api POST "/api/v1/room/p-$room/message" "{\"text\":\"x\",\"clientMsgId\":\"c-3\",\"userId\":\"$carol\"}"
check "publish as a non-member of a private room: 404 not_member" is_error 404 not_member
api POST "/api/v1/room/no-such-$room/message" '{"text":"x","clientMsgId":"c-4"}'
check "publish to a room that does not exist: 404 not_found" is_error 404 not_found
api POST "/api/v1/room/$room/message" '{"text":"x","clientMsgId":"c-5","userId":"0123456789abcdef0123456789abcdef"}'
check "publish as an unknown user: 404 unknown_user" is_error 404 unknown_user
api POST "/api/v1/room/$room/message" '{"text":"x","clientMsgId":"c-6","name":"\u0001"}'
check "a name with a control character: 400 invalid_name" is_error 400 invalid_name
api GET "/api/v1/room/$room/message?limit=2" ''
next=$(sed -n 's/^X-Next-After: //ip' "$tmp/h")
check "GET message?limit=2: the first two entries, X-Next-After naming the second" eval \
  '[[ $status == 200 && -n $next ]] && body_has "\"id\":\"$next\"" && (( $(grep -o "\"id\"" "$tmp/b" | wc -l) == 2 ))'
api GET "/api/v1/room/$room/message?after=$next" ''
check "GET message?after=: the rest, the first publish and Bob's among them" eval \
  '[[ $status == 200 ]] && body_has "hi from the app" && body_has "\"id\":\"$first\"" && ! body_has "\"id\":\"$next\""'
api GET "/api/v1/room/$room/message?after=garbage" ''
check "a bad after: 400 invalid_query" is_error 400 invalid_query
api GET "/api/v1/room/no-such-$room/message" ''
check "history of a room that does not exist: 404" is_error 404 not_found
api DELETE "/api/v1/room/$room/message?id=$first" ''
check "DELETE message: 200 with the tombstone's event id" eval \
  '[[ $status == 200 ]] && body_has "\"id\":\"$first\"" && body_has "\"eventId\""'
api DELETE "/api/v1/room/$room/message?id=$first" ''
check "the same DELETE again: 404, nothing removed twice" is_error 404 not_found
curl -s -o "$tmp/b" "$url/room/$room/message/"
check "users see the tombstone, not the text" eval \
  'body_has "\"event\":\"message_removed\"" && ! body_has "maintenance at noon"'
api GET "/api/v1/room/$room/counts" ''
check "GET counts: entries, members and bans" eval \
  '[[ $status == 200 ]] && body_has "\"members\":1" && body_has "\"banned\":1" && body_has "\"entries\":"'
api GET "/api/v1/room/no-such-$room/counts" ''
check "counts of a room that does not exist: 404" is_error 404 not_found

# ---- presence ----
# the owner's event stream in the private room on the second chatd: she is
# online there until it closes (any room kind: the key stands for the app)
curl -sN -b "authKey=$owner_session" "$url2/room/p-$room/message/stream" >"$tmp/ostream" 2>&1 &
ostream_pid=$!
owner_online() {
  api GET "/api/v1/room/p-$room/presence?limit=10" ''
  [[ $status == 200 ]] && body_has "\"userId\":\"$owner\",\"name\":\"Olga Owner\""
}
check "GET presence lists a user with an open stream (private room, other chatd)" eval \
  'wait_for 20 owner_online && body_has "\"count\":1" && body_has "\"next\":null"'
api GET "/api/v1/room/p-$room/counts" ''
check "GET counts has the users online" eval '[[ $status == 200 ]] && body_has "\"online\":1"'
api GET "/api/v1/room/p-$room/presence?limit=1" ''
check "a full page names its last user as next" body_has "\"next\":\"$owner\""
"$ctl" who "p-$room" >"$tmp/out"
check "chatctl who ROOM" grep -q "\"userId\": \"$owner\"" "$tmp/out"
kill "$ostream_pid" 2>/dev/null
wait "$ostream_pid" 2>/dev/null
owner_gone() {
  api GET "/api/v1/room/p-$room/presence" ''
  [[ $status == 200 ]] && body_has '"count":0' && body_has '"users":\[\]'
}
check "her stream closed: she leaves the list" wait_for 20 owner_gone
api GET "/api/v1/room/no-such-$room/presence" ''
check "presence of a room that does not exist: 404" is_error 404 not_found
api GET "/api/v1/room/lobby/presence" ''
check "presence of the lobby: 404" is_error 404 not_found
bad_queries=""
for q in limit=0 limit=1001 limit=x after=nope; do
  api GET "/api/v1/room/p-$room/presence?$q" ''
  is_error 400 invalid_query || bad_queries="$bad_queries $q:$status"
done
check "presence with a bad limit or after: 400 invalid_query" eval '[[ -z $bad_queries ]]'
api GET "/api/v1/room/Bad%20Name/presence" ''
check "presence of a bad room name: 400 invalid_room" is_error 400 invalid_room
status=$(curl -s -o "$tmp/b" -w '%{http_code}' "$url/api/v1/room/p-$room/presence")
check "presence without a key: 401 invalid_api_key" is_error 401 invalid_api_key

# ---- sessions, disconnect ----
curl -s -o /dev/null -X PUT "$url/user/" -H 'Content-Type: application/json' \
  -d "{\"email\":\"bob-$run_id@example.com\",\"password\":\"server-api-password\"}"
api GET "/api/v1/user/$bob/session" ''
check "GET session lists Bob's two sessions by short id, no token" eval \
  '[[ $status == 200 ]] && (( $(grep -o "\"created\"" "$tmp/b" | wc -l) == 2 )) && ! body_has "$bob_session"'
b1=$(curl -s -o /dev/null -w '%{http_code}' -b "authKey=$bob_session" "$url/user/")
b2=$(curl -s -o /dev/null -w '%{http_code}' -b "authKey=$bob_session" "$url2/user/")
# Bob's event stream on the second chatd, opened with his session: it ends with it
(
  curl -sN -b "authKey=$bob_session" "$url2/room/p-$room/message/stream" >"$tmp/stream" 2>&1 &
  echo $! >"$tmp/stream.pid"
  wait
  echo "STREAM ENDED" >>"$tmp/stream"
) &
check "Bob's event stream on the second chatd is open" wait_for 10 grep -q ': connected' "$tmp/stream"
api DELETE "/api/v1/user/$bob/session" ''
check "DELETE session (disconnect): 204" eval '[[ $b1 == 200 && $b2 == 200 && $status == 204 ]]'
check "his open event stream on the second chatd ends" wait_for 10 grep -q "STREAM ENDED" "$tmp/stream"
kill "$(cat "$tmp/stream.pid")" 2>/dev/null
bob_refused() {
  [[ $(curl -s -o /dev/null -w '%{http_code}' -b "authKey=$bob_session" "$1/user/") == 401 ]]
}
check "Bob's session is refused on both chatd (the second had it cached)" eval \
  'bob_refused "$url" && wait_for 10 bob_refused "$url2"'
api GET "/api/v1/user/$bob/session" ''
check "and he has no session left" eval '[[ $status == 200 ]] && [[ $(cat "$tmp/b") == "[]" ]]'
api DELETE "/api/v1/user/$bob/session" ''
check "disconnect again: 204" eval '[[ $status == 204 ]]'
api DELETE "/api/v1/user/not-an-id/session" ''
check "a bad user id: 400 invalid_user_id" is_error 400 invalid_user_id

# ---- hostile input ----
api POST /api/v1/room '{"name":'
check "broken JSON: 400 bad_json" is_error 400 bad_json
api POST /api/v1/room '[1,2]'
check "a JSON array: 400 bad_json" is_error 400 bad_json
status=$(curl -s -o "$tmp/b" -w '%{http_code}' -X POST -H "Authorization: Bearer $key" \
  -H 'Content-Type: text/plain' -d '{}' "$url/api/v1/room")
check "a body that is not JSON: 415" is_error 415 unsupported_media_type
head -c 70000 /dev/zero | tr '\0' a >"$tmp/big"
status=$(curl -s -o "$tmp/b" -w '%{http_code}' -X POST -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' --data-binary "@$tmp/big" "$url/api/v1/room/$room/message")
check "a huge body: 413" eval '[[ $status == 413 ]]'
api POST "/api/v1/room/$room/message" "{\"text\":\"x\",\"clientMsgId\":\"../../etc\"}"
check "a client message id with a path in it: 400" is_error 400 invalid_client_msg_id
api POST "/api/v1/room/$room/message" "{\"text\":\"x\",\"clientMsgId\":\"k\",\"userId\":\"$bob\\u0000\"}"
check "a user id with a NUL: 400" eval '[[ $status == 400 ]]'
api POST "/api/v1/room/$room/message" '{"text":"x","clientMsgId":"k","userId":7}'
check "a user id that is a number: 400 invalid_user_id" is_error 400 invalid_user_id
api GET "/api/v1/room/..%2F..%2Fuser/member" ''
check "a room name with ../ in it: 400 invalid_room" is_error 400 invalid_room
api PATCH "/api/v1/room/$room/message" ''
check "PATCH on the server API: 405" eval '[[ $status == 405 ]]'

# ---- the audit log ----
check "every call is logged with the key's id, never its secret" eval \
  'grep -q "msg=\"server api call\" key=$key_id method=DELETE path=\"/api/v1/user/$bob/session\"" "$CHATD_LOG" &&
   ! grep -q "$secret" "$CHATD_LOG"'

# ---- chatctl over the API ----
out=$("$ctl" publish "$room" hello from the cli --id cli-1)
again=$("$ctl" publish "$room" hello from the cli --id cli-1)
check "chatctl publish: the message; the same --id again: the same message" eval \
  '[[ $out == *"\"text\": \"hello from the cli\""* && $out == "$again" ]]'
cli_id=$(sed -n 's/.*"id": "\([^"]*\)".*/\1/p' <<<"$out")
"$ctl" history "$room" --after "$next" >"$tmp/out"
check "chatctl history ROOM --after ID" grep -q "hello from the cli" "$tmp/out"
"$ctl" remove "$room" "$cli_id" >/dev/null
rm_rc=$?
"$ctl" remove "$room" "$cli_id" 2>"$tmp/err" >/dev/null
rm_again=$?
check "chatctl remove: 0; again: exit 1 and the error on stderr" eval \
  '[[ $rm_rc == 0 && $rm_again == 1 ]] && grep -q "404 not_found" "$tmp/err"'
"$ctl" room create "c-$room" --owner "$owner" --private >"$tmp/out"
check "chatctl room create NAME --owner ID --private" grep -q '"kind": "private"' "$tmp/out"
"$ctl" add "c-$room" "$carol" >/dev/null && "$ctl" role "c-$room" "$carol" moderator >/dev/null
"$ctl" members "c-$room" >"$tmp/out"
check "chatctl add, role and members" grep -q '"role": "moderator"' "$tmp/out"
"$ctl" ban "c-$room" "$carol" >/dev/null && "$ctl" counts "c-$room" >"$tmp/out"
check "chatctl ban, counts" grep -q '"banned": 1' "$tmp/out"
"$ctl" unban "c-$room" "$carol" >/dev/null && "$ctl" counts "c-$room" >"$tmp/out"
check "chatctl unban" grep -q '"banned": 0' "$tmp/out"
"$ctl" rooms --after "${room%-*}-" --limit 5 >"$tmp/out"
check "chatctl rooms" grep -q "\"$room\"" "$tmp/out"
"$ctl" sessions "$owner" >"$tmp/out" && "$ctl" disconnect "$owner" >"$tmp/dis"
check "chatctl sessions and disconnect" eval \
  'grep -q "\"created\"" "$tmp/out" && grep -q "disconnected $owner" "$tmp/dis" &&
   [[ $(curl -s -o /dev/null -w "%{http_code}" -b "authKey=$owner_session" "$url/user/") == 401 ]]'
"$ctl" frobnicate >/dev/null 2>&1
usage_rc=$?
CHAT_API_KEY= "$ctl" rooms >/dev/null 2>"$tmp/err"
nokey_rc=$?
check "chatctl: an unknown command exits 2; no key exits 2 and says so" eval \
  '[[ $usage_rc == 2 && $nokey_rc == 2 ]] && grep -q CHAT_API_KEY "$tmp/err"'
"$ctl" help >"$tmp/out"
check "chatctl help documents the commands" grep -q "disconnect USER_ID" "$tmp/out"
CHAT_SERVER=http://127.0.0.1:1 "$ctl" rooms >/dev/null 2>&1
unreachable_rc=$?
check "chatctl: an unreachable server exits 3" eval '[[ $unreachable_rc == 3 ]]'

# ---- the per-key rate limit (a chatd with --limit-api-key 3/60) ----
codes=""
for _ in 1 2 3 4; do
  at=$CHAT_LIMITED_URL api GET /api/v1/room ''
  codes="$codes $status"
done
check "--limit-api-key 3/60: three calls, then 429 rate_limited with Retry-After" eval \
  '[[ $codes == " 200 200 200 429" ]] && is_error 429 rate_limited && grep -qi "^Retry-After: [1-9]" "$tmp/h"'

# ---- revocation ----
"$ctl" key revoke "$key_id" >"$tmp/out"
check "chatctl key revoke ID" grep -q "revoked $key_id" "$tmp/out"
api GET /api/v1/room ''
r1=$status
at=$url2 api GET /api/v1/room ''
check "the revoked key: 401 on both chatd at once" eval '[[ $r1 == 401 ]] && is_error 401 invalid_api_key'
"$ctl" key list >"$tmp/list"
check "a revoked key leaves the list" eval '! grep -q "^$key_id" "$tmp/list"'
"$ctl" key revoke "$key_id" >/dev/null 2>&1
again_rc=$?
"$ctl" key revoke NOTHEX >/dev/null 2>&1
malformed_rc=$?
check "revoking it again: exit 1; a malformed id: exit 2" eval '[[ $again_rc == 1 && $malformed_rc == 2 ]]'

echo "1..$n"
((failed == 0))
