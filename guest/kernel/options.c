/*
 * Kernel option table. Every option the kernel accepts is listed here, so
 * an unknown or misspelled one is reported instead of silently ignored.
 */
#include <pier/string.h>
#include "../arch/x86_64/cpu.h"
#include "../arch/x86_64/smp.h"
#include "../drivers/virtio.h"
#include "../fs/fuse.h"
#include "../fs/fuse_dax.h"
#include "../linux/identity.h"
#include "../linux/signal.h"
#include "../mm/mm.h"
#include "../mm/tlb.h"
#include "console.h"
#include "control.h"
#include "options.h"
#include "spinlock.h"
#include "fstest.h"
#include "panic.h"

static const char *const known[] = {
	"verbose", "exit", "crash", "crash_seed", "cpus", "tlb_twice",
	"rootfs", "mount", "virtio_poll", "virtio_timeout", "virtio_test_latency_us", "virtio_pci_intx", "uid", "gid", "dcache_max",
	"hostname", "rlimit", "container",
	"args", "env", "cwd", "strace", "stats", "timing", "fuse_trace", "dax", "dax_chunk", "dax_small", "dax_policy", "dax_write", "ro", "tmpfs",
	"virtio_mmio.device", /* added by QEMU microvm; used by the virtio issue */
};

/* crash_seed=N: the scribble's seed, to replay a run; 0 (unset) takes the TSC. */
static uint64_t crash_seed;

static int is_known(const char *key)
{
	if (fstest_is_option(key))
		return 1;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(known[i], key) == 0)
			return 1;
	return 0;
}

static int parse_int(const char *key, const char *v, int lo, int hi, int dflt)
{
	unsigned long long n;
	if (cmdline_parse_u64(v, &n) || n < (unsigned long long)lo || n > (unsigned long long)hi) {
		kwarn("warning: option %s=%s: expected a number %d..%d, using %d\n", key, v, lo,
			hi, dflt);
		return dflt;
	}
	return (int)n;
}

/* dax=0|1, dax_chunk=SIZE (a power of two, 4K..1G), dax_small=SIZE (whole reads
 * of files up to SIZE by FUSE_READ the first time), dax_policy=lru|lifo|linux,
 * dax_write=0|1. */
static void apply_dax(const struct cmdline *cl)
{
	const char *v;
	unsigned long long n;
	if ((v = cmdline_get(cl, "dax")))
		fuse_dax_options.off = parse_int("dax", v, 0, 1, 1) == 0;
	if ((v = cmdline_get(cl, "dax_write")))
		fuse_dax_options.write = parse_int("dax_write", v, 0, 1, 1) == 1;
	if ((v = cmdline_get(cl, "dax_chunk"))) {
		if (cmdline_parse_u64(v, &n) || n < 4096 || n > (1ULL << 30) || (n & (n - 1)))
			kwarn("warning: option dax_chunk=%s: expected a power of two 4K..1G, "
			      "using 2M\n", v);
		else
			fuse_dax_options.chunk = n;
	}
	if ((v = cmdline_get(cl, "dax_small"))) {
		if (cmdline_parse_u64(v, &n) || n > (1ULL << 30))
			kwarn("warning: option dax_small=%s: expected a size up to 1G, using 256K\n", v);
		else
			fuse_dax_options.small = n;
	}
	if ((v = cmdline_get(cl, "dax_policy"))) {
		if (strcmp(v, "lru") == 0)
			fuse_dax_options.policy = DAX_POLICY_LRU;
		else if (strcmp(v, "lifo") == 0)
			fuse_dax_options.policy = DAX_POLICY_LIFO;
		else if (strcmp(v, "linux") == 0)
			fuse_dax_options.policy = DAX_POLICY_LINUX;
		else
			kwarn("warning: option dax_policy=%s: expected lru, lifo or linux\n", v);
	}
}

