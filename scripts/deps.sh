#!/usr/bin/env bash
# Installs the Debian 12 packages clusterchat needs to build, run and test,
# only those that are missing. As root it runs apt-get; otherwise it prints
# the command to run.
set -euo pipefail

packages=(
  gcc clang make pkg-config curl
  libevent-dev libhiredis-dev libsodium-dev libjansson-dev libcurl4-openssl-dev
  libcjose-dev libssl-dev libwslay-dev nettle-dev libhttp-parser-dev
  libcmocka-dev redis-server redis-tools wrk haproxy
  keepalived iproute2 openssl
  chromium
  libclang-rt-14-dev clang-tidy cppcheck valgrind
  nginx libnginx-mod-nchan gnuplot-nox jq
)
# Node.js and npm for the browser tests (tests/e2e), from Debian only when npm
# is missing: Debian's npm package conflicts with NodeSource's nodejs.
command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "Missing packages: ${missing[*]}" >&2
  echo "Install them with: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "Installing: ${missing[*]}"
# Debian starts a package's service on install (nginx on port 80, redis-server,
# HAProxy); the tests and benchmarks run their own, so none is started.
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
