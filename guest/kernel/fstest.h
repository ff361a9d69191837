/*
 * Built-in file system checks, run from the command line until the kernel
 * runs real programs: each fs.OP=PATH option, in order, prints lines the
 * host tests compare with what they see themselves.
 *
 *   fs.walk=P        every entry under P: "entry<TAB>type<TAB>size<TAB>mode
 *                    <TAB>sha256-or-link-target<TAB>path"
 *   fs.stat=P, fs.lstat=P, fs.read=P (sha256), fs.readlink=P, fs.statfs=P
 *   fs.watch=P       waits up to 30 s for P's size to change, says when
 *   fs.bench_read=P  reads P sequentially, prints MiB/s
 *   fs.bench_stat=D  lists D, then stats every entry, prints stats/s
 * Failures print "error<TAB>op<TAB>path<TAB>ENAME".
 */
#ifndef GUEST_FSTEST_H
#define GUEST_FSTEST_H

#include <pier/cmdline.h>

/* Runs the fs.* options; returns how many of them failed. */
int fstest_run(const struct cmdline *cl);

/* Whether key is one of the fs.* options (for the unknown-option check). */
int fstest_is_option(const char *key);

#endif
