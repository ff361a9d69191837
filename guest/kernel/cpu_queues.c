/* Per-CPU run queues, the balancer and task moves (see cpu_queues.h). */
#include "../arch/x86_64/irq.h"
#include "cpu_queues.h"

struct cpu_queue cpu_queues[SMP_MAX_CPUS] = {
	[0 ... SMP_MAX_CPUS - 1] = { .lock = SPINLOCK_INIT(&lock_class_rq) },
};

#define BALANCE_NS 4000000ULL /* 4 ms: as Linux's balance interval on a few CPUs */

/* Per CPU (the mover's), so no CPU writes another's line. */
static uint64_t moves[SMP_MAX_CPUS][CQ_MOVES];
static uint64_t next_balance[SMP_MAX_CPUS]; /* each CPU's own */

static int online(void)
{
	return smp_cpus_online();
}

static int runnable_of(int cpu)
{
	return __atomic_load_n(&cpu_queues[cpu].q.runnable, __ATOMIC_RELAXED);
}

struct cpu_queue *cq_lock_task(struct task *t, uint64_t *flags)
{
	for (;;) {
		struct cpu_queue *cq = &cpu_queues[__atomic_load_n(&t->home, __ATOMIC_ACQUIRE)];
		*flags = cq_lock(cq);
		if (cq == &cpu_queues[t->home])
			return cq;
		cq_unlock(cq, *flags);
	}
}

bool cq_kick_if_halted(struct cpu *c)
{
	if (c == cpu_this() || !__atomic_exchange_n(&c->halted, 0, __ATOMIC_SEQ_CST))
		return false;
	irq_send_resched(c->apic_id);
	return true;
}

/* One halted CPU among allowed other than except, told to look. */
static void kick_idle(uint64_t allowed, int except)
{
	int n = online();
	for (int i = 0; i < n; i++)
		if (i != except && (allowed >> i & 1) && cq_kick_if_halted(&smp_cpus[i]))
			return;
}

void cq_kick_for(struct task *t)
{
	if (online() == 1)
		return;
	if (t->rq.on_cpu) { /* halted in place on its CPU: only that one */
		cq_kick_if_halted(t->cpu);
		return;
	}
	struct cpu *home = &smp_cpus[t->home];
	if (home == cpu_this() && __atomic_load_n(&home->halted, __ATOMIC_RELAXED))
		return; /* an interrupt of this CPU's halt: it looks next */
	if (!cq_kick_if_halted(home))
		kick_idle(t->rq.allowed, t->home); /* its CPU is busy: maybe another */
}

/* t woken, under its queue's lock: whether it was waiting (now runnable). */
static bool woken(struct task *t)
{
	if (t->rq.state == RQ_RUNNABLE) {
		t->wake_missed = online() > 1;
		return false;
	}
	rq_wake(&t->rq);
	return true;
}

void cq_wake_locked(struct task *t)
{
	if (woken(t))
		cq_kick_for(t);
}

void cq_wake_everyone(void)
{
	int n = online();
	for (int i = 0; i < n; i++) {
		struct cpu_queue *cq = &cpu_queues[i];
		uint64_t flags = cq_lock(cq);
		struct rq_entry *e = cq->q.head;
		for (int k = 0; k < cq->q.count; k++, e = e->next)
			woken((struct task *)e); /* the CPUs are told below, once a queue */
		/* Its CPU looks if halted (unless this is that CPU, whose halt
		 * an interrupt broke); if busy with two or more, an idle CPU
		 * may take one over. */
		struct cpu *c = &smp_cpus[i];
		bool woke_here = c == cpu_this() && __atomic_load_n(&c->halted, __ATOMIC_RELAXED);
		if (cq->q.runnable && !woke_here && !cq_kick_if_halted(c) && cq->q.runnable > 1)
			kick_idle(~0ULL, i);
		cq_unlock(cq, flags);
	}
}

