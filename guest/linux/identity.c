/*
 * The host name and resource limits (identity.h). Both are the machine's,
 * not per process: the VM runs one container, whose processes share them.
 */
#include <linux/resource.h>
#include <linux/utsname.h>
#include <pier/cmdline.h>
#include <pier/errno.h>
#include <pier/string.h>
#include "../fs/vfs.h"
#include "../mm/vm.h"
#include "identity.h"
#include "process.h"
#include "syscall.h"

static char hostname[__NEW_UTS_LEN + 1] = "pier";

void identity_set_hostname(const char *name)
{
	size_t n = strnlen(name, __NEW_UTS_LEN);
	memcpy(hostname, name, n);
	hostname[n] = '\0';
}

SYS(uname)
{
	struct new_utsname u;
	memset(&u, 0, sizeof(u));
	memcpy(u.sysname, "Linux", 6);
	memcpy(u.nodename, hostname, sizeof(hostname));
	/* glibc compares this against its minimum kernel version. */
	memcpy(u.release, "6.1.0-pier", 11);
	memcpy(u.version, "#1 Pier unikernel", 18);
	memcpy(u.machine, "x86_64", 7);
	memcpy(u.domainname, "(none)", 7);
	return copy_to_user(a0, &u, sizeof(u));
}

SYS(sethostname)
{
	char name[__NEW_UTS_LEN + 1];
	if (a1 > __NEW_UTS_LEN)
		return -EINVAL;
	if (copy_from_user(name, a0, a1))
		return -EFAULT;
	name[a1] = '\0';
	identity_set_hostname(name);
	return 0;
}

#define UNLIMITED { RLIM_INFINITY, RLIM_INFINITY }
static struct rlimit64 limits[RLIM_NLIMITS] = {
	[RLIMIT_CPU] = UNLIMITED, [RLIMIT_FSIZE] = UNLIMITED, [RLIMIT_DATA] = UNLIMITED,
	[RLIMIT_STACK] = { 8 << 20, RLIM_INFINITY }, [RLIMIT_CORE] = { 0, RLIM_INFINITY },
	[RLIMIT_RSS] = UNLIMITED, [RLIMIT_NPROC] = UNLIMITED, [RLIMIT_NOFILE] = { MAX_FDS, MAX_FDS },
	[RLIMIT_MEMLOCK] = UNLIMITED, [RLIMIT_AS] = UNLIMITED, [RLIMIT_LOCKS] = UNLIMITED,
	[RLIMIT_SIGPENDING] = UNLIMITED, [RLIMIT_MSGQUEUE] = UNLIMITED, [RLIMIT_NICE] = UNLIMITED,
	[RLIMIT_RTPRIO] = UNLIMITED, [RLIMIT_RTTIME] = UNLIMITED,
};

static const char *const limit_names[RLIM_NLIMITS] = {
	[RLIMIT_CPU] = "cpu", [RLIMIT_FSIZE] = "fsize", [RLIMIT_DATA] = "data",
	[RLIMIT_STACK] = "stack", [RLIMIT_CORE] = "core", [RLIMIT_RSS] = "rss",
	[RLIMIT_NPROC] = "nproc", [RLIMIT_NOFILE] = "nofile", [RLIMIT_MEMLOCK] = "memlock",
	[RLIMIT_AS] = "as", [RLIMIT_LOCKS] = "locks", [RLIMIT_SIGPENDING] = "sigpending",
	[RLIMIT_MSGQUEUE] = "msgqueue", [RLIMIT_NICE] = "nice", [RLIMIT_RTPRIO] = "rtprio",
	[RLIMIT_RTTIME] = "rttime",
};

/* A limit given as the n bytes at s: a number or "unlimited". */
static int parse_limit(const char *s, size_t n, __u64 *v)
{
	if (n == 9 && memcmp(s, "unlimited", 9) == 0) {
		*v = RLIM_INFINITY;
		return 0;
	}
	char num[24];
	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n);
	num[n] = '\0';
	unsigned long long x;
	if (cmdline_parse_u64(num, &x))
		return -1;
	*v = x;
	return 0;
}

/* A limit set on the table: the guest has MAX_FDS descriptors a process at
 * most, so a larger RLIMIT_NOFILE is reported as that many. */
static void set_limit(unsigned res, struct rlimit64 l)
{
	if (res == RLIMIT_NOFILE) {
		if (l.rlim_cur > MAX_FDS)
			l.rlim_cur = MAX_FDS;
		if (l.rlim_max > MAX_FDS)
			l.rlim_max = MAX_FDS;
	}
	limits[res] = l;
}

