/*
 * The program's standard streams travel on a virtio console (virtio-serial,
 * multiport) with four named ports, the same under pier's VMM and QEMU:
 *
 *   pier.stdin   host -> guest: pier's stdin; the host closing it is EOF
 *   pier.stdout  guest -> host: pier's stdout; the host closing it is EPIPE
 *   pier.stderr  guest -> host: pier's stderr, likewise
 *   pier.ctl     both ways: the records below
 *   pier.exec    both ways: pier-oci exec's programs (pier/exec_wire.h);
 *                offered only to a VM that takes such requests
 *
 * pier.ctl carries fixed-size records (struct console_ctl_msg), so a reader
 * never has to find a boundary: the host says which streams are terminals,
 * their modes and size, and passes on signals; the guest asks for terminal
 * mode changes. Layout is little-endian, both sides x86_64. The terminal
 * modes are the kernel's struct termios (TCGETS), not a C library's.
 */
#ifndef PIER_CONSOLE_CTL_H
#define PIER_CONSOLE_CTL_H

#include <stdint.h>

#define CONSOLE_PORT_STDIN "pier.stdin"
#define CONSOLE_PORT_STDOUT "pier.stdout"
#define CONSOLE_PORT_STDERR "pier.stderr"
#define CONSOLE_PORT_CTL "pier.ctl"
#define CONSOLE_PORT_EXEC "pier.exec"
#define CONSOLE_PORT_NET "pier.net"

/* Port numbers pier gives them (QEMU's virtserialport nr=); port 0 stays
 * the console port virtio reserves. The guest finds them by name. */
#define CONSOLE_NR_STDIN 1
#define CONSOLE_NR_STDOUT 2
#define CONSOLE_NR_STDERR 3
#define CONSOLE_NR_CTL 4
#define CONSOLE_NR_NET 5
#define CONSOLE_NR_EXEC 6
#define CONSOLE_MAX_PORTS 7
/* max_nr_ports for a run: the relayed ports come last, exec (pier-oci's
 * only) after net, so a run offers no port it has no server for. Each
 * port costs the guest two queues to set up: 22 register exits under
 * pier's VMM. */
#define CONSOLE_PORTS_FOR(exec, net) ((exec) ? CONSOLE_NR_EXEC + 1 : (net) ? CONSOLE_NR_NET + 1 \
								 : CONSOLE_NR_NET)

/* sizeof(struct termios) in <asm/termbits.h>: 4 flags, line, 19 cc. */
#define CONSOLE_TERMIOS_BYTES 36

enum console_ctl_type {
	/* host -> guest, first record: tty = bit n set when stream n is a
	 * terminal; termios and rows/cols of the first terminal. */
	CONSOLE_CTL_HELLO = 1,
	/* host -> guest: deliver signal `arg` to the program. */
	CONSOLE_CTL_SIGNAL = 2,
	/* host -> guest: the terminal's new size (rows, cols). */
	CONSOLE_CTL_WINSIZE = 3,
	/* guest -> host: set the terminal modes of stream `arg`; `how` is
	 * TCSETS, TCSETSW or TCSETSF. */
	CONSOLE_CTL_SET_TERMIOS = 4,
	/* guest -> host, then host -> guest with the same `arg`: everything
	 * the host has taken from the output ports so far is written out.
	 * The guest asks before it switches between stdout and stderr when
	 * both go to the same file, so their order is kept there. */
	CONSOLE_CTL_SYNC = 5,
	/* guest -> host: the program reads stdin for the first time. Until
	 * then pier takes nothing from its own stdin (what the program never
	 * reads stays for whoever reads pier's stdin next). */
	CONSOLE_CTL_STDIN_WANTED = 6,
	/* host -> guest: end of file typed at the terminal (^D): the next read
	 * that finds nothing returns 0, and reading goes on after it. */
	CONSOLE_CTL_EOF = 7,
};

/* HELLO's `how`: pier's stdout and stderr are the same open file. */
#define CONSOLE_HELLO_SHARED_OUTPUT 1u
/* HELLO's `how`: the host offers pier.exec (pier-oci exec's programs). */
#define CONSOLE_HELLO_EXEC 2u
/* HELLO's `how`: the host serves the guest's sockets on pier.net (net_wire.h). */
#define CONSOLE_HELLO_NET 4u

struct console_ctl_msg {
	uint32_t type;
	uint32_t arg;
	uint32_t how;
	uint16_t rows, cols;
	uint8_t termios[CONSOLE_TERMIOS_BYTES];
	uint32_t tty; /* HELLO: terminal streams, bit n for fd n */
};

_Static_assert(sizeof(struct console_ctl_msg) == 56, "console_ctl_msg layout");

#endif
