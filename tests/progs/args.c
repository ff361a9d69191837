/* Arguments, environment and auxiliary vector: args alpha "two words" x=y --flag
 *
 * argv must be exactly those four (after argv[0], whose last component is
 * "args"); PIER_TEST must be "yes" in the environment; when
 * PIER_EXPECT_CWD is set, the working directory must be that. */
#include <stdint.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "check.h"

extern char **environ;

static const char *const want[] = { "alpha", "two words", "x=y", "--flag" };
#define NWANT ((int)(sizeof(want) / sizeof(want[0])))

int main(int argc, char **argv, char **envp)
{
	CHECK(argc >= 1);
	CHECK(argv[argc] == NULL);
	const char *base = strrchr(argv[0], '/');
	CHECK_STR(base ? base + 1 : argv[0], "args");
	for (int i = 1; i < argc; i++)
		fprintf(stderr, "note: argv[%d] = \"%s\"\n", i, argv[i]);
	CHECK_EQ(argc, NWANT + 1);
	for (int i = 0; i < NWANT; i++)
		CHECK_STR(argv[i + 1], want[i]);
	OK("argv");

	CHECK(envp == environ);
	const char *t = getenv("PIER_TEST");
	if (!t)
		FAIL("PIER_TEST is not in the environment");
	CHECK_STR(t, "yes");
	int found = 0, n = 0;
	for (char **e = envp; *e; e++, n++) {
		CHECK(strchr(*e, '=') != NULL);
		if (!strcmp(*e, "PIER_TEST=yes"))
			found++;
	}
	CHECK_EQ(found, 1);
	CHECK(getenv("PIER_NO_SUCH_VARIABLE") == NULL);
	CHECK_SYS(setenv("PIER_NEW", "1", 1));
	CHECK_STR(getenv("PIER_NEW"), "1");
	fprintf(stderr, "note: %d environment strings\n", n);
	OK("environ");

	const char *cwd = getenv("PIER_EXPECT_CWD");
	if (cwd) {
		char buf[4096];
		CHECK(getcwd(buf, sizeof(buf)) != NULL);
		CHECK_STR(buf, cwd);
	}
	OK("cwd");

	/* What the loader must put in the auxiliary vector for a libc. */
	CHECK_EQ(getauxval(AT_PAGESZ), 4096);
	CHECK(getauxval(AT_PHDR) != 0);
	CHECK(getauxval(AT_PHNUM) > 0);
	CHECK_EQ(getauxval(AT_PHENT), 56); /* sizeof(Elf64_Phdr) */
	CHECK(getauxval(AT_ENTRY) != 0);
	const unsigned char *rnd = (const void *)getauxval(AT_RANDOM);
	CHECK(rnd != NULL);
	unsigned or_all = 0;
	for (int i = 0; i < 16; i++)
		or_all |= rnd[i];
	CHECK(or_all != 0);
	OK("auxv");
	printf("args: all passed\n");
	return 0;
}
