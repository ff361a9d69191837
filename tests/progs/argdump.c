/* Prints what it was given, byte-exact, for tests/integration/test_args.py:
 * "cwd HEX", "argc N", one "arg LEN FNV HEX" per argument (argv[0]
 * included) and one "env LEN FNV HEX" per environment string: its length,
 * its FNV-1a 64 hash, and the string in hexadecimal when it is at most
 * 1024 bytes (longer ones would be megabytes on a console that may be
 * slow; the length and hash pin them down). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void hex(const char *tag, const char *s)
{
	size_t n = strlen(s);
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	printf("%s %zu %016llx ", tag, n, (unsigned long long)h);
	for (size_t i = 0; n <= 1024 && i < n; i++)
		printf("%02x", (unsigned char)s[i]);
	printf("\n");
}

int main(int argc, char **argv, char **envp)
{
	static char cwd[4096];
	hex("cwd", getcwd(cwd, sizeof(cwd)) ? cwd : "?");
	printf("argc %d\n", argc);
	for (int i = 0; i < argc; i++)
		hex("arg", argv[i]);
	for (char **e = envp; *e; e++)
		hex("env", *e);
	printf("argdump: done\n");
	return 0;
}
