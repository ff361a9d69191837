/*
 * Program loading (see exec.h). Segments are copied in from the file (one
 * FUSE_READ per MiB); the stack and heap are demand-zero regions. A
 * dynamically linked program gets its interpreter (ld.so) loaded beside
 * it the same way; ld.so maps the libraries itself with mmap.
 */
#include <stdarg.h>
#include <stddef.h>
#include <linux/auxvec.h>
#include <pier/auxv.h>
#include <pier/elf_load.h>
#include <pier/errno.h>
#include <pier/fmt.h>
#include <pier/shebang.h>
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
#include "../kernel/stats.h"
#include "process.h"
#include "syscall.h"
#include "vdso_map.h"

#define PAGE 4096ULL
#define STACK_SIZE (8ULL << 20)
#define PIE_BASE 0x555555554000ULL /* where Linux puts static PIEs, roughly */
#define INTERP_BASE 0x7ffff7fc0000ULL /* where Linux puts ld.so, roughly */
#define CHUNK (1 << 20)

extern __attribute__((noreturn)) void enter_user(uint64_t rip, uint64_t rsp);

/*
 * A file being loaded (the program, a script, its interpreter) with its
 * first page, read once: the #! check, the ELF and program headers and
 * the interpreter's name come from there, one request instead of four.
 */
#define HEAD PAGE
struct source {
	struct file *f;
	uint64_t head_len;
	char head[HEAD];
};

/* All of [off, off+len): a read may come back short (part from the DAX
 * window, the rest by FUSE_READ, which can fail on its own); only the end
 * of the file (the file shrank under us) is an error here. */
static int file_read(void *ctx, void *buf, uint64_t len, uint64_t off)
{
	struct source *s = ctx;
	if (off <= s->head_len && len <= s->head_len - off) {
		memcpy(buf, s->head + off, len);
		return 0;
	}
	for (uint64_t done = 0; done < len;) {
		int64_t n = vfs_pread(s->f, (char *)buf + done, len - done, off + done);
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
static int load_segment(struct source *f, const struct elf_seg *s, uint64_t bias, char *buf)
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
	case ENAMETOOLONG: return "File name too long";
	default: { /* not "I/O error" for everything else: say which */
		static char other[24];
		fmt_snprintf(other, sizeof(other), "errno %d", -err);
		return other;
	}
	}
}

/* Why a load failed, in more words than its errno (pid 1's message). */
struct why {
	char text[192];
};

static int say(struct why *w, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fmt_vsnprintf(w->text, sizeof(w->text), fmt, ap);
	va_end(ap);
	return err;
}

/* Opens the program file (an absolute path), checking it may be run. */
static int open_program(const char *full, struct file **out);

/* Opens a file to load and reads its first page. */
static int open_source(const char *full, struct source *s)
{
	s->head_len = 0;
	int err = open_program(full, &s->f);
	uint64_t want = err ? 0 : s->f->vn->attr.size < HEAD ? s->f->vn->attr.size : HEAD;
	while (!err && s->head_len < want) {
		int64_t n = vfs_pread(s->f, s->head + s->head_len, want - s->head_len, s->head_len);
		if (n <= 0) {
			err = n < 0 ? (int)n : 0; /* shorter than it said: what there is */
			break;
		}
		s->head_len += (uint64_t)n;
	}
	if (err && s->f) {
		vfs_close(s->f);
		s->f = NULL;
	}
	return err;
}

static void close_source(struct source *s)
{
	if (s->f)
		vfs_close(s->f);
	s->f = NULL;
	s->head_len = 0;
}

static int open_program(const char *full, struct file **out)
{
	int err = vfs_open(full, 0, 0, out);
	if (err) {
		*out = NULL;
		return err;
	}
	if ((*out)->dir)
		err = -EISDIR;
	else if (!S_ISREG((*out)->vn->attr.mode))
		err = -EACCES;
	else
		err = vfs_permission((*out)->vn, 1);
	if (err) {
		vfs_close(*out);
		*out = NULL;
		return err;
	}
	(*out)->read_once = true; /* loaded into the process's own pages */
	return 0;
}

/* An ELF file's checked plan; -ENOEXEC (with why) if it is not one. */
static int plan_of(struct source *f, struct elf_plan *plan, struct why *w)
{
	const char *why;
	int err = elf_load_plan(plan, f->f->vn->attr.size, file_read, f, &why);
	if (err == -ENOEXEC || err == -EINVAL)
		return say(w, -ENOEXEC, "not a program Pier can run (%s)", why ? why : "error");
	return err;
}

