/*
 * The VMM's system-call filter (see seccomp.h): a classic BPF program over
 * struct seccomp_data, written out here. Its shape:
 *
 *   arch != AUDIT_ARCH_X86_64             -> trap (i386 via int 0x80, ...)
 *   nr has the x32 bit (or is above it)   -> trap
 *   nr == also_forbid                     -> trap (tests)
 *   ioctl: request one of KVM_RUN, KVM_GET_REGS, KVM_GET_SREGS, KVM_IRQ_LINE
 *          -> allow, else trap
 *   mmap, mprotect: prot without PROT_EXEC -> allow, else trap
 *   socket: AF_UNIX, AF_INET, AF_INET6; socketpair: AF_UNIX -> allow, else trap
 *   nr in the list below                  -> allow
 *   anything else                         -> trap
 *
 * Each test is a jump over one return, so no jump offset ever grows with
 * the list. The list is what the VMM's threads call once the guest runs:
 * read from the code (vmm.c's run loop and teardown, serial.c, vm.c's
 * report, virtio_mmio.c, virtio_fs_dev.c, fuse_server*.c, dax_map.c,
 * glibc's malloc and thread exit) and checked with strace -f over the
 * integration tests under pier's VMM.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <pier/ports.h>
#include "seccomp.h"

/* x32 system calls are x86_64 ones with this bit set (same audit arch). */
#define X32_SYSCALL_BIT 0x40000000u
/* si_code of a seccomp SIGSYS (SYS_SECCOMP in asm-generic/siginfo.h,
 * which cannot be included beside glibc's signal.h). */
#define SIGSYS_SECCOMP 1

#define PROG_MAX 256

static const char *const names[] = {
#include "syscall_names.h"
};

/* Allowed as they are, whatever their arguments. */
static const int allowed[] = {
	/* Device threads wait on eventfds, serve, signal irqfds; the vCPU
	 * thread writes the console and polls stdin. Hot ones first. */
	__NR_poll, __NR_read, __NR_write, __NR_futex, __NR_pread64, __NR_pwrite64,
	/* The FUSE server: every name beneath a node fd (openat2 with
	 * RESOLVE_BENEATH; a node's inode through /proc/self/fd). */
	__NR_openat2, __NR_openat, __NR_close, __NR_newfstatat, __NR_fstatfs,
	__NR_getdents64, __NR_lseek, __NR_readlinkat, __NR_faccessat2,
	__NR_mkdirat, __NR_symlinkat, __NR_linkat, __NR_unlinkat, __NR_renameat2,
	__NR_renameat, /* glibc's renameat2() with flags 0 */
	__NR_fchownat, __NR_fchmod, __NR_chmod, __NR_utimensat, __NR_ftruncate,
	__NR_fallocate, __NR_fsync, __NR_fdatasync, __NR_copy_file_range,
	/* Older or newer glibc may reach the same operations by these: no
	 * more than the ones above allow already. */
	__NR_fstat, __NR_faccessat, __NR_fchmodat,
	/* The DAX window keeps a duplicate fd per mapping. */
	__NR_fcntl, __NR_dup,
	/* Memory: malloc, the DAX window (mmap/mprotect are checked below). */
	__NR_munmap, __NR_mremap, __NR_madvise, __NR_brk,
	/* Time, the --timeout alarm, signals (SIGALRM, SIGINT, SIGTERM). */
	__NR_clock_gettime, __NR_alarm, __NR_rt_sigreturn, __NR_restart_syscall,
	/* A thread pthread_create has just made may still be starting (glibc's
	 * start_thread) when TSYNC gives it the filter; each affects only
	 * the calling thread. */
	__NR_rseq, __NR_set_robust_list, __NR_rt_sigprocmask,
	/* glibc's malloc asks how many CPUs the process may use the first
	 * time a thread needs an arena of its own, which may be a device
	 * thread's first request, long after the filter is in. Read-only. */
	__NR_sched_getaffinity,
	/* Device threads end at teardown; then the process, which may die
	 * of the signal the program died of (raise: tgkill, checked below). */
	__NR_exit, __NR_exit_group, __NR_getpid, __NR_gettid, __NR_rt_sigaction,
	/* pier.exec: the exec server takes clients and carries their records
	 * (the console device's end of the port is a socket too). */
	__NR_accept4, __NR_recvfrom, __NR_sendto,
	/* pier.net: the guest's sockets are the net server's (net/server.c),
	 * which waits on them with epoll. */
	__NR_bind, __NR_listen, __NR_connect, __NR_shutdown,
	__NR_getsockname, __NR_getpeername, __NR_setsockopt, __NR_getsockopt,
	__NR_sendmsg, __NR_recvmsg, __NR_epoll_create1, __NR_epoll_ctl, __NR_epoll_wait,
	__NR_epoll_pwait, __NR_eventfd2,
	__NR_sendfile, /* a share's file straight to a guest's socket (net/files.c) */
};

