/* The auxiliary vector and the entry stack pointer (see auxv.h). */
#include <linux/auxvec.h>
#include <pier/auxv.h>

int auxv_build(const struct auxv_in *in, uint64_t out[AUXV_MAX][2])
{
	const uint64_t pairs[][2] = {
		{ AT_SYSINFO_EHDR, in->sysinfo_ehdr }, /* 0 says "none": libcs accept it */
		{ AT_MINSIGSTKSZ, in->minsigstksz },
		{ AT_HWCAP, in->hwcap }, { AT_PAGESZ, in->pagesz }, { AT_CLKTCK, in->clktck },
		{ AT_PHDR, in->phdr }, { AT_PHENT, in->phent }, { AT_PHNUM, in->phnum },
		{ AT_BASE, in->base }, { AT_FLAGS, 0 }, { AT_ENTRY, in->entry },
		{ AT_UID, in->uid }, { AT_EUID, in->uid }, { AT_GID, in->gid }, { AT_EGID, in->gid },
		{ AT_SECURE, 0 }, { AT_RANDOM, in->random }, { AT_HWCAP2, in->hwcap2 },
		{ AT_EXECFN, in->execfn }, { AT_PLATFORM, in->platform }, { AT_NULL, 0 },
	};
	int n = (int)(sizeof(pairs) / sizeof(pairs[0]));
	_Static_assert(sizeof(pairs) / sizeof(pairs[0]) <= AUXV_MAX, "AUXV_MAX");
	for (int i = 0; i < n; i++) {
		out[i][0] = pairs[i][0];
		out[i][1] = pairs[i][1];
	}
	return n;
}

uint64_t auxv_entry_sp(uint64_t sp, uint64_t argc, uint64_t envc, uint64_t nauxv)
{
	/* argc, argv..., NULL, envp..., NULL, then the pairs. */
	uint64_t words = 1 + argc + 1 + envc + 1 + 2 * nauxv;
	return (sp - words * 8) & ~15ULL;
}
