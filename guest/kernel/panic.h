/*
 * Fatal errors: print a message and a backtrace, then end the VM with
 * PIER_EXIT_PANIC. For broken invariants of our own, never for bad input.
 */
#ifndef GUEST_PANIC_H
#define GUEST_PANIC_H

#include <stdbool.h>
#include <stdint.h>

#define panic(...) panic_at(__FILE__, __LINE__, __VA_ARGS__)

__attribute__((noreturn, format(printf, 3, 4)))
void panic_at(const char *file, int line, const char *fmt, ...);

/* Whether a CPU has started a panic report. */
bool panic_started(void);
/* The start of any fatal report: the first CPU to call it stops the
 * others (an NMI each) and gets how many did; any later caller halts. */
int panic_stop_cpus(void);
/* The report's line naming the CPU, how many CPUs stopped, the task. */
void panic_print_where(int stopped);

/* Prints the return addresses of the frame-pointer chain starting at rbp. */
void backtrace_print(uint64_t rbp);

#endif
