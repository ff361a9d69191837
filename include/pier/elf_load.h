/*
 * ELF executable checks and load plan: reads the ELF header and the program
 * header table of an x86_64 executable through a callback, checks them
 * against the file size and against each other, and says what to map where.
 * The file is untrusted: every offset and size is checked without
 * arithmetic that can wrap, and the first problem stops the parse.
 *
 * Addresses in the plan are as linked (unbiased). An ET_EXEC is loaded at
 * them (bias 0); an ET_DYN (static PIE) anywhere its alignment allows, all
 * addresses moving by the same bias (elf_pick_bias).
 *
 * What is accepted, and where it is stricter or looser than Linux:
 *  - identity: "\177ELF", ELFCLASS64, ELFDATA2LSB, EI_VERSION and e_version
 *    EV_CURRENT, EM_X86_64, ET_EXEC or ET_DYN; EI_OSABI is not looked at
 *    (GNU tools write 0 or 3). Any mismatch is -ENOEXEC.
 *  - e_phentsize == sizeof(Elf64_Phdr), 1 <= e_phnum <= ELF_MAX_PHDRS, and
 *    the table inside the file.
 *  - each PT_LOAD: p_filesz <= p_memsz; [p_offset, p_offset+p_filesz)
 *    inside the file (p_offset <= file size even when p_filesz is 0);
 *    p_vaddr+p_memsz <= ELF_USER_END (Linux's TASK_SIZE; for ET_DYN at bias
 *    0 too); p_vaddr and p_offset equal modulo the page size (Linux's mmap
 *    needs that). p_align is not checked against them (Linux does not);
 *    it only sets the bias alignment of an ET_DYN, as in Linux.
 *  - PT_LOADs with p_memsz 0 map nothing and are left out of the plan.
 *    The others must be in ascending p_vaddr order (as the ELF spec says;
 *    Linux does not check) and their byte ranges must not overlap.
 *  - Page sharing: after rounding to pages, a segment may begin in the
 *    page where the previous one ends (never more than that page). Then
 *    both must map the same file page there (equal p_vaddr - p_offset), and
 *    the previous segment must have no zero fill (p_filesz == p_memsz), so
 *    the page's contents are just the file page, whether the loader maps
 *    it or copies each segment in turn. The later segment is marked
 *    shares_prev_page; that page gets the union of both protections.
 *    Otherwise -EINVAL. Toolchains start each segment on a new page, so
 *    this is for hand-made files; Linux maps the later segment over the
 *    earlier one, which is what these rules make harmless.
 *  - at least one PT_LOAD with p_memsz > 0, at most ELF_MAX_SEGS of them.
 *  - e_entry inside a PF_X segment ([p_vaddr, p_vaddr+p_memsz)).
 *  - PT_INTERP (a dynamically linked program) is reported, not refused:
 *    has_interp, and where the path is in the file (inside it, checked).
 *  - PT_GNU_STACK: exec_stack if its PF_X is set (the last one wins, as in
 *    Linux). Without one the stack is not executable (x86_64 Linux).
 *  - PT_TLS, at most one: p_filesz <= p_memsz, the image inside the file,
 *    p_vaddr+p_memsz <= ELF_USER_END, p_align 0 or a power of two (0 is
 *    reported as 1); a non-empty initialisation image must lie in the
 *    file-backed part of one PT_LOAD and be the same file bytes there.
 *  - phdr_vaddr, the program headers in memory (AT_PHDR before the bias):
 *    the PT_LOAD whose file range [p_offset, p_offset+p_filesz) holds the
 *    whole table, the lowest one if several (Linux 6.x: the last one whose
 *    range holds the first byte). A PT_PHDR, at most one, must agree: its
 *    p_offset is e_phoff and its p_vaddr that address; otherwise -EINVAL.
 *    With no such PT_LOAD and no PT_PHDR, phdr_mapped is false and the
 *    loader has to put a copy of the table somewhere for AT_PHDR.
 * Other program header types are ignored.
 */
#ifndef PIER_ELF_LOAD_H
#define PIER_ELF_LOAD_H

#include <stdbool.h>
#include <stdint.h>

#define ELF_PAGE_SIZE 4096ULL
#define ELF_MAX_PHDRS 64      /* program headers read */
#define ELF_MAX_SEGS 16       /* PT_LOADs (with p_memsz > 0) in a plan */
/* Highest user address + 1: x86_64 Linux's TASK_SIZE (a guard page below 2^47). */
#define ELF_USER_END 0x00007ffffffff000ULL

/*
 * Reads exactly len bytes at file offset off into buf: 0, or a negative
 * errno (any other value counts as -EIO). The parser only asks for ranges
 * inside [0, file_size).
 */
typedef int (*elf_read_fn)(void *ctx, void *buf, uint64_t len, uint64_t off);

struct elf_seg {
	uint64_t vaddr, memsz;   /* p_vaddr, p_memsz: memsz > 0 */
	uint64_t offset, filesz; /* p_offset, p_filesz: filesz <= memsz */
	uint32_t prot;           /* p_flags & (PF_R | PF_W | PF_X) */
	bool shares_prev_page;   /* the first page is the previous segment's last */
};

struct elf_plan {
	uint16_t type;           /* ET_EXEC or ET_DYN */
	uint64_t entry;          /* e_entry, unbiased */
	uint64_t phoff, phnum, phentsize;  /* for AT_PHNUM and AT_PHENT */
	uint64_t min_vaddr;      /* page-aligned start of the lowest PT_LOAD */
	uint64_t max_vaddr;      /* page-aligned end of the highest PT_LOAD */
	uint64_t align;          /* ET_DYN bias alignment: the largest power-of-two
				    PT_LOAD p_align, at least ELF_PAGE_SIZE */
	unsigned nseg;
	struct elf_seg seg[ELF_MAX_SEGS];  /* ascending vaddr, not overlapping */
	bool has_interp;
	uint64_t interp_offset, interp_size;  /* PT_INTERP in the file */
	bool exec_stack;
	struct {
		uint64_t vaddr, filesz, memsz, align;
		bool present;
	} tls;
	uint64_t phdr_vaddr;     /* the program headers in memory, unbiased */
	bool phdr_mapped;        /* whether phdr_vaddr means anything (else 0) */
};

/*
 * Reads and checks the headers of a file_size-byte executable and fills
 * *plan. Returns 0, or:
 *   -ENOEXEC  not an x86_64 ELF executable we can run: too short for a
 *             header, bad magic, class, data encoding, version, machine,
 *             or a type other than ET_EXEC/ET_DYN
 *   -EINVAL   inconsistent or unsupported fields (see above)
 *   the read callback's error, as it returned it
 * why (may be NULL) gets a static string saying what was wrong, NULL on
 * success. On error *plan holds nothing useful.
 */
int elf_load_plan(struct elf_plan *plan, uint64_t file_size, elf_read_fn rd, void *ctx,
		  const char **why);

/*
 * The bias to add to every address of the plan: 0 for ET_EXEC; for ET_DYN
 * a multiple of plan->align putting min_vaddr at or just above preferred,
 * or lower if the image would not fit below ELF_USER_END from there (0 at
 * worst, which always fits). Keeping the image away from page 0 is the
 * caller's business: pass a preferred address that does.
 */
uint64_t elf_pick_bias(const struct elf_plan *plan, uint64_t preferred);

#endif
