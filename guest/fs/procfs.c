/*
 * procfs and sysfs: the pseudo files programs read to learn about
 * themselves and the machine, made from the kernel's own state when they
 * are opened (a snapshot per open file, as a seq_file is).
 *
 *   /proc/self -> PID, /proc/PID/{exe, cwd, cmdline, maps, status, stat,
 *   fd/N}, /proc/{cpuinfo, meminfo, stat, uptime, version, loadavg}
 *   /sys/devices/system/cpu/{online, possible, present}
 *
 * A node's vnode id is its kind and an argument (the fd of fd/N). Names
 * are never cached (no vfs_cache_entry): fd/N comes and goes.
 */
#include <stdarg.h>
#include <pier/errno.h>
#include <pier/fmt.h>
#include <pier/stat.h>
#include <pier/string.h>
#include "../arch/x86_64/cpu.h"
#include "../kernel/rtc.h"
#include "../kernel/task.h"
#include "../kernel/stats.h"
#include "../kernel/time.h"
#include "../linux/process.h"
#include "../mm/mm.h"
#include "../mm/vm.h"
#include "procfs.h"
#include "vfs.h"

enum kind {
	K_NONE, K_ROOT, K_SELF, K_PID, K_EXE, K_CWD, K_CMDLINE, K_MAPS, K_STATUS, K_PID_STAT,
	K_FDDIR, K_FD, K_CPUINFO, K_MEMINFO, K_STAT, K_UPTIME, K_VERSION, K_LOADAVG,
	K_SYS, K_SYS_DEVICES, K_SYS_SYSTEM, K_SYS_CPU, K_CPU_ONLINE, K_CPU_POSSIBLE,
	K_CPU_PRESENT, K_PIER, K_PIER_STATS,
};

/* The fixed part of the trees: each node under its parent. */
static const struct {
	enum kind parent, kind;
	const char *name;
} fixed[] = {
	{ K_ROOT, K_SELF, "self" }, { K_ROOT, K_CPUINFO, "cpuinfo" },
	{ K_ROOT, K_MEMINFO, "meminfo" }, { K_ROOT, K_STAT, "stat" },
	{ K_ROOT, K_UPTIME, "uptime" }, { K_ROOT, K_VERSION, "version" },
	{ K_ROOT, K_LOADAVG, "loadavg" }, { K_ROOT, K_PIER, "pier" },
	{ K_PIER, K_PIER_STATS, "stats" }, /* pier's own: its cost counters */
	{ K_PID, K_EXE, "exe" }, { K_PID, K_CWD, "cwd" }, { K_PID, K_CMDLINE, "cmdline" },
	{ K_PID, K_MAPS, "maps" }, { K_PID, K_STATUS, "status" }, { K_PID, K_PID_STAT, "stat" },
	{ K_PID, K_FDDIR, "fd" },
	{ K_SYS, K_SYS_DEVICES, "devices" }, { K_SYS_DEVICES, K_SYS_SYSTEM, "system" },
	{ K_SYS_SYSTEM, K_SYS_CPU, "cpu" }, { K_SYS_CPU, K_CPU_ONLINE, "online" },
	{ K_SYS_CPU, K_CPU_POSSIBLE, "possible" }, { K_SYS_CPU, K_CPU_PRESENT, "present" },
};
#define NFIXED (sizeof(fixed) / sizeof(fixed[0]))

static const struct vnode_ops proc_ops;

static enum kind kind_of(const struct vnode *v)
{
	return (enum kind)(v->id >> 32);
}

static bool is_dir(enum kind k)
{
	return k == K_ROOT || k == K_PID || k == K_FDDIR || k == K_SYS || k == K_SYS_DEVICES ||
	       k == K_SYS_SYSTEM || k == K_SYS_CPU || k == K_PIER;
}

static bool is_link(enum kind k)
{
	return k == K_SELF || k == K_EXE || k == K_CWD || k == K_FD;
}

