#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tools/deps.sh - installs the Debian 12 packages the gateway, its tests and
# its demo need, and only those that are missing. Runs apt-get as root, or
# through sudo when not root. Does nothing when everything is present.
set -euo pipefail

pkgs=(
	gcc make pkg-config
	libmodbus-dev libserialport-dev libpq-dev zlib1g-dev libcmocka-dev
	libmicrohttpd-dev libssl-dev curl
	postgresql postgresql-client
	socat mbpoll python3 python3-pymodbus python3-serial python3-serial-asyncio faketime tzdata procps
	clang libclang-rt-14-dev
	scdoc dpkg-dev lintian
	# promtool, which tests/integration/metrics.sh checks the metrics with
	prometheus
	systemd
	# headless Chromium, which tests/integration/portal_page.sh renders the customer page with
	chromium
	# the HTTP load of the portal's benchmark (tests/bench/portal_api.sh;
	# its baseline, pgbench, comes with postgresql-client)
	wrk
)

missing=()
for p in "${pkgs[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*"install ok installed"*) ;;
	*) missing+=("$p") ;;
	esac
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
	sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
	sudo=(sudo -n)
else
	echo "deps: missing packages: ${missing[*]}" >&2
	echo "deps: run as root or with sudo, or: apt-get install ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q >&2
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
