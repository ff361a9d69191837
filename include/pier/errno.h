/*
 * Linux errno values for freestanding code (lib/ and the guest return them
 * negated): straight from the kernel's uapi header, which is also what
 * glibc's <errno.h> uses on the host, so both agree by construction.
 */
#ifndef PIER_ERRNO_H
#define PIER_ERRNO_H
#include <linux/errno.h>
#endif
