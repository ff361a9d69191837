/*
 * The QEMU back end: stock QEMU plus virtiofsd (qemu.c, virtiofsd.c).
 */
#ifndef HOST_QEMU_H
#define HOST_QEMU_H

#include "run.h"

/* Boots the guest under QEMU; returns pier's exit status. */
int qemu_run(const struct run_options *o);

#endif
