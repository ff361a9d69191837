/*
 * `pier run --stats`: a table of counters in two sections, "host" (what
 * pier's VMM and its devices counted) and "guest" (what the guest kernel
 * reported on the control channel at exit). Each row has a name
 * ("fuse.LOOKUP", "exit.mmio") and a few named values ("count", "in_bytes").
 * Printed as text on stderr, or as JSON into a file. Guest rows are
 * untrusted: malformed ones are counted and dropped.
 */
#ifndef HOST_STATS_H
#define HOST_STATS_H

#include <stdint.h>
#include <stdio.h>

#define STATS_MAX_ROWS 320
#define STATS_MAX_VALUES 10
#define STATS_NAME_MAX 48
#define STATS_KEY_MAX 16

struct stats_row {
	char section[8];
	char name[STATS_NAME_MAX];
	int n;
	char key[STATS_MAX_VALUES][STATS_KEY_MAX];
	uint64_t val[STATS_MAX_VALUES];
};

struct stats_table {
	struct stats_row rows[STATS_MAX_ROWS];
	int nrows;
	unsigned refused; /* rows or values that did not fit, or malformed guest lines */
};

/* Sets one value of a row, adding the row or the value as needed. */
void stats_set(struct stats_table *t, const char *section, const char *name, const char *key,
	       uint64_t v);
/* Adds to one value (0 if new). */
void stats_add(struct stats_table *t, const char *section, const char *name, const char *key,
	       uint64_t v);
/* The value, or 0 when the row or the key is not there. */
uint64_t stats_get(const struct stats_table *t, const char *section, const char *name,
		   const char *key);

/* One of the guest's "stat NAME KEY=N ..." lines (without "stat "); 0, or -1
 * when malformed (nothing is kept). */
int stats_parse_guest(struct stats_table *t, const char *line);

/* The table for people (stderr), and as one JSON object:
 * {"host": {"fuse.LOOKUP": {"count": 3, ...}, ...}, "guest": {...}}. */
void stats_print(const struct stats_table *t, FILE *f);
void stats_write_json(const struct stats_table *t, FILE *f);

#endif
