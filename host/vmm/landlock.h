/*
 * Landlock confinement of pier's VMM process: after the VMM has opened
 * everything it needs, the process may only read beneath the shared
 * directories (and write there when a share is writable), nothing else on
 * the file system, and bind only the TCP ports it was given. A layer under
 * the FUSE server's and the net server's own checks: a bug there still
 * cannot reach outside the shares, nor take a host port.
 */
#ifndef HOST_VMM_LANDLOCK_H
#define HOST_VMM_LANDLOCK_H

#include <stdbool.h>

#include <stdint.h>

#define LANDLOCK_TCP_PORTS_MAX 64

/*
 * What TCP may do (Landlock's network rules, ABI 4: Linux 6.7 and uapi
 * headers as new): bind only these ports (0: one the kernel picks), and
 * connect anywhere or nowhere. UDP is not Landlock's to restrict.
 */
struct landlock_tcp {
	bool connect;
	int nbind;
	uint16_t bind[LANDLOCK_TCP_PORTS_MAX];
};

/*
 * Restricts the calling thread, and the threads it creates afterwards, to
 * `dirs` and, with tcp, to its TCP rules (Landlock does not reach threads
 * that already exist: call it before starting any). Returns 1 when
 * confined, 0 when the kernel has no Landlock (nothing done), -1 on error
 * after a message. Where the kernel or the headers pier was built with
 * have no network rules, the directories are confined and tcp is not
 * (landlock_tcp_supported says which).
 */
int landlock_confine(const char *const *dirs, const bool *writable, int ndirs,
		     const struct landlock_tcp *tcp);

/* Whether landlock_confine can confine TCP here; if not, why in *why. */
bool landlock_tcp_supported(const char **why);

#endif
