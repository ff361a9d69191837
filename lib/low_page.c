/* The start-up page for application processors (see low_page.h). */
#include <pier/low_page.h>

#define PAGE 0x1000ULL

static int in_ram(const struct hvm_memmap_table_entry *map, uint32_t nmap, uint64_t page)
{
	for (uint32_t i = 0; i < nmap; i++)
		if (map[i].type == PVH_MEMMAP_TYPE_RAM && map[i].addr <= page &&
		    page + PAGE <= map[i].addr + map[i].size && map[i].addr + map[i].size > map[i].addr)
			return 1;
	return 0;
}

static int overlaps(const struct low_range *busy, int nbusy, uint64_t page)
{
	for (int i = 0; i < nbusy; i++)
		if (busy[i].len && busy[i].start < page + PAGE && page < busy[i].start + busy[i].len)
			return 1;
	return 0;
}

uint64_t low_page_pick(const struct hvm_memmap_table_entry *map, uint32_t nmap,
		       const struct low_range *busy, int nbusy)
{
	for (uint64_t page = LOW_PAGE_MAX - PAGE; page >= LOW_PAGE_MIN; page -= PAGE)
		if (in_ram(map, nmap, page) && !overlaps(busy, nbusy, page))
			return page;
	return 0;
}
