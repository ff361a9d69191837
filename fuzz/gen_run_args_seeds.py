#!/usr/bin/env python3
"""Seeds for fuzz/fuzz_run_args.c, written to fuzz/corpus/run_args/.

Rerun from the top of the tree: python3 fuzz/gen_run_args_seeds.py

Each seed is an argument block (include/pier/run_args.h): the 24-byte
header, then cwd, argv and envp as NUL-terminated strings.
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "run_args")


def block(cwd, argv, envp):
    strings = b"".join(s + b"\0" for s in [cwd, *argv, *envp])
    return b"PIERARG1" + struct.pack("<IIII", len(argv), len(envp), len(strings), 0) + strings


SEEDS = {
    "plain": block(b"/", [b"/bin/prog"], []),
    "args-and-env": block(b"/w d", [b"/bin/sh", b"-c", b'echo "$A"', b""], [b"A=1", b"B="]),
    "every-byte": block(b"/", [b"p", bytes(range(1, 256))], [b"X=" + bytes(range(255, 0, -1))]),
    "long": block(b"/", [b"p", b"x" * 4000], [b"E=" + b"y" * 3000]),
}

os.makedirs(OUT, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
