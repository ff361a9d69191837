#!/usr/bin/env python3
"""Seeds for fuzz/fuzz_virtq_driver.c, written to fuzz/corpus/virtq_driver/.

Rerun from the top of the tree: python3 fuzz/gen_virtq_seeds.py

Each seed is a script in the harness's input format (see the comment at
the top of the harness): a queue size and EVENT_IDX byte, then operations.
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "virtq_driver")

# Operation selectors (op % 12 in the harness).
ADD, COMPLETE, RAW, PUBLISH, POLL, TAKE, SCRIBBLE = 0, 3, 5, 6, 7, 9, 11
KICK, INTR_ON, INTR_OFF = 10 | 0x80, 10 | 0x40, 10


def header(log2size, event_idx):
    return bytes([log2size, 1 if event_idx else 0])


def add(outs, ins, null_token=False):
    """outs/ins: lists of buffer lengths."""
    shape = len(outs) | (len(ins) << 3) | (0xC0 if null_token else 0)
    b = bytes([ADD, shape])
    if null_token:
        b += b"\x5a"
    for i, n in enumerate(outs + ins):
        b += bytes([1]) + struct.pack("<QI", 0x200000 + 0x1000 * i, n)
    return b


def complete(pick=0, length=0, publish=True):
    return bytes([COMPLETE]) + struct.pack("<HIB", pick, length, 1 if publish else 0)


def raw(ident, length, publish=True):
    how = 1 | 4 | (8 if publish else 0)
    return bytes([RAW, how]) + struct.pack("<II", ident, length)


def publish(jump=None):
    if jump is None:
        return bytes([PUBLISH, 0])
    return bytes([PUBLISH, 1]) + struct.pack("<H", jump & 0xFFFF)


def scribble_used_flags(value):
    # how&3 == 1: used ring bytes at offset u16 % (4 + 8 * size); 2 bytes.
    return bytes([SCRIBBLE, 1 | (1 << 5)]) + struct.pack("<H", 0) + struct.pack("<H", value)


def scribble_avail_event(value):
    return bytes([SCRIBBLE, 2 | 4 | (1 << 5)]) + struct.pack("<H", value)


def scribble_desc(index, data):
    return bytes([SCRIBBLE, 0 | ((len(data) - 1) << 5)]) + struct.pack("<H", index) + data


POLLB, TAKEB = bytes([POLL]), bytes([TAKE])


def seeds():
    s = {}
    # A request/reply round, the shape of a FUSE call (two out, two in).
    s["roundtrip"] = header(7, True) + add([40, 64], [16, 4096]) + bytes([KICK]) + \
        complete(0, 16 + 4096) + POLLB
    s["roundtrip-noevent"] = header(4, False) + add([40], [16]) + bytes([KICK]) + \
        complete(0, 16) + POLLB + bytes([INTR_OFF]) + add([1], [1]) + complete(0, 0) + \
        POLLB + bytes([INTR_ON])
    # Fill the queue, complete out of order, refill.
    b = header(3, True)
    for _ in range(5):
        b += add([16], [16])  # two descriptors each: the fifth gets -ENOSPC
    b += complete(2, 16) + complete(0, 1) + POLLB + add([8, 8], [8]) + complete(1, 8) + POLLB
    s["fill"] = b
    # Hostile completions, each on a fresh queue.
    s["bad-id"] = header(4, True) + add([16], [16]) + raw(999, 0) + POLLB + TAKEB + \
        add([1], [1])
    s["middle-id"] = header(4, True) + add([16, 16], [16]) + raw(1, 0) + POLLB + TAKEB
    s["not-in-flight"] = header(4, True) + add([16], [16]) + raw(5, 0) + POLLB + TAKEB
    s["duplicate"] = header(4, True) + add([16], [16]) + add([16], [16]) + raw(0, 4) + \
        raw(0, 4) + POLLB + TAKEB
    s["too-long"] = header(4, False) + add([16], [16]) + raw(0, 17) + POLLB + TAKEB
    s["idx-jump"] = header(4, True) + add([16], [16]) + publish(0x1234) + POLLB + TAKEB
    s["idx-back"] = header(4, True) + add([16], [16]) + complete(0, 1) + POLLB + \
        publish(-1) + POLLB + TAKEB
    s["huge-in"] = header(2, True) + add([1], [0xFFFFFFFF, 0xFFFFFFFF]) + \
        raw(0, 0xFFFFFFFF) + POLLB
    s["zero-len"] = header(0, False) + add([], [0]) + complete(0, 0) + POLLB + add([], []) + \
        add([1, 1], [], null_token=True)
    s["scribble"] = header(3, True) + add([16], [16]) + scribble_desc(0, b"\xff" * 8) + \
        scribble_used_flags(1) + scribble_avail_event(0xFFFF) + bytes([KICK]) + \
        complete(0, 16) + POLLB + add([16], [16])
    s["max-size"] = header(10, True) + b"".join(add([64], [64]) for _ in range(20)) + \
        b"".join(complete(0, 64, False) for _ in range(20)) + publish() + POLLB
    return s


def main():
    os.makedirs(OUT, exist_ok=True)
    all_seeds = seeds()
    for name, data in sorted(all_seeds.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"{len(all_seeds)} seeds in {OUT}")


if __name__ == "__main__":
    main()