static struct vnode *node(struct mount *m, enum kind k, uint32_t arg)
{
	bool created;
	uint64_t id = (uint64_t)k << 32 | arg;
	struct vnode *v = vnode_get(m, id, &proc_ops, &created);
	if (v && created) {
		memset(&v->attr, 0, sizeof(v->attr));
		v->attr.ino = id;
		v->attr.nlink = is_dir(k) ? 2 : 1;
		v->attr.mode = is_dir(k) ? S_IFDIR | 0555 : is_link(k) ? S_IFLNK | 0777
			     : S_IFREG | 0444;
		v->attr.blksize = 4096;
		uint64_t boot = rtc_boot_epoch_ns();
		v->attr.atime = v->attr.mtime = v->attr.ctime = boot / 1000000000ULL;
	}
	return v;
}

/* The process a per-process node is about: its pid is the node's
 * argument (an fd's: pid << 8 | fd). NULL once it is gone. */
static uint32_t pid_of(const struct vnode *v)
{
	return kind_of(v) == K_FD ? (uint32_t)v->id >> 8 : (uint32_t)v->id;
}

static struct process *proc_of(const struct vnode *v)
{
	return process_find((int)pid_of(v));
}

/* "123" -> 123; -1 for anything else. */
static int64_t number(const char *s, uint32_t len)
{
	if (len == 0 || len > 9)
		return -1;
	int64_t n = 0;
	for (uint32_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (s[i] - '0');
	}
	return n;
}

static int p_lookup(struct vnode *dir, const char *name, uint32_t len, struct vnode **out)
{
	enum kind k = kind_of(dir);
	for (unsigned i = 0; i < NFIXED; i++)
		if (fixed[i].parent == k && strlen(fixed[i].name) == len &&
		    memcmp(fixed[i].name, name, len) == 0) {
			*out = node(dir->mnt, fixed[i].kind, k == K_PID ? pid_of(dir) : 0);
			return *out ? 0 : -ENOMEM;
		}
	int64_t n = number(name, len);
	struct process *p = k == K_FDDIR ? proc_of(dir) : NULL;
	if (k == K_ROOT && n > 0 && process_find((int)n))
		*out = node(dir->mnt, K_PID, (uint32_t)n);
	else if (p && n >= 0 && n < MAX_FDS && p->fds[n])
		*out = node(dir->mnt, K_FD, pid_of(dir) << 8 | (uint32_t)n);
	else
		return -ENOENT;
	return *out ? 0 : -ENOMEM;
}

static int p_getattr(struct vnode *v)
{
	(void)v;
	return 0;
}

/* ---- the files' contents ---- */

struct text {
	char *p;
	uint64_t len, cap;
};

static __attribute__((format(printf, 2, 3))) void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int n = fmt_vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt,
				      ap);
		va_end(ap);
		if (n < 0)
			return;
		if (t->p && t->len + (uint64_t)n < t->cap) {
			t->len += (uint64_t)n;
			return;
		}
		uint64_t cap = (t->cap ? t->cap * 2 : 4096) + (uint64_t)n;
		char *p = kmalloc(cap);
		if (!p)
			return; /* out of memory: what was made so far */
		if (t->p)
			memcpy(p, t->p, t->len);
		kfree(t->p);
		t->p = p;
		t->cap = cap;
	}
}

static void cpuid_string(char *out, uint32_t leaf0)
{
	uint32_t r[4];
	for (int i = 0; i < 3; i++) {
		cpuid(leaf0 + (uint32_t)i, 0, r);
		memcpy(out + 16 * i, r, 16);
	}
	out[48] = 0;
}

/* One CPU's block of /proc/cpuinfo: CPU cpu of n (all alike: one
 * package, n cores, its APIC ID its number). */
