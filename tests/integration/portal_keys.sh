#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/portal_keys.sh - portald's keys against a real
# PostgreSQL: ES256 tokens signed by Python's cryptography with a P-256 key
# made by openssl; the algorithm decided by the configured keys (an ES256
# token refused where only HS256 is configured and the other way round,
# the HS256 token whose secret is the public key's PEM text, alg none,
# ES384, a P-384 key, a DER signature, another P-256 key; the high s of a
# good signature accepted, as docs/portal.md says), all the one 401; the
# key files refused at start (a PEM in key_file, an RSA or P-384 public
# key, a private key, neither key); the customer page's handoff token is
# good once (a jti required; a full table of used tokens refuses new
# handoffs until tokens expire, forgetting none).
. "$(dirname "$0")/../lib.sh"

portald=$GW_BUILD/portald
tok() { /usr/bin/python3 "$GW_TOP/tests/integration/portal_token.py" "$@"; }
start_pg pg
psql -Xq -v ON_ERROR_STOP=1 >"$GW_TMP/roles.out" 2>&1 <<'EOF2' || not_ok "create the test role"
CREATE ROLE portal_web LOGIN IN ROLE customer_portal;
EOF2

# Keys: HS256 secret, an ES256 key pair, another P-256 pair, P-384, RSA.
key=$GW_TMP/portal.key
head -c 48 /dev/urandom | base64 >"$key"
chmod 600 "$key"
for k in es other; do
	openssl ecparam -name prime256v1 -genkey -noout -out "$GW_TMP/$k.pem" 2>/dev/null
	openssl ec -in "$GW_TMP/$k.pem" -pubout -out "$GW_TMP/$k.pub" 2>/dev/null
done
openssl ecparam -name secp384r1 -genkey -noout -out "$GW_TMP/p384.pem" 2>/dev/null
openssl ec -in "$GW_TMP/p384.pem" -pubout -out "$GW_TMP/p384.pub" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$GW_TMP/rsa.pem" 2>/dev/null
openssl pkey -in "$GW_TMP/rsa.pem" -pubout -out "$GW_TMP/rsa.pub" 2>/dev/null
[ -s "$GW_TMP/es.pub" ] && [ -s "$GW_TMP/p384.pub" ] && [ -s "$GW_TMP/rsa.pub" ] || not_ok "openssl makes the test keys"

# portal_ini PORT KEY-LINES...
portal_ini() {
	local port=$1
	shift
	printf '[portal]\nlisten = 127.0.0.1\nport = %s\nthreads = 2\ncookie_secure = off\n' "$port"
	printf '%s\n' "$@"
	printf '\n[database]\nconninfo = host=%s port=%s dbname=meters user=portal_web\n' "$PGHOST" "$PGPORT"
}
# start NAME KEY-LINES...: portald on a port of its own; $base, $log
start() {
	local name=$1 port
	shift
	port=$(free_port)
	portal_ini "$port" "$@" >"$GW_TMP/$name.ini"
	log=$GW_TMP/$name.log
	"$portald" -c "$GW_TMP/$name.ini" 2>"$log" &
	track_pid $!
	base=http://127.0.0.1:$port
	if wait_for 20 curl -sf "$base/v1/health"; then
		ok "portald ($name) serves"
	else
		not_ok "portald ($name) serves ($(tail -5 "$log"))"
		exit 1
	fi
}
url="/v1/accounts/C-1/daily?from=2026-03-01&to=2026-03-02"
# served DESC TOKEN: 200 for C-1
served() {
	local code
	code=$(curl -s -m 30 -o "$GW_TMP/body" -w '%{http_code}' -H "Authorization: Bearer $2" "$base$url")
	if [ "$code" = 200 ] && grep -q '"account":"C-1"' "$GW_TMP/body"; then
		ok "served: $1"
	else
		not_ok "served: $1 (got $code: $(head -c 200 "$GW_TMP/body"))"
	fi
}
# refused DESC TOKEN: the one 401, and the reason in the log
want_401='{"error":"unauthorized"}'
refused() {
	local code
	code=$(curl -s -m 30 -o "$GW_TMP/body" -D "$GW_TMP/headers" -w '%{http_code}' -H "Authorization: Bearer $2" "$base$url")
	if [ "$code" = 401 ] && [ "$(cat "$GW_TMP/body")" = "$want_401" ] &&
		grep -qi '^WWW-Authenticate: Bearer' "$GW_TMP/headers"; then
		ok "refused with the one 401: $1"
	else
		not_ok "refused with the one 401: $1 (got $code: $(head -c 200 "$GW_TMP/body"))"
	fi
}
es() { tok "$key" C-1 es256="$GW_TMP/es.pem" "$@"; }

