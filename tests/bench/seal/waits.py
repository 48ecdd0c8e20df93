#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# tests/bench/seal/waits.py - what gatewayd's main thread waits on during
# its seals, from `perf script` of a run recorded by waits.sh
# (sched_switch into and out of the main thread with kernel stacks, its
# syscalls) and gatewayd's log (the lines "spool: seal of N batch took X
# ms", whose steps split each seal). Run by waits.sh; neither is run by
# tests/bench/run.sh (it runs tests/bench/*.sh only).
#
#   waits.py PERF_SCRIPT_OUTPUT GW_LOG MAIN_TID
#
# A seal is found in the recording as the two getrusage calls of the main
# thread that bound it (gw_daemon_seal: thread_use at the start, seal_took
# at the end), paired with the log line whose total they match. For each
# step of each seal it prints: the waits (switches out of the main thread
# in a state other than running: voluntary), their count and the time off
# the CPU until the thread ran again, by what it waited in (the syscall in
# progress, or a page fault, and the kernel functions above the
# scheduler); the preemptions (switched out while running), their time
# off the CPU and what ran instead (by command name: gatewayd is one of
# its own threads); the syscalls, their count and time.
import re
import sys
from collections import defaultdict

UNISTD = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"
GETRUSAGE = 98
STEPS = ["to the batch", "written", "core after it", "state", "edges",
         "journal", "bound", "status"]
SCHED = re.compile(r"^(__schedule|schedule|schedule_\w+|io_schedule\w*|"
                   r"preempt_schedule\w*|__cond_resched|_cond_resched|"
                   r"__traceiter\w*|__bpf_trace\w*|perf_\w+|rwsem_down_\w+|"
                   r"__mutex_lock\w*|mutex_lock\w*|bit_wait\w*|__wait_on_bit\w*|"
                   r"out_of_line_wait_on_bit\w*|do_nanosleep|hrtimer_nanosleep|"
                   r"futex_wait_queue|__futex_wait|futex_wait|"
                   r"folio_wait_bit_common|__folio_lock\w*|down_read\w*|"
                   r"down_write\w*|wait_for_completion\w*|"
                   r"entry_SYSCALL\w*|do_syscall_64|x64_sys_call|"
                   r"syscall_exit\w*|exit_to_user_mode\w*|"
                   r"irqentry_exit\w*|asm_sysvec\w*|sysvec\w*)$")


def syscall_names():
    names = {}
    try:
        with open(UNISTD) as f:
            for line in f:
                m = re.match(r"#define __NR_(\w+)\s+(\d+)", line)
                if m:
                    names[int(m.group(2))] = m.group(1)
    except OSError:
        pass
    return names


def seals_from_log(path):
    out = []
    pat = re.compile(r"spool: seal of \d+ batch\w* took ([0-9.]+) ms "
                     r"\(wall/CPU ms of the main thread: (.*?); ")
    with open(path, errors="replace") as f:
        for line in f:
            m = pat.search(line)
            if not m:
                continue
            steps = []
            for part in m.group(2).split(", "):
                w, c = part.rsplit(" ", 1)[1].split("/")
                steps.append((float(w), float(c)))
            out.append((float(m.group(1)), steps))
    return out


def events(path):
    """(time_s, tid, event, text, [frames]) in the order perf script gives."""
    head = re.compile(r"^\s*(\d+)\s+([0-9]+\.[0-9]+):\s+(\S+):\s?(.*)$")
    cur = None
    with open(path, errors="replace") as f:
        for line in f:
            m = head.match(line)
            if m:
                if cur:
                    yield cur
                cur = (float(m.group(2)), int(m.group(1)), m.group(3),
                       m.group(4), [])
                continue
            s = line.strip()
            if cur and s:
                p = s.split()
                if len(p) >= 2:
                    cur[4].append(p[1].split("+")[0])
    if cur:
        yield cur