int identity_set_rlimit(const char *spec)
{
	const char *c1 = strchr(spec, ':');
	const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c2)
		return -1;
	for (unsigned res = 0; res < RLIM_NLIMITS; res++) {
		size_t n = strlen(limit_names[res]);
		if ((size_t)(c1 - spec) != n || memcmp(spec, limit_names[res], n) != 0)
			continue;
		struct rlimit64 l;
		if (parse_limit(c1 + 1, (size_t)(c2 - c1 - 1), &l.rlim_cur) ||
		    parse_limit(c2 + 1, strlen(c2 + 1), &l.rlim_max) || l.rlim_cur > l.rlim_max)
			return -1;
		set_limit(res, l);
		return 0;
	}
	return -1;
}

SYS(getrlimit)
{
	if (a0 >= RLIM_NLIMITS)
		return -EINVAL;
	struct rlimit64 l = limits[a0];
	struct rlimit r = { (unsigned long)l.rlim_cur, (unsigned long)l.rlim_max };
	return copy_to_user(a1, &r, sizeof(r));
}

/* A new limit: soft at most hard; raising hard is for the privileged,
 * which the guest's processes are (the VM is the boundary). */
static int64_t change_limit(unsigned res, const struct rlimit64 *l)
{
	if (l->rlim_cur > l->rlim_max)
		return -EINVAL;
	if (res == RLIMIT_NOFILE && l->rlim_max > MAX_FDS)
		return -EPERM; /* as Linux past fs.nr_open */
	set_limit(res, *l);
	return 0;
}

SYS(setrlimit)
{
	if (a0 >= RLIM_NLIMITS)
		return -EINVAL;
	struct rlimit r;
	if (copy_from_user(&r, a1, sizeof(r)))
		return -EFAULT;
	struct rlimit64 l = { r.rlim_cur, r.rlim_max };
	return change_limit((unsigned)a0, &l);
}

SYS(prlimit64)
{
	if (a0 != 0 && !process_find((int)a0))
		return -ESRCH;
	if (a1 >= RLIM_NLIMITS)
		return -EINVAL;
	struct rlimit64 old = limits[a1], l;
	if (a2) {
		if (copy_from_user(&l, a2, sizeof(l)))
			return -EFAULT;
		int64_t err = change_limit((unsigned)a1, &l);
		if (err)
			return err;
	}
	if (a3 && copy_to_user(a3, &old, sizeof(old)))
		return -EFAULT;
	return 0;
}

/*
 * Credentials. Each process has one uid and one gid (no separate
 * effective or saved ids): struct process keeps them, fork copies them,
 * and vfs_uid and vfs_gid are the running process's (whose permissions
 * the file system checks). Setting the id one already has succeeds, as
 * programs that drop privileges they never had expect; root may take
 * another; anyone else gets EPERM. (uid_t)-1 leaves one as it is.
 */
static int64_t set_id(uint32_t *id, uint64_t want)
{
	if ((uint32_t)want == (uint32_t)-1 || (uint32_t)want == *id)
		return 0;
	if (vfs_uid != 0)
		return -EPERM;
	*id = (uint32_t)want;
	current->proc->uid = vfs_uid;
	current->proc->gid = vfs_gid;
	return 0;
}

SYS(setuid) { return set_id(&vfs_uid, a0); }
SYS(setgid) { return set_id(&vfs_gid, a0); }

SYS(setreuid)
{
	int64_t err = set_id(&vfs_uid, a0);
	return err ? err : set_id(&vfs_uid, a1);
}

SYS(setregid)
{
	int64_t err = set_id(&vfs_gid, a0);
	return err ? err : set_id(&vfs_gid, a1);
}

SYS(setresuid)
{
	int64_t err = set_id(&vfs_uid, a0);
	if (!err)
		err = set_id(&vfs_uid, a1);
	return err ? err : set_id(&vfs_uid, a2);
}

SYS(setresgid)
{
	int64_t err = set_id(&vfs_gid, a0);
	if (!err)
		err = set_id(&vfs_gid, a1);
	return err ? err : set_id(&vfs_gid, a2);
}

static int64_t put_three(uint64_t a, uint64_t b, uint64_t c, uint32_t v)
{
	return copy_to_user(a, &v, 4) || copy_to_user(b, &v, 4) || copy_to_user(c, &v, 4)
		       ? -EFAULT : 0;
}

SYS(getresuid) { return put_three(a0, a1, a2, vfs_uid); }
SYS(getresgid) { return put_three(a0, a1, a2, vfs_gid); }

/* There are no supplementary groups to set: root may ask for none or any
 * (they are not kept); others get EPERM, as without CAP_SETGID. */
SYS(setgroups)
{
	(void)a1;
	return vfs_uid == 0 || a0 == 0 ? 0 : -EPERM;
}
