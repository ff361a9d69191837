/* Standard output and standard error. stdout is left to exit() to flush:
 * that is the path most programs take. */
#include <stdio.h>

int main(void)
{
	printf("hello from pier\n");
	fprintf(stderr, "to stderr\n");
	return 0;
}
