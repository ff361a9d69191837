/*
 * The MC146818 CMOS real-time clock at ports 0x70/0x71, reduced to what a
 * guest reads at boot: the host's current UTC time in BCD, 24-hour mode,
 * never "update in progress".
 */
#ifndef HOST_VMM_CMOS_H
#define HOST_VMM_CMOS_H

#include <stdint.h>

#define CMOS_PORT_INDEX 0x70
#define CMOS_PORT_DATA 0x71

struct cmos {
	uint8_t index;
};

void cmos_write(struct cmos *c, uint16_t port, uint8_t v);
uint8_t cmos_read(struct cmos *c, uint16_t port);

#endif
