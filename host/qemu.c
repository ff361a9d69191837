/*
 * `pier run --vmm qemu`: boots the guest kernel under stock QEMU (microvm
 * or q35). The guest console goes to our stdout; the control channel
 * (isa-debugcon on PIER_PORT_CONTROL) comes back through a FIFO pair, so
 * milestones are timestamped as they arrive and the exit status keeps all
 * 8 bits; isa-debug-exit ends the VM. Shared directories (--root, --share)
 * are served by one virtiofsd each (virtiofsd.c) to a vhost-user-fs device.
 * Everything pier creates lives in one run directory, removed on every exit
 * path together with the virtiofsd processes.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <pier/console_ctl.h>
#include <pier/ports.h>
#include <pier/run_args.h>
#include "accel.h"
#include "control.h"
#include "exec_server.h"
#include "net/server.h"
#include "qemu.h"
#include "run.h"
#include "janitor.h"
#include "run_signals.h"
#include "stdio_relay.h"
#include "terminal.h"
#include "virtiofsd.h"

#define QEMU_MAX_ARGS 96
#define QEMU_MAX_FS (1 + RUN_MAX_SHARES)

/* The signal that ends the VM (run_signals.h). volatile: start_fs polls
 * it while virtiofsd starts. */
static volatile sig_atomic_t got_signal;
static int wake_pipe[2] = { -1, -1 }; /* a signal ends wait_vm's poll */

static volatile sig_atomic_t spawned; /* until QEMU runs, a signal ends the run */

static void wake_waiter(int sig)
{
	if (!spawned)
		got_signal = sig;
	if (wake_pipe[1] >= 0 && write(wake_pipe[1], "s", 1) < 0) {
		/* full: a wakeup is pending anyway */
	}
}

struct qemu_vm {
	/* Run directory ($TMPDIR/pier-qemu.XXXXXX): control FIFOs, virtiofsd
	 * sockets. Short enough that DIR/vfsN.sock fits a socket address. */
	char dir[88];
	char fifo_in[104], fifo_out[104];
	char args_file[104];  /* the program's argument block, for fw_cfg; "" if none */
	int ctl_fd;           /* read end of the control FIFO */
	pid_t pid;
	struct virtiofsd fs[QEMU_MAX_FS]; /* the root first, then the shares */
	int nfs;
	int fs_died;          /* how many of them died while the guest ran */
	char *share_logs[RUN_MAX_SHARES]; /* --virtiofsd-log FILE.TAG */
	bool stdio;           /* a program: its stdio on the console ports */
	struct stdio_relay relay;
	struct exec_server *exec;  /* --exec-socket's server, or NULL */
	char exec_port[104];       /* the socket pier.exec's chardev connects to; "" if none */
	struct net_server *net;    /* the guest's sockets' server, or NULL */
	char net_port[104];        /* the socket pier.net's chardev connects to; "" if none */
};

static int make_fifos(struct qemu_vm *vm)
{
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !*tmp)
		tmp = "/tmp";
	if (snprintf(vm->dir, sizeof(vm->dir), "%s/pier-qemu.XXXXXX", tmp) >= (int)sizeof(vm->dir)) {
		fprintf(stderr, "pier: TMPDIR %s: too long for pier's sockets\n", tmp);
		vm->dir[0] = '\0';
		return -1;
	}
	if (!mkdtemp(vm->dir)) {
		perror("pier: mkdtemp");
		vm->dir[0] = '\0';
		return -1;
	}
	if (janitor_start(vm->dir))
		return -1;
	/* QEMU's pipe chardev opens PATH.in and PATH.out. */
	snprintf(vm->fifo_in, sizeof(vm->fifo_in), "%s/ctl.in", vm->dir);
	snprintf(vm->fifo_out, sizeof(vm->fifo_out), "%s/ctl.out", vm->dir);
	if (mkfifo(vm->fifo_in, 0600) || mkfifo(vm->fifo_out, 0600)) {
		perror("pier: mkfifo");
		return -1;
	}
	/* O_RDWR so the open neither blocks nor sees EOF before QEMU opens it. */
	vm->ctl_fd = open(vm->fifo_out, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (vm->ctl_fd < 0) {
		perror("pier: open control fifo");
		return -1;
	}
	return 0;
}

