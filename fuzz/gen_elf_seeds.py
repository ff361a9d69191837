#!/usr/bin/env python3
"""Seeds for fuzz/fuzz_elf_load.c, written to fuzz/corpus/elf_load/.

Rerun from the top of the tree: python3 fuzz/gen_elf_seeds.py

Two kinds:
 - real-*: the ELF header and program headers of tiny programs built here
   with musl-gcc (static, static with ld -n, and -static-pie, which
   musl-gcc links with a PT_INTERP), followed by the harness's size trailer
   ("PIERSIZE" + u64): only the headers are kept, the rest of the file reads
   as zeros. Skipped (with a note) when musl-gcc is missing.
 - synth-*: images assembled here field by field, valid and malformed: the
   shapes of tests/unit/test_elf_load.c and the cases the harness is after
   (truncated headers, phnum/phentsize lies, overlapping, huge and wrapping
   segments, kernel-half addresses, PT_INTERP, PT_GNU_STACK, PT_TLS,
   PT_PHDR, entry outside every segment, ET_DYN), and read failures
   (the harness's "PIERFAIL" trailer).
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "elf_load")

ET_EXEC, ET_DYN = 2, 3
PT_LOAD, PT_DYNAMIC, PT_INTERP, PT_NOTE, PT_PHDR, PT_TLS = 1, 2, 3, 4, 6, 7
PT_GNU_STACK = 0x6474E551
PF_X, PF_W, PF_R = 1, 2, 4
USER_END = 0x00007FFFFFFFF000


def trailer(size):
    return b"PIERSIZE" + struct.pack("<Q", size)


def fail_trailer(n, rc):
    """The n-th read returns rc."""
    return b"PIERFAIL" + struct.pack("<Ii", n, rc)


def ehdr(etype=ET_EXEC, entry=0x401000, phoff=64, phnum=1, phentsize=56,
         ident=None, machine=62, version=1):
    ident = ident or (b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8))
    return ident + struct.pack("<HHIQQQIHHHHHH", etype, machine, version, entry, phoff,
                               0, 0, 64, phentsize, phnum, 0, 0, 0)


def phdr(ptype, flags, off, vaddr, filesz, memsz, align=0x1000):
    return struct.pack("<IIQQQQQQ", ptype, flags, off, vaddr, vaddr, filesz, memsz, align)


def image(eh, phs, size=None, phoff=64):
    """Header, program headers at phoff; size (with a trailer) when larger."""
    body = bytearray(eh.ljust(phoff, b"\0")) + b"".join(phs)
    if size is not None and size > len(body):
        return bytes(body) + trailer(size)
    return bytes(body)


def synth():
    s = {}
    rx, r, rw = PF_R | PF_X, PF_R, PF_R | PF_W
    # musl-gcc -static's layout, with TLS and GNU_STACK.
    musl = [phdr(PT_LOAD, r, 0, 0x400000, 0x190, 0x190),
            phdr(PT_LOAD, rx, 0x1000, 0x401000, 0x82C, 0x82C),
            phdr(PT_LOAD, r, 0x2000, 0x402000, 0x4C, 0x4C),
            phdr(PT_LOAD, rw, 0x2FD0, 0x403FD0, 0x40, 0x2A8),
            phdr(PT_TLS, r, 0x2FD0, 0x403FD0, 0x10, 0x30, 8),
            phdr(PT_GNU_STACK, rw, 0, 0, 0, 0, 16)]
    s["exec"] = image(ehdr(entry=0x40102B, phnum=6), musl, 0x3010)
    # gcc -static-pie's layout with PT_PHDR.
    pie = [phdr(PT_PHDR, r, 0x40, 0x40, 7 * 56, 7 * 56, 8),
           phdr(PT_LOAD, r, 0, 0, 0x2E0, 0x2E0),
           phdr(PT_LOAD, rx, 0x1000, 0x1000, 0x500, 0x500),
           phdr(PT_LOAD, rw, 0x1E00, 0x2E00, 0x300, 0x900),
           phdr(PT_DYNAMIC, rw, 0x1F00, 0x2F00, 0x100, 0x100, 8),
           phdr(PT_TLS, r, 0x1E00, 0x2E00, 0x18, 0x60, 8),
           phdr(PT_GNU_STACK, rw | PF_X, 0, 0, 0, 0, 16)]
    s["pie"] = image(ehdr(ET_DYN, entry=0x1010, phnum=7), pie, 0x2100)
    # Two segments sharing a page.
    s["shared"] = image(ehdr(entry=0x400100, phnum=2),
                        [phdr(PT_LOAD, rx, 0, 0x400000, 0x1800, 0x1800),
                         phdr(PT_LOAD, rw, 0x1900, 0x401900, 0x100, 0x400)], 0x2000)
    # A dynamic program: PT_INTERP with its path in the file.
    interp = b"/lib/ld-musl-x86_64.so.1\0"
    body = image(ehdr(entry=0x401000, phnum=3),
                 [phdr(PT_INTERP, r, 0xB0 + 56, 0x4000B0 + 56, len(interp), len(interp), 1),
                  phdr(PT_LOAD, r, 0, 0x400000, 0x200, 0x200),
                  phdr(PT_LOAD, rx, 0x1000, 0x401000, 0x10, 0x10)])
    s["interp"] = body + interp + trailer(0x1010)
    # Read failures: the header read, then the program headers (rc 7 is no errno: -EIO).
    s["fail-read1"] = s["exec"] + fail_trailer(1, -5)
    s["fail-read2"] = s["pie"] + fail_trailer(2, 7)
    # Malformed ones.
    s["trunc-ehdr"] = ehdr()[:40]
    s["phentsize-lie"] = image(ehdr(phentsize=32, phnum=1),
                               [phdr(PT_LOAD, rx, 0, 0x400000, 0x100, 0x100)], 0x1000)
    s["phnum-lie"] = image(ehdr(phnum=0xFFFF), [phdr(PT_LOAD, rx, 0, 0x400000, 0x100, 0x100)])
    s["phoff-huge"] = image(ehdr(phoff=0xFFFFFFFFFFFFFFC8, phnum=1), [], 0x1000)
    s["overlap"] = image(ehdr(entry=0x400010, phnum=2),
                         [phdr(PT_LOAD, rx, 0, 0x400000, 0x2000, 0x2000),
                          phdr(PT_LOAD, rw, 0x1000, 0x401000, 0x100, 0x100)], 0x3000)
    s["huge-memsz"] = image(ehdr(entry=0x400010, phnum=1),
                            [phdr(PT_LOAD, rx, 0, 0x400000, 0x100, 0xFFFFFFFFFFFFF000)], 0x1000)
    s["wrap-vaddr"] = image(ehdr(entry=0xFFFFFFFFFFFFF010, phnum=1),
                            [phdr(PT_LOAD, rx, 0, 0xFFFFFFFFFFFFF000, 0x100, 0x2000)], 0x1000)
    s["kernel-half"] = image(ehdr(entry=0xFFFFFFFF80100000, phnum=1),
                             [phdr(PT_LOAD, rx, 0, 0xFFFFFFFF80100000, 0x100, 0x100)], 0x1000)
    s["user-top"] = image(ehdr(entry=USER_END - 0x1000, phnum=1),
                          [phdr(PT_LOAD, rx, 0, USER_END - 0x1000, 0x100, 0x1000)], 0x1000)
    s["past-file"] = image(ehdr(entry=0x400010, phnum=1),
                           [phdr(PT_LOAD, rx, 0xFFFFFFFFFFFFF000, 0x400000, 0x2000, 0x2000)],
                           0x1000)
    s["entry-outside"] = image(ehdr(entry=0x500000, phnum=1),
                               [phdr(PT_LOAD, rx, 0, 0x400000, 0x100, 0x100)], 0x1000)
    s["dyn-align"] = image(ehdr(ET_DYN, entry=0x10, phnum=2),
                           [phdr(PT_LOAD, rx, 0, 0, 0x100, 0x100, 1 << 63),
                            phdr(PT_LOAD, rw, 0x1000, 0x201000, 0x10, 0x10, 0x200000)], 0x2000)
    s["tls-outside"] = image(ehdr(entry=0x400010, phnum=2),
                             [phdr(PT_LOAD, rx, 0, 0x400000, 0x100, 0x100),
                              phdr(PT_TLS, r, 0x80, 0x400090, 0x10, 0x20, 3)], 0x1000)
    s["phdr-wrong"] = image(ehdr(entry=0x400010, phnum=2),
                            [phdr(PT_PHDR, r, 0x40, 0x400080, 112, 112, 8),
                             phdr(PT_LOAD, rx, 0, 0x400000, 0x200, 0x200)], 0x1000)
    s["big-file"] = image(ehdr(entry=0x400010, phnum=1),
                          [phdr(PT_LOAD, rx, 0xFFFFFFFFFFFF0000, 0x7FFFFFFF0000, 0x10, 0x10)],
                          0xFFFFFFFFFFFFFFFF)
    many = [phdr(PT_LOAD, rx if i == 0 else rw, 0x1000 * i, 0x400000 + 0x1000 * i, 0x10, 0x10)
            for i in range(17)]
    s["many-loads"] = image(ehdr(entry=0x400000, phnum=17), many, 0x12000)
    return s


PROG = "int main(void)\n{\n\treturn 0;\n}\n"


def real():
    cc = shutil.which("musl-gcc")
    if not cc:
        print("musl-gcc not found: real-* seeds skipped", file=sys.stderr)
        return {}
    s = {}
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "t.c")
        with open(src, "w") as f:
            f.write(PROG)
        for name, flags in (("musl-static", ["-static", "-Os", "-s"]),
                            ("musl-nmagic", ["-static", "-Os", "-s", "-Wl,-n",
                                             "-Wl,--no-warn-rwx-segments"]),
                            ("musl-static-pie", ["-static-pie", "-Os", "-s"])):
            exe = os.path.join(d, name)
            subprocess.run([cc, *flags, "-o", exe, src], check=True)
            with open(exe, "rb") as f:
                data = f.read()
            phoff, = struct.unpack_from("<Q", data, 32)
            phnum, = struct.unpack_from("<H", data, 56)
            s["real-" + name] = data[:phoff + 56 * phnum] + trailer(len(data))
    return s


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {**synth(), **real()}
    for name, data in sorted(seeds.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"{len(seeds)} seeds in {OUT}")


if __name__ == "__main__":
    main()
