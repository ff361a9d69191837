/*
 * Program loading (see exec.h). Segments are copied in from the file (one
 * FUSE_READ per MiB); the stack and heap are demand-zero regions. A
 * dynamically linked program gets its interpreter (ld.so) loaded beside
 * it the same way; ld.so maps the libraries itself with mmap.
 */
#include <linux/auxvec.h>
#include <pier/auxv.h>
#include <pier/elf_load.h>
#include <pier/errno.h>
#include <pier/fmt.h>
#include <pier/stat.h>
#include <pier/string.h>
#include "../arch/x86_64/cpu.h"
#include "../fs/vfs.h"
#include "../kernel/console.h"
#include "stdio.h"
#include "../kernel/control.h"
#include "../kernel/random.h"
#include "../mm/mm.h"
#include "../mm/vm.h"
#include "exec.h"
#include "process.h"
#include "syscall.h"
#include "vdso_map.h"

#define PAGE 4096ULL
#define STACK_SIZE (8ULL << 20)
#define PIE_BASE 0x555555554000ULL /* where Linux puts static PIEs, roughly */
#define INTERP_BASE 0x7ffff7fc0000ULL /* where Linux puts ld.so, roughly */
#define CHUNK (1 << 20)

extern __attribute__((noreturn)) void enter_user(uint64_t rip, uint64_t rsp);

/* All of [off, off+len): a read may come back short (part from the DAX
 * window, the rest by FUSE_READ, which can fail on its own); only the end
 * of the file (the file shrank under us) is an error here. */
static int file_read(void *ctx, void *buf, uint64_t len, uint64_t off)
{
	for (uint64_t done = 0; done < len;) {
		int64_t n = vfs_pread(ctx, (char *)buf + done, len - done, off + done);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO;
		done += (uint64_t)n;
	}
	return 0;
}

static uint32_t seg_prot(uint32_t pf)
{
	/* PF_X 1, PF_W 2, PF_R 4 */
	return (pf & 4 ? VM_READ : 0) | (pf & 2 ? VM_WRITE : 0) | (pf & 1 ? VM_EXEC : 0);
}

/* Maps one segment and copies its file bytes in. */
static int load_segment(struct file *f, const struct elf_seg *s, uint64_t bias, char *buf)
{
	uint64_t start = (s->vaddr + bias) & ~(PAGE - 1);
	uint64_t end = (s->vaddr + bias + s->memsz + PAGE - 1) & ~(PAGE - 1);
	if (s->shares_prev_page)
		start += PAGE; /* that page is the previous segment's; widen it below */
	if (end > start) {
		int err = vm_add(start, end - start, seg_prot(s->prot), "elf");
		if (err)
			return err;
	}
	if (s->shares_prev_page) {
		struct vma *prev = vm_find(start - PAGE);
		if (prev)
			vm_protect(start - PAGE, PAGE, prev->prot | seg_prot(s->prot));
	}
	for (uint64_t done = 0; done < s->filesz;) {
		uint64_t n = s->filesz - done < CHUNK ? s->filesz - done : CHUNK;
		int err = file_read(f, buf, n, s->offset + done);
		if (err)
			return err;
		for (uint64_t i = 0; i < n;) {
			uint64_t va = s->vaddr + bias + done + i;
			uint64_t k = PAGE - (va & (PAGE - 1));
			if (k > n - i)
				k = n - i;
			char *dst = vm_page(va);
			if (!dst)
				return -ENOMEM;
			memcpy(dst, buf + i, k);
			i += k;
		}
		done += n;
	}
	return 0;
}

/* The stack under construction: strings at the top, growing down. */
struct stack {
	uint64_t sp;
};

static int push_bytes(struct stack *st, const void *p, uint64_t len, uint64_t *where)
{
	st->sp -= len;
	*where = st->sp;
	return copy_to_user(st->sp, p, len);
}

