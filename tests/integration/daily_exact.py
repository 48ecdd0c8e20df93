#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# daily_exact.py DAILY EXPECTED METER_FORMAT MIN_EXACT
# Compares the measured daily import (1.8.0) and export (2.8.0) values of
# DAILY (gwctl spool dump rows, no header) with metersim --print-expected
# lines prefixed by their day ("DAY<TAB>UNIT IMPORT EXPORT"); a unit's
# meter id is METER_FORMAT % unit. Prints one TAP line: ok when none is
# wrong and at least MIN_EXACT are exact. Exits 3 when none is wrong but
# fewer are exact (fewer values were read near enough to their midnights
# to be measured: the machine was slower than the clock), else 0.
import sys

daily, expected, fmt, least = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
exp = {}
for line in open(expected):
    d, u, i, e = line.split()[:4]
    m = fmt % int(u)
    exp[(d, m, "1.8.0")], exp[(d, m, "2.8.0")] = int(i), int(e)
exact = bad = 0
for line in open(daily):
    f = line.rstrip("\n").split(",")
    k = (f[1], f[3], f[4])
    if f[9] != "measured" or k not in exp:
        continue
    if int(f[7]) == exp[k]:
        exact += 1
    else:
        bad += 1
        print(f"# {k}: {f[7]}, expected {exp[k]}")
print(("ok" if bad == 0 and exact >= least else "not ok") +
      f" - every measured daily value is the simulator's ({exact} exact, {bad} wrong)")
sys.exit(3 if bad == 0 and exact < least else 0)