void options_apply(const struct cmdline *cl, struct kernel_options *opts)
{
	const char *v;
	opts->verbose = (v = cmdline_get(cl, "verbose")) ? parse_int("verbose", v, 0, 1, 0) : 0;
	opts->exit_status = (v = cmdline_get(cl, "exit")) ? parse_int("exit", v, 0, 255, 0) : 0;
	opts->crash = cmdline_get(cl, "crash");
	opts->cpus = (v = cmdline_get(cl, "cpus")) ? parse_int("cpus", v, 1, 4096, 1) : 1;
	/* tlb_twice=1: every shoot-down IPI is sent twice (tests: tlb.c). */
	if ((v = cmdline_get(cl, "tlb_twice")))
		tlb_send_twice = parse_int("tlb_twice", v, 0, 1, 0) == 1;
	unsigned long long seed;
	if ((v = cmdline_get(cl, "crash_seed")) && !cmdline_parse_u64(v, &seed))
		crash_seed = seed;
	else if (v)
		kwarn("warning: option crash_seed=%s: expected a number (using the TSC)\n", v);
	opts->virtio_poll = (v = cmdline_get(cl, "virtio_poll")) ? parse_int("virtio_poll", v, 0, 1, 0) : -1;
	opts->virtio_test_latency_us = (v = cmdline_get(cl, "virtio_test_latency_us"))
		? parse_int("virtio_test_latency_us", v, 0, 1000000, 0) : 0;
	opts->virtio_timeout = (v = cmdline_get(cl, "virtio_timeout"))
				       ? parse_int("virtio_timeout", v, 1, 86400, 60) : 60;
	opts->uid = (v = cmdline_get(cl, "uid")) ? parse_int("uid", v, 0, 0x7fffffff, 0) : 0;
	opts->gid = (v = cmdline_get(cl, "gid")) ? parse_int("gid", v, 0, 0x7fffffff, 0) : 0;
	opts->strace = (v = cmdline_get(cl, "strace")) ? parse_int("strace", v, 0, 1, 0) : 0;
	opts->dcache_max = (v = cmdline_get(cl, "dcache_max"))
				   ? parse_int("dcache_max", v, 16, 1 << 20, 32768) : 32768;
	apply_dax(cl);
	if ((v = cmdline_get(cl, "stats")))
		control_stats = parse_int("stats", v, 0, 1, 0);
	if ((v = cmdline_get(cl, "timing")))
		control_timing = parse_int("timing", v, 0, 1, 0);
	if ((v = cmdline_get(cl, "fuse_trace")))
		fuse_trace = parse_int("fuse_trace", v, 0, 1, 0);
	if ((v = cmdline_get(cl, "container")))
		signal_init_shielded = parse_int("container", v, 0, 1, 0);
	if ((v = cmdline_get(cl, "hostname")))
		identity_set_hostname(v);
	for (int i = 0; i < cl->nopts; i++)
		if (strcmp(cl->opts[i].key, "rlimit") == 0 && identity_set_rlimit(cl->opts[i].value))
			kwarn("warning: option rlimit=%s: expected NAME:SOFT:HARD (ignored)\n",
			      cl->opts[i].value);
	for (int i = 0; i < cl->nopts; i++)
		if (!is_known(cl->opts[i].key))
			kwarn("warning: unknown option '%s' (ignored)\n", cl->opts[i].key);
}

void options_crash(const char *kind)
{
	kprintf("crash=%s: triggering a fault on purpose\n", kind);
	if (strcmp(kind, "ud") == 0)
		__asm__ volatile("ud2");
	if (strcmp(kind, "pf") == 0)
		*(volatile int *)0xffff900000000000ULL = 1; /* no mapping there */
	if (strcmp(kind, "gp") == 0)
		*(volatile int *)0x8000000000000000ULL = 1; /* non-canonical */
	if (strcmp(kind, "div") == 0) /* in asm: C division by zero is UB */
		__asm__ volatile("xor %%ecx, %%ecx; mov $1, %%eax; xor %%edx, %%edx; div %%ecx"
				 ::: "eax", "ecx", "edx");
	if (strcmp(kind, "triple") == 0) {
		/* No IDT: the breakpoint cannot be delivered, nor the #GP and #DF
		 * that follow, so the CPU shuts down (a triple fault). */
		struct { uint16_t limit; uint64_t base; } __attribute__((packed)) none = { 0, 0 };
		__asm__ volatile("lidt %0; int3" :: "m"(none));
	}
	if (strcmp(kind, "spin") == 0) /* a ring-0 loop that never exits to the VMM */
		__asm__ volatile("cli; 1: jmp 1b");
	if (strcmp(kind, "virtio") == 0)
		virtio_mmio_scribble(crash_seed ? crash_seed : rdtsc());
	if (strcmp(kind, "hang") == 0) /* never exits: lets tests check --timeout */
		for (;;)
			__asm__ volatile("cli; hlt");
	if (strcmp(kind, "lock-order") == 0) { /* the checker must stop this */
		static struct spinlock dax = SPINLOCK_INIT(&lock_class_dax);
		static struct spinlock vfs = SPINLOCK_INIT(&lock_class_vfs);
		spin_lock(&dax);
		spin_lock(&vfs); /* vfs.lock comes before dax.lock */
	}
	if (strcmp(kind, "ap") == 0) { /* the last CPU panics; this one waits for its NMI */
		if (smp_cpus_online() > 1) {
			smp_crash_on(smp_cpus_online() - 1);
			for (;;)
				cpu_relax();
		}
	}
	if (strcmp(kind, "double-free") == 0) {
		void *p = kmalloc(64);
		kfree(p);
		kfree(p);
	}
	panic("crash=%s requested", kind);
}
