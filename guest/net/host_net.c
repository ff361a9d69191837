/* The client of pier.net (see host_net.h and include/pier/net_wire.h). */
#include <asm-generic/poll.h>
#include <pier/errno.h>
#include <pier/string.h>
#include "../kernel/console.h"
#include "../kernel/control.h"
#include "../kernel/task.h"
#include "../kernel/time.h"
#include "../linux/signal.h"
#include "../mm/mm.h"
#include "host_net.h"

#define SOCKS_MAX 4096            /* the host's numbers are 1 .. SOCKS_MAX */
#define LOOK_NS 100000000ULL      /* a waiter looks at least this often */

/* A call waiting for its reply. */
struct pending {
	uint32_t seq;
	struct net_sock *sock;
	struct net_answer *ans;
	bool done;
	struct pending *next;
};

static struct pending *pending;
static uint32_t next_seq;
static struct net_sock *socks[SOCKS_MAX + 1]; /* by the host's number, for events */
/* Events for a number no net_sock has yet: a new socket's first one may
 * come right behind the reply that made it, before its caller runs. */
static uint32_t unclaimed[SOCKS_MAX + 1];
static bool has_unclaimed[SOCKS_MAX + 1];
static bool started;
static unsigned bad_replies;
/* For the report at the end: calls, and where the bytes went. */
static uint64_t ncalls, sent_copied, sent_from_files, received;

bool net_available(void)
{
	return started && vcon_records_offered(VCON_NET);
}

/* changes counts what an edge-triggered epoll entry reports: a change of
 * readiness, or an arrival the host saw (NET_EVENT_NEW). */
static void set_events(struct net_sock *s, uint32_t events)
{
	bool arrival = events & NET_EVENT_NEW;
	events &= ~NET_EVENT_NEW;
	if (s->events != events || arrival) {
		s->events = events;
		s->changes++;
	}
}

static void bad(const char *what)
{
	if (bad_replies++ < 4)
		kwarn("net: %s from the host: dropped\n", what);
}

static void on_reply(const struct wire_header *h, const uint8_t *p)
{
	struct pending *c = pending;
	while (c && c->seq != h->id)
		c = c->next;
	struct net_result r;
	if (!c || c->done || h->len < sizeof(r)) {
		bad(!c || c->done ? "a reply to no call" : "a short reply");
		return;
	}
	memcpy(&r, p, sizeof(r));
	uint32_t rest = h->len - (uint32_t)sizeof(r);
	if (r.addr_len > rest) {
		bad("a reply with an address past its end");
		r = (struct net_result){ .result = -EIO };
		rest = 0;
	}
	struct net_answer *a = c->ans;
	a->result = r.result;
	a->events = r.events;
	const uint8_t *addr = p + sizeof(r), *data = addr + r.addr_len;
	a->addr_len = r.addr_len;
	if (a->addr && r.addr_len)
		memcpy(a->addr, addr, r.addr_len < a->addr_cap ? r.addr_len : a->addr_cap);
	a->data_len = rest - r.addr_len;
	if (a->data && a->data_len)
		memcpy(a->data, data, a->data_len < a->data_cap ? a->data_len : a->data_cap);
	if (c->sock)
		set_events(c->sock, r.events);
	c->done = true;
}

static void on_record(const struct wire_header *h, const uint8_t *p)
{
	if (h->kind == NET_REPLY) {
		on_reply(h, p);
	} else if (h->kind == NET_EVENT) {
		uint32_t ev;
		if (h->len != sizeof(ev) || h->id == 0 || h->id > SOCKS_MAX) {
			bad("a malformed event");
			return;
		}
		memcpy(&ev, p, sizeof(ev));
		if (socks[h->id] && !socks[h->id]->closed) {
			set_events(socks[h->id], ev);
		} else {
			unclaimed[h->id] = ev & ~NET_EVENT_NEW;
			has_unclaimed[h->id] = true;
		}
	} else {
		bad("a call");
	}
	task_wake_all(); /* the caller, or a poll on the socket */
}