static void cpuinfo_one(struct text *t, int cpu, int n)
{
	uint32_t r[4], v[4];
	char vendor[13], model[49] = "unknown";
	cpuid(0, 0, v);
	memcpy(vendor, &v[1], 4);
	memcpy(vendor + 4, &v[3], 4);
	memcpy(vendor + 8, &v[2], 4);
	vendor[12] = 0;
	cpuid(0x80000000, 0, r);
	if (r[0] >= 0x80000004)
		cpuid_string(model, 0x80000002);
	const char *m = model;
	while (*m == ' ')
		m++;
	cpuid(1, 0, r);
	uint32_t family = (r[0] >> 8) & 0xf, mod = (r[0] >> 4) & 0xf;
	if (family == 0xf)
		family += (r[0] >> 20) & 0xff;
	if (family >= 6)
		mod |= ((r[0] >> 16) & 0xf) << 4;
	uint64_t mhz = time_tsc_hz() / 1000;
	put(t, "processor\t: %d\nvendor_id\t: %s\ncpu family\t: %u\nmodel\t\t: %u\n"
	       "model name\t: %s\nstepping\t: %u\ncpu MHz\t\t: %llu.%03llu\n"
	       "physical id\t: 0\nsiblings\t: %d\ncore id\t\t: %d\ncpu cores\t: %d\n"
	       "apicid\t\t: %u\nfpu\t\t: yes\nflags\t\t:",
	    cpu, vendor, family, mod, m, r[0] & 0xf, (unsigned long long)(mhz / 1000),
	    (unsigned long long)(mhz % 1000), n, cpu, n, smp_cpus[cpu].apic_id);
	/* The flags programs test for, from CPUID leaves 1 and 7. */
	static const struct { int reg; int bit; const char *name; } flags1[] = {
		{ 3, 0, "fpu" }, { 3, 4, "tsc" }, { 3, 8, "cx8" }, { 3, 15, "cmov" },
		{ 3, 23, "mmx" }, { 3, 24, "fxsr" }, { 3, 25, "sse" }, { 3, 26, "sse2" },
		{ 2, 0, "pni" }, { 2, 1, "pclmulqdq" }, { 2, 9, "ssse3" }, { 2, 12, "fma" },
		{ 2, 13, "cx16" }, { 2, 19, "sse4_1" }, { 2, 20, "sse4_2" }, { 2, 22, "movbe" },
		{ 2, 23, "popcnt" }, { 2, 25, "aes" }, { 2, 26, "xsave" }, { 2, 28, "avx" },
		{ 2, 29, "f16c" }, { 2, 30, "rdrand" }, { 2, 31, "hypervisor" },
	};
	for (unsigned i = 0; i < sizeof(flags1) / sizeof(flags1[0]); i++)
		if (r[flags1[i].reg] >> flags1[i].bit & 1)
			put(t, " %s", flags1[i].name);
	cpuid(7, 0, v);
	static const struct { int bit; const char *name; } flags7[] = {
		{ 3, "bmi1" }, { 5, "avx2" }, { 8, "bmi2" }, { 9, "erms" }, { 16, "avx512f" },
		{ 18, "rdseed" }, { 19, "adx" }, { 29, "sha_ni" },
	};
	for (unsigned i = 0; i < sizeof(flags7) / sizeof(flags7[0]); i++)
		if (v[1] >> flags7[i].bit & 1)
			put(t, " %s", flags7[i].name);
	put(t, "\nbogomips\t: %llu.%02llu\naddress sizes\t: 48 bits physical, 48 bits virtual\n\n",
	    (unsigned long long)(mhz * 2 / 1000), (unsigned long long)(mhz * 2 / 10 % 100));
}

static void cpuinfo(struct text *t)
{
	int n = smp_cpus_online();
	for (int i = 0; i < n; i++)
		cpuinfo_one(t, i, n);
}

static void meminfo(struct text *t)
{
	uint64_t total = pmem_total_pages() * 4, free = pmem_free_pages() * 4;
	put(t, "MemTotal:       %8llu kB\nMemFree:        %8llu kB\nMemAvailable:   %8llu kB\n"
	       "Buffers:               0 kB\nCached:                0 kB\nSwapCached:            0 kB\n"
	       "SwapTotal:             0 kB\nSwapFree:              0 kB\nShmem:                 0 kB\n",
	    (unsigned long long)total, (unsigned long long)free, (unsigned long long)free);
}

