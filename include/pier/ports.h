/*
 * The I/O ports through which the guest talks to whichever VMM runs it, and
 * the exit statuses both sides agree on. QEMU provides these ports with
 * isa-debugcon and isa-debug-exit; pier's own VMM decodes them itself.
 */
#ifndef PIER_PORTS_H
#define PIER_PORTS_H

/*
 * Control channel: the guest writes text lines here ("milestone NAME",
 * "exit N", "panic"). The host timestamps milestones as they arrive and
 * takes the guest's exit status from the "exit"/"panic" line, which carries
 * the full 8-bit status (isa-debug-exit alone keeps only 7 bits).
 */
#define PIER_PORT_CONTROL 0xe9

/*
 * Exit port (QEMU isa-debug-exit, iosize 4): writing V ends the VM, and
 * QEMU exits with (V << 1) | 1. It is the fallback when no control line
 * arrived.
 */
#define PIER_PORT_EXIT 0xf4

/* Exit statuses of `pier run` that are not the guest program's own. */
#define PIER_EXIT_PANIC 125   /* guest kernel panic or fatal exception */
#define PIER_EXIT_VMERROR 126 /* the VM could not start, or died without a status */
#define PIER_EXIT_TIMEOUT 124 /* --timeout expired; the VM was killed */

#endif
