#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/modbus_pymodbus.sh - the Modbus driver against a peer
# nobody here wrote: a pymodbus 3.0.0 slave (Debian's python3-pymodbus)
# holding the Eastron SDM630 register layout (every register of
# profiles/eastron_sdm630.prof as an IEEE754 float32, input registers, ABCD)
# over Modbus TCP and over Modbus RTU on a pty pair (socat). `gwctl read
# --tsv` must print exactly the values the slave holds, rounded as
# docs/profiles.md says (energy to the Wh, other quantities to 3 decimals,
# half away from zero), computed independently here in Python.
. "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3 # Debian's, which has python3-pymodbus
PROF=$GW_TOP/profiles/eastron_sdm630.prof

if ! $PY -c 'import pymodbus, serial' 2>/dev/null; then
	not_ok "python3-pymodbus and python3-serial are installed"
	finish
fi

cat >"$GW_TMP/slave.py" <<'PY'
# A pymodbus slave (unit 7) with the SDM630 layout; prints nothing, writes
# the expected gwctl read --tsv lines to EXPECTED.
import configparser, decimal, struct, sys
from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,
                                ModbusSlaveContext)

mode, where, prof, expected = sys.argv[1:5]
cp = configparser.ConfigParser(inline_comment_prefixes=(";",))
cp.read(prof)
words = [0] * 0x400
lines = []
k = 0
for sec in cp.sections():
    if not sec.startswith("register "):
        continue
    obis = sec.split()[1]
    r = cp[sec]
    assert r["function"] == "4" and r["type"] == "float32"
    addr = int(r["address"], 0)
    unit = r["unit"]
    k += 1
    # distinct values, none of them a rounding tie
    v = {"1.8.0": 12345.678, "2.8.0": 321.5, "32.7.0": 230.1,
         "14.7.0": 49.98}.get(obis, 1.25 + 3.37 * k)
    raw = struct.pack(">f", v)
    f = struct.unpack(">f", raw)[0]  # what the float32 really holds
    words[addr], words[addr + 1] = struct.unpack(">HH", raw)
    base, exp = unit, 0
    if unit[:1] == "k":
        base, exp = unit[1:], 3
    d = decimal.Decimal(f) * (decimal.Decimal(10) ** exp)
    if base in ("Wh", "varh", "VAh"):
        q = d.quantize(decimal.Decimal(1), rounding=decimal.ROUND_HALF_UP)
        lines.append("%s\t%s\t%s" % (obis, q, base))
    else:
        q = d.quantize(decimal.Decimal("0.001"), rounding=decimal.ROUND_HALF_UP)
        lines.append("%s\t%s\t%s" % (obis, q, "" if base == "-" else base))
with open(expected, "w") as fh:
    fh.write("\n".join(sorted(lines)) + "\n")

block = ModbusSequentialDataBlock(0, words)
slave = ModbusSlaveContext(ir=block, hr=ModbusSequentialDataBlock(0, [0] * 16),
                           zero_mode=True)
context = ModbusServerContext(slaves={7: slave}, single=False)
if mode == "tcp":
    from pymodbus.server import StartTcpServer
    StartTcpServer(context=context, address=("127.0.0.1", int(where)))
else:
    from pymodbus.server import StartSerialServer
    from pymodbus.transaction import ModbusRtuFramer
    StartSerialServer(context=context, framer=ModbusRtuFramer, port=where,
                      baudrate=19200, bytesize=8, parity="N", stopbits=1)
PY

# read_or_dead NAME: true once the slave answers, or once it has died.
read_or_dead() {
	! pid_alive "$slave" ||
		"$GW_BUILD/gwctl" read -c "$GW_TMP/$1.ini" sdm --tsv >/dev/null 2>&1
}

# run_case NAME BUSBLOCK: reads meter "sdm" (unit 7) with gwctl read --tsv
# until the slave answers, and compares with the slave's values.
run_case() {
	local name=$1
	cat >"$GW_TMP/$name.ini" <<EOF
[gateway]
id = it-pymodbus
timezone = UTC
spool_dir = $GW_TMP/spool
profiles_dir = $GW_TOP/profiles

$2
timeout_ms = 1000

[meter sdm]
bus = line
unit = 7
profile = eastron_sdm630
EOF
	if wait_for 15 read_or_dead "$name" && pid_alive "$slave"; then
		ok "$name: gwctl read gets an answer from the pymodbus slave"
	else
		not_ok "$name: gwctl read gets an answer from the pymodbus slave"
		sed 's/^/#   /' "$GW_TMP/$name-slave.log" | tail -10
		return
	fi
	"$GW_BUILD/gwctl" read -c "$GW_TMP/$name.ini" sdm --tsv | sort >"$GW_TMP/$name.got"
	check_eq "$(wc -l <"$GW_TMP/$name.got")" 26 "$name: all 26 SDM630 registers read"
	if diff "$GW_TMP/$name.expected" "$GW_TMP/$name.got" >"$GW_TMP/$name.diff"; then
		ok "$name: every value is exactly what the slave holds (float32, rounded once)"
	else
		not_ok "$name: values differ from the slave's"
		sed 's/^/#   /' "$GW_TMP/$name.diff" | head -20
	fi
	check_eq "$(awk -F'\t' '$1 == "1.8.0" { print $2 " " $3 }' "$GW_TMP/$name.got")" \
		"12345678 Wh" "$name: 1.8.0 float32 12345.678 kWh -> 12345678 Wh"
	"$GW_BUILD/gwctl" read -c "$GW_TMP/$name.ini" sdm >"$GW_TMP/$name.table"
	check_eq "$(awk '$1 == "32.7.0" { print $2, $3 }' "$GW_TMP/$name.table")" "230.100 V" \
		"$name: the table view shows 32.7.0 with its unit"
}

# ---- TCP ----------------------------------------------------------------
port=$(free_port)
$PY "$GW_TMP/slave.py" tcp "$port" "$PROF" "$GW_TMP/tcp.expected" \
	>"$GW_TMP/tcp-slave.log" 2>&1 &
slave=$!
track_pid $slave
run_case tcp "[bus line]
type = modbus-tcp
host = 127.0.0.1
port = $port"

# ---- RTU on a pty pair ----------------------------------------------------
if command -v socat >/dev/null; then
	socat pty,raw,echo=0,link="$GW_TMP/slave" pty,raw,echo=0,link="$GW_TMP/gw" \
		2>"$GW_TMP/socat.log" &
	track_pid $!
	wait_for 10 test -e "$GW_TMP/gw"
	$PY "$GW_TMP/slave.py" rtu "$GW_TMP/slave" "$PROF" "$GW_TMP/rtu.expected" \
		>"$GW_TMP/rtu-slave.log" 2>&1 &
	slave=$!
	track_pid $slave
	run_case rtu "[bus line]
type = modbus-rtu
device = $GW_TMP/gw
baud = 19200
parity = none"
	"$GW_BUILD/gwctl" scan -c "$GW_TMP/rtu.ini" line --from 5 --to 9 --timeout-ms 300 \
		>"$GW_TMP/scan.out" 2>&1
	check_eq "$?/$(grep -v '^#' "$GW_TMP/scan.out" | cut -f1 | tr '\n' ' ')" "0/7 " \
		"gwctl scan: of units 5..9 on the RTU line only the pymodbus slave (7) answers"
else
	not_ok "socat is installed"
fi
finish
