/* Exit status: exitcode N exits with status N (0-255). */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: exitcode N\n");
		return 2;
	}
	int n = atoi(argv[1]);
	printf("exiting with %d\n", n);
	fflush(stdout);
	exit(n);
}