/* Clock ticks (USER_HZ 100) from nanoseconds. */
static unsigned long long ticks(uint64_t ns)
{
	return ns / 10000000ULL;
}

static void stat_all(struct text *t)
{
	uint64_t run, sys, up = time_ns();
	task_cpu_time(NULL, &run, &sys);
	/* Time is counted per task, not per CPU: each CPU's line is an
	 * equal share of the whole. */
	int n = smp_cpus_online();
	uint64_t idle = up * (uint64_t)n > run ? up * (uint64_t)n - run : 0;
	put(t, "cpu  %llu 0 %llu %llu 0 0 0 0 0 0\n", ticks(run - sys), ticks(sys), ticks(idle));
	for (int cpu = 0; cpu < n; cpu++)
		put(t, "cpu%d %llu 0 %llu %llu 0 0 0 0 0 0\n", cpu, ticks((run - sys) / (uint64_t)n),
		    ticks(sys / (uint64_t)n), ticks(idle / (uint64_t)n));
	put(t, "intr 0\nctxt 0\nbtime %llu\nprocesses 1\nprocs_running 1\nprocs_blocked 0\n",
	    (unsigned long long)(rtc_boot_epoch_ns() / 1000000000ULL));
}

static const char *basename_of(const char *path)
{
	const char *b = path;
	for (const char *p = path; *p; p++)
		if (*p == '/' && p[1])
			b = p + 1;
	return b;
}

static const char *name_of(const struct process *p)
{
	return p->exe ? basename_of(p->exe) : "program";
}

/* mask's CPUs as Linux's lists say them: "0-2,5". */
static void cpu_list(struct text *t, uint64_t mask)
{
	const char *sep = "";
	for (int i = 0; i < 64; i++) {
		if (!(mask >> i & 1))
			continue;
		int j = i;
		while (j < 63 && (mask >> (j + 1) & 1))
			j++;
		if (j > i)
			put(t, "%s%d-%d", sep, i, j);
		else
			put(t, "%s%d", sep, i);
		sep = ",";
		i = j;
	}
}

static void status(struct text *t, struct process *p)
{
	uint64_t ign = 0, cgt = 0;
	for (int s = 1; s <= 64; s++) {
		if (p->sigactions[s][0] == 1)
			ign |= 1ULL << (s - 1);
		else if (p->sigactions[s][0] > 1)
			cgt |= 1ULL << (s - 1);
	}
	bool zombie = p->state == PROC_ZOMBIE;
	struct task *t0 = task_find(p->pid);
	if (!t0 || t0->proc != p)
		t0 = current; /* its first thread is gone: the caller's masks, as a stand-in */
	uint64_t rss = (pmem_total_pages() - pmem_free_pages()) * 4;
	int n = smp_cpus_online();
	uint64_t allowed = t0->rq.allowed & (n >= 64 ? ~0ULL : (1ULL << n) - 1);
	put(t, "Name:\t%.15s\nUmask:\t%04o\nState:\t%s\nTgid:\t%d\nNgid:\t0\nPid:\t%d\n"
	       "PPid:\t%d\nTracerPid:\t0\nUid:\t%u\t%u\t%u\t%u\nGid:\t%u\t%u\t%u\t%u\n"
	       "FDSize:\t%d\nVmRSS:\t%8llu kB\nThreads:\t%d\nSigQ:\t0/0\nSigPnd:\t%016llx\n"
	       "ShdPnd:\t0000000000000000\nSigBlk:\t%016llx\nSigIgn:\t%016llx\nSigCgt:\t%016llx\n"
	       "Cpus_allowed:\t%llx\nCpus_allowed_list:\t",
	    name_of(p), p->umask, zombie ? "Z (zombie)" : "R (running)", p->pid, p->pid,
	    p->parent ? p->parent->pid : 0, vfs_uid,
	    vfs_uid, vfs_uid, vfs_uid, vfs_gid, vfs_gid, vfs_gid, vfs_gid, MAX_FDS,
	    (unsigned long long)rss, p->nthreads, (unsigned long long)t0->sigpending,
	    (unsigned long long)t0->sigmask, (unsigned long long)ign,
	    (unsigned long long)cgt, (unsigned long long)allowed);
	cpu_list(t, allowed);
	put(t, "\n");
}

