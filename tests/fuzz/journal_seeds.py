#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""journal_seeds.py GOLDEN-DIR OUT-DIR - seeds for tests/fuzz/fuzz_journal.c
from the journal segments in GOLDEN-DIR: each file whole (mode byte 0), and
the record payloads of every file, framed for the fuzzer's second mode
(mode byte 1, a count of zeros to append, then u16 length + payload each).
See docs/spool-format.md ("Journal") for the segment layout."""
import os
import struct
import sys


def records(data):
    """The payloads of the whole records after the 8-byte header."""
    pos, out = 8, []
    while pos + 8 <= len(data):
        n = struct.unpack_from('<I', data, pos)[0]
        if n == 0 or pos + 8 + n > len(data):
            break
        out.append(data[pos + 8:pos + 8 + n])
        pos += 8 + n
    return out


def main():
    src, dst = sys.argv[1], sys.argv[2]
    os.makedirs(dst, exist_ok=True)
    for name in sorted(os.listdir(src)):
        if not name.endswith('.gwj'):
            continue
        with open(os.path.join(src, name), 'rb') as f:
            data = f.read()
        with open(os.path.join(dst, 'file-' + name), 'wb') as f:
            f.write(b'\x00' + data)
        recs = records(data)
        if recs:
            with open(os.path.join(dst, 'records-' + name), 'wb') as f:
                f.write(b'\x01' + bytes([len(data) % 61]) +
                        b''.join(struct.pack('<H', len(r)) + r for r in recs
                                 if len(r) < 65536))


if __name__ == '__main__':
    main()