# --- ES256 only -------------------------------------------------------------------
start es256 "public_key_file = $GW_TMP/es.pub"
served "an ES256 token signed with the configured key's private key" "$(es)"
served "the same with s replaced by n - s (high s: accepted, docs/portal.md)" "$(es high_s=1)"
served "an ES256 token with a kid (ignored)" "$(tok "$key" C-1 es256="$GW_TMP/es.pem" header='{"alg":"ES256","kid":"k-2026"}')"
refused "an HS256 token where only an ES256 key is configured" "$(tok "$key" C-1)"
refused "HS256 signed with the public key's PEM text (key confusion)" "$(tok "$key" C-1 key="$GW_TMP/es.pub")"
refused "alg none" "$(es alg=none sig=)"
refused "ES256 signed with another P-256 key" "$(tok "$key" C-1 es256="$GW_TMP/other.pem")"
refused "a P-384 key's signature under alg ES256 (96 bytes)" "$(tok "$key" C-1 es256="$GW_TMP/p384.pem" alg=ES256)"
refused "alg ES384 signed with the P-384 key" "$(tok "$key" C-1 es256="$GW_TMP/p384.pem" alg=ES384)"
refused "a DER signature instead of r || s" "$(es der=1)"
refused "a signature of 63 bytes" "$(es | sed 's/\.[^.]*$//').$(es | sed 's/.*\.//' | cut -c1-84)"
refused "an all-zero signature" "$(es sig="$(head -c 64 /dev/zero | base64 -w0 | tr '+/' '-_' | tr -d '=')")"
refused "an expired ES256 token" "$(es exp=-120)"
refused "an ES256 token for another audience" "$(es aud='"another"')"
grep -q "refused: algorithm not HS256 or ES256, or its key not configured" "$log" && ok "the log names a refused algorithm" ||
	not_ok "the log names a refused algorithm"
grep -q "refused: bad signature" "$log" && ok "the log names a bad signature" || not_ok "the log names a bad signature"

# --- HS256 only: an ES256 token is refused ------------------------------------------
start hs256 "key_file = $key"
served "an HS256 token" "$(tok "$key" C-1)"
refused "an ES256 token where only an HS256 key is configured" "$(es)"

# --- both: each alg by its own key ---------------------------------------------------
start both "key_file = $key" "public_key_file = $GW_TMP/es.pub"
served "HS256 with both keys configured" "$(tok "$key" C-1)"
served "ES256 with both keys configured" "$(es)"
refused "HS256 under the public key's PEM text, both keys configured" "$(tok "$key" C-1 key="$GW_TMP/es.pub")"

# --- the handoff: each token once ------------------------------------------------------
# A table of 64 handoffs (the least), leeway 0: the 64 fill it, the 65th
# waits (503, not taken) until the first ones expire, then is taken.
start handoff "key_file = $key" "public_key_file = $GW_TMP/es.pub" "handoff_table = 64" "leeway = 0" \
	"rate_burst = 200" "rate_per_minute = 6000"
