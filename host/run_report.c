/*
 * What `pier run` prints about a run, whichever VMM ran it: guest log
 * lines, the --timing table, the --stats counters.
 */
#include <stdio.h>
#include "run.h"
#include "stats.h"

void run_report_stats(const struct run_options *o)
{
	if (!o->stats_table)
		return;
	if (!o->stats_file) {
		stats_print(o->stats_table, stderr);
		return;
	}
	stats_write_json(o->stats_table, o->stats_file);
	if (fflush(o->stats_file))
		perror("pier: --stats");
}

void run_print_guest_log(const char *text)
{
	/* The bytes are the guest's: only printable ASCII goes through. */
	char buf[CONTROL_LINE_MAX];
	size_t n = 0;
	for (; *text && n + 1 < sizeof(buf); text++)
		buf[n++] = *text >= 0x20 && *text < 0x7f ? *text : '?';
	buf[n] = 0;
	fprintf(stderr, "pier: %s\n", buf);
}

static unsigned guest_warnings;

void (*run_warning_sink)(const char *text);

void run_count_guest_warning(const char *text)
{
	if (run_warning_sink)
		run_warning_sink(text);
	else
		guest_warnings++;
}

void run_report_guest_warnings(void)
{
	if (guest_warnings)
		fprintf(stderr, "pier: the kernel logged %u warning%s while the program ran "
				"(-o verbose or --log FILE shows them)\n", guest_warnings,
			guest_warnings == 1 ? "" : "s");
}

void run_print_timing(const struct control *ctl, const struct run_milestone *host, int nhost,
		      uint64_t end_ns)
{
	fprintf(stderr, "pier timing (from pier start):\n");
	/* Host and guest milestones merged in time order. */
	int h = 0, g = 0;
	while (h < nhost || g < ctl->nmilestones) {
		if (g >= ctl->nmilestones || (h < nhost && host[h].ns <= ctl->milestones[g].ns)) {
			fprintf(stderr, "  %-12s %10.3f ms\n", host[h].name, host[h].ns / 1e6);
			h++;
		} else {
			fprintf(stderr, "  %-12s %10.3f ms\n", ctl->milestones[g].name,
				ctl->milestones[g].ns / 1e6);
			g++;
		}
	}
	if (ctl->state != CONTROL_RUNNING)
		fprintf(stderr, "  %-12s %10.3f ms\n", "guest-exit", ctl->exit_ns / 1e6);
	fprintf(stderr, "  %-12s %10.3f ms\n", "vmm-exit", end_ns / 1e6);
}

int run_killed_by;
