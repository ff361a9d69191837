/*
 * pier's own VMM (see vmm.h): one thread per vCPU running KVM_RUN and
 * dispatching its exits (COM1, CMOS clock, the control and exit ports, the
 * virtio-mmio devices) under one io_lock, one thread per virtio-fs device.
 * vCPU 0 is pier's main thread; the others (--cpus) wait inside KVM for
 * the guest's INIT-SIPI-SIPI, as application processors do. Devices sit in the
 * 32-bit hole at VMM_MMIO_BASE, one page each, on I/O APIC inputs from
 * VMM_GSI_BASE, and reach the guest on its command line as QEMU's microvm
 * does (virtio_mmio.device=4K@ADDR:GSI) and in the ACPI tables (acpi.h).
 * A kernel that is not Pier's (Linux's vmlinux, through PVH) gets only the
 * tables and --append's command line, and stops by ACPI power-off.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <pier/ports.h>
#include <pier/run_args.h>
#include "acpi.h"
#include "boot.h"
#include "cmos.h"
#include "kvm_stats.h"
#include "landlock.h"
#include "seccomp.h"
#include "serial.h"
#include "virtio_console_dev.h"
#include "virtio_fs_dev.h"
#include "../exec_server.h"
#include "../net/policy.h"
#include "../net/server.h"
#include "../run_signals.h"
#include "../stats.h"
#include "../terminal.h"
#include "vm.h"
#include "fw_cfg.h"
#include "vmm.h"

#define VMM_MMIO_BASE 0xd0000000ULL
#define VMM_GSI_BASE 16
#define VMM_MAX_FS 8          /* I/O APIC inputs 16-23 */
/* The console, after the shares' slots; an ISA input nothing else uses. */
#define VMM_CONSOLE_BASE (VMM_MMIO_BASE + VMM_MAX_FS * VIRTIO_MMIO_SIZE)
#define VMM_CONSOLE_GSI 5
#define VMM_DAX_ALIGN (1ULL << 30)

/* The exits that reach pier (--stats), by what they were for. */
enum vmm_exit {
	EXIT_IO_CONTROL, EXIT_IO_SERIAL, EXIT_IO_CMOS, EXIT_IO_FW_CFG, EXIT_IO_OTHER,
	EXIT_MMIO_FS, EXIT_MMIO_CONSOLE, EXIT_MMIO_OTHER, EXIT_INTR, EXIT_OTHER,
	VMM_EXIT_KINDS
};
static const char *const exit_names[VMM_EXIT_KINDS] = {
	[EXIT_IO_CONTROL] = "exit.io.control", [EXIT_IO_SERIAL] = "exit.io.serial",
	[EXIT_IO_CMOS] = "exit.io.cmos", [EXIT_IO_FW_CFG] = "exit.io.fw_cfg",
	[EXIT_IO_OTHER] = "exit.io.other", [EXIT_MMIO_FS] = "exit.mmio.virtio_fs",
	[EXIT_MMIO_CONSOLE] = "exit.mmio.console", [EXIT_MMIO_OTHER] = "exit.mmio.other",
	[EXIT_INTR] = "exit.signal", [EXIT_OTHER] = "exit.other",
};

struct vmm;

/* An application processor's thread (vCPU 1 and up). */
struct ap {
	struct vmm *v;
	struct vcpu *cpu;
	pthread_t thread;
	bool started;
};

struct vmm {
	const struct run_options *o;
	struct vm vm;
	struct vcpu cpus[RUN_MAX_CPUS]; /* [0]: the boot processor, pier's main thread */
	int ncpus;                      /* created */
	struct ap aps[RUN_MAX_CPUS];    /* [i] runs cpus[i], i >= 1 */
	pthread_t bsp_thread;
	/* Every exit's handling: the devices' registers, COM1, CMOS, the
	 * control parser, exits[] and the stop fields below. */
	pthread_mutex_t io_lock;
	struct serial com1;
	struct cmos cmos;
	struct fw_cfg fw_cfg; /* the program's argument block */
	struct control ctl;
	struct virtio_fs_dev fs[VMM_MAX_FS];
	int nfs;
	struct virtio_console_dev con; /* the program's stdio; con.started: there */
	struct exec_server *exec;      /* --exec-socket's server, or NULL */
	struct net_server *net;        /* the guest's sockets' server, or NULL */
	uint64_t exits[VMM_EXIT_KINDS]; /* --stats: the exits pier handled, by kind */
	struct kvm_stats kvm_vm, kvm_vcpu; /* --stats: what KVM counted itself */
	bool startup_marked;  /* --stats: the program's first instruction is near */
	uint64_t startup_kvm_exits;                 /* ... and the exits until then, */
	uint64_t startup_by_kind[VMM_EXIT_KINDS];   /* ... pier's by kind */
	int stopped;          /* the guest wrote the exit port, or powered off (io_lock) */
	bool foreign;         /* the kernel is not Pier's (no Pier entry note) */
	const char *acpi_stop; /* "power-off" or "reset", through the FADT's ports */
	const char *failure;  /* why the VM stopped, if not by the exit port (io_lock) */
	char why[160];        /* failure's words, when made up here */
	struct run_milestone host_ms[4];
	int nhost_ms;
};

