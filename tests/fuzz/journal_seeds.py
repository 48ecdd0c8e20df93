#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""journal_seeds.py GOLDEN-DIR OUT-DIR - seeds for tests/fuzz/fuzz_journal.c
from the journal segments in GOLDEN-DIR: each file whole (mode byte 0), and
the record payloads of every file, framed for the fuzzer's second mode
(mode byte 1 for a version-2 segment, 3 for a version-1 one, then a count
of zeros to append, then u16 length + payload each), and a few inputs of
the round-trip mode (mode byte 4: cycles packed by the writer's codec).
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
            mode = b'\x03' if data[4:6] == b'\x01\x00' else b'\x01'
            with open(os.path.join(dst, 'records-' + name), 'wb') as f:
                f.write(mode + bytes([len(data) % 61]) +
                        b''.join(struct.pack('<H', len(r)) + r for r in recs
                                 if len(r) < 65536))
    # round trips: a bus of 8 meters x 3 registers over 4 cycles, rising
    # counters and a small time step; then the same with a fresh start
    for k, fresh in enumerate((0, 0x40)):
        out = bytearray(b'\x04')
        for c in range(4):
            out.append(24 | (fresh if c == 2 else 0))
            for m in range(8):
                for r in range(3):
                    out += bytes([(m << 2 | r) | (0x40 if c % 2 else 0),
                                  1, (c * 37 + m) & 0xff, 50 + r])
        with open(os.path.join(dst, 'roundtrip-%d' % k), 'wb') as f:
            f.write(bytes(out))


if __name__ == '__main__':
    main()