/* ioctl requests (the low 32 bits: the kernel takes cmd as unsigned int). */
static const uint32_t allowed_ioctls[] = {
	KVM_RUN,
	KVM_GET_REGS, KVM_GET_SREGS, /* where the guest was, for a failure's message */
	KVM_IRQ_LINE,                /* COM1's transmit interrupt (serial.c) */
	/* The console device: the program's terminal modes, its size. */
	TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ,
	FIONREAD, /* pier.net: a socket's bytes to read */
};

struct prog {
	struct sock_filter f[PROG_MAX];
	unsigned n;
};

static void emit(struct prog *p, struct sock_filter f)
{
	if (p->n < PROG_MAX)
		p->f[p->n] = f;
	p->n++; /* counted past the end too: seccomp_confine refuses that */
}

#define STMT(code, k) ((struct sock_filter)BPF_STMT((code), (k)))
#define JUMP(code, k, jt, jf) ((struct sock_filter)BPF_JUMP((code), (k), (jt), (jf)))
#define LOAD(field) STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(field))
#define RET(action) STMT(BPF_RET | BPF_K, (action))
/* The next instruction runs only if A == k (IF_EQ), A != k (IF_NE). */
#define IF_EQ(k) JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), 0, 1)
#define IF_NE(k) JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), 1, 0)
#define ARG_LOW(i) (offsetof(struct seccomp_data, args) + 8 * (i)) /* little-endian */

static void build(struct prog *p, long also_forbid)
{
	p->n = 0;
	emit(p, LOAD(offsetof(struct seccomp_data, arch)));
	emit(p, IF_NE(AUDIT_ARCH_X86_64));
	emit(p, RET(SECCOMP_RET_TRAP));
	emit(p, LOAD(offsetof(struct seccomp_data, nr)));
	/* jge is unsigned: x32 numbers and anything larger. */
	emit(p, JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1));
	emit(p, RET(SECCOMP_RET_TRAP));
	if (also_forbid >= 0) {
		emit(p, IF_EQ((uint32_t)also_forbid));
		emit(p, RET(SECCOMP_RET_TRAP));
	}
	/* ioctl: only the vCPU's requests. The accumulator then holds the
	 * request, so this block ends in returns only. */
	unsigned nioctl = sizeof(allowed_ioctls) / sizeof(allowed_ioctls[0]);
	emit(p, JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, (uint8_t)(2 + 2 * nioctl)));
	emit(p, LOAD(ARG_LOW(1)));
	for (unsigned i = 0; i < nioctl; i++) {
		emit(p, IF_EQ(allowed_ioctls[i]));
		emit(p, RET(SECCOMP_RET_ALLOW));
	}
	emit(p, RET(SECCOMP_RET_TRAP));
	/* mmap, mprotect: never executable (the VMM maps data only), so a
	 * hijacked VMM cannot map code of its own making. */
	const int prot_calls[] = { __NR_mmap, __NR_mprotect };
	for (unsigned i = 0; i < 2; i++) {
		emit(p, JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)prot_calls[i], 0, 4));
		emit(p, LOAD(ARG_LOW(2)));
		emit(p, JUMP(BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 0, 1));
		emit(p, RET(SECCOMP_RET_TRAP));
		emit(p, RET(SECCOMP_RET_ALLOW));
	}
	/* socket: the families pier.net serves (socketpair: Unix only), so no
	 * raw, packet or netlink socket however the VMM is led astray. */
	const uint32_t families[] = { AF_UNIX, AF_INET, AF_INET6 };
	emit(p, JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 8));
	emit(p, LOAD(ARG_LOW(0)));
	for (unsigned i = 0; i < 3; i++) {
		emit(p, IF_EQ(families[i]));
		emit(p, RET(SECCOMP_RET_ALLOW));
	}
	emit(p, RET(SECCOMP_RET_TRAP));
	emit(p, JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socketpair, 0, 4));
	emit(p, LOAD(ARG_LOW(0)));
	emit(p, IF_NE(AF_UNIX));
	emit(p, RET(SECCOMP_RET_TRAP));
	emit(p, RET(SECCOMP_RET_ALLOW));
	/* tgkill: to this process only (raise()); the accumulator is lost. */
	emit(p, JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_tgkill, 0, 4));
	emit(p, LOAD(ARG_LOW(0)));
	emit(p, IF_NE((uint32_t)getpid()));
	emit(p, RET(SECCOMP_RET_TRAP));
	emit(p, RET(SECCOMP_RET_ALLOW));
	for (unsigned i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		emit(p, IF_EQ((uint32_t)allowed[i]));
		emit(p, RET(SECCOMP_RET_ALLOW));
	}
	emit(p, RET(SECCOMP_RET_TRAP));
}

