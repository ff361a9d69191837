/*
 * `create` and `start`. create checks the bundle, prepares the root and
 * forks the process that will be the VMM (its pid goes to --pid-file: the
 * engine waits for it, and its exit status is the program's). That
 * process waits on root/ID/exec.fifo, opening it for writing, which
 * blocks until `start` opens it for reading; then it boots the VM with
 * the engine's stdio (or the console socket's terminal).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <pier/ports.h>
#include "../exec_server.h"
#include "../run_signals.h"
#include "oci.h"

static void end_sandbox(int sig)
{
	(void)sig;
	_exit(0);
}

/*
 * A pod's sandbox container only holds the pod's namespaces for the
 * others (its program is Kubernetes' "pause"): a process that waits until
 * it is told to stop is all it needs to be, not a VM.
 */
__attribute__((noreturn)) static void sandbox_main(void)
{
	signal(SIGTERM, end_sandbox);
	signal(SIGINT, end_sandbox);
	for (;;)
		pause();
}

static void warning_to_log(const char *text)
{
	oci_warn("guest: %s", text);
}

/* The container process: waits for start, then runs the VM. */
__attribute__((noreturn)) static void container_main(struct oci_spec *spec, const char *fifo,
						     int tty, int netns)
{
	setsid();
	if (netns >= 0 && setns(netns, CLONE_NEWNET)) {
		oci_error("network namespace %s: %s", spec->netns, strerror(errno));
		_exit(PIER_EXIT_VMERROR);
	}
	if (tty >= 0) {
		ioctl(tty, TIOCSCTTY, 0);
		for (int fd = 0; fd < 3; fd++)
			dup2(tty, fd);
		close(tty);
	}
	int fd = open(fifo, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "0", 1) != 1)
		_exit(PIER_EXIT_VMERROR);
	close(fd);
	if (spec->sandbox)
		sandbox_main();
	run_warning_sink = warning_to_log;
	int rc = run_execute(&spec->run);
	if (run_killed_by) {
		fflush(stdout);
		run_die_of(run_killed_by);
	}
	exit(rc);
}

