/*
 * printf-style formatting without libc: the guest's console and log lines
 * use it, and host unit tests compare it against the C library's output.
 */
#include <stdint.h>
#include <pier/fmt.h>

struct spec {
	int left, zero, width, prec;
	int size; /* 0 int, 1 long, 2 long long, -1 short, 3 size_t */
};

static int emit_padded(fmt_sink sink, void *ctx, const char *s, int len,
		       const struct spec *sp, char pad)
{
	int n = 0;
	int fill = sp->width > len ? sp->width - len : 0;
	if (!sp->left)
		for (; fill > 0; fill--, n++)
			sink(ctx, pad);
	for (int i = 0; i < len; i++, n++)
		sink(ctx, s[i]);
	for (; fill > 0; fill--, n++)
		sink(ctx, ' ');
	return n;
}

static int emit_number(fmt_sink sink, void *ctx, uint64_t v, int neg,
		       unsigned base, int upper, const struct spec *sp)
{
	char tmp[24];
	int len = 0;
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	do {
		tmp[len++] = digits[v % base];
		v /= base;
	} while (v);

	char out[26];
	int o = 0;
	int zero_pad = sp->zero && !sp->left;
	int want = len + neg;
	if (neg)
		out[o++] = '-';
	/* Zero padding goes between the sign and the digits. */
	if (zero_pad)
		for (; want < sp->width && o < (int)sizeof(out) - len; want++)
			out[o++] = '0';
	while (len)
		out[o++] = tmp[--len];
	return emit_padded(sink, ctx, out, o, sp, ' ');
}

int fmt_vformat(fmt_sink sink, void *ctx, const char *fmt, va_list ap)
{
	int n = 0;
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			sink(ctx, *fmt);
			n++;
			continue;
		}
		struct spec sp = { .prec = -1 };
		for (fmt++;; fmt++) {
			if (*fmt == '-')
				sp.left = 1;
			else if (*fmt == '0')
				sp.zero = 1;
			else
				break;
		}
		if (*fmt == '*') {
			sp.width = va_arg(ap, int);
			fmt++;
		} else {
			while (*fmt >= '0' && *fmt <= '9')
				sp.width = sp.width * 10 + (*fmt++ - '0');
		}
		if (*fmt == '.') {
			sp.prec = 0;
			fmt++;
			if (*fmt == '*') {
				sp.prec = va_arg(ap, int);
				fmt++;
			} else {
				while (*fmt >= '0' && *fmt <= '9')
					sp.prec = sp.prec * 10 + (*fmt++ - '0');
			}
		}
		for (;; fmt++) {
			if (*fmt == 'l')
				sp.size++;
			else if (*fmt == 'z')
				sp.size = 3;
			else if (*fmt == 'h')
				sp.size = -1;
			else
				break;
		}

		uint64_t u;
		int64_t s;
		switch (*fmt) {
		case 'd':
		case 'i':
			if (sp.size >= 1)
				s = sp.size == 1 ? va_arg(ap, long) : sp.size == 3 ? (int64_t)va_arg(ap, long) : va_arg(ap, long long);
			else
				s = va_arg(ap, int);
			u = s < 0 ? (uint64_t)0 - (uint64_t)s : (uint64_t)s;
			n += emit_number(sink, ctx, u, s < 0, 10, 0, &sp);
			break;
		case 'u':
		case 'x':
		case 'X':
		case 'o':
			if (sp.size == 1)
				u = va_arg(ap, unsigned long);
			else if (sp.size == 2)
				u = va_arg(ap, unsigned long long);
			else if (sp.size == 3)
				u = va_arg(ap, size_t);
			else
				u = va_arg(ap, unsigned int);
			n += emit_number(sink, ctx, u, 0,
					 *fmt == 'u' ? 10 : *fmt == 'o' ? 8 : 16,
					 *fmt == 'X', &sp);
			break;
		case 'p': {
			uintptr_t p = (uintptr_t)va_arg(ap, void *);
			sink(ctx, '0');
			sink(ctx, 'x');
			n += 2;
			n += emit_number(sink, ctx, p, 0, 16, 0, &sp);
			break;
		}
		case 's': {
			const char *str = va_arg(ap, const char *);
			if (!str)
				str = "(null)";
			int len = 0;
			while (str[len] && (sp.prec < 0 || len < sp.prec))
				len++;
			n += emit_padded(sink, ctx, str, len, &sp, ' ');
			break;
		}
		case 'c': {
			char c = (char)va_arg(ap, int);
			n += emit_padded(sink, ctx, &c, 1, &sp, ' ');
			break;
		}
		case '%':
			sink(ctx, '%');
			n++;
			break;
		case '\0':
			return n;
		default:
			/* Unknown conversion: show it rather than eat arguments. */
			sink(ctx, '%');
			sink(ctx, *fmt);
			n += 2;
			break;
		}
	}
	return n;
}

struct buf_sink {
	char *buf;
	size_t size, len;
};

static void buf_put(void *ctx, char c)
{
	struct buf_sink *b = ctx;
	if (b->len + 1 < b->size)
		b->buf[b->len] = c;
	b->len++;
}

int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct buf_sink b = { buf, size, 0 };
	int n = fmt_vformat(buf_put, &b, fmt, ap);
	if (size)
		buf[b.len < size ? b.len : size - 1] = '\0';
	return n;
}

int fmt_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = fmt_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