/* The interpreter's path named by PT_INTERP, into ipath (256 bytes). */
static int interp_name(struct source *prog, const struct elf_plan *plan, char *ipath,
		       struct why *w)
{
	if (plan->interp_size < 2 || plan->interp_size > 256 ||
	    file_read(prog, ipath, plan->interp_size, plan->interp_offset) ||
	    ipath[plan->interp_size - 1] != 0 || strlen(ipath) != plan->interp_size - 1)
		return say(w, -ENOEXEC, "bad ELF interpreter name (PT_INTERP)");
	return 0;
}

/* Loads every segment of f at bias into the active space. */
static int load_segments(struct source *f, const struct elf_plan *plan, uint64_t bias)
{
	char *buf = kmalloc(CHUNK);
	if (!buf)
		return -ENOMEM;
	int err = 0;
	for (unsigned i = 0; i < plan->nseg && !err; i++)
		err = load_segment(f, &plan->seg[i], bias, buf);
	kfree(buf);
	return err;
}

/* The new argument block of a "#!" script (sh, its parsed line): the
 * interpreter, its optional argument, the script's path, then the old
 * arguments but the first. */
static int script_args(const struct shebang *sh, const char *path, const struct run_args *a,
		       struct run_args *out, char **block)
{
	const char *rest = run_args_next(a->argv0), *end = a->argv0;
	for (uint32_t i = 0; i < a->argc + a->envc; i++)
		end = run_args_next(end);
	size_t old = (size_t)(end - rest), ilen = strlen(sh->interp) + 1;
	size_t alen = sh->has_arg ? strlen(sh->arg) + 1 : 0, plen = strlen(path) + 1;
	if (ilen + alen + plen + old > RUN_ARGS_TOTAL_MAX)
		return -E2BIG;
	char *b = kmalloc(ilen + alen + plen + old);
	if (!b)
		return -ENOMEM;
	memcpy(b, sh->interp, ilen);
	memcpy(b + ilen, sh->arg, alen);
	memcpy(b + ilen + alen, path, plen);
	memcpy(b + ilen + alen + plen, rest, old);
	*out = *a;
	out->argv0 = b;
	out->argc = a->argc + (sh->has_arg ? 2 : 1);
	*block = b;
	return 0;
}

/* What a successful load leaves: where the program starts. */
struct loaded {
	uint64_t entry, rsp, brk;
	char *exe;             /* /proc/PID/exe */
	struct mm *mm;         /* the new space, active for current */
	struct mm *old;        /* the one before (the caller's to put) */
};

static char *program_path(const char *path, const char *cwd);

/* Loads the program at path (relative to cwd) with arguments a into a
 * new address space. On success the space is current's (the old one in
 * out->old); on failure nothing changed. 0 or -errno (why for pid 1). */
