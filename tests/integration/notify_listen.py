#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tests/integration/notify_listen.py ADDRESS OUT: plays systemd's side of
# sd_notify(3): binds an AF_UNIX datagram socket at ADDRESS (a path, or
# "@name" in the abstract namespace) and appends each datagram received to
# OUT as one line, "MONOTONIC-SECONDS MESSAGE" (a message's own newlines
# as "\n"). OUT exists (empty) once the socket is bound. Runs until killed.
import os
import socket
import sys
import time

addr, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
with open(out, "a", buffering=1) as f:
    while True:
        msg = s.recv(4096).decode("utf-8", "replace")
        f.write("%.3f %s\n" % (time.monotonic(), msg.replace("\n", "\\n")))
        f.flush()
        os.fsync(f.fileno())
