/* The "#!" line of a script (see shebang.h). */
#include <pier/errno.h>
#include <pier/shebang.h>
#include <pier/string.h>

static int blank(char c)
{
	return c == ' ' || c == '\t';
}

int shebang_parse(const char *head, size_t n, struct shebang *out)
{
	if (n > SHEBANG_HEAD)
		n = SHEBANG_HEAD;
	if (n < 2 || head[0] != '#' || head[1] != '!')
		return 0;
	/* The line: up to its newline or a NUL, or all the bytes there are. */
	size_t end = 2;
	while (end < n && head[end] != '\n' && head[end] != '\0')
		end++;
	int whole = end < n || n < SHEBANG_HEAD; /* the line ends in what we have */
	size_t i = 2;
	while (i < end && blank(head[i]))
		i++;
	size_t start = i;
	while (i < end && !blank(head[i]))
		i++;
	if (i == start)
		return -ENOEXEC; /* "#!" and nothing */
	if (i == end && !whole)
		return -ENOEXEC; /* the path may go on past what Linux reads */
	memcpy(out->interp, head + start, i - start);
	out->interp[i - start] = 0;
	while (i < end && blank(head[i]))
		i++;
	size_t last = end;
	while (last > i && blank(head[last - 1]))
		last--;
	out->has_arg = last > i;
	memcpy(out->arg, head + i, last - i);
	out->arg[last - i] = 0;
	return 1;
}