void net_init(void)
{
	if (!(vcon_tty_state()->how & CONSOLE_HELLO_NET))
		return;
	started = true;
	vcon_records_start(VCON_NET, on_record);
}

int64_t net_call(struct net_sock *s, unsigned kind, int64_t a0, int64_t a1, int64_t a2,
		 const struct vcon_part *tail, unsigned ntail, struct net_answer *ans)
{
	struct net_answer mine = { 0 };
	if (!ans)
		ans = &mine;
	if (!net_available() || (s && s->closed))
		return ans->result = -EIO;
	struct net_call call = { .sock = s ? s->id : 0, .arg = { a0, a1, a2 } };
	struct vcon_part parts[4] = { { &call, sizeof(call) } };
	if (ntail > 3)
		return ans->result = -EINVAL;
	for (unsigned i = 0; i < ntail; i++)
		parts[1 + i] = tail[i];
	struct pending me = { .seq = ++next_seq ? next_seq : ++next_seq, .sock = s, .ans = ans,
			      .next = pending };
	pending = &me;
	int err = vcon_records_send(VCON_NET, me.seq, kind, parts, 1 + ntail, false);
	while (!err && !me.done) {
		vcon_poll(); /* the reply may be in already */
		if (me.done)
			break;
		if (!vcon_records_offered(VCON_NET)) {
			err = -EIO;
			break;
		}
		task_wait(time_ns() + LOOK_NS); /* the console's interrupt wakes us */
	}
	for (struct pending **pp = &pending; *pp; pp = &(*pp)->next)
		if (*pp == &me) {
			*pp = me.next;
			break;
		}
	if (err)
		return ans->result = err == -EPIPE ? -EIO : err;
	ncalls++;
	if (ans->result > 0 && kind == NET_SEND)
		sent_copied += (uint64_t)ans->result;
	else if (ans->result > 0 && kind == NET_SENDFILE)
		sent_from_files += (uint64_t)ans->result;
	else if (ans->result > 0 && kind == NET_RECV)
		received += ans->data_len;
	return ans->result;
}

void net_report(void)
{
	if (started)
		kprintf("net: %llu calls; sent %llu bytes from the program, %llu from the host's "
			"files (sendfile); received %llu\n", (unsigned long long)ncalls,
			(unsigned long long)sent_copied, (unsigned long long)sent_from_files,
			(unsigned long long)received);
}

struct net_sock *net_sock_new(uint32_t id, int domain, int type, uint32_t events)
{
	struct net_sock *s = id && id <= SOCKS_MAX ? kzalloc(sizeof(*s)) : NULL;
	if (!s) {
		struct net_sock gone = { .id = id };
		if (id && id <= SOCKS_MAX)
			net_call(&gone, NET_CLOSE, 0, 0, 0, NULL, 0, NULL);
		return NULL;
	}
	*s = (struct net_sock){ .id = id, .domain = domain, .type = type,
				.events = has_unclaimed[id] ? unclaimed[id] : events };
	has_unclaimed[id] = false;
	if (socks[id] && !socks[id]->closed)
		bad("a socket number given twice");
	socks[id] = s;
	return s;
}

void net_sock_free(struct net_sock *s)
{
	net_call(s, NET_CLOSE, 0, 0, 0, NULL, 0, NULL);
	s->closed = true;
	if (socks[s->id] == s)
		socks[s->id] = NULL;
	has_unclaimed[s->id] = false;
	kfree(s);
}

uint32_t net_poll(struct net_sock *s)
{
	vcon_poll(); /* events that came meanwhile */
	return s->events;
}

int net_wait(struct net_sock *s, uint32_t mask, uint64_t deadline)
{
	for (;;) {
		if (net_poll(s) & (mask | POLLERR | POLLHUP))
			return 0;
		if (!net_available())
			return -EIO;
		if (signal_interrupts())
			return -EINTR;
		uint64_t now = time_ns();
		if (now >= deadline)
			return -EAGAIN;
		task_wait(deadline - now < LOOK_NS ? deadline : now + LOOK_NS);
	}
}