static int timed_out;
static volatile sig_atomic_t alarm_rang;
static int got_signal; /* the signal that ended the VM */
static struct kvm_run *volatile signal_run; /* to make KVM_RUN return at once */

static void wake_vcpu(int sig)
{
	(void)sig;
	if (signal_run)
		signal_run->immediate_exit = 1;
}

/* The signal one vCPU thread sends another to make its KVM_RUN return
 * (the VM is stopping); it is pier's own, never passed to the program. */
#define SIG_KICK (SIGRTMIN + 1)
static __thread struct kvm_run *thread_run; /* this thread's vCPU */

static void on_kick(int sig)
{
	(void)sig;
	if (thread_run)
		thread_run->immediate_exit = 1;
}

static void on_alarm(int sig)
{
	alarm_rang = 1;
	wake_vcpu(sig);
}

/* The --timeout and a passed-on signal's grace period, by one alarm(). */
static void check_deadlines(struct vmm *v)
{
	uint64_t now = run_now_ns();
	uint64_t timeout_end = v->o->timeout_s ? v->o->start_ns +
						 (uint64_t)v->o->timeout_s * 1000000000ULL : 0;
	if (timeout_end && now >= timeout_end)
		timed_out = 1;
	if (run_signals_overdue(now) && !got_signal)
		got_signal = run_signals_fatal();
	uint64_t next = run_signals_grace_end();
	if (!next || (timeout_end && timeout_end < next))
		next = timeout_end;
	alarm_rang = 0;
	if (next && next > now)
		alarm((unsigned)((next - now + 999999999ULL) / 1000000000ULL));
}

static void pass_to_console(void *ctx, int sig)
{
	virtio_console_dev_signal(ctx, sig);
}

/* Signals sent to pier: the program's once it runs (run_signals.h). */
static void pass_signals(struct vmm *v)
{
	bool running = v->con.started && control_program_running(&v->ctl);
	int end = run_signals_dispatch(running, pass_to_console, &v->con, 0);
	if (end && !got_signal)
		got_signal = end;
}

static void host_milestone(struct vmm *v, const char *name)
{
	if (v->nhost_ms < (int)(sizeof(v->host_ms) / sizeof(v->host_ms[0])))
		v->host_ms[v->nhost_ms++] = (struct run_milestone){ name,
			run_now_ns() - v->o->start_ns };
}

/* --stats: the exits from pier's start until the guest said it enters the
 * program (the milestone line's own exits included). */
static void mark_startup(struct vmm *v)
{
	v->startup_marked = true;
	memcpy(v->startup_by_kind, v->exits, sizeof(v->exits));
	v->startup_kvm_exits = kvm_stats_value(&v->kvm_vcpu, "exits");
}

/* Whether the guest runs on: no vCPU stopped it, nothing failed, no
 * signal or timeout ended it (read by every vCPU thread). */
static bool vm_running(struct vmm *v)
{
	return !__atomic_load_n(&v->stopped, __ATOMIC_ACQUIRE) &&
	       !__atomic_load_n(&v->failure, __ATOMIC_ACQUIRE) &&
	       !__atomic_load_n(&got_signal, __ATOMIC_RELAXED) &&
	       !__atomic_load_n(&timed_out, __ATOMIC_RELAXED);
}

/* The VM stops for why (the first reason stays); io_lock held. */
static void vm_fail(struct vmm *v, const char *why)
{
	if (!v->failure)
		__atomic_store_n(&v->failure, why, __ATOMIC_RELEASE);
}

