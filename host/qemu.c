/*
 * `pier run --vmm qemu`: boots the guest kernel under stock QEMU (microvm
 * or q35). The guest console goes to our stdout; the control channel
 * (isa-debugcon on PIER_PORT_CONTROL) comes back through a FIFO pair, so
 * milestones are timestamped as they arrive and the exit status keeps all
 * 8 bits; isa-debug-exit ends the VM.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <pier/ports.h>
#include "accel.h"
#include "control.h"
#include "run.h"

#define QEMU_MAX_ARGS 48

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

struct qemu_vm {
	char dir[64];         /* temporary directory with the FIFOs */
	char fifo_in[96], fifo_out[96];
	int ctl_fd;           /* read end of the control FIFO */
	pid_t pid;
};

static int make_fifos(struct qemu_vm *vm)
{
	snprintf(vm->dir, sizeof(vm->dir), "/tmp/pier-qemu.XXXXXX");
	if (!mkdtemp(vm->dir)) {
		perror("pier: mkdtemp");
		return -1;
	}
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

static void cleanup(struct qemu_vm *vm)
{
	if (vm->ctl_fd >= 0)
		close(vm->ctl_fd);
	unlink(vm->fifo_in);
	unlink(vm->fifo_out);
	if (vm->dir[0])
		rmdir(vm->dir);
}

static int spawn(struct qemu_vm *vm, const struct run_options *o, const char *cmdline)
{
	char mem[32], chardev[160], machine[64];
	const char *accel = accel_qemu();
	snprintf(mem, sizeof(mem), "%lluM", (unsigned long long)(o->mem_bytes >> 20));
	snprintf(chardev, sizeof(chardev), "pipe,id=ctl,path=%s/ctl", vm->dir);
	snprintf(machine, sizeof(machine), "%s", o->machine);

	const char *args[QEMU_MAX_ARGS];
	int n = 0;
	args[n++] = "qemu-system-x86_64";
	args[n++] = "-M";
	args[n++] = machine;
	args[n++] = "-accel";
	args[n++] = accel;
	if (strcmp(accel, "kvm") == 0) {
		args[n++] = "-cpu";
		args[n++] = "host";
	}
	args[n++] = "-m";
	args[n++] = mem;
	args[n++] = "-smp";
	args[n++] = "1";
	args[n++] = "-nodefaults";
	args[n++] = "-no-user-config";
	args[n++] = "-display";
	args[n++] = "none";
	args[n++] = "-no-reboot"; /* a triple fault ends the VM instead of looping */
	args[n++] = "-chardev";
	args[n++] = "stdio,id=con,signal=off";
	args[n++] = "-serial";
	args[n++] = "chardev:con";
	args[n++] = "-chardev";
	args[n++] = chardev;
	args[n++] = "-device";
	args[n++] = "isa-debugcon,iobase=0xe9,chardev=ctl";
	args[n++] = "-device";
	args[n++] = "isa-debug-exit,iobase=0xf4,iosize=0x04";
	args[n++] = "-kernel";
	args[n++] = o->kernel;
	args[n++] = "-append";
	args[n++] = cmdline;
	args[n] = NULL;

	fflush(stdout);
	vm->pid = fork();
	if (vm->pid < 0) {
		perror("pier: fork");
		return -1;
	}
	if (vm->pid == 0) {
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

static void print_timing(const struct control *ctl, uint64_t end_ns)
{
	fprintf(stderr, "pier timing (from pier start):\n");
	for (int i = 0; i < ctl->nmilestones; i++)
		fprintf(stderr, "  %-12s %10.3f ms\n", ctl->milestones[i].name,
			ctl->milestones[i].ns / 1e6);
	if (ctl->state != CONTROL_RUNNING)
		fprintf(stderr, "  %-12s %10.3f ms\n", "guest-exit", ctl->exit_ns / 1e6);
	fprintf(stderr, "  %-12s %10.3f ms\n", "vmm-exit", end_ns / 1e6);
}

/* Waits for QEMU, reading the control FIFO; returns the wait status. */
static int wait_vm(struct qemu_vm *vm, struct control *ctl, const struct run_options *o)
{
	int pidfd = (int)syscall(SYS_pidfd_open, vm->pid, 0);
	uint64_t deadline = o->timeout_s ? run_now_ns() + (uint64_t)o->timeout_s * 1000000000ULL : 0;
	int status = 0, killed = 0;
	for (;;) {
		struct pollfd p[2] = { { vm->ctl_fd, POLLIN, 0 }, { pidfd, POLLIN, 0 } };
		int timeout_ms = pidfd < 0 ? 10 : 100;
		if (poll(p, pidfd < 0 ? 1 : 2, timeout_ms) < 0 && errno != EINTR)
			break;
		drain_control(vm, ctl, o->start_ns);
		if (waitpid(vm->pid, &status, WNOHANG) == vm->pid)
			break;
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
	struct qemu_vm vm = { .ctl_fd = -1 };
	struct control ctl;
	control_init(&ctl);
	char *cmdline = run_build_cmdline(o);
	if (!cmdline)
		return 2;

	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	int rc = PIER_EXIT_VMERROR;
	if (make_fifos(&vm) || spawn(&vm, o, cmdline))
		goto out;
	int status = wait_vm(&vm, &ctl, o);
	uint64_t end_ns = run_now_ns() - o->start_ns;
	if (o->timing)
		print_timing(&ctl, end_ns);

	if (status == -2) {
		fprintf(stderr, "pier: timeout after %d s; VM killed\n", o->timeout_s);
		rc = PIER_EXIT_TIMEOUT;
	} else if (status == -1) {
		fprintf(stderr, "pier: interrupted; VM killed\n");
		rc = 128 + (int)got_signal;
	} else if (ctl.state == CONTROL_EXITED) {
		rc = ctl.status;
	} else if (ctl.state == CONTROL_PANICKED) {
		fprintf(stderr, "pier: guest kernel panic (exit status %d)\n", PIER_EXIT_PANIC);
		rc = PIER_EXIT_PANIC;
	} else if (WIFEXITED(status)) {
		fprintf(stderr, "pier: the VM stopped without reporting a status "
				"(qemu exit status %d)\n", WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		fprintf(stderr, "pier: qemu killed by signal %d\n", WTERMSIG(status));
	}
	if (ctl.bad_lines)
		fprintf(stderr, "pier: ignored %u malformed control lines from the guest\n",
			ctl.bad_lines);
out:
	cleanup(&vm);
	free(cmdline);
	return rc;
}
