/*
 * Parser for the guest's control lines. A malformed, unknown or overlong
 * line is counted and ignored; it never affects the VMM beyond that.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "control.h"
#include "stats.h"

void control_init(struct control *c)
{
	memset(c, 0, sizeof(*c));
}

static void parse_line(struct control *c, const char *line, uint64_t ns)
{
	if (c->state != CONTROL_RUNNING) {
		c->bad_lines++; /* nothing counts after the final status */
		return;
	}
	if (strncmp(line, "milestone ", 10) == 0) {
		const char *name = line + 10;
		size_t n = strlen(name);
		if (n == 0 || n >= sizeof(c->milestones[0].name) ||
		    c->nmilestones == CONTROL_MAX_MILESTONES) {
			c->bad_lines++;
			return;
		}
		struct control_milestone *m = &c->milestones[c->nmilestones++];
		memcpy(m->name, name, n + 1);
		m->ns = ns;
	} else if (strncmp(line, "log ", 4) == 0) {
		if (c->on_log)
			c->on_log(line + 4);
	} else if (strncmp(line, "stat ", 5) == 0) {
		if (c->stats)
			stats_parse_guest(c->stats, line + 5);
	} else if (strncmp(line, "warn ", 5) == 0) {
		if (c->on_warn)
			c->on_warn(line + 5);
	} else if (strncmp(line, "exit ", 5) == 0) {
		char *end;
		long v = strtol(line + 5, &end, 10);
		if (*end || end == line + 5 || v < 0 || v > 255) {
			c->bad_lines++;
			return;
		}
		c->status = (int)v;
		c->state = CONTROL_EXITED;
		c->exit_ns = ns;
	} else if (strncmp(line, "killed ", 7) == 0) {
		char *end;
		long v = strtol(line + 7, &end, 10);
		if (*end || end == line + 7 || v < 1 || v > 64) {
			c->bad_lines++;
			return;
		}
		c->killed_by = (int)v;
		c->status = 128 + (int)v;
		c->state = CONTROL_EXITED;
		c->exit_ns = ns;
	} else if (strcmp(line, "panic") == 0) {
		c->state = CONTROL_PANICKED;
		c->exit_ns = ns;
	} else {
		c->bad_lines++;
	}
}

void control_feed(struct control *c, const char *buf, size_t len, uint64_t ns)
{
	for (size_t i = 0; i < len; i++) {
		char ch = buf[i];
		if (ch == '\n') {
			if (!c->overlong) {
				c->line[c->len] = '\0';
				parse_line(c, c->line, ns);
			} else {
				c->bad_lines++;
			}
			c->len = 0;
			c->overlong = 0;
		} else if (c->len + 1 < sizeof(c->line) && ch != '\0') {
			c->line[c->len++] = ch;
		} else {
			c->overlong = 1;
		}
	}
}

int64_t control_milestone_ns(const struct control *c, const char *name)
{
	for (int i = 0; i < c->nmilestones; i++)
		if (strcmp(c->milestones[i].name, name) == 0)
			return (int64_t)c->milestones[i].ns;
	return -1;
}

bool control_program_running(const struct control *c)
{
	return c->state == CONTROL_RUNNING && control_milestone_ns(c, "program") >= 0;
}
