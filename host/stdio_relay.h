/*
 * Under QEMU, the program's console ports (include/pier/console_ctl.h) are
 * virtserialports whose chardevs are Unix sockets to pier; a thread relays
 * them to and from pier's own descriptors: stdin to pier.stdin, pier.stdout
 * and pier.stderr to 1 and 2, pier.ctl to the terminal code, and the
 * guest's serial console (the kernel's log) to stderr. QEMU connects to
 * sockets pier listens on, so every port is open before the guest runs.
 *
 * Flow control: stdin is read only once the last piece went into QEMU's
 * socket, and QEMU reads that only as the guest posts buffers; output
 * sockets are read only as fast as pier's stdout and stderr take it.
 * EOF on stdin half-closes pier.stdin's socket, which QEMU passes on as the
 * port closing, after every byte; a reader gone from stdout closes
 * pier.stdout's, which the guest sees as EPIPE.
 */
#ifndef HOST_STDIO_RELAY_H
#define HOST_STDIO_RELAY_H

#include <pthread.h>
#include <stdbool.h>

enum relay_sock { RELAY_STDIN, RELAY_STDOUT, RELAY_STDERR, RELAY_CTL, RELAY_SERIAL, RELAY_SOCKS };

struct stdio_relay {
	char path[RELAY_SOCKS][108];
	int listen_fd[RELAY_SOCKS];
	int fd[RELAY_SOCKS];         /* accepted connections, -1 until then */
	pthread_t thread;
	bool open;                   /* stdio_relay_listen ran: finish must clean up */
	int log_fd;                  /* the serial log's destination */
	bool started;
	int stop_pipe[2];
	bool exec;                   /* the VM offers pier.exec (HELLO says so) */
	bool net;                    /* the VM offers pier.net (HELLO says so) */
	pthread_mutex_t ctl_lock;    /* writes on the pier.ctl socket */
	char qemu_arg[2 * RELAY_SOCKS + 1][192]; /* stdio_relay_qemu_args' strings */
};

/* Listening sockets in dir (con-in.sock, ...); the serial log goes to
 * log_fd. 0, or -1 after a message. */
int stdio_relay_listen(struct stdio_relay *r, const char *dir, int log_fd);

/* QEMU's arguments for the device, ports and serial chardev, appended to
 * args from *n; `pci`: virtio-serial-pci, else virtio-serial-device. The
 * strings live in r. */
void stdio_relay_qemu_args(struct stdio_relay *r, bool pci, int max_ports, const char **args,
			   int *n);

/* Starts relaying (after QEMU was started). 0 or -1. */
int stdio_relay_start(struct stdio_relay *r);

/* Passes signal sig (SIGWINCH: the terminal's new size) to the program. */
void stdio_relay_signal(struct stdio_relay *r, int sig);

/* Waits until the output QEMU left (its sockets closed when it exited)
 * is written, however slow the reader, but stops once give_up() says so
 * (asked every 200 ms); removes the sockets. */
void stdio_relay_finish(struct stdio_relay *r, bool (*give_up)(void));

#endif