static int build_stack(const struct run_args *a, const struct elf_plan *plan, uint64_t bias,
		       uint64_t phdr_addr, uint64_t interp_base, uint64_t *rsp)
{
	if (!phdr_addr) /* the headers are in no segment: AT_PHDR would need a copy */
		return -ENOEXEC;
	if (vm_add(USER_TOP - STACK_SIZE, STACK_SIZE, VM_READ | VM_WRITE |
		   (plan->exec_stack ? VM_EXEC : 0), "stack"))
		return -ENOMEM;
	struct stack st = { USER_TOP };
	uint32_t argc = a->argc, envc = a->envc;
	int err = 0;
	/* execfn, platform and random bytes first, then the argument strings. */
	uint64_t execfn, platform, random, at;
	err |= push_bytes(&st, a->argv0, strlen(a->argv0) + 1, &execfn);
	err |= push_bytes(&st, "x86_64", 7, &platform);
	uint8_t rnd[16];
	random_bytes(rnd, sizeof(rnd));
	err |= push_bytes(&st, rnd, sizeof(rnd), &random);
	/* The block holds argv then envp, packed, as Linux lays them out on
	 * the stack: one copy, then a pointer to each string. The block was
	 * checked: at most 2 MiB of strings and pointers. */
	const char *end = a->argv0;
	for (uint32_t i = 0; i < argc + envc; i++)
		end = run_args_next(end);
	uint64_t strings;
	err |= push_bytes(&st, a->argv0, (uint64_t)(end - a->argv0), &strings);
	/* argv's pointers, NULL, envp's, NULL: zeroed, so the NULLs are there. */
	uint64_t *ptrs = kzalloc(((uint64_t)argc + envc + 2) * 8);
	if (!ptrs)
		return -ENOMEM;
	const char *s = a->argv0;
	for (uint32_t i = 0; i < argc + envc; i++, s = run_args_next(s))
		ptrs[i < argc ? i : i + 1] = strings + (uint64_t)(s - a->argv0);
	if (err) {
		kfree(ptrs);
		return -EFAULT;
	}
	uint32_t id[4];
	cpuid(1, 0, id);
	struct auxv_in in = {
		.sysinfo_ehdr = vdso_map(), .hwcap = id[3], .pagesz = PAGE, .clktck = 100,
		.phdr = phdr_addr, .phent = plan->phentsize, .phnum = plan->phnum,
		.base = interp_base, .entry = plan->entry + bias, .uid = vfs_uid, .gid = vfs_gid,
		.random = random, .execfn = execfn, .platform = platform,
		/* A signal frame here is an rt_sigframe and a 512-byte FXSAVE
		 * image (signal.c), under 1.2 KiB with alignment: 2 KiB is safe. */
		.minsigstksz = 2048,
	};
	uint64_t auxv[AUXV_MAX][2];
	uint64_t nauxv = (uint64_t)auxv_build(&in, auxv);
	/* From where rsp must end (16-byte aligned), the words above it. */
	uint64_t entry = auxv_entry_sp(st.sp, argc, envc, nauxv);
	st.sp = entry + (1 + (uint64_t)argc + 1 + envc + 1 + 2 * nauxv) * 8;
	err |= push_bytes(&st, auxv, nauxv * 16, &at);
	err |= push_bytes(&st, ptrs, ((uint64_t)argc + envc + 2) * 8, &at); /* argv, envp */
	kfree(ptrs);
	uint64_t argc64 = (uint64_t)argc;
	err |= push_bytes(&st, &argc64, 8, &at);
	*rsp = st.sp;
	return err ? -EFAULT : 0;
}

/* Why the program could not start: on pier's stderr, like a shell's message. */
static int fail(const char *path, const char *what, int status)
{
	kwarn("%s: %s\n", path, what);
	return status;
}