/* One port access of `size` bytes; data in (out) or to fill (in). */
static void port_io(struct vmm *v, uint16_t port, bool out, uint8_t *data, unsigned size)
{
	if (port >= SERIAL_COM1 && port < SERIAL_COM1 + SERIAL_PORTS) {
		if (out)
			serial_write(&v->com1, port - SERIAL_COM1, data[0]);
		else
			memset(data, serial_read(&v->com1, port - SERIAL_COM1), size);
	} else if (port == CMOS_PORT_INDEX || port == CMOS_PORT_DATA) {
		if (out)
			cmos_write(&v->cmos, port, data[0]);
		else
			memset(data, cmos_read(&v->cmos, port), size);
	} else if (fw_cfg_port(port)) {
		fw_cfg_io(&v->fw_cfg, port, out, data, size);
	} else if (port == PIER_PORT_CONTROL && out) {
		serial_flush(&v->com1); /* keep the guest's output before what it reports */
		control_feed(&v->ctl, (const char *)data, size, run_now_ns() - v->o->start_ns);
		if (v->o->stats_table && !v->startup_marked && control_program_running(&v->ctl))
			mark_startup(v);
	} else if (port == PIER_PORT_CONTROL) {
		memset(data, PIER_PORT_CONTROL, size); /* what QEMU's debugcon answers */
	} else if (port == PIER_PORT_EXIT && out) {
		__atomic_store_n(&v->stopped, 1, __ATOMIC_RELEASE);
	} else if (port == ACPI_PORT_SLEEP_CTL && out) {
		if ((data[0] & ACPI_SLP_EN) && ACPI_SLP_TYP(data[0]) == ACPI_S5_TYP) {
			v->acpi_stop = "power-off";
			__atomic_store_n(&v->stopped, 1, __ATOMIC_RELEASE);
		}
	} else if (port == ACPI_PORT_RESET && out) {
		if (data[0] == ACPI_RESET_VALUE) {
			v->acpi_stop = "reset";
			__atomic_store_n(&v->stopped, 1, __ATOMIC_RELEASE);
		}
	} else if (port == ACPI_PORT_SLEEP_STS || port == ACPI_PORT_SLEEP_CTL) {
		memset(data, 0, size); /* never asleep, nothing to wake from */
	} else if (!out) {
		memset(data, 0xff, size); /* nothing there (PCI config space included) */
	}
}

static enum vmm_exit io_kind(uint16_t port)
{
	if (port == PIER_PORT_CONTROL || port == PIER_PORT_EXIT || port == ACPI_PORT_SLEEP_CTL ||
	    port == ACPI_PORT_SLEEP_STS || port == ACPI_PORT_RESET)
		return EXIT_IO_CONTROL;
	if (port >= SERIAL_COM1 && port < SERIAL_COM1 + SERIAL_PORTS)
		return EXIT_IO_SERIAL;
	if (port == CMOS_PORT_INDEX || port == CMOS_PORT_DATA)
		return EXIT_IO_CMOS;
	return fw_cfg_port(port) ? EXIT_IO_FW_CFG : EXIT_IO_OTHER;
}

static void handle_io(struct vmm *v, struct kvm_run *r)
{
	uint8_t *data = (uint8_t *)r + r->io.data_offset;
	v->exits[io_kind(r->io.port)]++;
	/* String I/O (rep outsb) arrives as `count` accesses in one exit. */
	for (uint32_t i = 0; i < r->io.count && !v->stopped; i++, data += r->io.size)
		port_io(v, r->io.port, r->io.direction == KVM_EXIT_IO_OUT, data, r->io.size);
}

static void handle_mmio(struct vmm *v, struct kvm_run *r)
{
	uint64_t a = r->mmio.phys_addr;
	unsigned len = r->mmio.len <= 8 ? r->mmio.len : 8;
	for (int i = 0; i <= v->nfs; i++) {
		struct virtio_mmio *t = i < v->nfs ? &v->fs[i].t : v->con.started ? &v->con.t : NULL;
		if (!t)
			break;
		if (a < t->base || a - t->base >= VIRTIO_MMIO_SIZE)
			continue;
		v->exits[i < v->nfs ? EXIT_MMIO_FS : EXIT_MMIO_CONSOLE]++;
		if (r->mmio.is_write) {
			uint32_t val = 0;
			memcpy(&val, r->mmio.data, len < 4 ? len : 4);
			virtio_mmio_write(t, a - t->base, len, val);
		} else {
			uint32_t val = virtio_mmio_read(t, a - t->base, len);
			memset(r->mmio.data, 0, 8);
			memcpy(r->mmio.data, &val, len < 4 ? len : 4);
		}
		return;
	}
	v->exits[EXIT_MMIO_OTHER]++;
	if (!r->mmio.is_write)
		memset(r->mmio.data, 0xff, 8); /* unclaimed: all ones, as on a bus */
}

static bool repair_dax(struct vmm *v)
{
	int changed = 0;
	for (int i = 0; i < v->nfs; i++)
		if (v->fs[i].dax.len)
			changed += dax_map_repair(&v->fs[i].dax);
	return changed > 0;
}

/* One exit of a vCPU other than KVM_RUN's own failure; io_lock held. */
static void handle_exit(struct vmm *v, struct kvm_run *r)
{
	switch (r->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(v, r);
		break;
	case KVM_EXIT_MMIO:
		handle_mmio(v, r);
		break;
	case KVM_EXIT_SHUTDOWN:
		vm_fail(v, "the guest reset the CPU (triple fault)");
		break;
	case KVM_EXIT_HLT:
		vm_fail(v, "the guest halted for good");
		break;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(v->why, sizeof(v->why), "KVM could not enter the guest (reason %#llx)",
			 (unsigned long long)r->fail_entry.hardware_entry_failure_reason);
		vm_fail(v, v->why);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(v->why, sizeof(v->why), "KVM internal error %u (emulation failure "
			 "is 1)", r->internal.suberror);
		vm_fail(v, v->why);
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		vm_fail(v, "the guest asked for a reset or power-off");
		break;
	default:
		v->exits[EXIT_OTHER]++;
		snprintf(v->why, sizeof(v->why), "unexpected KVM exit %u", r->exit_reason);
		vm_fail(v, v->why);
		break;
	}
}

