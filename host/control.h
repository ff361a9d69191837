/*
 * Host end of the guest control channel (include/pier/ports.h): splits the
 * byte stream into lines, timestamps milestones as they arrive, and keeps
 * the guest's final status. Untrusted: from the guest.
 */
#ifndef HOST_CONTROL_H
#define HOST_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stats_table;

#define CONTROL_MAX_MILESTONES 16
#define CONTROL_LINE_MAX 128

enum control_state {
	CONTROL_RUNNING,   /* no final line yet */
	CONTROL_EXITED,    /* "exit N" or "killed N" seen */
	CONTROL_PANICKED,  /* "panic" seen */
};

struct control_milestone {
	char name[32];
	uint64_t ns; /* host monotonic time since the VMM process started */
};

struct control {
	enum control_state state;
	int status; /* valid when CONTROL_EXITED: 128 + N when killed */
	int killed_by; /* "killed N": the program died of signal N; 0: it exited */
	uint64_t exit_ns; /* when the final line arrived */
	struct control_milestone milestones[CONTROL_MAX_MILESTONES];
	int nmilestones;
	char line[CONTROL_LINE_MAX];
	size_t len;
	int overlong;     /* current line exceeded CONTROL_LINE_MAX; dropped */
	unsigned bad_lines;
	/* Called with the text of each "log TEXT" line (guest warnings while
	 * the program owns the console); NULL drops them. */
	void (*on_log)(const char *text);
	/* Called with each "warn TEXT" line; NULL drops them. */
	void (*on_warn)(const char *text);
	/* "stat NAME KEY=N..." lines (--stats) go into this table; NULL
	 * drops them. */
	struct stats_table *stats;
};

void control_init(struct control *c);

/* Feeds bytes received at time ns; lines are parsed as they complete. */
void control_feed(struct control *c, const char *buf, size_t len, uint64_t ns);

/* Whether the guest started the program ("milestone program") and has
 * not ended. */
bool control_program_running(const struct control *c);

/* The time of the named milestone, or -1 when it never arrived. */
int64_t control_milestone_ns(const struct control *c, const char *name);

#endif
