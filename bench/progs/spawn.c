/*
 * spawn: the cost of starting programs (issue 18's figures).
 *
 *   spawn [--chroot DIR] COUNT PROGRAM [ARGS...]
 *
 * COUNT times: fork, execve PROGRAM with ARGS in the child, waitpid in
 * the parent; prints "SPAWN COUNT NS" (the wall time of all of them, on
 * CLOCK_MONOTONIC) and fails if any child did not exit 0. PROGRAM "self"
 * is spawn's own static binary run with --exit (it exits at once): the
 * static case, exec'd through a descriptor opened before any chroot so
 * it needs no path inside the root. --chroot DIR first (the Linux
 * guest's runner: the Debian root is mounted at /data there).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--exit") == 0)
		return 0;
	int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	int a = 1;
	if (argc > 3 && strcmp(argv[1], "--chroot") == 0) {
		if (chroot(argv[2]) || chdir("/")) {
			perror("spawn: chroot");
			return 2;
		}
		a = 3;
	}
	if (argc - a < 2) {
		fprintf(stderr, "usage: spawn [--chroot DIR] COUNT PROGRAM [ARGS...]\n");
		return 2;
	}
	long count = atol(argv[a]);
	char **prog = argv + a + 1;
	int is_self = strcmp(prog[0], "self") == 0;
	char *self_argv[] = { "spawn", "--exit", NULL };
	if (is_self && self < 0) {
		perror("spawn: /proc/self/exe");
		return 2;
	}
	long long t0 = now_ns();
	for (long i = 0; i < count; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("spawn: fork");
			return 1;
		}
		if (pid == 0) {
			if (is_self)
				fexecve(self, self_argv, environ);
			else
				execve(prog[0], prog, environ);
			_exit(127);
		}
		int st;
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "spawn: run %ld of %s: status 0x%x\n", i, prog[0], st);
			return 1;
		}
	}
	printf("SPAWN %ld %lld\n", count, now_ns() - t0);
	return 0;
}
