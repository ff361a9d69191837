/* Wall-clock time: the CMOS real-time clock, read once at boot. */
#ifndef GUEST_RTC_H
#define GUEST_RTC_H

#include <stdint.h>

void rtc_init(void);
/* Nanoseconds since 1970 at the moment time_ns() was 0. */
uint64_t rtc_boot_epoch_ns(void);

#endif
