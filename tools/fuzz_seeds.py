#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""fuzz_seeds.py GOLDEN-DIR OUT-DIR - seeds for tests/fuzz/fuzz_batch.c from
the batch files in GOLDEN-DIR: each file whole (mode byte 0), and the
uncompressed payload of every file that decodes, with its header counts
(mode byte 1). See docs/spool-format.md for the header."""
import os
import struct
import sys
import zlib


def main():
    src, dst = sys.argv[1], sys.argv[2]
    os.makedirs(dst, exist_ok=True)
    for name in sorted(os.listdir(src)):
        if not name.endswith('.gwb'):
            continue
        with open(os.path.join(src, name), 'rb') as f:
            data = f.read()
        with open(os.path.join(dst, 'file-' + name), 'wb') as f:
            f.write(b'\x00' + data)
        try:
            h = struct.unpack_from('<H', data, 6)[0]
            d, s, n, _plen, clen, e = struct.unpack_from('<IIIIII', data, 24)
            payload = zlib.decompress(data[h:h + clen])
        except (struct.error, zlib.error):
            continue
        with open(os.path.join(dst, 'payload-' + name), 'wb') as f:
            f.write(b'\x01' + struct.pack('<IIII', d, s, n, e) + payload)


if __name__ == '__main__':
    main()