static int load_program(const char *path, const char *cwd, const struct run_args *a,
			struct loaded *out, struct why *w)
{
	char *full = kmalloc(VFS_PATH_MAX), *block = NULL;
	struct shebang *sh = kmalloc(sizeof(*sh));
	char ipath[256];
	struct run_args args = *a;
	struct source *f = kzalloc(sizeof(*f)), *interp = kzalloc(sizeof(*interp));
	struct elf_plan *plan = kmalloc(sizeof(*plan)), *iplan = kmalloc(sizeof(*iplan));
	int err = full && f && interp && sh && plan && iplan ? 0 : -ENOMEM;
	const char *prog = path;
	/* #! scripts: up to 4 interpreters deep, as Linux allows. */
	for (int depth = 0; !err; depth++) {
		if (depth > 4) {
			err = say(w, -ELOOP, "too many #! interpreters");
			break;
		}
		err = path_join(full, prog[0] == '/' ? "" : cwd, prog);
		if (!err)
			err = open_source(full, f);
		if (err) {
			if (depth > 0 && (err == -ENOENT || err == -ENOTDIR))
				say(w, err, "required file not found (its #! interpreter %s)", prog);
			break;
		}
		uint64_t n = f->head_len < SHEBANG_HEAD ? f->head_len : SHEBANG_HEAD;
		int script = shebang_parse(f->head, (size_t)n, sh);
		if (script < 0)
			err = say(w, script, "not a program Pier can run (a #! line without an "
				  "interpreter Linux would take)");
		if (script <= 0)
			break;
		char *nb = NULL;
		err = script_args(sh, depth ? prog : path, &args, &args, &nb);
		close_source(f);
		if (err)
			break;
		kfree(block);
		block = nb;
		prog = args.argv0;
	}
	if (!err)
		err = plan_of(f, plan, w);
	if (!err && plan->has_interp) {
		err = interp_name(f, plan, ipath, w);
		if (!err && (err = open_source(ipath, interp)))
			say(w, err, err == -ENOENT || err == -ENOTDIR
				  ? "required file not found (its ELF interpreter)"
				  : "cannot run its ELF interpreter %s (%s)", ipath, strerror_short(err));
		if (!err && (err = plan_of(interp, iplan, w)) == 0 &&
		    (iplan->has_interp || iplan->type != 3 /* ET_DYN */))
			err = say(w, -ENOEXEC, "its interpreter %s cannot be loaded (not a shared "
				  "object without an interpreter)", ipath);
	}
	/* The point where the old image would go: a new space, loaded. */
	out->old = current->mm;
	out->mm = err ? NULL : vm_new();
	if (!err && !out->mm)
		err = -ENOMEM;
	if (!err) {
		task_set_mm(out->mm);
		uint64_t bias = elf_pick_bias(plan, PIE_BASE);
		out->entry = plan->entry + bias;
		uint64_t ibase = 0;
		err = load_segments(f, plan, bias);
		if (!err && interp->f) {
			ibase = elf_pick_bias(iplan, INTERP_BASE);
			out->entry = iplan->entry + ibase;
			err = load_segments(interp, iplan, ibase);
		}
		out->brk = plan->max_vaddr + bias;
		if (!err)
			err = build_stack(&args, plan, bias,
					  plan->phdr_mapped ? plan->phdr_vaddr + bias : 0, ibase,
					  &out->rsp);
		if (!err && !(out->exe = program_path(prog, cwd)))
			err = -ENOMEM;
		if (err) {
			task_set_mm(out->old);
			vm_put(out->mm);
		}
	}
	if (f)
		close_source(f);
	if (interp)
		close_source(interp);
	kfree(f);
	kfree(interp);
	kfree(block);
	kfree(full);
	kfree(sh);
	kfree(plan);
	kfree(iplan);
	return err;
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
static char *program_path(const char *path, const char *cwd)
{
	char *p = kmalloc(VFS_PATH_MAX), *link = kmalloc(VFS_PATH_MAX);
	if (!p || !link || path_join(p, path[0] == '/' ? "" : cwd, path)) {
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

/* The process takes the new image: cmdline, exe, break. */
static void take_image(struct process *p, const struct run_args *a, struct loaded *l)
{
	kfree(p->exe);
	p->exe = l->exe;
	uint64_t n = 0;
	for (uint32_t i = 0; i < a->argc; i++)
		n += strlen(a->argv0 + n) + 1;
	kfree(p->cmdline);
	p->cmdline = kmalloc(n ? n : 1);
	p->cmdline_len = p->cmdline ? n : 0;
	if (p->cmdline)
		memcpy(p->cmdline, a->argv0, n);
	p->brk_start = p->brk = l->brk;
	p->mm = l->mm;
}

/*
 * The first program's file when pier was given a bare name ("sh"): looked
 * up in the PATH of its environment (or the usual one without it), as a
 * shell or a container runtime does; the name itself stays argv[0].
 * Another name, or none found, is left to load_program (127).
 */
static const char *find_in_path(const struct run_args *a, const char *name, char *buf,
				size_t cap)
{
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	if (!*name || strchr(name, '/'))
		return name;
	const char *e = a->env0;
	for (uint32_t i = 0; i < a->envc; i++, e = run_args_next(e))
		if (strncmp(e, "PATH=", 5) == 0)
			path = e + 5;
	size_t nlen = strlen(name);
	for (const char *dir = path;; dir++) {
		const char *end = strchr(dir, ':');
		size_t dlen = end ? (size_t)(end - dir) : strlen(dir);
		struct vfs_stat st;
		/* An empty entry is the working directory, as for execvp. */
		if (dlen + nlen + 2 <= cap) {
			memcpy(buf, dlen ? dir : ".", dlen ? dlen : 1);
			size_t n = dlen ? dlen : 1;
			buf[n] = '/';
			memcpy(buf + n + 1, name, nlen + 1);
			if (vfs_stat(buf, true, &st) == 0 && S_ISREG(st.mode) && (st.mode & 0111))
				return buf;
		}
		if (!end)
			return name;
		dir = end;
	}
}

int exec_load_new(const struct run_args *a, uint64_t *entry, uint64_t *rsp, char *msg,
		  size_t msg_len)
{
	static char found[256];
	struct process *p = current->proc;
	const char *path = find_in_path(a, a->argv0, found, sizeof(found)), *cwd = a->cwd;
	struct vfs_stat st;
	/* "/" is always the working directory one can have, even without a
	 * root file system (the program then is not found, 127). */
	if (strlen(cwd) >= sizeof(p->cwd) ||
	    (strcmp(cwd, "/") != 0 && (vfs_stat(cwd, true, &st) || !S_ISDIR(st.mode)))) {
		fmt_snprintf(msg, msg_len, "%s: cannot use as working directory", cwd);
		return 126;
	}
	memcpy(p->cwd, cwd, strlen(cwd) + 1);
	struct loaded l;
	struct why w = { "" };
	int err = load_program(path, p->cwd, a, &l, &w);
	if (err) {
		bool missing = err == -ENOENT || err == -ENOTDIR;
		fmt_snprintf(msg, msg_len, "%s: %s", path, w.text[0] ? w.text : strerror_short(err));
		return missing ? 127 : 126;
	}
	take_image(p, a, &l);
	*entry = l.entry;
	*rsp = l.rsp;
	return 0;
}

int exec_program(const struct run_args *a, int verbose, int strace)
{
	syscall_init(); /* the first task, pid 1's main thread */
	struct process *p = process_init_first(1);
	if (!p)
		return fail(a->argv0, "out of memory", 126);
	static char msg[VFS_PATH_MAX + 200];
	uint64_t entry, rsp;
	int status = exec_load_new(a, &entry, &rsp, msg, sizeof(msg));
	if (status) {
		kwarn("%s\n", msg);
		return status;
	}
	p->strace = strace;
	stdio_init();
	stats_mark_startup();
	control_milestone("program");
	if (!verbose && !strace)
		console_set_quiet(1); /* from here on the console is the program's */
	enter_user(entry, rsp);
}

/* execve's strings from the program's memory, packed as a run_args
 * block's: argv then envp. 0 or -errno (E2BIG past Linux's sizes). */
static int copy_strings(uint64_t uargv, uint64_t uenvp, struct run_args *a, char **block)
{
	uint64_t cap = 64 * 1024, len = 0;
	char *b = kmalloc(cap);
	if (!b)
		return -ENOMEM;
	uint32_t count[2] = { 0, 0 };
	uint64_t lists[2] = { uargv, uenvp };
	int err = 0;
	for (int l = 0; l < 2 && !err; l++) {
		for (uint64_t i = 0; lists[l] && !err; i++) {
			uint64_t up;
			if (copy_from_user(&up, lists[l] + i * 8, 8)) {
				err = -EFAULT;
				break;
			}
			if (!up)
				break;
			if (count[0] + count[1] >= 1u << 20) {
				err = -E2BIG;
				break;
			}
			for (;;) { /* grow until the string fits */
				int64_t n = strncpy_from_user(b + len, up, cap - len);
				if (n >= 0) {
					len += (uint64_t)n + 1;
					break;
				}
				if (n != -ENAMETOOLONG) {
					err = (int)n;
					break;
				}
				if (cap >= RUN_ARGS_TOTAL_MAX) {
					err = -E2BIG;
					break;
				}
				char *nb = kmalloc(cap * 2);
				if (!nb) {
					err = -ENOMEM;
					break;
				}
				memcpy(nb, b, len);
				kfree(b);
				b = nb;
				cap *= 2;
			}
			count[l]++;
		}
	}
	if (err) {
		kfree(b);
		return err;
	}
	if (count[0] == 0) { /* Linux runs it with an empty argv[0] */
		memmove(b + 1, b, len);
		b[0] = 0;
		len++;
		count[0] = 1;
	}
	a->cwd = NULL;
	a->argv0 = b;
	a->argc = count[0];
	a->envc = count[1];
	const char *e = b;
	for (uint32_t i = 0; i < count[0]; i++)
		e = run_args_next(e);
	a->env0 = e;
	*block = b;
	return 0;
}

int64_t exec_syscall(const char *path, uint64_t uargv, uint64_t uenvp)
{
	struct process *p = current->proc;
	struct run_args a;
	char *block = NULL;
	int err = copy_strings(uargv, uenvp, &a, &block);
	if (err)
		return err;
	struct loaded l;
	struct why w = { "" };
	err = load_program(path, p->cwd, &a, &l, &w);
	if (!err && process_dying()) { /* another thread exits or exec's first */
		task_set_mm(l.old);
		vm_put(l.mm);
		kfree(l.exe);
		err = -EINTR; /* its SIGKILL ends this thread on the way out */
	}
	if (err) {
		kfree(block);
		return err;
	}
	/* The point of no return: the new image is in place. */
	process_exec_reset();
	take_image(p, &a, &l);
	kfree(block);
	if (l.old)
		vm_put(l.old); /* a vfork parent still has it */
	struct syscall_frame *f = current->frame;
	memset(f, 0, offsetof(struct syscall_frame, cs)); /* every register 0, as Linux starts it */
	f->rip = l.entry;
	f->rsp = l.rsp;
	f->rflags = 0x202;
	wrmsr(MSR_FS_BASE, 0);
	return 0;
}