/* KVM_RUN failed with errno e (not a signal's EINTR); io_lock held. */
static void handle_run_error(struct vmm *v, int e)
{
	/* KVM could not get a page of guest memory: in a DAX window, a file
	 * truncated under its mapping. Zero pages go where the file ended,
	 * and the guest goes on. */
	if (e == EFAULT && repair_dax(v))
		return;
	if (e == EFAULT && v->o->dax_bytes) {
		vm_fail(v, "the guest touched guest memory KVM cannot back (a part of a DAX "
			   "window with nothing mapped?)");
		return;
	}
	snprintf(v->why, sizeof(v->why), "KVM_RUN: %s", strerror(e));
	vm_fail(v, v->why);
}

/* Makes every other vCPU thread's KVM_RUN return: the VM is stopping. */
/* Makes vCPU i's KVM_RUN return now, or at once if it is not in it. */
static void kick(struct vmm *v, int i, pthread_t t)
{
	v->cpus[i].run->immediate_exit = 1;
	pthread_kill(t, SIG_KICK);
}

static void kick_others(struct vmm *v)
{
	pthread_t self = pthread_self();
	for (int i = 0; i < v->ncpus; i++) {
		pthread_t t = i ? v->aps[i].thread : v->bsp_thread;
		if ((i && !v->aps[i].started) || pthread_equal(t, self))
			continue;
		kick(v, i, t);
	}
}

/* Runs one vCPU until the VM stops, then makes the others stop too. The
 * boot processor's thread (boot) also takes pier's signals and the
 * deadlines when its KVM_RUN is interrupted; the others only see their
 * kick. */
static void vcpu_loop(struct vmm *v, struct vcpu *cpu, bool boot)
{
	struct kvm_run *r = cpu->run;
	thread_run = r;
	while (vm_running(v)) {
		int rc = ioctl(cpu->fd, KVM_RUN, 0);
		int e = errno;
		if (rc < 0 && (e == EINTR || e == EAGAIN)) {
			r->immediate_exit = 0;
			if (boot) {
				pthread_mutex_lock(&v->io_lock);
				v->exits[EXIT_INTR]++;
				pass_signals(v);
				pthread_mutex_unlock(&v->io_lock);
				check_deadlines(v);
			}
			continue;
		}
		pthread_mutex_lock(&v->io_lock);
		if (rc < 0)
			handle_run_error(v, e);
		else
			handle_exit(v, r);
		pthread_mutex_unlock(&v->io_lock);
	}
	kick_others(v);
}

/* An application processor: KVM holds it until the guest's SIPI. */
static void *ap_main(void *arg)
{
	struct ap *ap = arg;
	vcpu_loop(ap->v, ap->cpu, false);
	return NULL;
}

/* Runs vCPU 0 until the guest stops, fails, or we are told to stop. */
static void run_loop(struct vmm *v)
{
	signal_run = v->cpus[0].run;
	host_milestone(v, "vcpu-start");
	vcpu_loop(v, &v->cpus[0], true);
	signal_run = NULL;
}

/* Starts a thread for each application processor, every signal blocked
 * but SIG_KICK: pier's own signals go to the main thread. */
static int start_aps(struct vmm *v)
{
	struct sigaction sa = { .sa_handler = on_kick };
	sigaction(SIG_KICK, &sa, NULL);
	v->bsp_thread = pthread_self();
	sigset_t all, old;
	sigfillset(&all);
	sigdelset(&all, SIG_KICK);
	sigdelset(&all, SIGSYS); /* the seccomp report */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = 0;
	for (int i = 1; i < v->ncpus && !rc; i++) {
		v->aps[i] = (struct ap){ .v = v, .cpu = &v->cpus[i] };
		rc = pthread_create(&v->aps[i].thread, NULL, ap_main, &v->aps[i]);
		if (rc)
			fprintf(stderr, "pier: vCPU %d's thread: %s\n", i, strerror(rc));
		else
			v->aps[i].started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc ? -1 : 0;
}

static void stop_aps(struct vmm *v)
{
	for (int i = 1; i < v->ncpus; i++)
		if (v->aps[i].started) {
			kick(v, i, v->aps[i].thread);
			pthread_join(v->aps[i].thread, NULL);
			v->aps[i].started = false;
		}
}

/* Where the guest was when something went wrong, for the message. */
static void report_cpu(struct vmm *v)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	if (ioctl(v->cpus[0].fd, KVM_GET_REGS, &regs) || ioctl(v->cpus[0].fd, KVM_GET_SREGS, &sregs))
		return;
	fprintf(stderr, "pier: guest rip=%#llx rsp=%#llx cs=%#x cr0=%#llx cr2=%#llx "
			"cr3=%#llx\n", (unsigned long long)regs.rip, (unsigned long long)regs.rsp,
		sregs.cs.selector, (unsigned long long)sregs.cr0, (unsigned long long)sregs.cr2,
		(unsigned long long)sregs.cr3);
}