static void pid_stat(struct text *t, struct process *p)
{
	uint64_t run, sys;
	process_cpu_time(p, &run, &sys);
	uint64_t rss = pmem_total_pages() - pmem_free_pages();
	/* Fields 1-24 of proc(5)'s /proc/pid/stat, the rest zero. */
	put(t, "%d (%.15s) %c %d %d %d 0 -1 0 0 0 0 0 %llu %llu 0 0 20 %d %d 0 0 0 %llu",
	    p->pid, name_of(p), p->state == PROC_ZOMBIE ? 'Z' : 'R',
	    p->parent ? p->parent->pid : 0, p->pgid, p->sid,
	    ticks(run - sys), ticks(sys), p->nice, p->nthreads, (unsigned long long)rss);
	struct task *t0 = task_find(p->pid);
	for (int i = 25; i <= 52; i++) /* 39: the CPU its first thread last ran on */
		put(t, " %d", i == 39 && t0 && t0->proc == p ? t0->cpu->index : 0);
	put(t, "\n");
}

static void maps(struct text *t, struct process *p)
{
	for (const struct vma *v = p->mm ? vm_first_of(p->mm) : NULL; v; v = v->next) {
		const char *name = strcmp(v->what, "stack") == 0 ? "[stack]"
				 : strcmp(v->what, "brk") == 0 ? "[heap]"
				 : strcmp(v->what, "vdso") == 0 ? "[vdso]"
				 : strcmp(v->what, "vvar") == 0 ? "[vvar]" : "";
		put(t, "%012llx-%012llx %c%c%c%c %08llx 00:00 0%s%s\n",
		    (unsigned long long)v->start, (unsigned long long)v->end,
		    v->prot & VM_READ ? 'r' : '-', v->prot & VM_WRITE ? 'w' : '-',
		    v->prot & VM_EXEC ? 'x' : '-', v->shared ? 's' : 'p',
		    (unsigned long long)(v->backing ? v->file_off : 0), *name ? "    " : "", name);
	}
}

static void stats_line(void *ctx, const char *text)
{
	put(ctx, "%s\n", text);
}

static void make_text(const struct vnode *v, struct text *t)
{
	enum kind k = kind_of(v);
	struct process *p = k == K_CMDLINE || k == K_MAPS || k == K_STATUS || k == K_PID_STAT
			    ? proc_of(v) : NULL;
	switch (k) {
	case K_CMDLINE: /* the arguments with their NULs: no formatting */
		if (!p || !p->cmdline)
			break;
		t->p = kmalloc(p->cmdline_len + 1);
		if (t->p) {
			memcpy(t->p, p->cmdline, p->cmdline_len);
			t->len = t->cap = p->cmdline_len;
		}
		break;
	case K_MAPS: if (p) maps(t, p); break;
	case K_STATUS: if (p) status(t, p); break;
	case K_PID_STAT: if (p) pid_stat(t, p); break;
	case K_CPUINFO: cpuinfo(t); break;
	case K_MEMINFO: meminfo(t); break;
	case K_STAT: stat_all(t); break;
	case K_UPTIME: {
		uint64_t up = time_ns(), run, sys;
		task_cpu_time(NULL, &run, &sys);
		uint64_t idle = up > run ? up - run : 0;
		put(t, "%llu.%02llu %llu.%02llu\n", (unsigned long long)(up / 1000000000ULL),
		    (unsigned long long)(up / 10000000ULL % 100),
		    (unsigned long long)(idle / 1000000000ULL),
		    (unsigned long long)(idle / 10000000ULL % 100));
		break;
	}
	case K_VERSION:
		put(t, "Linux version 6.1.0-pier (pier) #1 Pier unikernel\n");
		break;
	case K_PIER_STATS:
		stats_write(stats_line, t);
		break;
	case K_LOADAVG:
		put(t, "0.00 0.00 0.00 1/%d %d\n", task_count(), current->proc->pid); /* last pid: ours */
		break;
	case K_CPU_ONLINE: case K_CPU_POSSIBLE: case K_CPU_PRESENT:
		if (smp_cpus_online() == 1)
			put(t, "0\n");
		else
			put(t, "0-%d\n", smp_cpus_online() - 1);
		break;
	default:
		break;
	}
}

