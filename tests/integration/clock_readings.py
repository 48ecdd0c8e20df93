#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tests/integration/clock_readings.py - where every reading a gateway ever
journaled ended up, for the clock tests (clock_*.sh).

    clock_readings.py GWCTL SPOOL ZONE CUT_MS [LABEL]

Reads every journal segment the spool holds or has set aside
(journal/*.gwj, quarantine/*.gwj) with `gwctl spool journal`, and every
batch in ready/ and done/ with `gwctl spool dump --intervals`, and checks:
  - every reading stamped at or before CUT_MS (by a clock that was right)
    and not set aside as clock_back is in a batch of the local day of its
    time, with its value, or still in the journal of the open days;
  - no reading stamped after CUT_MS (by a clock that was ahead) and no
    clock_back reading is in any batch;
  - no reading is in two batches of different days.
Prints one "ok - ..." or "not ok - ..." line per check.
"""
import collections
import datetime as dt
import glob
import os
import subprocess
import sys
from zoneinfo import ZoneInfo

gwctl, spool, zone, cut = sys.argv[1], sys.argv[2], ZoneInfo(sys.argv[3]), int(sys.argv[4])
label = sys.argv[5] if len(sys.argv) > 5 else ""


def day_of(ms):
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc).astimezone(zone).date().isoformat()


def ms_of(iso):
    t = dt.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)
    return int(round(t.timestamp() * 1000))


def journal(files):
    out = []
    if not files:
        return out
    text = subprocess.run([gwctl, "spool", "journal", *files], capture_output=True,
                          text=True).stdout
    for line in text.splitlines():
        f = line.split(",")
        if f[0] == "reading":
            out.append((f[2], f[3], int(f[4]), f[5], f[7] if len(f) > 7 else "ok"))
    return out


ever = journal(sorted(glob.glob(spool + "/journal/*.gwj")) +
               sorted(glob.glob(spool + "/quarantine/*.gwj")))
open_now = {(m, o, t) for (m, o, t, v, s) in journal(sorted(glob.glob(spool + "/journal/*.gwj")))
            if s != "clock_back"}

batched = collections.defaultdict(set)   # (meter, obis, ts) -> {day}
values = {}
for sub in ("ready", "done"):
    for path in sorted(glob.glob(f"{spool}/{sub}/*.gwb")):
        if os.path.getsize(path) == 0:
            continue
        day = os.path.basename(path).rsplit("_", 2)[1]
        text = subprocess.run([gwctl, "spool", "dump", "--intervals", path],
                              capture_output=True, text=True).stdout
        for line in text.splitlines()[1:]:
            m, o, t, v, u = line.split(",")
            k = (m, o, ms_of(t))
            batched[k].add(day)
            values[k] = v

good = placed = still_open = 0
wrong = []
false = in_batch_false = back = in_batch_back = 0
seen = set()
for (m, o, t, v, s) in ever:
    k = (m, o, t)
    if k in seen:
        continue
    seen.add(k)
    if s == "clock_back":
        back += 1
        if k in batched:
            in_batch_back += 1
        continue
    if t > cut:
        false += 1
        if k in batched:
            in_batch_false += 1
        continue
    good += 1
    if k in batched:
        if batched[k] == {day_of(t)} and values[k] == v:
            placed += 1
        else:
            wrong.append(f"{m} {o} {t}: in {sorted(batched[k])} value {values[k]}, journaled {v}")
    elif k in open_now:
        still_open += 1
    else:
        wrong.append(f"{m} {o} {t} ({day_of(t)}): in no batch and not in the journal")

pre = f"{label}: " if label else ""
if good and not wrong:
    print(f"ok - {pre}all {good} readings stamped by a right clock are in the batch of "
          f"their day with their value ({placed}) or in the journal of the open days "
          f"({still_open})")
else:
    print(f"not ok - {pre}{len(wrong)} of {good} readings stamped by a right clock are "
          f"not in their day")
    for w in wrong[:10]:
        print(f"#   {w}")
if in_batch_false:
    print(f"not ok - {pre}{in_batch_false} of {false} readings stamped by the clock that "
          f"was ahead are in a batch")
else:
    print(f"ok - {pre}none of the {false} readings stamped by the clock that was ahead is "
          f"in a batch")
if in_batch_back:
    print(f"not ok - {pre}{in_batch_back} of {back} clock_back readings are in a batch")
else:
    print(f"ok - {pre}none of the {back} readings set aside as clock_back is in a batch")
multi = sum(1 for d in batched.values() if len(d) > 1)
print(("ok" if multi == 0 else "not ok") +
      f" - {pre}no reading is in batches of two days ({multi})")
print(f"# {pre}counts: right={good} ahead={false} clock_back={back}")
