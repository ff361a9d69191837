/*
 * The auxiliary vector a program starts with, as Linux's x86_64 exec
 * builds it: the keys glibc and musl read, in Linux's order, AT_NULL
 * last; and where the initial stack pointer goes so that it is 16-byte
 * aligned at the entry point with argc, argv, envp and auxv above it.
 * Pure: the guest's exec.c fills the values, unit tests check the rules.
 */
#ifndef PIER_AUXV_H
#define PIER_AUXV_H

#include <stdint.h>

#define AUXV_MAX 24 /* pairs, AT_NULL included */

struct auxv_in {
	uint64_t sysinfo_ehdr;       /* the vDSO, 0: none */
	uint64_t hwcap, hwcap2, pagesz, clktck;
	uint64_t phdr, phent, phnum; /* the program's headers, mapped */
	uint64_t base;               /* the interpreter's bias, 0: none */
	uint64_t entry;              /* the program's own entry */
	uint32_t uid, gid;
	uint64_t random;             /* 16 random bytes on the stack */
	uint64_t execfn, platform;   /* strings on the stack */
	uint64_t minsigstksz;
};

/* Fills out[][2]; returns the number of pairs (AT_NULL counted). */
int auxv_build(const struct auxv_in *in, uint64_t out[AUXV_MAX][2]);

/* The entry rsp: below sp (where the strings end), room for argc, the
 * argv and envp pointers with their NULLs and nauxv pairs, aligned so
 * that rsp itself is 16-byte aligned (the ABI's state at _start). */
uint64_t auxv_entry_sp(uint64_t sp, uint64_t argc, uint64_t envc, uint64_t nauxv);

#endif
