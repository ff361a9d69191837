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

/*
 * QEMU's fw_cfg on x86 (docs/specs/fw_cfg.rst): a 16-bit selector write,
 * an 8-bit data port, and the DMA address register (big-endian, the high
 * half at 0x514, writing the low half at 0x518 starts the transfer). The
 * guest reads pier's argument block there (include/pier/run_args.h);
 * pier's VMM offers the same ports (host/vmm/fw_cfg.c).
 */
#define FW_CFG_PORT_SEL 0x510
#define FW_CFG_PORT_DATA 0x511
#define FW_CFG_PORT_DMA 0x514

/* Exit statuses of `pier run` that are not the guest program's own. */
#define PIER_EXIT_PANIC 125   /* guest kernel panic or fatal exception */
#define PIER_EXIT_VMERROR 126 /* the VM could not start, or died without a status */
#define PIER_EXIT_TIMEOUT 124 /* --timeout expired; the VM was killed */

#endif
