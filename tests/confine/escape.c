/*
 * A guest program that tries to read a file outside the shared directory.
 * The host test (tests/integration/test_confinement.py) puts a file whose
 * contents hold a marker string outside the share, and symlinks to it
 * inside; argv[1] is the marker. Every path below is an attempt to reach
 * it; none may produce the marker. The "race" attempt opens /swap/secret
 * over and over while the host keeps swapping /swap between a directory
 * and a symlink to the outside, and creates, writes and removes a file
 * in /swap in between. The same ways out are tried for writes: creating,
 * truncating, appending, mkdir, unlink and rename. The host watches the
 * outside (inotify, inodes and times) for any trace of a change.
 *
 * Prints "held PATH (how)" per attempt, "ESCAPED PATH" if one worked, and
 * "ok confine" when all held; exits 0 only then.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *marker;
static int escaped;

/* Opens and reads `path`; returns the errno of the failure, or 0 after
 * checking the contents. */
static int attempt(const char *path, int quiet)
{
	char buf[4096];
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		int e = errno;
		if (!quiet)
			printf("held %s (%s)\n", path, strerror(e));
		return e;
	}
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	if (strstr(buf, marker)) {
		printf("ESCAPED %s\n", path);
		escaped = 1;
	} else if (!quiet) {
		printf("held %s (read %zd bytes, not the secret)\n", path, n);
	}
	return 0;
}

/* Tries to change the outside through `path` (create, truncate or append,
 * as `flags` say); the host watches the outside for any trace of it. */
static void write_attempt(const char *path, int flags)
{
	int fd = open(path, flags, 0644);
	if (fd < 0) {
		printf("held %s for writing (%s)\n", path, strerror(errno));
		return;
	}
	ssize_t n = write(fd, "written by the guest\n", 21);
	close(fd);
	/* Inside the share (a symlink the guest resolved to a name of its
	 * own): harmless, and the host's watch says whether it was outside. */
	printf("wrote %zd bytes to %s\n", n, path);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: escape MARKER [RACE_SECONDS]\n");
		return 2;
	}
	marker = argv[1];
	double race_s = argc > 2 ? atof(argv[2]) : 2.0;
	static const char *paths[] = {
		"/../secret", "/../../../../../../secret", "../secret", "/inner/../../secret",
		"/./.././secret", "/abs-link", "/rel-link", "/dir-link/secret",
		"/rel-dir-link/secret", "/inner/deep-link", "/loop-link",
	};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		attempt(paths[i], 0);

	/* Changes through the same ways out. */
	static const struct { const char *path; int flags; } writes[] = {
		{ "/../created", O_WRONLY | O_CREAT | O_EXCL },
		{ "/inner/../../created", O_WRONLY | O_CREAT | O_EXCL },
		{ "/dir-link/created", O_WRONLY | O_CREAT | O_EXCL },
		{ "/rel-dir-link/created", O_WRONLY | O_CREAT | O_EXCL },
		{ "/abs-link", O_WRONLY | O_TRUNC },
		{ "/rel-link", O_WRONLY | O_APPEND },
		{ "/dir-link/secret", O_WRONLY | O_APPEND },
		{ "/inner/deep-link", O_WRONLY | O_TRUNC },
	};
	for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++)
		write_attempt(writes[i].path, writes[i].flags);
	static const char *dirs[] = { "/dir-link/made", "/rel-dir-link/made", "/../made" };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		printf("%s %s (%s)\n", mkdir(dirs[i], 0755) ? "held" : "made", dirs[i],
		       strerror(errno));
	printf("%s unlink /dir-link/secret (%s)\n", unlink("/dir-link/secret") ? "held" : "did",
	       strerror(errno));
	printf("%s rename to /dir-link/moved (%s)\n",
	       rename("/swap/secret", "/dir-link/moved") ? "held" : "did", strerror(errno));

	/* Climb with chdir(".."), then try relative names. */
	for (int i = 0; i < 8; i++)
		if (chdir("..") != 0)
			break;
	char cwd[256];
	printf("cwd after climbing: %s\n", getcwd(cwd, sizeof(cwd)) ? cwd : "?");
	attempt("secret", 0);
	attempt("outside/secret", 0);

	/* Names too long for any file system. */
	char longname[600];
	longname[0] = '/';
	memset(longname + 1, 'a', sizeof(longname) - 2);
	longname[sizeof(longname) - 1] = '\0';
	int e = attempt(longname, 1);
	printf("held a %zu-byte name (errno %d)\n", strlen(longname) - 1, e);

	/* The race: as many opens as fit in race_s seconds. */
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	long tries = 0, opened = 0, written = 0;
	do {
		if (attempt("/swap/secret", 1) == 0)
			opened++;
		tries++;
		/* A new name each time, O_EXCL: re-creating a name that
		 * survived (its unlink met the symlink) would be a CREATE
		 * of an existing file, which kills QEMU 7.2's virtiofsd (a
		 * fortify abort in lo_create), not what is tested here. */
		char wname[32];
		snprintf(wname, sizeof(wname), "/swap/w%ld", tries);
		int w = open(wname, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (w >= 0) {
			written += write(w, "written by the guest\n", 21) == 21;
			close(w);
			unlink(wname);
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < race_s);
	printf("race: %ld opens of /swap/secret, %ld succeeded; %ld files written in /swap\n",
	       tries, opened, written);

	if (escaped)
		return 1;
	printf("ok confine\n");
	return 0;
}