int cq_pick_cpu(uint64_t allowed)
{
	int n = online(), me = cpu_this()->index, best = me, least = -1;
	for (int k = 0; k < n; k++) {
		int i = (me + k) % n, r = runnable_of(i);
		if ((allowed >> i & 1) && (least < 0 || r < least))
			best = i, least = r;
	}
	return best;
}

/* t (out of every ring, its home already to) joins to's queue; if kick,
 * a CPU is told to look (not when this CPU took it to run it next). */
static void enter_queue(struct task *t, int to, bool kick)
{
	struct cpu_queue *cq = &cpu_queues[to];
	uint64_t flags = cq_lock(cq);
	rq_add(&cq->q, &t->rq);
	if (kick && t->rq.state == RQ_RUNNABLE)
		cq_kick_for(t);
	cq_unlock(cq, flags);
}

void cq_join(struct task *t, int to, enum cq_move why)
{
	uint64_t flags;
	struct cpu_queue *from = cq_lock_task(t, &flags);
	bool queued = t->rq.q != NULL;
	if ((queued && (t->rq.on_cpu || t->home == to))) {
		cq_unlock(from, flags);
		return;
	}
	if (queued)
		rq_remove(&from->q, &t->rq);
	__atomic_store_n(&t->home, to, __ATOMIC_RELEASE);
	cq_unlock(from, flags);
	enter_queue(t, to, true);
	if (queued)
		moves[cpu_this()->index][why]++;
}

/* Takes from's first task that CPU me may run (its deadline turned
 * runnable if due): whether there was one; *wake_at as rq_pick's. */
static bool take_from(int from, int me, uint64_t now, uint64_t *wake_at, enum cq_move why)
{
	struct cpu_queue *src = &cpu_queues[from];
	uint64_t flags = cq_lock(src);
	struct rq_entry *e = rq_pick(&src->q, NULL, me, now, wake_at);
	if (!e) {
		cq_unlock(src, flags);
		return false;
	}
	struct task *t = (struct task *)e;
	rq_remove(&src->q, e);
	__atomic_store_n(&t->home, me, __ATOMIC_RELEASE);
	cq_unlock(src, flags);
	enter_queue(t, me, false);
	moves[me][why]++;
	return true;
}

bool cq_steal(int me, uint64_t now, uint64_t *wake_at)
{
	int n = online();
	*wake_at = RQ_NO_DEADLINE;
	for (int k = 1; k < n; k++) {
		int i = (me + k) % n;
		uint64_t at;
		/* An empty queue is skipped unlocked: a task added after this
		 * look finds this CPU halted and sends it an IPI. */
		if (!__atomic_load_n(&cpu_queues[i].q.count, __ATOMIC_RELAXED))
			continue;
		if (take_from(i, me, now, &at, CQ_MOVE_IDLE))
			return true;
		if (at < *wake_at)
			*wake_at = at;
	}
	return false;
}

void cq_balance(int me, uint64_t now)
{
	/* At most one look per BALANCE_NS: queues that tasks waiting for the
	 * host leave and rejoin all the time would have tasks moved back and
	 * forth at every wait. */
	if (now < next_balance[me])
		return;
	next_balance[me] = now + BALANCE_NS;
	int n = online(), busiest = -1, most = runnable_of(me) + 1;
	for (int i = 0; i < n; i++) {
		int r = runnable_of(i);
		if (i != me && r > most)
			busiest = i, most = r;
	}
	uint64_t at;
	if (busiest >= 0)
		take_from(busiest, me, now, &at, CQ_MOVE_BALANCE);
}

void cq_moves(uint64_t out[CQ_MOVES])
{
	for (int w = 0; w < CQ_MOVES; w++) {
		out[w] = 0;
		for (int i = 0; i < SMP_MAX_CPUS; i++)
			out[w] += __atomic_load_n(&moves[i][w], __ATOMIC_RELAXED);
	}
}