/*
 * Device i's DAX window: guest-physical space above all RAM, each window on
 * a 1 GiB boundary (so the guest can map it with large pages), registered
 * with KVM as one slot over the whole reservation.
 */
static int add_dax(struct vmm *v, int i)
{
	uint64_t len = v->o->dax_bytes;
	uint64_t ram_top = v->vm.mem.size > v->vm.mem.low_size
				   ? GUEST_MEM_HIGH_START + (v->vm.mem.size - v->vm.mem.low_size)
				   : GUEST_MEM_HIGH_START;
	uint64_t stride = (len + VMM_DAX_ALIGN - 1) & ~(VMM_DAX_ALIGN - 1);
	uint64_t gpa = ((ram_top + VMM_DAX_ALIGN - 1) & ~(VMM_DAX_ALIGN - 1)) + (uint64_t)i * stride;
	struct virtio_fs_dev *d = &v->fs[i];
	if (virtio_fs_dev_add_dax(d, gpa, len) || vm_map(&v->vm, gpa, d->dax.base, len, false))
		return -1;
	return 0;
}

/*
 * One descriptor per inode the guest knows: the usual soft limit of 1024
 * (and a hard limit of 4096, seen in the nested test machine) fails
 * lookups with EMFILE in larger trees. Like virtiofsd, take the system's
 * ceiling (fs.nr_open) where we may (root), else the hard limit.
 */
static void raise_nofile(void)
{
	struct rlimit nofile;
	if (getrlimit(RLIMIT_NOFILE, &nofile))
		return;
	FILE *f = fopen("/proc/sys/fs/nr_open", "r");
	unsigned long long nr_open = 0;
	if (f) {
		if (fscanf(f, "%llu", &nr_open) != 1)
			nr_open = 0;
		fclose(f);
	}
	if (nr_open > nofile.rlim_max) {
		struct rlimit want = { (rlim_t)nr_open, (rlim_t)nr_open };
		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			return;
	}
	nofile.rlim_cur = nofile.rlim_max;
	setrlimit(RLIMIT_NOFILE, &nofile);
}

/* The program's stdio: the console device, its words appended to w. */
static int start_console(struct vmm *v, char *w, size_t cap)
{
	struct virtio_console_dev *c = &v->con;
	int pair[2] = { -1, -1 };
	if (v->o->exec_socket) { /* the exec server on one end, the device on the other */
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair)) {
			perror("pier: socketpair");
			return -1;
		}
		if (!(v->exec = exec_server_start(v->o->exec_socket, v->o->exec_listen_fd, pair[0], false))) {
			close(pair[1]);
			return -1;
		}
	}
	/* The guest's sockets: the net server on one end, the device on the other. */
	int net_pair[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, net_pair)) {
		perror("pier: socketpair");
		close(pair[1]);
		return -1;
	}
	if (!(v->net = net_server_start(net_pair[0], false, &v->o->net))) {
		close(pair[1]);
		close(net_pair[1]);
		return -1;
	}
	if (virtio_console_dev_start(c, &v->vm.mem, VMM_CONSOLE_BASE, VMM_CONSOLE_GSI, pair[1],
				     net_pair[1]))
		return -1;
	if (v->vm.has_ioeventfd)
		for (unsigned q = 0; q < c->t.nqueues; q++)
			vm_ioeventfd(&v->vm, VMM_CONSOLE_BASE + 0x50, 4, true, q, c->t.q[q].notify_fd);
	if (v->vm.has_irqfd && vm_irqfd(&v->vm, c->t.irq_fd, VMM_CONSOLE_GSI))
		fprintf(stderr, "pier: irqfd for GSI %u: %s\n", VMM_CONSOLE_GSI, strerror(errno));
	size_t len = strlen(w);
	snprintf(w + len, cap - len, "virtio_mmio.device=4K@%#llx:%u ",
		 (unsigned long long)VMM_CONSOLE_BASE, VMM_CONSOLE_GSI);
	return 0;
}

