#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/deployment_doc.sh - the field engineer's guide cannot
# drift from the gateway: every ```sh block of docs/deployment.md is run
# as written, in order, as root, in a scratch root (a private mount
# namespace with throw-away overlays on /etc, /usr, /var/lib and on the
# source tree, so that nothing of this machine changes), and what it made
# is checked; blocks the test cannot run carry a reason from the doc's
# own list (```sh no-test:REASON). ```ini/```csv file=PATH blocks are
# written to PATH as the engineer's edit. Then the ```sh and ```sql
# blocks of docs/deployment-database.md run verbatim against a private
# PostgreSQL (tools/pgtmp.sh).
. "$(dirname "$0")/../lib.sh"

doc=$GW_TOP/docs/deployment.md
dbdoc=$GW_TOP/docs/deployment-database.md

# extract DOC DIR: one file per fenced block of DOC in DIR, named
# NNN.LINE.KIND (KIND: run, skip, file, none) with the block's text; for
# skip the first line is the reason, for file the path. Prints the
# problems found (unknown markers, indented shell blocks).
extract() {
	python3 - "$1" "$2" <<'PY'
import os, re, sys
doc, out = sys.argv[1], sys.argv[2]
reasons = set(re.findall(r"^\| `no-test:([a-z]+)` \|", open(os.path.join(
    os.path.dirname(doc), "deployment.md"), encoding="utf-8").read(), re.M))
reasons |= {"illustration", "citus"} if "database" in doc else set()
lines = open(doc, encoding="utf-8").read().split("\n")
k = 0
i = 0
prob = []
while i < len(lines):
    m = re.match(r"^```(\S*)\s*(.*)$", lines[i])
    if not m or not m.group(1):
        if (lines[i].startswith("    ") and i > 0 and lines[i - 1] == ""
                and re.match(r"    (sudo |apt-get|make|gwctl|gatewayd|systemctl|install|adduser|psql)", lines[i])):
            prob.append(f"line {i + 1}: an indented command block (write it as ```sh)")
        i += 1
        continue
    lang, info, start = m.group(1), m.group(2).strip(), i + 1
    j = i + 1
    while j < len(lines) and not lines[j].startswith("```"):
        j += 1
    body = "\n".join(lines[i + 1:j]) + "\n"
    k += 1
    kind, head = "none", ""
    if lang in ("sh", "bash", "console", "sql"):
        if info == "":
            kind = "run"
        elif info.startswith("no-test:") and info[8:] in reasons:
            kind, head = "skip", info[8:] + "\n"
        else:
            prob.append(f"line {start}: unknown marker '{info}'")
    elif info.startswith("file="):
        kind, head = "file", info[5:] + "\n"
    with open(os.path.join(out, f"{k:03d}.{start}.{lang}.{kind}"), "w") as f:
        f.write(head + body)
    i = j + 1
print("; ".join(prob))
PY
}

if [ "$(id -u)" != 0 ]; then
	not_ok "runs as root, as CI does (adduser, install -o, mounts)"
	finish
fi
if ! unshare -m true 2>/dev/null; then
	not_ok "a private mount namespace (unshare -m)"
	finish
fi

# --- docs/deployment.md in a scratch root ----------------------------------
mkdir -p "$GW_TMP/blocks"
probs=$(extract "$doc" "$GW_TMP/blocks")
check_eq "$probs" "" "deployment.md: every shell block is fenced and marked as run or not, with a known reason"
nrun=$(ls "$GW_TMP/blocks" | grep -c '\.sh\.run$')
nskip=$(ls "$GW_TMP/blocks" | grep -c '\.skip$')
echo "# deployment.md: $nrun blocks to run, $nskip not run ($(head -qn1 "$GW_TMP"/blocks/*.skip | sort | uniq -c | tr -s ' \n' ' '))"
[ "$nrun" -ge 3 ] && ok "deployment.md has blocks the test runs ($nrun)" ||
	not_ok "deployment.md has blocks the test runs ($nrun)"

# What the engineer brings: the gateway's key and certificate, the CA's.
mkdir -p "$GW_TMP/bring"
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=gw_sub042 -days 2 \
	-keyout "$GW_TMP/bring/gw.key" -out "$GW_TMP/bring/gw.crt" >/dev/null 2>&1 &&
	cp "$GW_TMP/bring/gw.crt" "$GW_TMP/bring/ca.crt" || not_ok "openssl makes a key and certificate"

# This machine before: the scratch root must leave it as it was.
host_state() {
	getent passwd gatewayd
	ls -ld /etc/gatewayd /usr/bin/gatewayd /var/lib/gatewayd "$GW_TOP/gw.key" 2>&1
	git -C "$GW_TOP" status --porcelain 2>&1
}
host_before=$(host_state)

cat >"$GW_TMP/scratch.sh" <<'SH'
# Runs inside the private mount namespace: overlays, then the blocks.
set -u
tmp=$1 top=$2
for d in /etc /usr /var/lib "$top"; do
	n=$(echo "$d" | tr / _)
	mkdir -p "$tmp/ov/$n/u" "$tmp/ov/$n/w"
	mount -t overlay overlay -o "lowerdir=$d,upperdir=$tmp/ov/$n/u,workdir=$tmp/ov/$n/w" "$d" ||
		{ echo "not ok - overlay on $d"; exit 1; }
