/*
 * SHA-1 (FIPS 180-4), HMAC-SHA-1 (RFC 2104) and Hi() = PBKDF2-HMAC-SHA-1 with one block
 * (RFC 5802 section 2.2): what SCRAM-SHA-1 needs, small and streaming (no message buffer).
 */
#ifndef XMPP_SHA1_H_
#define XMPP_SHA1_H_

#include <stdint.h>
#include <stddef.h>

#define XMPP_SHA1_LEN 20
#define XMPP_SHA1_BLOCK 64

struct xmpp_sha1 {
  uint32_t h[5];
  uint32_t count;  /* bytes hashed so far (a SASL exchange never hashes 4 GB) */
  uint8_t block[XMPP_SHA1_BLOCK];
};

struct xmpp_hmac {
  struct xmpp_sha1 inner;
  uint8_t key[XMPP_SHA1_BLOCK]; /* K padded with zeros (RFC 2104 section 2) */
};

void xmpp_sha1_init(struct xmpp_sha1 *s);
void xmpp_sha1_update(struct xmpp_sha1 *s, const void *data, size_t len);
void xmpp_sha1_final(struct xmpp_sha1 *s, uint8_t out[XMPP_SHA1_LEN]);
void xmpp_sha1(const void *data, size_t len, uint8_t out[XMPP_SHA1_LEN]);

void xmpp_hmac_init(struct xmpp_hmac *m, const uint8_t *key, size_t key_len);
void xmpp_hmac_update(struct xmpp_hmac *m, const void *data, size_t len);
void xmpp_hmac_final(struct xmpp_hmac *m, uint8_t out[XMPP_SHA1_LEN]);
void xmpp_hmac_sha1(const uint8_t *key, size_t key_len, const void *data, size_t len,
                    uint8_t out[XMPP_SHA1_LEN]);

/* RFC 5802 Hi(password, salt, iterations) */
void xmpp_pbkdf2_sha1(const uint8_t *password, size_t password_len,
                      const uint8_t *salt, size_t salt_len, uint32_t iterations,
                      uint8_t out[XMPP_SHA1_LEN]);

#endif /* XMPP_SHA1_H_ */
