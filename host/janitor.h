/*
 * A small process that outlives pier to clean up after it: pier's run
 * directory under QEMU (control FIFOs, sockets, virtiofsd's logs and
 * read-only views) and virtiofsd's pid files. Normally pier removes them
 * itself; if pier is killed outright (SIGKILL), its end of a pipe closes,
 * and the janitor removes what pier could not. QEMU and virtiofsd go by
 * themselves then (PR_SET_PDEATHSIG).
 */
#ifndef HOST_JANITOR_H
#define HOST_JANITOR_H

/* Starts the janitor for run directory dir (made by mkdtemp: pier's
 * alone). 0, or -1 after a message. */
int janitor_start(const char *dir);

/* A file outside the run directory to remove too (virtiofsd's pid file). */
void janitor_note(const char *path);

/* pier cleaned up itself: the janitor leaves without doing anything. */
void janitor_done(void);

#endif