static int p_open(struct file *f, uint32_t flags)
{
	(void)flags;
	enum kind k = kind_of(f->vn);
	if (is_dir(k))
		return 0;
	struct text *t = kzalloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	make_text(f->vn, t);
	f->priv = t;
	return 0;
}

static int64_t p_read(struct file *f, void *buf, uint64_t len, uint64_t off)
{
	struct text *t = f->priv;
	/* The counters are made anew by a read from the start (as Linux's
	 * seq_file files are), so one descriptor serves many looks. */
	if (t && off == 0 && kind_of(f->vn) == K_PIER_STATS) {
		kfree(t->p);
		*t = (struct text){ 0 };
		make_text(f->vn, t);
	}
	if (!t || off >= t->len)
		return 0;
	uint64_t n = t->len - off < len ? t->len - off : len;
	memcpy(buf, t->p + off, n);
	return (int64_t)n;
}

static void p_release(struct file *f)
{
	struct text *t = f->priv;
	if (!t || is_dir(kind_of(f->vn)))
		return;
	kfree(t->p);
	kfree(t);
	f->priv = NULL;
}

/* What fd N of p names, as Linux's readlink of /proc/PID/fd/N says it. */
static void fd_target(struct process *p, int fd, char *buf, uint32_t size)
{
	struct ofile *of = p->fds[fd];
	switch (of->kind) {
	case OF_FILE:
		fmt_snprintf(buf, size, "%s", of->path ? of->path : "/");
		break;
	case OF_CONSOLE:
		fmt_snprintf(buf, size, "/dev/console");
		break;
	case OF_PIPE_READ: case OF_PIPE_WRITE:
		fmt_snprintf(buf, size, "pipe:[%llu]", (unsigned long long)((uint64_t)of->pipe >> 4));
		break;
	case OF_TIMERFD:
		fmt_snprintf(buf, size, "anon_inode:[timerfd]");
		break;
	case OF_EVENTFD:
		fmt_snprintf(buf, size, "anon_inode:[eventfd]");
		break;
	case OF_SIGNALFD:
		fmt_snprintf(buf, size, "anon_inode:[signalfd]");
		break;
	case OF_EPOLL:
		fmt_snprintf(buf, size, "anon_inode:[eventpoll]");
		break;
	case OF_SOCKET:
		fmt_snprintf(buf, size, "socket:[%llu]", (unsigned long long)((uint64_t)of >> 4));
		break;
	}
}

static int p_readlink(struct vnode *v, char *buf, uint32_t size)
{
	char *tmp = kmalloc(VFS_PATH_MAX);
	if (!tmp)
		return -ENOMEM;
	uint32_t arg = (uint32_t)v->id & 0xff;
	struct process *p = kind_of(v) == K_SELF ? current->proc : proc_of(v);
	if (!p || (p->state != PROC_LIVE && kind_of(v) != K_SELF)) {
		kfree(tmp);
		return -ENOENT; /* gone since the lookup */
	}
	switch (kind_of(v)) {
	case K_SELF: fmt_snprintf(tmp, VFS_PATH_MAX, "%d", p->pid); break;
	case K_EXE: fmt_snprintf(tmp, VFS_PATH_MAX, "%s", p->exe ? p->exe : "/"); break;
	case K_CWD: fmt_snprintf(tmp, VFS_PATH_MAX, "%s", p->cwd); break;
	case K_FD:
		if (!p->fds[arg]) {
			kfree(tmp);
			return -ENOENT; /* closed since the lookup */
		}
		fd_target(p, (int)arg, tmp, VFS_PATH_MAX);
		break;
	default:
		kfree(tmp);
		return -EINVAL;
	}
	uint32_t n = (uint32_t)strlen(tmp);
	int r = n + 1 > size ? -ENAMETOOLONG : (int)n;
	if (r >= 0)
		memcpy(buf, tmp, n + 1);
	kfree(tmp);
	return r;
}

