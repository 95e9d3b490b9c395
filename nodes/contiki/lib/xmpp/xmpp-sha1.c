/*
 * SHA-1, HMAC-SHA-1 and PBKDF2 for SCRAM-SHA-1 (see xmpp-sha1.h).
 */
#include "xmpp-sha1.h"

#include <string.h>

#ifdef CONTIKI
#include "dev/watchdog.h"
#define KEEP_WATCHDOG_HAPPY() watchdog_periodic()
#else
#define KEEP_WATCHDOG_HAPPY()
#endif

#define ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))
/*---------------------------------------------------------------------------*/
static void
compress(struct xmpp_sha1 *s)
{
  uint32_t w[16], a, b, c, d, e, f, k, t;
  uint8_t i;

  for(i = 0; i < 16; i++) {
    w[i] = ((uint32_t)s->block[4 * i] << 24) | ((uint32_t)s->block[4 * i + 1] << 16) |
      ((uint32_t)s->block[4 * i + 2] << 8) | s->block[4 * i + 3];
  }
  a = s->h[0];
  b = s->h[1];
  c = s->h[2];
  d = s->h[3];
  e = s->h[4];
  for(i = 0; i < 80; i++) {
    if(i >= 16) {
      t = w[(i + 13) & 15] ^ w[(i + 8) & 15] ^ w[(i + 2) & 15] ^ w[i & 15];
      w[i & 15] = ROL(t, 1);
    }
    if(i < 20) {
      f = (b & c) | (~b & d);
      k = 0x5A827999;
    } else if(i < 40) {
      f = b ^ c ^ d;
      k = 0x6ED9EBA1;
    } else if(i < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8F1BBCDC;
    } else {
      f = b ^ c ^ d;
      k = 0xCA62C1D6;
    }
    t = ROL(a, 5) + f + e + k + w[i & 15];
    e = d;
    d = c;
    c = ROL(b, 30);
    b = a;
    a = t;
  }
  s->h[0] += a;
  s->h[1] += b;
  s->h[2] += c;
  s->h[3] += d;
  s->h[4] += e;
}
/*---------------------------------------------------------------------------*/
void
xmpp_sha1_init(struct xmpp_sha1 *s)
{
  s->h[0] = 0x67452301;
  s->h[1] = 0xEFCDAB89;
  s->h[2] = 0x98BADCFE;
  s->h[3] = 0x10325476;
  s->h[4] = 0xC3D2E1F0;
  s->count = 0;
}
/*---------------------------------------------------------------------------*/
void
xmpp_sha1_update(struct xmpp_sha1 *s, const void *data, size_t len)
{
  const uint8_t *p = data;
  while(len--) {
    s->block[s->count++ & 63] = *p++;
    if((s->count & 63) == 0) {
      compress(s);
    }
  }
}
/*---------------------------------------------------------------------------*/
void
xmpp_sha1_final(struct xmpp_sha1 *s, uint8_t out[XMPP_SHA1_LEN])
{
  uint32_t bits = s->count << 3;
  uint32_t high = s->count >> 29;
  uint8_t i;

  s->block[s->count & 63] = 0x80;
  if((s->count & 63) >= 56) {
    memset(s->block + (s->count & 63) + 1, 0, 63 - (s->count & 63));
    compress(s);
    memset(s->block, 0, 56);
  } else {
    memset(s->block + (s->count & 63) + 1, 0, 55 - (s->count & 63));
  }
  for(i = 0; i < 4; i++) {
    s->block[56 + i] = high >> (24 - 8 * i);
    s->block[60 + i] = bits >> (24 - 8 * i);
  }
  compress(s);
  for(i = 0; i < XMPP_SHA1_LEN; i++) {
    out[i] = s->h[i >> 2] >> (24 - 8 * (i & 3));
  }
}
/*---------------------------------------------------------------------------*/
void
xmpp_sha1(const void *data, size_t len, uint8_t out[XMPP_SHA1_LEN])
{
  struct xmpp_sha1 s;
  xmpp_sha1_init(&s);
  xmpp_sha1_update(&s, data, len);
  xmpp_sha1_final(&s, out);
}
/*---------------------------------------------------------------------------*/
/* A fresh hash of the padded key block (K XOR ipad or K XOR opad). */
static void
pad_key(const uint8_t *key, struct xmpp_sha1 *s, uint8_t with)
{
  uint8_t i, pad[XMPP_SHA1_BLOCK];
  for(i = 0; i < XMPP_SHA1_BLOCK; i++) {
    pad[i] = key[i] ^ with;
  }
  xmpp_sha1_init(s);
  xmpp_sha1_update(s, pad, XMPP_SHA1_BLOCK);
}
/*---------------------------------------------------------------------------*/
void
xmpp_hmac_init(struct xmpp_hmac *m, const uint8_t *key, size_t key_len)
{
  memset(m->key, 0, sizeof(m->key));
  if(key_len > XMPP_SHA1_BLOCK) {
    xmpp_sha1(key, key_len, m->key);
  } else {
    memcpy(m->key, key, key_len);
  }
  pad_key(m->key, &m->inner, 0x36);
}
/*---------------------------------------------------------------------------*/
void
xmpp_hmac_update(struct xmpp_hmac *m, const void *data, size_t len)
{
  xmpp_sha1_update(&m->inner, data, len);
}
/*---------------------------------------------------------------------------*/
void
xmpp_hmac_final(struct xmpp_hmac *m, uint8_t out[XMPP_SHA1_LEN])
{
  uint8_t digest[XMPP_SHA1_LEN];
  xmpp_sha1_final(&m->inner, digest);
  pad_key(m->key, &m->inner, 0x5C);
  xmpp_sha1_update(&m->inner, digest, XMPP_SHA1_LEN);
  xmpp_sha1_final(&m->inner, out);
}
/*---------------------------------------------------------------------------*/
void
xmpp_hmac_sha1(const uint8_t *key, size_t key_len, const void *data, size_t len,
               uint8_t out[XMPP_SHA1_LEN])
{
  struct xmpp_hmac m;
  xmpp_hmac_init(&m, key, key_len);
  xmpp_hmac_update(&m, data, len);
  xmpp_hmac_final(&m, out);
}
/*---------------------------------------------------------------------------*/
void
xmpp_pbkdf2_sha1(const uint8_t *password, size_t password_len,
                 const uint8_t *salt, size_t salt_len, uint32_t iterations,
                 uint8_t out[XMPP_SHA1_LEN])
{
  static const uint8_t one[4] = { 0, 0, 0, 1 };
  struct xmpp_hmac m;
  struct xmpp_sha1 inner, outer;
  uint8_t u[XMPP_SHA1_LEN];
  uint8_t i;

  xmpp_hmac_init(&m, password, password_len);
  inner = m.inner;  /* the key's padded blocks hashed once: two compressions an iteration */
  pad_key(m.key, &outer, 0x5C);
  xmpp_hmac_update(&m, salt, salt_len);
  xmpp_hmac_update(&m, one, sizeof(one));
  xmpp_hmac_final(&m, u);
  memcpy(out, u, XMPP_SHA1_LEN);
  while(iterations-- > 1) {
    m.inner = inner;
    xmpp_sha1_update(&m.inner, u, XMPP_SHA1_LEN);
    xmpp_sha1_final(&m.inner, u);
    m.inner = outer;
    xmpp_sha1_update(&m.inner, u, XMPP_SHA1_LEN);
    xmpp_sha1_final(&m.inner, u);
    for(i = 0; i < XMPP_SHA1_LEN; i++) {
      out[i] ^= u[i];
    }
    if((iterations & 255) == 0) {
      KEEP_WATCHDOG_HAPPY();
    }
  }
}
/*---------------------------------------------------------------------------*/