def main():
    perf_out, log, tid = sys.argv[1], sys.argv[2], int(sys.argv[3])
    names = syscall_names()
    seals = seals_from_log(log)
    evs = list(events(perf_out))
    rus = [e[0] for e in evs if e[1] == tid and e[2] == "raw_syscalls:sys_enter"
           and re.match(r"NR %d " % GETRUSAGE, e[3])]
    # pair each logged seal with the getrusage pair of its length
    windows = []
    i = 0
    for total, steps in seals:
        while i + 1 < len(rus):
            d = (rus[i + 1] - rus[i]) * 1000
            if abs(d - total) <= 2 + total * 0.01:
                windows.append((rus[i], rus[i + 1], total, steps))
                i += 2
                break
            i += 1
    if not windows:
        print("waits.py: no seal found in the recording")
        return 1
    sw_prev = re.compile(r"prev_pid=(\d+) .*prev_state=(\S+) ==> "
                        r"next_comm=(.*) next_pid=(\d+)")
    for k, (t0, t1, total, steps) in enumerate(windows):
        bounds, t = [], t0
        for w, _ in steps:
            t += w / 1000
            bounds.append(t)
        stat = [dict(waits=defaultdict(lambda: [0, 0.0]), pre=[0, 0.0],
                     sys=defaultdict(lambda: [0, 0.0]), by=defaultdict(int))
                for _ in steps]

        def step_of(ts):
            for j, b in enumerate(bounds):
                if ts <= b:
                    return j
            return len(bounds) - 1

        in_sys = None  # (nr, t)
        out_at = None  # (t, key or None for a preemption, step)
        for ts, etid, ev, text, frames in evs:
            if ts < t0 - 0.001 or ts > t1 + 0.001:
                continue
            if ev == "raw_syscalls:sys_enter" and etid == tid:
                m = re.match(r"NR (\d+)", text)
                in_sys = (int(m.group(1)), ts) if m else None
            elif ev == "raw_syscalls:sys_exit" and etid == tid:
                if in_sys and t0 <= in_sys[1] <= t1:
                    s = stat[step_of(in_sys[1])]["sys"][names.get(in_sys[0], str(in_sys[0]))]
                    s[0] += 1
                    s[1] += ts - in_sys[1]
                in_sys = None
            elif ev == "sched:sched_switch":
                m = sw_prev.search(text)
                if not m:
                    continue
                prev, state, nxt = int(m.group(1)), m.group(2), int(m.group(4))
                if prev == tid and t0 <= ts <= t1:
                    if state.startswith("R"):
                        out_at = (ts, None, step_of(ts))
                        stat[step_of(ts)]["by"][m.group(3)] += 1
                        continue
                    where = (names.get(in_sys[0], str(in_sys[0])) if in_sys else
                             "fault" if any("page_fault" in f for f in frames)
                             else "user")
                    fr = [f for f in frames if not SCHED.match(f)
                          and not f.startswith("[")][:3]
                    out_at = (ts, where + ": " + " < ".join(fr), step_of(ts))
                elif nxt == tid and out_at:
                    t_out, key, j = out_at
                    if key is None:
                        stat[j]["pre"][0] += 1
                        stat[j]["pre"][1] += ts - t_out
                    else:
                        stat[j]["waits"][key][0] += 1
                        stat[j]["waits"][key][1] += ts - t_out
                    out_at = None
        print("seal %d: %.1f ms" % (k + 1, total))
        for j, name in enumerate(STEPS[:len(steps)]):
            st = stat[j]
            nw = sum(v[0] for v in st["waits"].values())
            tw = sum(v[1] for v in st["waits"].values()) * 1000
            ts_ = sum(v[1] for v in st["sys"].values()) * 1000
            print("  %s: wall %.1f ms, CPU %.1f ms; %d waits %.1f ms off the CPU; "
                  "%d preemptions %.1f ms; %d syscalls %.1f ms"
                  % (name, steps[j][0], steps[j][1], nw, tw, st["pre"][0],
                     st["pre"][1] * 1000, sum(v[0] for v in st["sys"].values()), ts_))
            if st["by"]:
                print("    preempted by " + ", ".join(
                    "%s %d" % kv for kv in sorted(st["by"].items(),
                                                  key=lambda x: -x[1])[:4]))
            for key, v in sorted(st["waits"].items(), key=lambda x: -x[1][1])[:8]:
                print("    wait %5d  %8.1f ms  %s" % (v[0], v[1] * 1000, key))
            for key, v in sorted(st["sys"].items(), key=lambda x: -x[1][1])[:6]:
                print("    sys  %5d  %8.1f ms  %s" % (v[0], v[1] * 1000, key))
    return 0


if __name__ == "__main__":
    sys.exit(main())
