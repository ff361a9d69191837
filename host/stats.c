/*
 * The --stats table (stats.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "stats.h"

static struct stats_row *row(struct stats_table *t, const char *section, const char *name)
{
	for (int i = 0; i < t->nrows; i++)
		if (strcmp(t->rows[i].section, section) == 0 && strcmp(t->rows[i].name, name) == 0)
			return &t->rows[i];
	if (t->nrows == STATS_MAX_ROWS || strlen(section) >= sizeof(t->rows[0].section) ||
	    strlen(name) >= STATS_NAME_MAX) {
		t->refused++;
		return NULL;
	}
	struct stats_row *r = &t->rows[t->nrows++];
	memset(r, 0, sizeof(*r));
	strcpy(r->section, section);
	strcpy(r->name, name);
	return r;
}

static uint64_t *slot(struct stats_table *t, const char *section, const char *name,
		      const char *key)
{
	struct stats_row *r = row(t, section, name);
	if (!r)
		return NULL;
	for (int i = 0; i < r->n; i++)
		if (strcmp(r->key[i], key) == 0)
			return &r->val[i];
	if (r->n == STATS_MAX_VALUES || strlen(key) >= STATS_KEY_MAX) {
		t->refused++;
		return NULL;
	}
	strcpy(r->key[r->n], key);
	r->val[r->n] = 0;
	return &r->val[r->n++];
}

void stats_set(struct stats_table *t, const char *section, const char *name, const char *key,
	       uint64_t v)
{
	uint64_t *p = slot(t, section, name, key);
	if (p)
		*p = v;
}

void stats_add(struct stats_table *t, const char *section, const char *name, const char *key,
	       uint64_t v)
{
	uint64_t *p = slot(t, section, name, key);
	if (p)
		*p += v;
}

uint64_t stats_get(const struct stats_table *t, const char *section, const char *name,
		   const char *key)
{
	for (int i = 0; i < t->nrows; i++) {
		const struct stats_row *r = &t->rows[i];
		if (strcmp(r->section, section) || strcmp(r->name, name))
			continue;
		for (int k = 0; k < r->n; k++)
			if (strcmp(r->key[k], key) == 0)
				return r->val[k];
	}
	return 0;
}

/* Names and keys: letters, digits, '.', '_' (nothing JSON must escape). */
static size_t word(const char *s, size_t max)
{
	size_t n = 0;
	while (s[n] && (isalnum((unsigned char)s[n]) || s[n] == '.' || s[n] == '_'))
		n++;
	return n && n < max ? n : 0;
}

int stats_parse_guest(struct stats_table *t, const char *line)
{
	char name[STATS_NAME_MAX], keys[STATS_MAX_VALUES][STATS_KEY_MAX];
	uint64_t vals[STATS_MAX_VALUES];
	int n = 0;
	size_t len = word(line, sizeof(name));
	if (!len || line[len] != ' ')
		goto bad;
	memcpy(name, line, len);
	name[len] = 0;
	for (const char *p = line + len; *p;) {
		if (*p++ != ' ' || n == STATS_MAX_VALUES)
			goto bad;
		size_t k = word(p, STATS_KEY_MAX);
		if (!k || p[k] != '=' || !isdigit((unsigned char)p[k + 1]))
			goto bad;
		memcpy(keys[n], p, k);
		keys[n][k] = 0;
		char *end;
		errno = 0;
		unsigned long long v = strtoull(p + k + 1, &end, 10);
		if (errno || (*end && *end != ' '))
			goto bad;
		vals[n++] = v;
		p = end;
	}
	if (!n)
		goto bad;
	for (int i = 0; i < n; i++)
		stats_set(t, "guest", name, keys[i], vals[i]);
	return 0;
bad:
	t->refused++;
	return -1;
}

static void print_section(const struct stats_table *t, const char *section, FILE *f)
{
	int any = 0;
	for (int i = 0; i < t->nrows; i++) {
		const struct stats_row *r = &t->rows[i];
		if (strcmp(r->section, section))
			continue;
		if (!any++)
			fprintf(f, "pier: stats, %s:\n", section);
		fprintf(f, "  %-28s", r->name);
		for (int k = 0; k < r->n; k++)
			fprintf(f, " %s=%llu", r->key[k], (unsigned long long)r->val[k]);
		fputc('\n', f);
	}
}

void stats_print(const struct stats_table *t, FILE *f)
{
	print_section(t, "host", f);
	print_section(t, "guest", f);
	if (t->refused)
		fprintf(f, "pier: stats: %u rows or values dropped (malformed or no room)\n",
			t->refused);
}

static void json_section(const struct stats_table *t, const char *section, FILE *f)
{
	fprintf(f, "\"%s\": {", section);
	int any = 0;
	for (int i = 0; i < t->nrows; i++) {
		const struct stats_row *r = &t->rows[i];
		if (strcmp(r->section, section))
			continue;
		fprintf(f, "%s\n  \"%s\": {", any++ ? "," : "", r->name);
		for (int k = 0; k < r->n; k++)
			fprintf(f, "%s\"%s\": %llu", k ? ", " : "", r->key[k],
				(unsigned long long)r->val[k]);
		fputc('}', f);
	}
	fputs(any ? "\n}" : "}", f);
}

void stats_write_json(const struct stats_table *t, FILE *f)
{
	fputs("{", f);
	json_section(t, "host", f);
	fputs(",\n", f);
	json_section(t, "guest", f);
	fprintf(f, ",\n\"dropped\": %u}\n", t->refused);
}
