/*
 * What the machine tells a program about itself: its host name (uname,
 * sethostname), the resource limits (getrlimit, prlimit64, setrlimit),
 * both settable from the kernel command line (a container's hostname and
 * rlimits, from pier-oci), and its credentials (set*id, getres*id,
 * setgroups over the one identity uid=/gid= give).
 */
#ifndef GUEST_IDENTITY_H
#define GUEST_IDENTITY_H

/* hostname=NAME: the nodename uname reports (default "pier"). */
void identity_set_hostname(const char *name);

/* rlimit=NAME:SOFT:HARD (NAME as in RLIMIT_NAME, lower case: nofile,
 * nproc, stack...; SOFT/HARD a number or "unlimited"): the limit every
 * process starts with. 0, or -1 when malformed (the caller warns). */
int identity_set_rlimit(const char *spec);

#endif
