/*
 * SHA-256 (FIPS 180-4), incremental. Plain integer code: the guest is built
 * without SIMD registers. A context is a value; copy it to hash a common
 * prefix once and finish several messages from it.
 */
#ifndef PIER_SHA256_H
#define PIER_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_SIZE 32
#define SHA256_BLOCK_SIZE 64

struct sha256_ctx {
	uint32_t h[8];
	uint64_t total;               /* bytes hashed so far */
	uint8_t buf[SHA256_BLOCK_SIZE];
	size_t buflen;                /* bytes waiting in buf, < 64 */
};

void sha256_init(struct sha256_ctx *c);
void sha256_update(struct sha256_ctx *c, const void *data, size_t len);
/* Writes the digest; c must be re-initialised before it is used again. */
void sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_DIGEST_SIZE]);

/* One-shot convenience. */
void sha256(const void *data, size_t len, uint8_t out[SHA256_DIGEST_SIZE]);

/* Lower-case hex of a digest, NUL-terminated (as sha256sum prints it). */
void sha256_hex(const uint8_t digest[SHA256_DIGEST_SIZE], char out[2 * SHA256_DIGEST_SIZE + 1]);

#endif
