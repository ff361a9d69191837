/*
 * Command-line splitting for the guest kernel (see include/pier/cmdline.h).
 * Pure string work, so host unit tests cover it.
 */
#include <linux/errno.h>
#include <pier/cmdline.h>
#include <pier/string.h>

/* Cuts the next word out of *p, removing quotes; NULL at the end. */
static char *next_word(char **p, int *err)
{
	char *s = *p;
	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	if (!*s) {
		*p = s;
		return NULL;
	}
	char *word = s, *out = s;
	int quoted = 0;
	for (; *s; s++) {
		if (*s == '"') {
			quoted = !quoted;
			continue;
		}
		if (!quoted && (*s == ' ' || *s == '\t' || *s == '\n'))
			break;
		*out++ = *s;
	}
	if (quoted)
		*err = -EINVAL;
	if (*s)
		s++;
	*out = '\0';
	*p = s;
	return word;
}

int cmdline_parse(char *buf, struct cmdline *out)
{
	int err = 0, in_args = 0;
	char *word;
	out->nopts = 0;
	out->argc = 0;
	out->argv[0] = NULL;
	while ((word = next_word(&buf, &err))) {
		if (err)
			return err;
		/* QEMU's microvm appends its device list to the command line,
		 * after our "--": those words are options, not arguments. */
		if (in_args && strncmp(word, CMDLINE_VMM_APPENDED, strlen(CMDLINE_VMM_APPENDED)))
		{
			if (out->argc >= CMDLINE_MAX_ARGS)
				return -E2BIG;
			out->argv[out->argc++] = word;
			out->argv[out->argc] = NULL;
			continue;
		}
		if (strcmp(word, "--") == 0) {
			in_args = 1;
			continue;
		}
		if (out->nopts >= CMDLINE_MAX_OPTS)
			return -E2BIG;
		struct cmdline_opt *o = &out->opts[out->nopts++];
		char *eq = strchr(word, '=');
		o->key = word;
		if (eq) {
			*eq = '\0';
			o->value = eq + 1;
		} else {
			o->value = "1";
		}
	}
	return err;
}

const char *cmdline_get(const struct cmdline *cl, const char *key)
{
	for (int i = cl->nopts - 1; i >= 0; i--)
		if (strcmp(cl->opts[i].key, key) == 0)
			return cl->opts[i].value;
	return NULL;
}

int cmdline_parse_u64(const char *s, unsigned long long *out)
{
	unsigned long long v = 0;
	unsigned base = 10;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		if (v > (~0ULL - d) / base)
			return -EINVAL;
		v = v * base + d;
	}
	unsigned shift = 0;
	switch (*s) {
	case '\0':
		break;
	case 'k': case 'K': shift = 10; s++; break;
	case 'm': case 'M': shift = 20; s++; break;
	case 'g': case 'G': shift = 30; s++; break;
	default:
		return -EINVAL;
	}
	if (*s)
		return -EINVAL;
	if (shift && v > (~0ULL >> shift))
		return -EINVAL;
	*out = v << shift;
	return 0;
}
