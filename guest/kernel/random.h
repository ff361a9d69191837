/* Random bytes for AT_RANDOM and getrandom(). */
#ifndef GUEST_RANDOM_H
#define GUEST_RANDOM_H

#include <stddef.h>

/* Seeds from RDRAND when the CPU has it, else from TSC timing jitter. */
void random_init(void);
void random_bytes(void *buf, size_t len);

#endif