/* Devices for --root and --share, and the command-line words naming them. */
static int start_devices(struct vmm *v, char **words)
{
	const struct run_options *o = v->o;
	int n = (o->root ? 1 : 0) + o->nshares;
	if (n > VMM_MAX_FS) {
		fprintf(stderr, "pier: --vmm pier serves at most %d directories (--root and "
				"--share together)\n", VMM_MAX_FS);
		return -1;
	}
	size_t cap = (size_t)(n + 1) * 48 + 1;
	char *w = calloc(1, cap);
	if (!w)
		return -1;
	*words = w;
	for (int i = 0; i < n; i++) {
		bool root = o->root && i == 0;
		const struct run_share *sh = &o->shares[i - (o->root ? 1 : 0)];
		uint64_t base = VMM_MMIO_BASE + (uint64_t)i * VIRTIO_MMIO_SIZE;
		uint32_t gsi = VMM_GSI_BASE + (uint32_t)i;
		/* A request queue per vCPU, as many as the transport has. */
		unsigned nreq = o->cpus < VIRTIO_FS_DEV_MAX_REQUEST_QUEUES
					? (unsigned)o->cpus : VIRTIO_FS_DEV_MAX_REQUEST_QUEUES;
		if (virtio_fs_dev_start(&v->fs[i], &v->vm.mem, base, gsi, root ? "root" : sh->tag,
					root ? o->root : sh->dir, root ? o->root_ro : sh->ro,
					nreq))
			return -1;
		v->nfs++;
		if (virtio_fs_dev_configure(&v->fs[i], o->cache_timeout_s, o->stats_table))
			return -1;
		if (o->dax_bytes && add_dax(v, i))
			return -1;
		if (v->vm.has_ioeventfd)
			for (unsigned q = 0; q < v->fs[i].t.nqueues; q++)
				vm_ioeventfd(&v->vm, base + 0x50, 4, true, q, v->fs[i].t.q[q].notify_fd);
		if (v->vm.has_irqfd && vm_irqfd(&v->vm, v->fs[i].t.irq_fd, gsi))
			fprintf(stderr, "pier: irqfd for GSI %u: %s\n", gsi, strerror(errno));
		size_t len = strlen(w);
		snprintf(w + len, cap - len, "virtio_mmio.device=4K@%#llx:%u ",
			 (unsigned long long)base, gsi);
	}
	return o->args_len ? start_console(v, w, cap) : 0;
}

static int confine(struct vmm *v)
{
	const char *dirs[VMM_MAX_FS];
	bool writable[VMM_MAX_FS] = { false };
	int n = 0;
	if (v->o->root) {
		writable[n] = !v->o->root_ro;
		dirs[n++] = v->o->root;
	}
	for (int i = 0; i < v->o->nshares && n < VMM_MAX_FS; i++) {
		writable[n] = !v->o->shares[i].ro;
		dirs[n++] = v->o->shares[i].dir;
	}
	struct landlock_tcp tcp;
	int nbind = net_policy_tcp_binds(&v->o->net, tcp.bind, LANDLOCK_TCP_PORTS_MAX,
					 &tcp.connect);
	tcp.nbind = nbind;
	return landlock_confine(dirs, writable, n, nbind < 0 ? NULL : &tcp) < 0 ? -1 : 0;
}

/* The ACPI tables naming every device started, and the reset vector's
 * stub; returns where the tables are. */
static uint64_t write_acpi(struct vmm *v)
{
	struct acpi_mmio_dev devs[VMM_MAX_FS + 1];
	unsigned n = 0;
	for (int i = 0; i < v->nfs; i++)
		devs[n++] = (struct acpi_mmio_dev){ v->fs[i].t.base, VIRTIO_MMIO_SIZE, v->fs[i].t.gsi };
	if (v->con.started)
		devs[n++] = (struct acpi_mmio_dev){ v->con.t.base, VIRTIO_MMIO_SIZE, v->con.t.gsi };
	size_t cap = ACPI_RESET_VECTOR - ACPI_BASE;
	uint8_t *at = guest_mem_ptr(&v->vm.mem, ACPI_BASE, ACPI_AREA_END - ACPI_BASE);
	if (!at || !acpi_build(at, cap, ACPI_BASE, (unsigned)v->o->cpus, VM_IOAPIC_ADDR, devs, n))
		return 0;
	acpi_reset_stub(at + (ACPI_RESET_VECTOR - ACPI_BASE));
	return ACPI_BASE;
}

static void com1_irq(void *ctx)
{
	struct vmm *v = ctx;
	vm_irq_pulse(&v->vm, SERIAL_COM1_IRQ);
}

