/* Records of the pier.exec port (see include/pier/exec_wire.h). */
#include <pier/exec_wire.h>
#include <pier/string.h>

void exec_wire_reader_init(struct exec_wire_reader *r)
{
	r->have = 0;
	r->broken = false;
	memset(&r->h, 0, sizeof(r->h));
}

size_t exec_wire_feed(struct exec_wire_reader *r, const uint8_t *p, size_t n, bool *done)
{
	const size_t hsize = sizeof(struct exec_wire_header);
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
			if (r->h.kind == 0 || r->h.kind >= EXEC_KINDS || r->h.flags ||
			    r->h.len > EXEC_WIRE_PAYLOAD_MAX) {
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

size_t exec_wire_header(void *out, uint32_t session, enum exec_wire_kind kind, uint32_t len)
{
	struct exec_wire_header h = { .session = session, .kind = (uint16_t)kind, .len = len };
	memcpy(out, &h, sizeof(h));
	return sizeof(h);
}
