/*
 * The demo program `make run` starts in the guest: an ordinary static Linux
 * program (musl) that says where it runs, then walks a directory of the
 * shared host tree and prints a SHA-256 of every file, in sha256sum's
 * format, so the host can check them with `sha256sum -c`.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <pier/sha256.h>

static int hash_file(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	static unsigned char buf[1 << 16];
	struct sha256_ctx c;
	uint8_t digest[SHA256_DIGEST_SIZE];
	char hex[2 * SHA256_DIGEST_SIZE + 1];
	ssize_t n;
	sha256_init(&c);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		sha256_update(&c, buf, (size_t)n);
	close(fd);
	if (n < 0) {
		perror(path);
		return 1;
	}
	sha256_final(&c, digest);
	sha256_hex(digest, hex);
	printf("%s  %s\n", hex, path + 1); /* relative to /, like the host's view */
	return 0;
}

static int walk(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		perror(dir);
		return 1;
	}
	int failed = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(path, &st)) {
			perror(path);
			failed++;
		} else if (S_ISDIR(st.st_mode)) {
			failed += walk(path);
		} else if (S_ISREG(st.st_mode)) {
			failed += hash_file(path);
		}
	}
	closedir(d);
	return failed;
}

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct utsname u;
	uname(&u);
	char cwd[256];
	if (!getcwd(cwd, sizeof(cwd)))
		strcpy(cwd, "?");
	fprintf(stderr, "pier-demo: a static Linux program on %s %s (%s), pid %d, cwd %s\n",
		u.sysname, u.release, u.machine, (int)getpid(), cwd);
	const char *dir = argc > 1 ? argv[1] : "/etc";
	int failed = walk(dir);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "pier-demo: hashed %s in %.1f ms\n", dir,
		(t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	return failed ? 1 : 0;
}
