/*
 * String and memory functions: libc's on the host, lib/string.c in the
 * guest. Shared code includes this instead of <string.h> so it builds in both.
 */
#ifndef PIER_STRING_H
#define PIER_STRING_H

#include <stddef.h>

#ifdef PIER_GUEST
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
void *memchr(const void *s, int c, size_t n);
#else
#include <string.h>
#endif

#endif
