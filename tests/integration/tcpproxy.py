#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tests/integration/tcpproxy.py - forwards TCP connections from a local port
# to another, byte for byte, for tests of a link that dies: SIGSTOP the
# proxy and every connection through it hangs without a word (no RST, no
# FIN), as when a substation's uplink goes dead.
#   tcpproxy.py LISTEN_PORT TARGET_PORT READY_FILE
import socket
import sys
import threading


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    listen_port, target_port, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", listen_port))
    srv.listen(16)
    open(ready, "w").close()
    while True:
        client, _ = srv.accept()
        upstream = socket.create_connection(("127.0.0.1", target_port))
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=pump, args=(a, b), daemon=True).start()


if __name__ == "__main__":
    main()
