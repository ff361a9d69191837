/*
 * pier-oci's command line: runc's global flags, then a command.
 *
 *   pier-oci [--root DIR] [--log FILE] [--log-format text|json]
 *            [--systemd-cgroup] [--debug] COMMAND ARGS...
 */
#include <stdio.h>
#include <string.h>
#include "oci.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pier-oci [global options] COMMAND [ARGS...]\n"
		"Pier as an OCI runtime: each container runs in a Pier VM.\n"
		"commands:\n"
		"  create [--bundle DIR] [--pid-file FILE] [--console-socket SOCK] ID\n"
		"  start ID\n"
		"  state ID\n"
		"  kill [--all] ID [SIGNAL]\n"
		"  delete [--force] ID\n"
		"  exec ... ID          (not supported yet)\n"
		"  ps [--format table|json] ID\n"
		"  features\n"
		"  (pause, resume, update, events, checkpoint, restore: not supported)\n"
		"global options:\n"
		"  --root DIR           state directory (default %s)\n"
		"  --log FILE           also log errors to FILE\n"
		"  --log-format FORMAT  text (default) or json\n"
		"  --systemd-cgroup     accepted (a VM's cgroups are the VMM's)\n"
		"  --version\n", OCI_DEFAULT_ROOT);
}

/* A global flag with a value, as --flag VALUE or --flag=VALUE. */
static int flag_value(char **argv, int *i, int argc, const char *name, const char **out)
{
	size_t n = strlen(name);
	if (strncmp(argv[*i], name, n))
		return 0;
	if (argv[*i][n] == '=') {
		*out = argv[*i] + n + 1;
		return 1;
	}
	if (argv[*i][n] || *i + 1 >= argc)
		return 0;
	*out = argv[++*i];
	return 1;
}

int oci_main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int argc, char **argv);
	} commands[] = {
		{ "create", oci_cmd_create }, { "start", oci_cmd_start },
		{ "state", oci_cmd_state }, { "kill", oci_cmd_kill },
		{ "delete", oci_cmd_delete }, { "exec", oci_cmd_exec },
		{ "features", oci_cmd_features }, { "ps", oci_cmd_ps },
		{ "pause", oci_cmd_unsupported }, { "resume", oci_cmd_unsupported },
		{ "update", oci_cmd_unsupported }, { "events", oci_cmd_unsupported },
		{ "checkpoint", oci_cmd_unsupported }, { "restore", oci_cmd_unsupported },
	};
	const char *log = NULL, *format = NULL, *ignored;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (flag_value(argv, &i, argc, "--root", &oci_root) ||
		    flag_value(argv, &i, argc, "--log", &log) ||
		    flag_value(argv, &i, argc, "--log-format", &format) ||
		    flag_value(argv, &i, argc, "--rootless", &ignored) ||
		    flag_value(argv, &i, argc, "--criu", &ignored) ||
		    strcmp(argv[i], "--systemd-cgroup") == 0 || strcmp(argv[i], "--debug") == 0)
			continue;
		if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-v") == 0) {
			printf("pier-oci version %s\nspec: %s\n", PIER_VERSION, OCI_VERSION);
			return 0;
		}
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
		fprintf(stderr, "pier-oci: unknown global option %s\n", argv[i]);
		return 2;
	}
	if (oci_log_open(log, format))
		return 1;
	if (i == argc) {
		usage(stderr);
		return 2;
	}
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (strcmp(argv[i], commands[k].name) == 0)
			return commands[k].run(argc - i, argv + i);
	oci_error("unknown command %s", argv[i]);
	return 1;
}