/*
 * Starts one virtiofsd per shared directory. Returns 0, -1 (reported), or
 * -2 when a signal arrived meanwhile.
 */
static int start_fs(struct qemu_vm *vm, const struct run_options *o)
{
	if (o->root)
		vm->fs[vm->nfs++] = (struct virtiofsd){ .tag = "root", .source = o->root,
			.ro = o->root_ro, .log = o->virtiofsd_log, .cache = o->cache };
	for (int i = 0; i < o->nshares; i++) {
		/* One log per instance: their lines would be indistinguishable. */
		if (o->virtiofsd_log && asprintf(&vm->share_logs[i], "%s.%s", o->virtiofsd_log,
						 o->shares[i].tag) < 0) {
			vm->share_logs[i] = NULL;
			perror("pier: asprintf");
			return -1;
		}
		vm->fs[vm->nfs++] = (struct virtiofsd){ .tag = o->shares[i].tag,
			.source = o->shares[i].dir, .ro = o->shares[i].ro, .log = vm->share_logs[i],
			.cache = o->cache };
	}
	for (int i = 0; i < vm->nfs; i++) {
		int r = virtiofsd_start(&vm->fs[i], o->virtiofsd, vm->dir, i, &got_signal);
		char pid_file[160];
		virtiofsd_pid_file(&vm->fs[i], pid_file, sizeof(pid_file));
		janitor_note(pid_file);
		if (r)
			return r;
	}
	return 0;
}

static void cleanup(struct qemu_vm *vm)
{
	if (vm->ctl_fd >= 0)
		close(vm->ctl_fd);
	for (int i = 0; i < vm->nfs; i++)
		virtiofsd_stop(&vm->fs[i]);
	for (int i = 0; i < RUN_MAX_SHARES; i++)
		free(vm->share_logs[i]);
	unlink(vm->fifo_in);
	unlink(vm->fifo_out);
	if (vm->args_file[0])
		unlink(vm->args_file);
	exec_server_stop(vm->exec);
	vm->exec = NULL;
	if (vm->exec_port[0])
		unlink(vm->exec_port);
	net_server_stop(vm->net);
	vm->net = NULL;
	if (vm->net_port[0])
		unlink(vm->net_port);
	if (vm->dir[0] && rmdir(vm->dir))
		fprintf(stderr, "pier: cannot remove %s: %s\n", vm->dir, strerror(errno));
	else
		janitor_done();
}

/* A listening socket DIR/file (its path into path, 104 bytes) for a
 * relayed port's chardev to connect to; -1 after a message. */
