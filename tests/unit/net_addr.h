/* Internet addresses for the net unit tests. cmocka's asserts: include
 * after <cmocka.h>. */
#ifndef PIER_TESTS_NET_ADDR_H
#define PIER_TESTS_NET_ADDR_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* ip:port as an address; ip has a ':' for IPv6. Its length. */
static inline socklen_t inaddr(struct sockaddr_storage *a, const char *ip, int port)
{
	memset(a, 0, sizeof(*a));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)a;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		assert_int_equal(inet_pton(AF_INET6, ip, &a6->sin6_addr), 1);
		return sizeof(*a6);
	}
	struct sockaddr_in *a4 = (struct sockaddr_in *)a;
	a4->sin_family = AF_INET;
	a4->sin_port = htons((uint16_t)port);
	assert_int_equal(inet_pton(AF_INET, ip, &a4->sin_addr), 1);
	return sizeof(*a4);
}

#endif