static const char *strerror_short(int err)
{
	switch (-err) {
	case ENOENT: return "No such file or directory";
	case EACCES: return "Permission denied";
	case ENOTDIR: return "Not a directory";
	case EISDIR: return "Is a directory";
	case ELOOP: return "Too many levels of symbolic links";
	case ENOEXEC: return "Exec format error";
	case ENOMEM: return "Out of memory";
	case E2BIG: return "Argument list too long";
	case EIO: return "I/O error";
	case ESTALE: return "Stale file handle";
	case EPROTO: return "Protocol error";
	default: { /* not "I/O error" for everything else: say which */
		static char other[24];
		fmt_snprintf(other, sizeof(other), "errno %d", -err);
		return other;
	}
	}
}

/* Opens the program file, checking it may be run; 0 or a shell's status. */
static int open_program(const char *path, struct file **out)
{
	char *full = kmalloc(VFS_PATH_MAX);
	if (!full)
		return fail(path, "out of memory", 126);
	int err = path_join(full, path[0] == '/' ? "" : proc.cwd, path);
	if (err) {
		kfree(full);
		return fail(path, "File name too long", 126);
	}
	err = vfs_open(full, 0, 0, out);
	kfree(full);
	if (err)
		return fail(path, strerror_short(err), err == -ENOENT || err == -ENOTDIR ? 127 : 126);
	if ((*out)->dir)
		err = -EISDIR;
	else
		err = vfs_permission((*out)->vn, 1);
	if (err) {
		vfs_close(*out);
		return fail(path, strerror_short(err), 126);
	}
	return 0;
}

/* Checks the ELF headers, switches to the program's page tables and copies
 * its segments in; 0 or a shell's status. */
static int load_image(const char *path, struct file *f, struct elf_plan *plan, uint64_t *bias)
{
	const char *why;
	int err = elf_load_plan(plan, f->vn->attr.size, file_read, f, &why);
	if (err) {
		kwarn("%s: not a program Pier can run (%s)\n", path, why ? why : "error");
		return 126;
	}
	if (vm_init())
		return fail(path, "out of memory", 126);
	*bias = elf_pick_bias(plan, PIE_BASE);
	char *buf = kmalloc(CHUNK);
	if (!buf)
		return fail(path, "out of memory", 126);
	for (unsigned i = 0; i < plan->nseg && !err; i++)
		err = load_segment(f, &plan->seg[i], *bias, buf);
	kfree(buf);
	return err ? fail(path, strerror_short(err), 126) : 0;
}

/*
 * A dynamically linked program's interpreter (PT_INTERP: ld.so), from the
 * guest's root, loaded at its own bias beside the program; *entry becomes
 * its entry point and *base its bias (AT_BASE). 0 or a shell's status.
 */
static int load_interp(const char *path, struct file *prog, const struct elf_plan *plan,
		       uint64_t *entry, uint64_t *base)
{
	char ipath[256];
	if (plan->interp_size < 2 || plan->interp_size > sizeof(ipath) ||
	    file_read(prog, ipath, plan->interp_size, plan->interp_offset) ||
	    ipath[plan->interp_size - 1] != 0 || strlen(ipath) != plan->interp_size - 1)
		return fail(path, "bad ELF interpreter name (PT_INTERP)", 126);
	struct file *f;
	int status = open_program(ipath, &f);
	if (status) /* as bash says it: 127 when the interpreter is not there */
		return fail(path, status == 127 ? "required file not found (its ELF interpreter)" :
				  "cannot run its ELF interpreter", status);
	struct elf_plan ip;
	const char *why;
	int err = elf_load_plan(&ip, f->vn->attr.size, file_read, f, &why);
	if (!err && (ip.has_interp || ip.type != 3 /* ET_DYN */))
		err = -ENOEXEC, why = "not a shared object without an interpreter";
	char *buf = err ? NULL : kmalloc(CHUNK);
	uint64_t bias = err ? 0 : elf_pick_bias(&ip, INTERP_BASE);
	if (!err && !buf)
		err = -ENOMEM, why = "out of memory";
	for (unsigned i = 0; i < ip.nseg && !err; i++)
		err = load_segment(f, &ip.seg[i], bias, buf);
	kfree(buf);
	vfs_close(f);
	if (err) {
		kwarn("%s: its interpreter %s cannot be loaded (%s)\n", path, ipath,
		      why ? why : strerror_short(err));
		return 126;
	}
	*entry = ip.entry + bias;
	*base = bias;
	return 0;
}