int oci_cmd_create(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "bundle", required_argument, 0, 'b' },
		{ "pid-file", required_argument, 0, 'p' },
		{ "console-socket", required_argument, 0, 'c' },
		{ "preserve-fds", required_argument, 0, 'P' },
		{ "no-pivot", no_argument, 0, 'n' },
		{ "no-new-keyring", no_argument, 0, 'k' },
		{ 0, 0, 0, 0 },
	};
	const char *bundle = ".", *pid_file = NULL, *console = NULL;
	uint64_t start_ns = run_now_ns();
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+b:", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': bundle = optarg; break;
		case 'p': pid_file = optarg; break;
		case 'c': console = optarg; break;
		case 'P':
			if (atoi(optarg) > 0)
				oci_warn("--preserve-fds %s: the guest gets only stdio; ignored", optarg);
			break;
		case 'n': case 'k': break; /* no pivot_root, no keyring: nothing to do in a VM */
		default:
			oci_error("create: unknown option");
			return 1;
		}
	}
	if (optind != argc - 1) {
		oci_error("create: expected exactly one container id");
		return 1;
	}
	const char *id = argv[optind];
	char dir[4200], fifo[4300];
	static char exec_sock[4300];
	if (!oci_valid_id(id)) {
		oci_error("invalid container id format: %s", id);
		return 1;
	}
	oci_state_path(dir, sizeof(dir), id, NULL);
	oci_state_path(fifo, sizeof(fifo), id, "exec.fifo");
	oci_state_path(exec_sock, sizeof(exec_sock), id, "exec.sock");
	if (oci_mkdir_p(oci_root, 0711)) {
		oci_error("--root %s: %s", oci_root, strerror(errno));
		return 1;
	}
	if (mkdir(dir, 0700)) {
		if (errno == EEXIST)
			oci_error("container with id exists: %s", id);
		else
			oci_error("%s: %s", dir, strerror(errno));
		return 1;
	}
	static struct oci_spec spec; /* the container process runs from it */
	int tty = -1, netns = -1;
	if (oci_spec_load(bundle, &spec, start_ns) || run_finish(&spec.run))
		goto fail;
	/* exec's way in, listening before start returns: an exec right after
	 * it waits in the backlog until the VM's exec server takes it. */
	spec.run.exec_socket = exec_sock;
	if (!spec.sandbox && (spec.run.exec_listen_fd = exec_server_listen(exec_sock)) < 0) {
		oci_error("%s: cannot listen for exec", exec_sock);
		goto fail;
	}
	if (spec.run.tty && !console) {
		oci_error("cannot allocate tty if pier-oci will detach without setting console socket");
		goto fail;
	}
	if (!spec.run.tty && console) {
		oci_error("cannot use console socket if pier-oci will not detach or allocate tty");
		goto fail;
	}
	if (oci_rootfs_prepare(&spec))
		goto fail;
	if (mkfifo(fifo, 0600)) {
		oci_error("%s: %s", fifo, strerror(errno));
		goto fail;
	}
	if (spec.netns && (netns = open(spec.netns, O_RDONLY | O_CLOEXEC)) < 0) {
		oci_error("network namespace %s: %s", spec.netns, strerror(errno));
		goto fail;
	}
	if (console && (tty = oci_console_open(console)) < 0)
		goto fail;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0)
		container_main(&spec, fifo, tty, netns);
	if (spec.run.exec_listen_fd >= 0)
		close(spec.run.exec_listen_fd); /* the container process's now */
	if (tty >= 0)
		close(tty);
	if (netns >= 0)
		close(netns);
	if (pid < 0) {
		oci_error("fork: %s", strerror(errno));
		goto fail;
	}
	struct oci_state st = { .pid = pid, .starttime = oci_proc_starttime(pid),
				.annotations_json = spec.annotations_json };
	snprintf(st.id, sizeof(st.id), "%s", id);
	snprintf(st.bundle, sizeof(st.bundle), "%s", spec.bundle);
	snprintf(st.rootfs, sizeof(st.rootfs), "%s", spec.rootfs);
	snprintf(st.cgroup, sizeof(st.cgroup), "%s", spec.cgroup_path ? spec.cgroup_path : "");
	oci_now_rfc3339(st.created, sizeof(st.created));
	if (oci_cgroup_join(&spec, pid) || oci_state_save(&st) ||
	    oci_write_pid_file(pid_file, pid)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		oci_cgroup_remove(spec.cgroup_path);
		goto fail;
	}
	return 0;
fail:
	oci_state_remove(id);
	return 1;
}

int oci_cmd_start(int argc, char **argv)
{
	if (argc != 2) {
		oci_error("start: expected exactly one container id");
		return 1;
	}
	struct oci_state st;
	if (oci_state_load(argv[1], &st)) {
		oci_error("container does not exist: %s", argv[1]);
		return 1;
	}
	if (st.status != OCI_CREATED) {
		oci_error(st.status == OCI_RUNNING ? "cannot start an already running container"
						   : "cannot start a container that has stopped");
		return 1;
	}
	char fifo[4300];
	oci_state_path(fifo, sizeof(fifo), st.id, "exec.fifo");
	int fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		oci_error("%s: %s", fifo, strerror(errno));
		return 1;
	}
	/* The container process opens the other end and writes a byte; if it
	 * died instead (killed while created), say so rather than wait. */
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char b;
		if (poll(&p, 1, 100) > 0 && read(fd, &b, 1) == 1)
			break;
		if (oci_proc_starttime(st.pid) != st.starttime) {
			close(fd);
			oci_error("container process is not running: it ended before start");
			return 1;
		}
	}
	close(fd);
	unlink(fifo);
	return 0;
}
