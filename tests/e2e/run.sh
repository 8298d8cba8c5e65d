#!/usr/bin/env bash
# Browser tests: the web client end to end in headless Chromium (Debian's
# chromium, driven by playwright-core from npm), against the whole system
# on free loopback ports: a 6-node Redis Cluster, three chatd serving the
# page (--web-root web) and HAProxy with deploy/haproxy.cfg in front of them,
# serving HTTPS with HTTP/2 (a self-signed certificate from scripts/tls-cert,
# which Chromium is told to accept and Node to trust) and plain HTTP. The
# tests use the HTTPS address (E2E_URL); E2E_HTTP_URL is the plain one.
# Installs playwright-core with `npm ci` when tests/e2e/node_modules lacks it
# or is older than package-lock.json. Screenshots go to build/e2e-artifacts/
# (E2E_ARTIFACTS). Runs tests/e2e/*.test.mjs with Node's test runner (only
# tests/e2e/NAME.test.mjs with E2E_FILES=NAME); output is TAP. Build folder:
# $1 (default build).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
e2e=$top/tests/e2e
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"
# All clients come from one address: HAProxy's per-client limits off.
# shellcheck disable=SC2046  # one word per assignment
export $(unlimited_lb_env)

use_scratch cluster

chromium=${CHROMIUM:-/usr/bin/chromium}
if [[ ! -x $chromium ]] || ! command -v node >/dev/null; then
  echo "not ok - chromium ($chromium) and node are installed (scripts/deps.sh installs them)"
  exit 1
fi
if [[ ! -f $e2e/node_modules/playwright-core/package.json ||
      $e2e/package-lock.json -nt $e2e/node_modules/.package-lock.json ]]; then
  if ! (cd "$e2e" && npm ci --no-audit --no-fund) >"$tmp/npm.log" 2>&1; then
    echo "not ok - npm ci installs playwright-core"; sed 's/^/# /' "$tmp/npm.log" | tail -20; exit 1
  fi
fi

started=$SECONDS
export CLUSTER_PORT_BASE
CLUSTER_PORT_BASE=$(free_cluster_port_base) || { echo "not ok - free ports for the cluster"; exit 1; }
if ! "$top/scripts/cluster" up >"$tmp/cluster-up.log" 2>&1; then
  echo "not ok - the local cluster came up"; sed 's/^/# /' "$tmp/cluster-up.log"; exit 1
fi

# The per-user message limit stays at its default (10 a second), as users
# meet it: the page and the tests' API calls wait out a 429 as told. One
# address is a site administrator's (--admins), for members.test.mjs.
admin_email=site-admin@e2e.example.com
urls=() pids=()
for i in 1 2 3; do
  port=$(free_port) || exit 1
  CHATD_LIMIT_MESSAGES_USER=10/1 start_chatd "$top/$build/chatd" "$tmp/chatd$i.log" "$port" "$CLUSTER_PORT_BASE" \
    --web-root "$top/web" --redis-timeout 5000 --admins "$admin_email" || exit 1
  urls+=("http://127.0.0.1:$port") pids+=("$CHATD_PID")
done
lb=$(free_port) stats=$(free_port) tls_port=$(free_port)
pem=$("$top/scripts/tls-cert" "$tmp/tls" 2>/dev/null) || { echo "not ok - a certificate for HTTPS"; exit 1; }
CHAT_LB_TLS_BIND=127.0.0.1:$tls_port CHAT_LB_TLS_CERT=$pem \
  CHAT_LB_BIND=127.0.0.1:$lb CHAT_LB_STATS=127.0.0.1:$stats CHATD1=${urls[0]#http://} \
  CHATD2=${urls[1]#http://} CHATD3=${urls[2]#http://} \
  haproxy -db -f "$top/deploy/haproxy.cfg" >"$tmp/haproxy.log" 2>&1 &
STARTED_PIDS+=("$!")
servers_up() {
  [[ $(curl -s "http://127.0.0.1:$stats/stats;csv" | awk -F, '$1 == "chatd" && $18 == "UP"' | wc -l) -ge 3 ]]
}
if ! wait_until 30 servers_up; then
  echo "not ok - HAProxy sees 3 chatd"; tail -20 "$tmp/haproxy.log" | sed 's/^/# /'; exit 1
fi

echo "# the cluster, three chatd and HAProxy came up in $((SECONDS - started)) s"
# The certificate names 127.0.0.1 as well as localhost.
export E2E_URL="https://127.0.0.1:$tls_port" E2E_HTTP_URL="http://127.0.0.1:$lb"
export NODE_EXTRA_CA_CERTS=$tmp/tls/localhost.crt
export E2E_CHATD_URLS="${urls[*]}" E2E_CHATD_PIDS="${pids[*]}" E2E_ADMIN_EMAIL=$admin_email
export E2E_ARTIFACTS=${E2E_ARTIFACTS:-$top/build/e2e-artifacts} CHROMIUM=$chromium
mkdir -p "$E2E_ARTIFACTS"
rc=0
for file in "$e2e"/${E2E_FILES:-*}.test.mjs; do
  echo "# $(basename "$file")"
  node --test-reporter=tap "$file" || rc=1
done
if grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error' "$tmp"/chatd*.log; then
  echo "not ok - no sanitizer reports in the chatd logs"; rc=1
fi
exit $rc