/* Drops "." and empty components and takes ".." back, in place. */
static void normalize(char *p)
{
	char *out = p, *in = p;
	while (*in) {
		while (*in == '/')
			in++;
		char *end = in;
		while (*end && *end != '/')
			end++;
		size_t n = (size_t)(end - in);
		if (n == 0 || (n == 1 && in[0] == '.')) {
			/* nothing */
		} else if (n == 2 && in[0] == '.' && in[1] == '.') {
			while (out > p && *--out != '/')
				;
		} else {
			*out++ = '/';
			memmove(out, in, n);
			out += n;
		}
		in = end;
	}
	if (out == p)
		*out++ = '/';
	*out = 0;
}

/*
 * The program's absolute path with its final symlinks followed, as
 * /proc/self/exe shows it (/usr/bin/python3 -> /usr/bin/python3.11), or
 * NULL. Directory symlinks along the way are kept as they are.
 */
static char *program_path(const char *path)
{
	char *p = kmalloc(VFS_PATH_MAX), *link = kmalloc(VFS_PATH_MAX);
	if (!p || !link || path_join(p, path[0] == '/' ? "" : proc.cwd, path)) {
		kfree(p);
		kfree(link);
		return NULL;
	}
	normalize(p);
	for (int hops = 0; hops < 40 && vfs_readlink(p, link, VFS_PATH_MAX) >= 0; hops++) {
		if (link[0] != '/') { /* relative to the link's directory */
			size_t dir = strlen(p);
			while (dir > 0 && p[dir - 1] != '/')
				dir--;
			p[dir] = 0; /* normalize left a '/' first: dir >= 1 */
			if (strlen(p) + strlen(link) >= VFS_PATH_MAX)
				break;
			memmove(link + strlen(p), link, strlen(link) + 1);
			memcpy(link, p, strlen(p));
		}
		memcpy(p, link, strlen(link) + 1);
		normalize(p);
	}
	kfree(link);
	return p;
}

int exec_program(const struct run_args *a, int verbose, int strace)
{
	const char *path = a->argv0, *cwd = a->cwd;
	struct vfs_stat st;
	/* "/" is always the working directory one can have, even without a
	 * root file system (the program then is not found, 127). */
	if (strlen(cwd) >= sizeof(proc.cwd) ||
	    (strcmp(cwd, "/") != 0 && (vfs_stat(cwd, true, &st) || !S_ISDIR(st.mode))))
		return fail(cwd, "cannot use as working directory", 126);
	memcpy(proc.cwd, cwd, strlen(cwd) + 1);
	struct file *f;
	int status = open_program(path, &f);
	if (status)
		return status;
	struct elf_plan plan;
	uint64_t bias;
	status = load_image(path, f, &plan, &bias);
	uint64_t entry = plan.entry + bias, interp_base = 0;
	if (!status && plan.has_interp)
		status = load_interp(path, f, &plan, &entry, &interp_base);
	vfs_close(f);
	if (status)
		return status;
	proc.brk_start = proc.brk = plan.max_vaddr + bias;
	uint64_t rsp;
	int err = build_stack(a, &plan, bias, plan.phdr_mapped ? plan.phdr_vaddr + bias : 0,
			      interp_base, &rsp);
	if (err)
		return fail(path, strerror_short(err), 126);
	proc.pid = 1;
	/* What /proc/self/exe and cmdline say (procfs.c). */
	proc.exe = program_path(path);
	proc.cmdline = a->argv0;
	for (uint32_t i = 0; i < a->argc; i++)
		proc.cmdline_len += strlen(a->argv0 + proc.cmdline_len) + 1;
	proc.umask = 022;
	proc.strace = strace;
	stdio_init();
	syscall_init();
	control_milestone("program");
	if (!verbose && !strace)
		console_set_quiet(1); /* from here on the console is the program's */
	enter_user(entry, rsp);
}