handoff() { # TOKEN: the handoff's status in $code, its Set-Cookie in $sc
	code=$(curl -s -m 30 -o "$GW_TMP/body" -D "$GW_TMP/headers" -w '%{http_code}' "$base/session?token=$1")
	sc=$(tr -d '\r' <"$GW_TMP/headers" | grep -i '^Set-Cookie:' | cut -d' ' -f2-)
}
h1=$(tok "$key" C-1)
handoff "$h1"
check_eq "$code ${sc%%=*}" "303 portal_session" "a handoff token is taken the first time"
c_h1=${sc%%;*}
handoff "$h1"
check_eq "$code/$sc" "401/" "the same handoff token a second time: the 401 page, no cookie"
h2=$(es jti='"e-1"')
handoff "$h2"
check_eq "$code" 303 "an ES256 handoff token is taken"
handoff "$h2"
check_eq "$code" 401 "... and only once"
handoff "$(tok "$key" C-2 jti='"e-1"')"
check_eq "$code" 303 "another account's token with the same jti is another handoff"
handoff "$(tok "$key" C-1 jti=-)"
check_eq "$code" 401 "a handoff token without a jti is refused"
handoff "$(tok "$key" C-1 jti=42)"
check_eq "$code" 401 "a handoff token whose jti is not a string is refused"
handoff "$(tok "$key" C-1 jti="\"$(head -c 129 /dev/zero | tr '\0' j)\"")"
check_eq "$code" 401 "a handoff token with a jti of 129 bytes is refused"
code=$(curl -s -m 30 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $h1" "$base$url")
check_eq "$code" 200 "the API takes a handed-off token as often as it comes (jti is the handoff's)"
code=$(curl -s -m 30 -o /dev/null -o /dev/null -w '%{http_code}' -H "Cookie: $c_h1" "$base/" "$base/")
check_eq "$code" 200200 "the page takes the cookie of a handed-off token again and again"
grep -q "refused: handoff token of account C-1 used again" "$log" && ok "a token used again is logged" ||
	not_ok "a token used again is logged"
grep -q "refused: a handoff token needs a jti" "$log" && ok "a token without a jti is logged" ||
	not_ok "a token without a jti is logged"
# fill the table: 3 taken so far, 61 more with tokens of 30 s, made at
# once and handed off by one curl (one process per token took longer
# than that on a loaded machine)
tok "$key" F count=61 exp=+30 | sed "s|^\(.*\)$|url = $base/session?token=\1\noutput = /dev/null|" >"$GW_TMP/fill.curl"
check_eq "$(curl -s -m 60 -K "$GW_TMP/fill.curl" -w '%{http_code}\n' | sort | uniq -c | awk '{ print $1 "x" $2 }' | tr '\n' ' ')" \
	"61x303 " "61 more handoffs fill the 64 slots"
last=$(tok "$key" C-9 exp=+600)
handoff "$last"
if [ "$code" = 503 ] && [ -z "$sc" ] && grep -qi '^Retry-After: 5' "$GW_TMP/headers"; then
	ok "a full table refuses the next handoff: 503, Retry-After, no cookie"
else
	not_ok "a full table refuses the next handoff: 503, Retry-After, no cookie (got $code, $sc)"
fi
grep -q "handoff of account C-9 refused: the table of used handoff tokens is full (handoff_table = 64" "$log" &&
	ok "the full table is logged, naming handoff_table" || not_ok "the full table is logged, naming handoff_table"
handoff "$h1"
check_eq "$code" 401 "a full table has forgotten no token: the first is still refused"
# the first three tokens (exp 600 s) stay; the 61 of 40 s expire, and the
# refused token was not taken: the same URL is handed off once there is room
for i in $(seq 1 90); do
	handoff "$last"
	[ "$code" = 503 ] || break
	sleep 1
done
check_eq "$code" 303 "once tokens expire there is room: the token refused for a full table is taken"
handoff "$last"
check_eq "$code" 401 "... and only once"

# --- key files refused at start ------------------------------------------------------
# config_error DESC PATTERN KEY-LINES...
config_error() {
	local desc=$1 pat=$2
	shift 2
	portal_ini 8470 "$@" >"$GW_TMP/bad.ini"
	if "$portald" -c "$GW_TMP/bad.ini" --check >"$GW_TMP/check.out" 2>&1; then
		not_ok "$desc (accepted)"
	elif grep -qE "$pat" "$GW_TMP/check.out"; then
		ok "$desc"
	else
		not_ok "$desc ($(head -c 300 "$GW_TMP/check.out"))"
	fi
}
cp "$GW_TMP/es.pub" "$GW_TMP/pem.key"
chmod 600 "$GW_TMP/pem.key"
config_error "a public key's PEM as the HS256 key_file" "pem.key: the HS256 key file holds a PEM key" "key_file = $GW_TMP/pem.key"
config_error "a P-384 public key" "p384.pub: .*another curve than P-256" "public_key_file = $GW_TMP/p384.pub"
config_error "an RSA public key" "rsa.pub: not an EC key" "public_key_file = $GW_TMP/rsa.pub"
config_error "a private key as public_key_file" "es.pem: not a public key in PEM" "public_key_file = $GW_TMP/es.pem"
config_error "the HS256 secret as public_key_file" "portal.key: not a public key in PEM" "public_key_file = $key"
config_error "a public key file that is not there" "cannot open the public key file" "public_key_file = $GW_TMP/none.pub"
config_error "neither key" "key_file is missing" ""
portal_ini 8470 "public_key_file = $GW_TMP/es.pub" >"$GW_TMP/ok.ini"
check_eq "$("$portald" -c "$GW_TMP/ok.ini" --check 2>&1)" "$GW_TMP/ok.ini: ok" "--check accepts an ES256 public key alone"
finish
