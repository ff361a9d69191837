/*
 * Where the application processors' start-up code goes: a STARTUP message
 * names a 4 KiB page below 1 MiB, and that page must be RAM (the memory
 * map says so) that nothing the boot still reads occupies (the start
 * info, its memory map and module list, the command line, the boot page
 * tables). Pure logic, unit-tested.
 */
#ifndef PIER_LOW_PAGE_H
#define PIER_LOW_PAGE_H

#include <stdint.h>
#include <pier/pvh.h>

struct low_range {
	uint64_t start, len;
};

/* The highest page in [LOW_PAGE_MIN, LOW_PAGE_MAX) inside one RAM entry
 * of map[0..nmap) and overlapping none of busy[0..nbusy); 0 if none. The
 * first 64 KiB are left alone (real mode's vectors and BIOS data). */
#define LOW_PAGE_MIN 0x10000ULL
#define LOW_PAGE_MAX 0x9f000ULL
uint64_t low_page_pick(const struct hvm_memmap_table_entry *map, uint32_t nmap,
		       const struct low_range *busy, int nbusy);

#endif