const char *seccomp_syscall_name(long nr)
{
	if (nr < 0 || (unsigned long)nr >= sizeof(names) / sizeof(names[0]))
		return NULL;
	return names[nr];
}

/* ---- the SIGSYS report: async-signal-safe (no stdio, no malloc) ---- */

struct msg {
	char b[320];
	size_t n;
};

static void put(struct msg *m, const char *s)
{
	while (*s && m->n < sizeof(m->b))
		m->b[m->n++] = *s++;
}

static void put_num(struct msg *m, unsigned long long v, unsigned base)
{
	char d[24];
	int i = 0;
	do {
		d[i++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (base == 16)
		put(m, "0x");
	while (i > 0 && m->n < sizeof(m->b))
		m->b[m->n++] = d[--i];
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	struct msg m = { .n = 0 };
	unsigned nr = (unsigned)si->si_syscall;
	if (si->si_code != SIGSYS_SECCOMP) {
		put(&m, "pier: seccomp: SIGSYS, not from the filter; stopping\n");
	} else {
		put(&m, "pier: seccomp: the VMM made ");
		if (si->si_arch != AUDIT_ARCH_X86_64) {
			put(&m, "a system call of another ABI (");
			put(&m, si->si_arch == AUDIT_ARCH_I386 ? "i386, number " : "audit arch ");
			if (si->si_arch != AUDIT_ARCH_I386) {
				put_num(&m, si->si_arch, 16);
				put(&m, ", number ");
			}
			put_num(&m, nr, 10);
			put(&m, ")");
		} else if (nr & X32_SYSCALL_BIT) {
			put(&m, "x32 system call ");
			put_num(&m, nr, 16);
		} else {
			const char *name = seccomp_syscall_name((long)nr);
			put(&m, "system call ");
			put_num(&m, nr, 10);
			put(&m, " (");
			put(&m, name ? name : "unknown");
			put(&m, ")");
		}
		put(&m, ", which its filter forbids (at ");
		put_num(&m, (unsigned long long)(uintptr_t)si->si_call_addr, 16);
		put(&m, ")\npier: seccomp: that is a bug in pier; --seccomp off runs without "
			"the filter\n");
	}
	for (size_t done = 0; done < m.n;) {
		ssize_t w = write(STDERR_FILENO, m.b + done, m.n - done);
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	/* exit_group itself: _exit may be wrapped (sanitizers), and
	 * the wrapper's own calls would be trapped with SIGSYS blocked. */
	syscall(SYS_exit_group, PIER_EXIT_VMERROR);
}

int seccomp_confine(long also_forbid)
{
	static struct prog p; /* 2 KiB: not on a thread's stack */
	build(&p, also_forbid);
	if (p.n > PROG_MAX) {
		fprintf(stderr, "pier: seccomp: the filter needs %u instructions, more than %d\n",
			p.n, PROG_MAX);
		return -1;
	}
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0 && errno == EINVAL) {
		/* A kernel without CONFIG_SECCOMP: say so and go on, as for
		 * a kernel without Landlock. */
		fprintf(stderr, "pier: seccomp: this kernel has no seccomp; running without "
				"the system-call filter\n");
		return 0;
	}
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	sigfillset(&sa.sa_mask);
	sigset_t sys;
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	if (sigaction(SIGSYS, &sa, NULL) || pthread_sigmask(SIG_UNBLOCK, &sys, NULL)) {
		fprintf(stderr, "pier: seccomp: SIGSYS handler: %s\n", strerror(errno));
		return -1;
	}
	/* The kernel demands it of an unprivileged filter; Landlock set it
	 * already where it ran. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		fprintf(stderr, "pier: seccomp: no_new_privs: %s\n", strerror(errno));
		return -1;
	}
	struct sock_fprog fp = { .len = (unsigned short)p.n, .filter = p.f };
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &fp);
	if (r != 0) {
		/* > 0: the id of a thread that could not be synchronised (it
		 * has filters of its own): nothing was installed anywhere. */
		if (r > 0)
			fprintf(stderr, "pier: seccomp: thread %ld could not take the filter\n", r);
		else
			fprintf(stderr, "pier: seccomp: installing the filter: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}
