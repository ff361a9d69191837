/* Reads an unmapped address: must die of SIGSEGV (pier: status 139). */
#include <stdio.h>

int main(void)
{
	volatile int *bad = (volatile int *)0x1000;

	printf("segv: reading %p\n", (void *)bad);
	fflush(stdout);
	int v = *bad;
	printf("segv: still alive, read %d\n", v);
	return 0;
}
