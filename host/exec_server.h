/*
 * The host end of pier.exec (include/pier/exec_wire.h): a thread that
 * listens on a Unix socket for `pier-oci exec` clients and carries their
 * records to and from the guest, on both back ends (the port is a stream
 * socket either way: QEMU's chardev connection, or a socket pair with
 * pier's own console device).
 *
 * A client speaks the same records: its first is SPAWN (its session
 * number is the server's to give), then STDIN, STDIN_EOF and SIGNAL; it
 * gets STARTED, STDOUT, STDERR, CREDIT, TERMIOS and finally EXIT or ERROR.
 * A client that goes away has its session closed in the guest (CLOSE).
 * The server trusts neither side: a client's malformed record drops that
 * client, a guest's record for no client is dropped, and nothing either
 * sends can make it write past a record's bounds.
 *
 * Flow control: all descriptors are non-blocking. While a record waits to
 * go into the port, no client is read; while one waits to go to a client,
 * the port is not read (its sender, the guest, then waits). So no side
 * fills memory, and a client that stops reading holds up exec's other
 * sessions, never the VM's own program.
 */
#ifndef HOST_EXEC_SERVER_H
#define HOST_EXEC_SERVER_H

#include <stdbool.h>

struct exec_server;

/* A socket listening at path (made here, mode 0600; a stale one goes
 * first): clients may connect from now on, before the server runs. The
 * fd, or -1 after a message. */
int exec_server_listen(const char *path);

/* Serves the clients of listen_fd (exec_server_listen's, taken over; -1:
 * listen at path here) and port_fd (taken over): the port's stream, or
 * with port_listening a socket the port's connection comes on (QEMU's
 * chardev connects once it starts). The socket at path goes at stop.
 * NULL after a message. */
struct exec_server *exec_server_start(const char *path, int listen_fd, int port_fd,
				      bool port_listening);

/*
 * The address of the socket at path, also when path is longer than a
 * socket address holds (a container state directory can be): then the
 * directory is opened (*dirfd, to close after bind or connect) and named
 * through /proc/self/fd. 0, or -1 with errno.
 */
struct sockaddr_un;
int exec_socket_address(const char *path, struct sockaddr_un *a, int *dirfd);

/* Stops the thread, closes every client and removes the socket. */
void exec_server_stop(struct exec_server *s);

#endif
