/*
 * Landlock confinement (see landlock.h). glibc 2.36 has no wrappers, so
 * the three system calls go through syscall(2).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/landlock.h>
#include "landlock.h"

#define FS_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define FS_WRITE (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR | \
		  LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR | \
		  LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SYM)
/* Rights the guest never gets, even in a writable share. */
#define FS_NEVER (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_MAKE_CHAR | \
		  LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | \
		  LANDLOCK_ACCESS_FS_MAKE_BLOCK)

static long abi_version(void)
{
	return syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
}

bool landlock_tcp_supported(const char **why)
{
#ifdef LANDLOCK_ACCESS_NET_BIND_TCP /* uapi headers of Linux 6.7 and later */
	if (abi_version() >= 4)
		return true;
	*why = "this kernel's Landlock has no network rules (ABI 4, Linux 6.7)";
	return false;
#else
	*why = "pier was built with uapi headers older than Linux 6.7's, "
	       "which have no Landlock network rules";
	return false;
#endif
}

/* tcp's rules into ruleset rs (its handled rights set by the caller). */
static int add_tcp_rules(int rs, const struct landlock_tcp *tcp)
{
#ifdef LANDLOCK_ACCESS_NET_BIND_TCP
	for (int i = 0; i < tcp->nbind && i < LANDLOCK_TCP_PORTS_MAX; i++) {
		struct landlock_net_port_attr np = { .allowed_access = LANDLOCK_ACCESS_NET_BIND_TCP,
						     .port = tcp->bind[i] };
		if (syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_NET_PORT, &np, 0)) {
			fprintf(stderr, "pier: landlock: TCP port %u: %s\n", tcp->bind[i],
				strerror(errno));
			return -1;
		}
	}
#else
	(void)rs, (void)tcp;
#endif
	return 0;
}

int landlock_confine(const char *const *dirs, const bool *writable, int ndirs,
		     const struct landlock_tcp *tcp)
{
	long abi = abi_version();
	if (abi < 1)
		return 0; /* ENOSYS or EOPNOTSUPP: no Landlock in this kernel */
	struct landlock_ruleset_attr attr = { .handled_access_fs = FS_READ | FS_WRITE | FS_NEVER };
	if (abi >= 2)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
#ifdef LANDLOCK_ACCESS_FS_TRUNCATE /* uapi headers of Linux 6.2 and later */
	if (abi >= 3)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
#endif
#ifdef LANDLOCK_ACCESS_NET_BIND_TCP
	/* Handled and not allowed by a rule: refused. Connecting is either
	 * free (not handled) or refused everywhere (no rule). */
	if (tcp && abi >= 4)
		attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP |
					  (tcp->connect ? 0 : LANDLOCK_ACCESS_NET_CONNECT_TCP);
	else
		tcp = NULL;
#else
	tcp = NULL; /* see landlock_tcp_supported */
#endif
	int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (rs < 0) {
		fprintf(stderr, "pier: landlock: create ruleset: %s\n", strerror(errno));
		return -1;
	}
	if (tcp && add_tcp_rules(rs, tcp)) {
		close(rs);
		return -1;
	}
	for (int i = 0; i < ndirs; i++) {
		struct landlock_path_beneath_attr pb = { .allowed_access = FS_READ };
		if (writable[i])
			pb.allowed_access |= attr.handled_access_fs & ~(uint64_t)FS_NEVER;
		pb.parent_fd = open(dirs[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (pb.parent_fd < 0 ||
		    syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0)) {
			fprintf(stderr, "pier: landlock: %s: %s\n", dirs[i], strerror(errno));
			if (pb.parent_fd >= 0)
				close(pb.parent_fd);
			close(rs);
			return -1;
		}
		close(pb.parent_fd);
	}
	int rc = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		 syscall(SYS_landlock_restrict_self, rs, 0) ? -1 : 1;
	if (rc < 0)
		fprintf(stderr, "pier: landlock: restrict: %s\n", strerror(errno));
	close(rs);
	return rc;
}
