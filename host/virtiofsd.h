/*
 * virtiofsd instances for `pier run --vmm qemu`: one per shared host
 * directory, each listening on a vhost-user socket in pier's run directory
 * for QEMU's vhost-user-fs device (virtiofsd.c).
 */
#ifndef HOST_VIRTIOFSD_H
#define HOST_VIRTIOFSD_H

#include <signal.h>
#include <sys/types.h>

/* Debian's QEMU 7.2 ships the C virtiofsd here (package qemu-system-common). */
#define VIRTIOFSD_DEFAULT "/usr/lib/qemu/virtiofsd"

/* How long virtiofsd gets to start listening before pier gives up. */
#define VIRTIOFSD_START_TIMEOUT_MS 5000

struct virtiofsd {
	/* Set by the caller. */
	const char *tag;     /* virtio-fs tag the guest mounts it by */
	const char *source;  /* absolute host directory */
	int ro;              /* serve a read-only view of source */
	const char *log;     /* its stderr goes here (with -d); NULL: a file in the run dir */
	const char *cache;   /* its cache= (never, auto, always); NULL: auto */
	/* Set by virtiofsd_start. */
	char sock[108];      /* vhost-user socket (sun_path holds 108 bytes) */
	char view[108];      /* ro: mount point of the read-only view */
	char own_log[108];   /* its stderr when log is NULL */
	const char *errfile; /* log or own_log */
	pid_t pid;           /* its process group too; 0: not running */
	int died;            /* it exited while the guest ran (virtiofsd_reap) */
	int status;          /* its wait status, once it died */
};

/*
 * Makes pier the reaper of its orphaned descendants: virtiofsd runs its
 * server in a forked child (in a new PID namespace), and pier must be able
 * to reap that child too when it stops virtiofsd. Call once, before
 * virtiofsd_start.
 */
void virtiofsd_adopt_orphans(void);

/*
 * Starts virtiofsd `bin` serving v->source on socket DIR/vfsN.sock and waits
 * until it listens. Returns 0; or -1 after printing why (the caller still
 * calls virtiofsd_stop); or -2 when *stop became non-zero while waiting.
 */
int virtiofsd_start(struct virtiofsd *v, const char *bin, const char *dir, int n,
		    volatile sig_atomic_t *stop);

/*
 * Whether virtiofsd exited on its own since it started: 1 the first time it
 * is seen gone (its wait status kept), else 0. The guest's requests to it
 * then go unanswered and fail with EIO at the guest's virtio_timeout.
 */
int virtiofsd_reap(struct virtiofsd *v);

/* Says on stderr that v died while the guest ran, and how. */
void virtiofsd_report_death(const struct virtiofsd *v);

/* The pid file virtiofsd keeps for v (size: 160 is enough). */
void virtiofsd_pid_file(const struct virtiofsd *v, char *buf, size_t size);

/*
 * Stops virtiofsd and everything it started, reaps them, and removes the
 * files it left. Safe to call on an instance that never started.
 */
void virtiofsd_stop(struct virtiofsd *v);

#endif
