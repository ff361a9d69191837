/*
 * CMOS clock (see cmos.h).
 */
#include <time.h>
#include "cmos.h"

static uint8_t to_bcd(int v)
{
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

void cmos_write(struct cmos *c, uint16_t port, uint8_t v)
{
	if (port == CMOS_PORT_INDEX)
		c->index = v & 0x7f; /* bit 7 is the NMI mask */
}

uint8_t cmos_read(struct cmos *c, uint16_t port)
{
	if (port == CMOS_PORT_INDEX)
		return 0xff;
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	switch (c->index) {
	case 0x00: return to_bcd(tm.tm_sec);
	case 0x02: return to_bcd(tm.tm_min);
	case 0x04: return to_bcd(tm.tm_hour);
	case 0x06: return to_bcd(tm.tm_wday + 1);
	case 0x07: return to_bcd(tm.tm_mday);
	case 0x08: return to_bcd(tm.tm_mon + 1);
	case 0x09: return to_bcd(tm.tm_year % 100);
	case 0x32: return to_bcd(19 + tm.tm_year / 100);
	case 0x0a: return 0x26;   /* divider on, no update in progress */
	case 0x0b: return 0x02;   /* 24-hour, BCD, no interrupts */
	case 0x0d: return 0x80;   /* battery good */
	default: return 0;
	}
}
