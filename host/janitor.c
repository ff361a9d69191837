/* The run directory's janitor (see janitor.h). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "janitor.h"

#define MAX_NOTES 16
#define NOTE_MAX 192

static int pipe_fd = -1;
static pid_t janitor_pid;

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* Removes dir and everything in it; virtiofsd's read-only view is a
 * mount point in its own namespace until it exits: tried for a while. */
static void remove_tree(const char *dir)
{
	for (int i = 0; i < 50; i++) {
		nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
		if (access(dir, F_OK) != 0)
			return;
		usleep(100000);
	}
}

static void janitor_main(int fd, const char *dir)
{
	static char notes[MAX_NOTES][NOTE_MAX];
	int n = 0;
	char buf[NOTE_MAX];
	size_t len = 0;
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break; /* pier is gone without saying it cleaned up */
		if (c != '\n') {
			if (len + 1 < sizeof(buf))
				buf[len++] = c;
			continue;
		}
		buf[len] = 0;
		len = 0;
		if (strcmp(buf, "done") == 0)
			_exit(0);
		if (n < MAX_NOTES)
			memcpy(notes[n++], buf, strlen(buf) + 1);
	}
	sleep(1); /* QEMU and virtiofsd end by their parent-death signal */
	remove_tree(dir);
	for (int i = 0; i < n; i++)
		unlink(notes[i]);
	_exit(0);
}

int janitor_start(const char *dir)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC)) {
		perror("pier: pipe");
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("pier: fork");
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		/* Not in the terminal's process group: ^C is not for it. */
		setpgid(0, 0);
		signal(SIGINT, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		close(p[1]);
		/* pier's stdio stays pier's: a reader waiting for pier's output
		 * to end must not wait for the janitor too. */
		int null = open("/dev/null", O_RDWR);
		for (int fd = 0; fd < 3 && null >= 0; fd++)
			dup2(null, fd);
		for (int fd = 3; fd < 1024; fd++)
			if (fd != p[0])
				close(fd);
		janitor_main(p[0], dir);
	}
	close(p[0]);
	pipe_fd = p[1];
	janitor_pid = pid;
	return 0;
}

static void say(const char *line)
{
	if (pipe_fd < 0)
		return;
	size_t n = strlen(line);
	if (write(pipe_fd, line, n) != (ssize_t)n || write(pipe_fd, "\n", 1) != 1) {
		/* the janitor died: nothing to tell */
	}
}

void janitor_note(const char *path)
{
	if (strlen(path) < NOTE_MAX && !strchr(path, '\n'))
		say(path);
}

void janitor_done(void)
{
	say("done");
	if (pipe_fd >= 0)
		close(pipe_fd);
	pipe_fd = -1;
	if (janitor_pid > 0) /* gone before pier is: nothing of the run outlives it */
		while (waitpid(janitor_pid, NULL, 0) < 0 && errno == EINTR)
			;
	janitor_pid = 0;
}