struct pid_list {
	int *pids;
	int n, cap;
};

static void count_pid(struct process *p, void *arg)
{
	(void)p;
	((struct pid_list *)arg)->n++;
}

static void add_pid(struct process *p, void *arg)
{
	struct pid_list *l = arg;
	if (l->n < l->cap)
		l->pids[l->n++] = p->pid;
}

static int p_readdir(struct file *f, vfs_dirent_fn fn, void *arg)
{
	enum kind k = kind_of(f->vn);
	/* Positions: the fixed children in table order, then the dynamic. */
	uint64_t i = 0;
	for (unsigned c = 0; c < NFIXED; c++) {
		if (fixed[c].parent != k)
			continue;
		if (i++ < f->pos)
			continue;
		enum kind ck = fixed[c].kind;
		uint32_t type = is_dir(ck) ? S_IFDIR >> 12 : is_link(ck) ? S_IFLNK >> 12
			      : S_IFREG >> 12;
		if (fn(arg, fixed[c].name, (uint32_t)strlen(fixed[c].name), type, (uint64_t)ck << 32))
			return 0;
		f->pos = i;
	}
	char name[16];
	if (k == K_ROOT) { /* every process, by pid (the newest first) */
		struct pid_list l = { NULL, 0, 0 };
		process_for_each(count_pid, &l);
		l.pids = kmalloc((l.n ? l.n : 1) * sizeof(int));
		if (!l.pids)
			return -ENOMEM;
		l.cap = l.n;
		l.n = 0;
		process_for_each(add_pid, &l);
		int stop = 0;
		for (int j = 0; j < l.n && !stop; j++) {
			if (i++ < f->pos)
				continue;
			int n = fmt_snprintf(name, sizeof(name), "%d", l.pids[j]);
			stop = fn(arg, name, (uint32_t)n, S_IFDIR >> 12,
				  (uint64_t)K_PID << 32 | (uint32_t)l.pids[j]);
			if (!stop)
				f->pos = i;
		}
		kfree(l.pids);
		return 0;
	}
	struct process *p = k == K_FDDIR ? proc_of(f->vn) : NULL;
	if (p)
		for (int fd = 0; fd < MAX_FDS; fd++) {
			if (!p->fds[fd] || i++ < f->pos)
				continue;
			int n = fmt_snprintf(name, sizeof(name), "%d", fd);
			if (fn(arg, name, (uint32_t)n, S_IFLNK >> 12,
			       (uint64_t)K_FD << 32 | pid_of(f->vn) << 8 | (uint64_t)fd))
				return 0;
			f->pos = i;
		}
	return 0;
}

static const struct vnode_ops proc_ops = {
	.lookup = p_lookup,
	.getattr = p_getattr,
	.open = p_open,
	.read = p_read,
	.release = p_release,
	.readlink = p_readlink,
	.readdir = p_readdir,
};

static int mount_at(const char *path, enum kind root_kind)
{
	struct mount *m = vfs_mount_new(NULL, NULL);
	struct vnode *root = m ? node(m, root_kind, 0) : NULL;
	if (!root)
		return -ENOMEM;
	return vfs_mount(m, path, root);
}

int procfs_mount(const char *path)
{
	return mount_at(path, K_ROOT);
}

int sysfs_mount(const char *path)
{
	return mount_at(path, K_SYS);
}
