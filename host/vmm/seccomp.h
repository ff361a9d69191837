/*
 * The system-call filter of pier's VMM (seccomp-bpf). Once the VM is set
 * up (Landlock on, devices and every thread started), the whole process
 * may make only the system calls the VMM needs while the guest runs: the
 * vCPU's KVM ioctls, reads and writes, the FUSE server's descriptor-based
 * file operations, memory mappings without PROT_EXEC, futexes, clocks and
 * exits. No exec, no new threads or processes, no sockets, no signals to
 * others, no mounts or namespaces, no ptrace. A call outside the list
 * makes the kernel raise SIGSYS in the calling thread; the handler says
 * which call on stderr and ends pier with status 126 (PIER_EXIT_VMERROR).
 * Calls of another ABI (i386 through int 0x80, x32) are refused the same
 * way: the list is of x86_64 numbers.
 */
#ifndef HOST_VMM_SECCOMP_H
#define HOST_VMM_SECCOMP_H

/*
 * Sets no_new_privs, installs the SIGSYS handler and the filter on every
 * thread of the process (SECCOMP_FILTER_FLAG_TSYNC). Threads that exist
 * must not block SIGSYS, or a forbidden call there kills the process
 * without the message. `also_forbid`: one more x86_64 system call number
 * to refuse (for tests), or -1. 0, or -1 after a message (nothing
 * installed).
 */
int seccomp_confine(long also_forbid);

/* The name of x86_64 system call nr, or NULL. */
const char *seccomp_syscall_name(long nr);

#endif
