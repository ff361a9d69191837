/* The vDSO in the program's address space (vdso_map.c). */
#ifndef GUEST_VDSO_MAP_H
#define GUEST_VDSO_MAP_H

#include <stdint.h>

/* Maps it; its ELF header's address (AT_SYSINFO_EHDR), or 0 without one. */
uint64_t vdso_map(void);

#endif
