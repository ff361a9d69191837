/*
 * The MC146818 CMOS clock (ports 0x70/0x71, on q35 and microvm). Read once
 * after an update has finished, converted from BCD if need be, and anchored
 * to the TSC clock so later readings cost nothing.
 */
#include "../arch/x86_64/cpu.h"
#include "console.h"
#include "rtc.h"
#include "time.h"

static uint64_t boot_epoch_ns;

static uint8_t cmos(uint8_t reg)
{
	outb(0x70, reg);
	return inb(0x71);
}

static unsigned bcd(uint8_t v, int binary)
{
	return binary ? v : (v & 0x0f) + (v >> 4) * 10;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static uint64_t days_from_civil(unsigned y, unsigned m, unsigned d)
{
	y -= m <= 2;
	unsigned era = y / 400, yoe = y - era * 400;
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (uint64_t)era * 146097 + doe - 719468;
}

void rtc_init(void)
{
	for (int i = 0; i < 100000 && (cmos(0x0a) & 0x80); i++)
		; /* an update is in progress */
	uint8_t b = cmos(0x0b);
	int binary = b & 0x04, h24 = b & 0x02;
	unsigned sec = bcd(cmos(0x00), binary), min = bcd(cmos(0x02), binary);
	uint8_t hr = cmos(0x04);
	unsigned hour = bcd(hr & 0x7f, binary);
	if (!h24 && (hr & 0x80))
		hour = (hour % 12) + 12;
	unsigned day = bcd(cmos(0x07), binary), mon = bcd(cmos(0x08), binary);
	unsigned year = bcd(cmos(0x09), binary) + 2000;
	if (mon < 1 || mon > 12 || day < 1 || day > 31 || year < 2000) {
		kprintf("rtc: implausible date, wall clock starts at 1970\n");
		return;
	}
	uint64_t secs = days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec;
	uint64_t now = time_ns();
	boot_epoch_ns = secs * 1000000000ULL - now;
}

uint64_t rtc_boot_epoch_ns(void)
{
	return boot_epoch_ns;
}