static int port_socket(struct qemu_vm *vm, const char *file, char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(path, 104, "%s/%s", vm->dir, file);
	memcpy(a.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 1)) {
		fprintf(stderr, "pier: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* --exec-socket: the exec server, waiting for pier.exec's chardev. */
static int start_exec(struct qemu_vm *vm, const struct run_options *o)
{
	if (!o->exec_socket || !vm->stdio)
		return 0;
	int fd = port_socket(vm, "con-exec.sock", vm->exec_port);
	if (fd < 0 || !(vm->exec = exec_server_start(o->exec_socket, o->exec_listen_fd, fd, true)))
		return -1;
	vm->relay.exec = true; /* HELLO says so */
	return 0;
}

/* The guest's sockets: the net server, waiting for pier.net's chardev. */
static int start_net(struct qemu_vm *vm, const struct run_options *o)
{
	if (!vm->stdio)
		return 0;
	int fd = port_socket(vm, "con-net.sock", vm->net_port);
	if (fd < 0 || !(vm->net = net_server_start(fd, true, &o->net)))
		return -1;
	vm->relay.net = true; /* HELLO says so */
	return 0;
}

/* A virtio-serial port nr named name whose chardev is the socket path:
 * its two QEMU arguments' values into chardev and device. */
static void port_args(const char *id, const char *path, int nr, const char *name,
		      char *chardev, size_t chardev_cap, char *device, size_t device_cap,
		      const char **args, int *n)
{
	snprintf(chardev, chardev_cap, "socket,id=%s,path=%s", id, path);
	snprintf(device, device_cap, "virtserialport,bus=vser.0,nr=%d,chardev=%s,name=%s", nr, id,
		 name);
	args[(*n)++] = "-chardev";
	args[(*n)++] = chardev;
	args[(*n)++] = "-device";
	args[(*n)++] = device;
}

/* The argument block as a file in the run directory, for QEMU's fw_cfg. */
static int write_args(struct qemu_vm *vm, const struct run_options *o)
{
	if (!o->args_len)
		return 0;
	snprintf(vm->args_file, sizeof(vm->args_file), "%s/args", vm->dir);
	int fd = open(vm->args_file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ssize_t w = fd < 0 ? -1 : write(fd, o->args, o->args_len);
	int e = errno;
	int closed = fd < 0 ? -1 : close(fd);
	if (w == (ssize_t)o->args_len && closed == 0)
		return 0;
	fprintf(stderr, "pier: %s: %s\n", vm->args_file,
		w < 0 ? strerror(e) : w != (ssize_t)o->args_len ? "short write" : strerror(errno));
	return -1;
}

static int spawn(struct qemu_vm *vm, const struct run_options *o, const char *cmdline)
{
	char mem[32], smp[16], chardev[160], machine[64], memobj[96], fw_cfg[160];
	char exec_chardev[160], exec_port[96], net_chardev[160], net_port[96];
	char fs_chardev[QEMU_MAX_FS][136], fs_device[QEMU_MAX_FS][128];
	const char *accel = accel_qemu();
	int microvm = strcmp(o->machine, "microvm") == 0;
	snprintf(mem, sizeof(mem), "%lluM", (unsigned long long)(o->mem_bytes >> 20));
	snprintf(chardev, sizeof(chardev), "pipe,id=ctl,path=%s/ctl", vm->dir);
	/*
	 * microvm, acpi=off: the guest reads no ACPI tables, and only without
	 * ACPI does microvm list its virtio-mmio transports on the kernel
	 * command line (virtio_mmio.device=SIZE@ADDR:IRQ). vhost-user needs
	 * guest RAM that virtiofsd can map: a shared memfd backend.
	 */
	snprintf(machine, sizeof(machine), "%s%s%s", o->machine, microvm ? ",acpi=off" : "",
		 vm->nfs ? ",memory-backend=mem" : "");
	snprintf(memobj, sizeof(memobj), "memory-backend-memfd,id=mem,size=%s,share=on", mem);

	const char *args[QEMU_MAX_ARGS];
	int n = 0;
	args[n++] = "qemu-system-x86_64";
	args[n++] = "-M";
	args[n++] = machine;
	args[n++] = "-accel";
	/* Several vCPUs under TCG: one host thread each (QEMU's multi-threaded
	 * TCG), so they run in parallel as on KVM. */
	args[n++] = o->cpus > 1 && strcmp(accel, "tcg") == 0 ? "tcg,thread=multi" : accel;
	if (strcmp(accel, "kvm") == 0) {
		args[n++] = "-cpu";
		args[n++] = "host";
	}
	args[n++] = "-m";
	args[n++] = mem;
	snprintf(smp, sizeof(smp), "%d", o->cpus);
	args[n++] = "-smp";
	args[n++] = smp;
	args[n++] = "-nodefaults";
	args[n++] = "-no-user-config";
	args[n++] = "-display";
	args[n++] = "none";
	args[n++] = "-no-reboot"; /* a triple fault ends the VM instead of looping */
	/* QEMU's own seccomp filter: once the guest runs, QEMU may not start
	 * programs, change its privileges or use obsolete system calls. */
	args[n++] = "-sandbox";
	args[n++] = "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny";
	if (vm->stdio) {
		stdio_relay_qemu_args(&vm->relay, !microvm, CONSOLE_PORTS_FOR(vm->exec, vm->net), args,
				      &n);
		if (vm->exec)
			port_args("execport", vm->exec_port, CONSOLE_NR_EXEC, CONSOLE_PORT_EXEC,
				  exec_chardev, sizeof(exec_chardev), exec_port, sizeof(exec_port),
				  args, &n);
		if (vm->net)
			port_args("netport", vm->net_port, CONSOLE_NR_NET, CONSOLE_PORT_NET,
				  net_chardev, sizeof(net_chardev), net_port, sizeof(net_port),
				  args, &n);
	} else {
		args[n++] = "-chardev";
		args[n++] = "stdio,id=con,signal=off";
		args[n++] = "-serial";
		args[n++] = "chardev:con";
	}
	args[n++] = "-chardev";
	args[n++] = chardev;
	args[n++] = "-device";
	args[n++] = "isa-debugcon,iobase=0xe9,chardev=ctl";
	args[n++] = "-device";
	args[n++] = "isa-debug-exit,iobase=0xf4,iosize=0x04";
	if (vm->args_file[0]) {
		snprintf(fw_cfg, sizeof(fw_cfg), "name=%s,file=%s", RUN_ARGS_FW_CFG_NAME,
			 vm->args_file);
		args[n++] = "-fw_cfg";
		args[n++] = fw_cfg;
	}
	if (vm->nfs) {
		args[n++] = "-object";
		args[n++] = memobj;
	}
	if ((vm->nfs || vm->stdio) && microvm) {
		/* Modern virtio 1.x over MMIO; QEMU defaults to the legacy layout. */
		args[n++] = "-global";
		args[n++] = "virtio-mmio.force-legacy=false";
	}
	for (int i = 0; i < vm->nfs; i++) {
		snprintf(fs_chardev[i], sizeof(fs_chardev[i]), "socket,id=vfs%d,path=%s", i,
			 vm->fs[i].sock);
		/* One request queue, whatever --cpus says: Debian 12's virtiofsd
		 * (QEMU 7.2's C one) exits on a second ("multiple request queues
		 * not yet implemented"). The guest then sends every CPU's
		 * requests on it. pier's own device has one per vCPU. */
		snprintf(fs_device[i], sizeof(fs_device[i]),
			 "%s,chardev=vfs%d,tag=%s,num-request-queues=1",
			 microvm ? "vhost-user-fs-device" : "vhost-user-fs-pci", i, vm->fs[i].tag);
		args[n++] = "-chardev";
		args[n++] = fs_chardev[i];
		args[n++] = "-device";
		args[n++] = fs_device[i];
	}
	if (o->initrd) {
		args[n++] = "-initrd";
		args[n++] = o->initrd;
	}
	args[n++] = "-kernel";
	args[n++] = o->kernel;
	args[n++] = "-append";
	args[n++] = cmdline;
	args[n] = NULL;
	assert(n < QEMU_MAX_ARGS);

	fflush(stdout);
	vm->pid = fork();
	if (vm->pid < 0) {
		perror("pier: fork");
		return -1;
	}
	if (vm->pid == 0) {
		/* Its own process group: the terminal's ^C is the program's, which
		 * pier passes on; and it goes when pier goes, even by SIGKILL. */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (vm->stdio) {
			int null = open("/dev/null", O_RDONLY);
			if (null >= 0 && null != STDIN_FILENO) {
				dup2(null, STDIN_FILENO);
				close(null);
			}
		}
		execvp(args[0], (char **)args);
		fprintf(stderr, "pier: cannot run %s: %s (install qemu-system-x86)\n", args[0],
			strerror(errno));
		_exit(127);
	}
	return 0;
}

static void drain_control(struct qemu_vm *vm, struct control *ctl, uint64_t start_ns)
{
	char buf[512];
	ssize_t n;
	while ((n = read(vm->ctl_fd, buf, sizeof(buf))) > 0)
		control_feed(ctl, buf, (size_t)n, run_now_ns() - start_ns);
}

/*
 * Counts the virtiofsd that died while the program ran. QEMU's exit ends
 * them too (they leave when their socket closes), and the guest's exit
 * line is in the FIFO before QEMU exits: reaped first, then the FIFO read,
 * a virtiofsd that went after the program ended is no failure of its.
 */
static void check_fs(struct qemu_vm *vm, struct control *ctl, uint64_t start_ns)
{
	int gone[QEMU_MAX_FS], any = 0;
	for (int i = 0; i < vm->nfs; i++)
		any |= gone[i] = virtiofsd_reap(&vm->fs[i]);
	if (!any)
		return;
	drain_control(vm, ctl, start_ns);
	if (ctl->state == CONTROL_EXITED || ctl->state == CONTROL_PANICKED)
		return;
	for (int i = 0; i < vm->nfs; i++) {
		if (gone[i]) {
			virtiofsd_report_death(&vm->fs[i]);
			vm->fs_died++;
		}
	}
}

/* After QEMU: stop writing out its output for a reader that does not
 * read when pier gets a signal that ends things, or when the VM was
 * killed (its output is then not worth waiting for). */
static bool told_to_stop(void)
{
	uint64_t sigs = run_signals_take();
	uint64_t ending = (1ULL << (SIGINT - 1)) | (1ULL << (SIGTERM - 1)) |
			  (1ULL << (SIGHUP - 1)) | (1ULL << (SIGQUIT - 1));
	return got_signal || (sigs & ending);
}

static bool at_once(void)
{
	return true;
}

static void pass_to_relay(void *ctx, int sig)
{
	stdio_relay_signal(ctx, sig);
}

/* Signals sent to pier: the program's once it runs (run_signals.h). */
static void pass_signals(struct qemu_vm *vm, const struct control *ctl)
{
	bool running = vm->stdio && control_program_running(ctl);
	int end = run_signals_dispatch(running, pass_to_relay, &vm->relay, vm->pid);
	if (end && !got_signal)
		got_signal = end;
}

/* Waits for QEMU, reading the control FIFO; returns the wait status. */
static int wait_vm(struct qemu_vm *vm, struct control *ctl, const struct run_options *o)
{
	int pidfd = (int)syscall(SYS_pidfd_open, vm->pid, 0);
	uint64_t deadline = o->timeout_s ? run_now_ns() + (uint64_t)o->timeout_s * 1000000000ULL : 0;
	int status = 0, killed = 0;
	for (;;) {
		struct pollfd p[3] = { { vm->ctl_fd, POLLIN, 0 }, { wake_pipe[0], POLLIN, 0 },
				       { pidfd, POLLIN, 0 } };
		int timeout_ms = pidfd < 0 ? 10 : 100;
		if (poll(p, pidfd < 0 ? 2 : 3, timeout_ms) < 0 && errno != EINTR)
			break;
		char junk[64];
		if (p[1].revents && read(wake_pipe[0], junk, sizeof(junk)) < 0)
			junk[0] = 0;
		drain_control(vm, ctl, o->start_ns);
		pass_signals(vm, ctl);
		if (run_signals_overdue(run_now_ns()) && !got_signal)
			got_signal = run_signals_fatal();
		if (waitpid(vm->pid, &status, WNOHANG) == vm->pid)
			break;
		check_fs(vm, ctl, o->start_ns);
		if (!killed && (got_signal || (deadline && run_now_ns() > deadline))) {
			kill(vm->pid, SIGKILL);
			killed = got_signal ? 1 : 2;
		}
	}
	drain_control(vm, ctl, o->start_ns);
	if (pidfd >= 0)
		close(pidfd);
	if (killed == 2)
		return -2;
	return killed ? -1 : status;
}

int qemu_run(const struct run_options *o)
{
	struct qemu_vm vm = { .ctl_fd = -1, .stdio = o->args_len != 0 };
	struct control ctl;
	control_init(&ctl);
	ctl.on_log = run_print_guest_log;
	ctl.on_warn = run_count_guest_warning;
	ctl.stats = o->stats_table;
	char *cmdline = run_build_cmdline(o);
	if (!cmdline)
		return 2;

	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK)) {
		perror("pier: pipe");
		free(cmdline);
		return PIER_EXIT_VMERROR;
	}
	terminal_init(o->tty);
	run_signals_install(wake_waiter);
	spawned = 0;

	int rc = PIER_EXIT_VMERROR;
	virtiofsd_adopt_orphans();
	if (make_fifos(&vm))
		goto out;
	int r = start_fs(&vm, o);
	if (r == -2) {
		fprintf(stderr, "pier: interrupted while starting virtiofsd\n");
		rc = 128 + (int)got_signal;
	}
	if (r || write_args(&vm, o) || (vm.stdio && stdio_relay_listen(&vm.relay, vm.dir, o->log_fd)) ||
	    start_exec(&vm, o) || start_net(&vm, o) || spawn(&vm, o, cmdline) || (vm.stdio && stdio_relay_start(&vm.relay)))
		goto out;
	spawned = 1;
	int status = wait_vm(&vm, &ctl, o);
	if (vm.stdio)
		/* QEMU is gone: its output is all there (a killed VM's is not
		 * worth waiting for). */
		stdio_relay_finish(&vm.relay, status < 0 ? at_once : told_to_stop);
	uint64_t end_ns = run_now_ns() - o->start_ns;
	if (o->timing)
		run_print_timing(&ctl, NULL, 0, end_ns);

	if (status == -2) {
		fprintf(stderr, "pier: timeout after %d s; VM killed\n", o->timeout_s);
		rc = PIER_EXIT_TIMEOUT;
	} else if (status == -1) {
		fprintf(stderr, "pier: interrupted; VM killed\n");
		rc = 128 + (int)got_signal;
	} else if (ctl.state == CONTROL_EXITED) {
		rc = ctl.status;
		run_killed_by = ctl.killed_by;
	} else if (ctl.state == CONTROL_PANICKED) {
		fprintf(stderr, "pier: guest kernel panic (exit status %d)\n", PIER_EXIT_PANIC);
		rc = PIER_EXIT_PANIC;
	} else if (WIFEXITED(status)) {
		/* With -no-reboot, QEMU exits 0 when the guest resets the CPU. */
		fprintf(stderr, "pier: the VM stopped without reporting a status "
				"(qemu exit status %d%s)\n", WEXITSTATUS(status),
			WEXITSTATUS(status) == 0 ? ": the guest reset the CPU (triple fault?)" : "");
	} else if (WIFSIGNALED(status)) {
		fprintf(stderr, "pier: qemu killed by signal %d\n", WTERMSIG(status));
	}
	if (vm.fs_died && status >= 0) {
		fprintf(stderr, "pier: virtio-fs: %d virtiofsd died mid-run; the guest's file "
				"requests failed with EIO", vm.fs_died);
		if (ctl.state == CONTROL_EXITED)
			fprintf(stderr, " (the program exited with status %d)", ctl.status);
		fputc('\n', stderr);
		/* The program's status is not the run's: its files failed under
		 * it. A guest panic stays the run's status: it says more (a guest
		 * that breaks its device can make virtiofsd quit). */
		if (ctl.state != CONTROL_PANICKED)
			rc = PIER_EXIT_VMERROR;
	}
	if (ctl.bad_lines)
		fprintf(stderr, "pier: ignored %u malformed control lines from the guest\n",
			ctl.bad_lines);
	run_report_guest_warnings();
	run_report_stats(o);
out:
	if (vm.stdio)
		stdio_relay_finish(&vm.relay, at_once);
	cleanup(&vm);
	free(cmdline);
	for (int i = 0; i < 2; i++)
		if (wake_pipe[i] >= 0)
			close(wake_pipe[i]);
	wake_pipe[0] = wake_pipe[1] = -1;
	return rc;
}