static int setup(struct vmm *v, bool *no_kvm)
{
	const struct run_options *o = v->o;
	if (vm_create(&v->vm, o->mem_bytes, no_kvm))
		return -1;
	struct boot_image img;
	uint64_t initrd_gpa = 0, initrd_size = 0;
	if (boot_load_kernel(&v->vm.mem, o->kernel, &img) ||
	    (o->initrd && boot_load_initrd(&v->vm.mem, o->initrd, &img, &initrd_gpa, &initrd_size)))
		return -1;
	v->foreign = !img.entry64;
	if (v->foreign && o->argc) {
		fprintf(stderr, "pier: kernel %s is not Pier's: it runs its own init, not a program "
				"after --\n", o->kernel);
		return -1;
	}
	v->com1.irq = com1_irq;
	v->com1.irq_ctx = v;
	raise_nofile(); /* reads /proc: before Landlock */
	/* Everything the VMM reads outside the shares is read by now: confine
	 * before the device threads exist, so they are confined too. */
	if (confine(v))
		return -1;
	char *dev_words = NULL, *args = run_build_cmdline(o), *cmdline = NULL;
	int rc = -1;
	if (!args || start_devices(v, &dev_words))
		goto out;
	/* Polling is the default data path here (see ARCHITECTURE.md);
	 * PIER_VIRTIO_POLL=0 makes interrupts the default instead. */
	const char *env_poll = getenv("PIER_VIRTIO_POLL");
	bool poll = !env_poll || strcmp(env_poll, "0") != 0;
	for (int i = 0; i < o->nkopts; i++)
		if (strncmp(o->kopts[i], "virtio_poll", 11) == 0)
			poll = false; /* the user's own choice is on the command line */
	/* A kernel that is not Pier's gets the user's command line alone. */
	if (v->foreign ? asprintf(&cmdline, "%s", o->append ? o->append : "") < 0
		       : asprintf(&cmdline, "%s%s%s", poll ? "virtio_poll=1 " : "", dev_words,
				  args) < 0) {
		cmdline = NULL;
		goto out;
	}
	fw_cfg_init(&v->fw_cfg, &v->vm.mem);
	if (o->args_len && fw_cfg_add_file(&v->fw_cfg, RUN_ARGS_FW_CFG_NAME, o->args,
					   (uint32_t)o->args_len))
		goto out; /* cannot be: the table is empty and the name short */
	if (boot_write_start_info(&v->vm.mem, cmdline, initrd_gpa, initrd_size, write_acpi(v)))
		goto out;
	for (int i = 0; i < o->cpus; i++) {
		if (vcpu_create(&v->vm, &v->cpus[i], i))
			goto out;
		v->ncpus++;
	}
	if (o->stats_table) {
		kvm_stats_open(&v->kvm_vm, v->vm.kvm_fd, v->vm.vm_fd);
		kvm_stats_open(&v->kvm_vcpu, v->vm.kvm_fd, v->cpus[0].fd);
	}
	enum boot_entry entry = img.entry64 && !o->entry_pvh ? BOOT_ENTRY_64 : BOOT_ENTRY_PVH;
	if (entry == BOOT_ENTRY_PVH && !img.pvh_entry) {
		fprintf(stderr, "pier: kernel %s has no PVH entry note\n", o->kernel);
		goto out;
	}
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	if (ioctl(v->cpus[0].fd, KVM_GET_SREGS, &sregs)) {
		perror("pier: KVM_GET_SREGS");
		goto out;
	}
	boot_set_entry(&v->vm.mem, &img, entry, &regs, &sregs);
	if (ioctl(v->cpus[0].fd, KVM_SET_SREGS, &sregs) || ioctl(v->cpus[0].fd, KVM_SET_REGS, &regs)) {
		perror("pier: setting the vCPU's entry state");
		goto out;
	}
	rc = start_aps(v);
out:
	free(dev_words);
	free(args);
	free(cmdline);
	return rc;
}

/* --stats: the host's rows, then the report with the guest's. */
static void report_stats(struct vmm *v)
{
	struct stats_table *t = v->o->stats_table;
	if (!t)
		return;
	for (int i = 0; i < VMM_EXIT_KINDS; i++)
		if (v->exits[i])
			stats_set(t, "host", exit_names[i], "count", v->exits[i]);
	if (v->startup_marked) {
		uint64_t exits = 0;
		for (int i = 0; i < VMM_EXIT_KINDS; i++)
			exits += v->startup_by_kind[i];
		stats_set(t, "host", "startup", "exits", exits);
		stats_set(t, "host", "startup", "kvm_exits", v->startup_kvm_exits);
		for (int i = 0; i < VMM_EXIT_KINDS; i++) /* "exit.io.serial" -> "io.serial" */
			if (v->startup_by_kind[i])
				stats_set(t, "host", "startup.exits", exit_names[i] + 5,
					  v->startup_by_kind[i]);
	}
	kvm_stats_read(&v->kvm_vcpu, "vcpu", t);
	kvm_stats_read(&v->kvm_vm, "vm", t);
	virtio_fs_devs_stats(v->fs, v->nfs, t);
	if (v->con.started)
		stats_set(t, "host", "irq.console", "count", v->con.t.interrupts);
	run_report_stats(v->o);
}

static void teardown(struct vmm *v)
{
	stop_aps(v);
	kvm_stats_close(&v->kvm_vcpu);
	kvm_stats_close(&v->kvm_vm);
	for (int i = 0; i < v->nfs; i++)
		virtio_fs_dev_stop(&v->fs[i]);
	virtio_console_dev_stop(&v->con);
	exec_server_stop(v->exec);
	net_server_stop(v->net);
	serial_flush(&v->com1);
	for (int i = 0; i < v->ncpus; i++)
		vcpu_destroy(&v->cpus[i]);
	vm_destroy(&v->vm);
}

