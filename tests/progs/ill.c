/* Executes ud2: must die of SIGILL (pier: status 132). */
#include <stdio.h>

int main(void)
{
	printf("ill: executing ud2\n");
	fflush(stdout);
	__asm__ volatile("ud2");
	printf("ill: still alive\n");
	return 0;
}
