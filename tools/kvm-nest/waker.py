#!/usr/bin/python3
"""The waker: presses Shift on the nested machine's keyboard once a second
while QEMU runs.

  waker.py MONITOR_SOCKET QEMU_PID

Why: QEMU 7.2's TCG, emulating SVM for the KVM inside, now and then loses
the kick that should make its CPU take an interrupt, so the interrupt
stays pending in the local APIC's IRR and is never taken (seen in the
monitor 2026-12-06: IRR 236, IF=1). The lost one is most often the
guest's timer, and its timer is one-shot: no timer interrupt ever comes
again. Two wedges follow:
  - idle: the CPU halts and every process waits for a timer;
  - busy: the CPU keeps running a pier VM whose vCPU polls for a virtio-fs
    answer, and the VMM's device thread, which would give that answer,
    is never scheduled, because the scheduler runs on the lost tick (a
    virtio-fs request went unanswered for 60 s this way, 2026-12-06).
Any other interrupt makes QEMU look at the APIC again and the pending one
goes in with it: a key press does. A press a second bounds a wedge at
about a second, costs the guest one keyboard interrupt a second (Shift
alone types nothing), and needs no guess at whether the guest is stuck,
which QEMU's CPU time could not tell in the busy case.
"""
import os
import socket
import sys
import time


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def connect(path):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(path)
    s.recv(4096)  # the monitor's banner; it takes commands after it
    return s


def drain(mon):
    """Reads everything the monitor has said. It echoes each command with
    line-editing escapes (~370 bytes for one sendkey), which may arrive in
    several pieces: reading one piece a press let the rest pile up in the
    socket (10 KB after an hour, seen 2026-12-07), and a full socket would
    block QEMU's monitor and with it the presses."""
    mon.settimeout(0.2)
    try:
        while mon.recv(65536):
            pass
    except socket.timeout:
        pass
    finally:
        mon.settimeout(5)


def main():
    path, pid = sys.argv[1], int(sys.argv[2])
    mon = None
    while alive(pid):
        time.sleep(1)
        try:
            mon = mon or connect(path)
            mon.sendall(b"sendkey shift\n")
            drain(mon)
        except OSError:  # not listening yet, or QEMU going away: try again
            if mon:
                mon.close()
            mon = None


if __name__ == "__main__":
    main()