int vmm_run(const struct run_options *o, bool *no_kvm)
{
	static struct vmm v; /* large (devices' request state); one per process */
	memset(&v, 0, sizeof(v));
	v.o = o;
	pthread_mutex_init(&v.io_lock, NULL);
	/* With a program, stdio is the console device's and COM1 is the
	 * kernel's own log, on stderr; without one, COM1 is all there is. */
	if (o->args_len)
		serial_init(&v.com1, -1, o->log_fd);
	else
		serial_init(&v.com1, STDIN_FILENO, STDOUT_FILENO);
	terminal_init(o->tty);
	control_init(&v.ctl);
	v.kvm_vm.fd = v.kvm_vcpu.fd = -1;
	v.ctl.stats = o->stats_table;
	v.ctl.on_log = run_print_guest_log;
	v.ctl.on_warn = run_count_guest_warning;
	host_milestone(&v, "vmm-start");

	struct sigaction sa = { .sa_handler = on_alarm };
	sigaction(SIGALRM, &sa, NULL);
	run_signals_install(wake_vcpu);
	signal(SIGPIPE, SIG_IGN); /* a closed stdout drops output, not the VM */

	int rc = PIER_EXIT_VMERROR;
	/* Everything is open and every thread runs: from here on the process
	 * may make only the system calls running the guest needs. */
	if (setup(&v, no_kvm) || (o->seccomp && seccomp_confine(-1))) {
		teardown(&v);
		return rc;
	}
	check_deadlines(&v); /* arms the --timeout alarm */
	run_loop(&v);
	stop_aps(&v); /* nothing changes the VM's state from here on */
	alarm(0);
	serial_flush(&v.com1);
	uint64_t end_ns = run_now_ns() - o->start_ns;
	if (o->timing)
		run_print_timing(&v.ctl, v.host_ms, v.nhost_ms, end_ns);

	if (timed_out) {
		fprintf(stderr, "pier: timeout after %d s; VM killed\n", o->timeout_s);
		report_cpu(&v); /* where it hung: halted waiting, or spinning */
		rc = PIER_EXIT_TIMEOUT;
	} else if (got_signal) {
		fprintf(stderr, "pier: interrupted; VM killed\n");
		rc = 128 + (int)got_signal;
	} else if (v.acpi_stop && v.foreign) {
		rc = 0; /* how Linux ends (Pier's own kernel reports a status) */
	} else if (v.ctl.state == CONTROL_EXITED) {
		rc = v.ctl.status;
		run_killed_by = v.ctl.killed_by;
	} else if (v.ctl.state == CONTROL_PANICKED) {
		fprintf(stderr, "pier: guest kernel panic (exit status %d)\n", PIER_EXIT_PANIC);
		rc = PIER_EXIT_PANIC;
	} else {
		fprintf(stderr, "pier: the VM stopped without reporting a status: %s\n",
			v.failure ? v.failure : "it wrote the exit port");
		if (v.failure)
			report_cpu(&v);
	}
	for (int i = 0; i < v.nfs; i++) {
		pthread_mutex_lock(&v.fs[i].t.lock); /* died is the device thread's */
		const char *died = v.fs[i].died;
		pthread_mutex_unlock(&v.fs[i].t.lock);
		if (!died || timed_out || got_signal)
			continue;
		fprintf(stderr, "pier: virtio-fs '%.36s': the device thread died mid-run (%s); "
				"the guest's file requests failed with EIO", v.fs[i].config.tag, died);
		if (v.ctl.state == CONTROL_EXITED)
			fprintf(stderr, " (the program exited with status %d)", v.ctl.status);
		fputc('\n', stderr);
		/* The program's status is not the run's: its files failed under
		 * it. A guest panic stays the run's status: it says more. */
		if (v.ctl.state != CONTROL_PANICKED)
			rc = PIER_EXIT_VMERROR;
	}
	if (v.ctl.bad_lines)
		fprintf(stderr, "pier: ignored %u malformed control lines from the guest\n",
			v.ctl.bad_lines);
	run_report_guest_warnings();
	report_stats(&v);
	for (int i = 0; i < v.nfs; i++)
		if (v.fs[i].dax.repairs)
			fprintf(stderr, "pier: virtio-fs '%.36s': %llu DAX mappings cut back to zeros "
					"where their files shrank on the host\n", v.fs[i].config.tag,
				(unsigned long long)v.fs[i].dax.repairs);
	for (int i = 0; i < v.nfs; i++)
		if (v.fs[i].t.bad_writes)
			fprintf(stderr, "pier: virtio-mmio %#llx: ignored %llu invalid register "
					"writes from the guest\n", (unsigned long long)v.fs[i].t.base,
				(unsigned long long)v.fs[i].t.bad_writes);
	teardown(&v);
	return rc;
}
