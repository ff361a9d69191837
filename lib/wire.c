/* Records on a console port's byte stream (see include/pier/wire.h). */
#include <pier/string.h>
#include <pier/wire.h>

void wire_reader_init(struct wire_reader *r, uint16_t kinds)
{
	r->have = 0;
	r->kinds = kinds;
	r->broken = false;
	memset(&r->h, 0, sizeof(r->h));
}

size_t wire_feed(struct wire_reader *r, const uint8_t *p, size_t n, bool *done)
{
	const size_t hsize = sizeof(struct wire_header);
	size_t took = 0;
	*done = false;
	if (r->broken)
		return n;
	if (r->have == hsize + r->h.len && r->have >= hsize)
		r->have = 0; /* the last record was handed out: a new one starts */
	while (took < n) {
		size_t want = r->have < hsize ? hsize - r->have : hsize + r->h.len - r->have;
		size_t take = n - took < want ? n - took : want;
		memcpy(r->buf + r->have, p + took, take);
		r->have += (uint32_t)take;
		took += take;
		if (r->have == hsize) {
			memcpy(&r->h, r->buf, hsize);
			if (r->h.kind == 0 || r->h.kind >= r->kinds || r->h.flags ||
			    r->h.len > WIRE_PAYLOAD_MAX) {
				r->broken = true;
				return n;
			}
		}
		if (r->have >= hsize && r->have == hsize + r->h.len) {
			*done = true;
			return took;
		}
	}
	return took;
}

size_t wire_put_header(void *out, uint32_t id, unsigned kind, uint32_t len)
{
	struct wire_header h = { .id = id, .kind = (uint16_t)kind, .len = len };
	memcpy(out, &h, sizeof(h));
	return sizeof(h);
}