done
cd "$top" || exit 1
cp "$tmp"/bring/* . # in the overlay of the source tree
# make is run as the guide says, not as the sub-make of a make check
unset MAKEFLAGS MFLAGS MAKELEVEL
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
for b in "$tmp"/blocks/*; do
	name=${b##*/}
	line=$(echo "$name" | cut -d. -f2)
	case $name in
	*.sh.run|*.bash.run)
		if bash -e "$b" >"$b.out" 2>&1; then
			echo "ok - deployment.md:$line: the block runs"
		else
			echo "not ok - deployment.md:$line: the block runs (exit $?: $(tail -5 "$b.out" | tr '\n' '|'))"
		fi ;;
	*.file)
		path=$(head -1 "$b")
		if tail -n +2 "$b" >"$path"; then
			echo "ok - deployment.md:$line: $path written"
		else
			echo "not ok - deployment.md:$line: $path written"
		fi ;;
	esac
done
# What the guide's commands made.
echo "gatewayd=$(/usr/bin/gatewayd --version 2>&1)"
echo "built=$("$top/build/gatewayd" --version 2>&1)"
echo "gwctl=$(command -v gwctl)"
echo "user=$(id -nG gatewayd 2>&1 | tr ' ' '\n' | grep -xE 'gatewayd|dialout' | sort | tr '\n' ' ')"
echo "home=$(getent passwd gatewayd | cut -d: -f6)"
echo "etc=$(stat -c '%a %U %G' /etc/gatewayd)"
echo "ini=$(stat -c '%a %U %G' /etc/gatewayd/gateway.ini /etc/gatewayd/meters.csv | tr '\n' ';')"
echo "key=$(stat -c '%a %U %G' /etc/gatewayd/gw.key)"
echo "crt=$(stat -c '%a %U %G' /etc/gatewayd/gw.crt /etc/gatewayd/ca.crt | tr '\n' ';')"
echo "profiles=$(ls /usr/share/gatewayd/profiles | grep -c '\.prof$')"
echo "unit=$(grep -c '^ExecStart=/usr/bin/gatewayd -c /etc/gatewayd/gateway.ini$' /lib/systemd/system/gatewayd.service)"
SH
unshare -m --propagation private bash "$GW_TMP/scratch.sh" "$GW_TMP" "$GW_TOP" >"$GW_TMP/scratch.out" 2>&1
grep -E '^(not )?ok - ' "$GW_TMP/scratch.out" | while IFS= read -r l; do echo "$l"; done
grep -q '^not ok - ' "$GW_TMP/scratch.out" && _gw_failed=1
grep -qE '^(not )?ok - ' "$GW_TMP/scratch.out" || not_ok "the scratch root ran ($(tail -5 "$GW_TMP/scratch.out"))"
val() { sed -n "s/^$1=//p" "$GW_TMP/scratch.out"; }
check_eq "$(val gatewayd)" "$(val built)" "make install put the gatewayd that make built in /usr/bin"
check_eq "$(val gwctl)" "/usr/bin/gwctl" "gwctl is on the PATH"
check_eq "$(val user)" "dialout gatewayd " "adduser made the gatewayd system user, in dialout"
check_eq "$(val home)" "/var/lib/gatewayd" "its home is /var/lib/gatewayd"
check_eq "$(val etc)" "750 root gatewayd" "/etc/gatewayd is root:gatewayd 0750"
check_eq "$(val ini)" "640 root gatewayd;640 root gatewayd;" "gateway.ini and meters.csv are root:gatewayd 0640"
check_eq "$(val key)" "600 gatewayd gatewayd" "the TLS key is the service user's, 0600"
check_eq "$(val crt)" "644 root gatewayd;644 root gatewayd;" "the certificates are readable"
check_eq "$(val profiles)" "$(ls "$GW_TOP"/profiles/*.prof | wc -l)" "the profiles are in /usr/share/gatewayd/profiles"
check_eq "$(val unit)" 1 "the unit starts /usr/bin/gatewayd on /etc/gatewayd/gateway.ini"
check_eq "$(host_state)" "$host_before" \
	"this machine is as it was: no user, /etc, /usr, /var/lib or source tree changed"
check_out=$(cat "$GW_TMP"/blocks/*.run.out 2>/dev/null | grep 'gateway.ini: ok:')
check_eq "$check_out" "/etc/gatewayd/gateway.ini: ok: gateway sub-042, 2 buses, 3 meters, 2 profiles" \
	"gatewayd --check accepts the guide's configuration"

# --- docs/deployment-database.md against a private PostgreSQL --------------
start_pg pg
mkdir -p "$GW_TMP/dbblocks"
probs=$(extract "$dbdoc" "$GW_TMP/dbblocks")
check_eq "$probs" "" "deployment-database.md: every block is marked as run or not, with a known reason"
for b in "$GW_TMP"/dbblocks/*.run; do
	name=${b##*/}
	line=$(echo "$name" | cut -d. -f2)
	case $name in
	*.sql.run) PATH=$GW_BUILD:$PATH psql -X -v ON_ERROR_STOP=1 -f "$b" >"$b.out" 2>&1 ;;
	*) PATH=$GW_BUILD:$PATH bash -e "$b" >"$b.out" 2>&1 ;;
	esac
	rc=$?
	[ $rc -eq 0 ] && ok "deployment-database.md:$line: the block runs" ||
		not_ok "deployment-database.md:$line: the block runs (exit $rc: $(tail -5 "$b.out" | tr '\n' '|'))"
done
check_eq "$(psql -XAtc "SELECT gateway_id || ' ' || upload_role || ' ' || timezone FROM gateways")" \
	"sub-042 gw_sub042 Asia/Ho_Chi_Minh" "the guide registered sub-042, the id of deployment.md's gateway.ini"
check_eq "$(psql -XAtc "SELECT meter_id || ' ' || gateway_id FROM meter_gateways")" \
	"M-1001 sub-042" "and assigned its meter"
ini_id=$(sed -n 's/^id = //p' "$GW_TMP"/blocks/*.file | head -1)
check_eq "$ini_id" "$(psql -XAtc "SELECT gateway_id FROM gateways")" \
	"the gateway's configured id is the one registered, letter for letter"
finish
