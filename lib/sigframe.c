/* Signal frame placement (see sigframe.h). */
#include <pier/sigframe.h>

struct sigframe_place sigframe_place(uint64_t rsp, const struct sigframe_stack *alt,
				     bool onstack, uint64_t rt_sigframe_size)
{
	struct sigframe_place p = { 0 };
	bool on_alt_now = rsp > alt->sp && rsp <= alt->sp + alt->size;
	uint64_t sp;
	if (onstack && !alt->disabled && alt->size && !on_alt_now) {
		sp = alt->sp + alt->size;
		p.on_alt = true;
	} else {
		sp = rsp - SIGFRAME_RED_ZONE;
		p.on_alt = on_alt_now;
	}
	p.fpstate = (sp - SIGFRAME_FXSAVE) & ~63ULL;
	p.frame = ((p.fpstate - rt_sigframe_size) & ~15ULL) - 8;
	return p;
}
