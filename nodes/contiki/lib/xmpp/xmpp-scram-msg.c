/*
 * SCRAM-SHA-1 (RFC 5802) message computation, as scram.py's ScramSha1 does it: GS2 header
 * "n,," (no channel binding), saslname escaping of the user, Hi() = PBKDF2-HMAC-SHA-1.
 * The AuthMessage is hashed as it is made (two HMACs side by side), never stored.
 */
#include "xmpp-scram.h"
#include "xmpp-base64.h"

#include <string.h>

#define GS2_HEADER "n,,"
#define CHANNEL_BINDING "c=biws"  /* base64("n,,") */
/*---------------------------------------------------------------------------*/
int
xmpp_scram_first_bare(const char *user, const char *nonce, char *out, size_t size)
{
  size_t n = 0;
  const char *p;
  out[n++] = 'n';
  out[n++] = '=';
  for(p = user; *p; p++) {  /* RFC 5802 5.1: "=" -> "=3D", "," -> "=2C" */
    const char *put = *p == '=' ? "=3D" : *p == ',' ? "=2C" : NULL;
    size_t len = put ? 3 : 1;
    if(n + len >= size) {
      return -1;
    }
    memcpy(out + n, put ? put : p, len);
    n += len;
  }
  if(n + 3 + strlen(nonce) >= size) {
    return -1;
  }
  memcpy(out + n, ",r=", 3);
  n += 3;
  strcpy(out + n, nonce);
  return n + strlen(nonce);
}
/*---------------------------------------------------------------------------*/
/* The value of attribute `name` in "a=..,b=..": its start and length, or NULL. */
static const char *
attribute(const char *text, size_t len, char name, size_t *value_len)
{
  size_t i = 0, j;
  while(i < len) {
    for(j = i; j < len && text[j] != ','; j++) {
    }
    if(j - i >= 2 && text[i] == name && text[i + 1] == '=') {
      *value_len = j - i - 2;
      return text + i + 2;
    }
    i = j + 1;
  }
  return NULL;
}
/*---------------------------------------------------------------------------*/
static void
both(struct xmpp_hmac *a, struct xmpp_hmac *b, const void *data, size_t len)
{
  xmpp_hmac_update(a, data, len);
  xmpp_hmac_update(b, data, len);
}
/*---------------------------------------------------------------------------*/
const char *
xmpp_scram_final(const char *user, const char *password, const char *nonce,
                 const char *server_first, size_t server_first_len,
                 char *final, size_t size, uint8_t server_signature[XMPP_SHA1_LEN])
{
  char bare[96];
  uint8_t salt[64], salted[XMPP_SHA1_LEN], client_key[XMPP_SHA1_LEN];
  uint8_t stored_key[XMPP_SHA1_LEN], proof[XMPP_SHA1_LEN];
  struct xmpp_hmac client, server;
  const char *r, *s, *i;
  size_t r_len, s_len, i_len, k, n;
  int salt_len, bare_len;
  uint32_t iterations = 0;

  if(attribute(server_first, server_first_len, 'e', &k)) {
    return "server error";
  }
  r = attribute(server_first, server_first_len, 'r', &r_len);
  s = attribute(server_first, server_first_len, 's', &s_len);
  i = attribute(server_first, server_first_len, 'i', &i_len);
  if(r == NULL || s == NULL || i == NULL) {
    return "server-first-message lacks r=, s= or i=";
  }
  for(k = 0; k < i_len; k++) {
    if(i[k] < '0' || i[k] > '9' || iterations > XMPP_SCRAM_MAX_ITERATIONS) {
      return "bad iteration count";
    }
    iterations = iterations * 10 + (i[k] - '0');
  }
  if(iterations < 1 || iterations > XMPP_SCRAM_MAX_ITERATIONS) {
    return "iteration count outside 1..65536";
  }
  if(r_len < strlen(nonce) || strncmp(r, nonce, strlen(nonce))) {
    return "server nonce does not extend ours";
  }
  if(s_len > 4 * sizeof(salt) / 3) {
    return "salt too long";
  }
  salt_len = xmpp_base64_decode(s, s_len, salt);
  bare_len = xmpp_scram_first_bare(user, nonce, bare, sizeof(bare));
  n = strlen(CHANNEL_BINDING ",r=") + r_len;
  if(salt_len < 0 || bare_len < 0 || n + 3 + 28 + 1 > size) {
    return "server-first-message too long";
  }
  memcpy(final, CHANNEL_BINDING ",r=", strlen(CHANNEL_BINDING ",r="));
  memcpy(final + strlen(CHANNEL_BINDING ",r="), r, r_len);

  xmpp_pbkdf2_sha1((const uint8_t *)password, strlen(password), salt, salt_len,
                   iterations, salted);
  xmpp_hmac_sha1(salted, XMPP_SHA1_LEN, "Client Key", 10, client_key);
  xmpp_sha1(client_key, XMPP_SHA1_LEN, stored_key);
  /* AuthMessage = client-first-bare "," server-first "," client-final-without-proof */
  xmpp_hmac_sha1(salted, XMPP_SHA1_LEN, "Server Key", 10, salted); /* salted: ServerKey now */
  xmpp_hmac_init(&client, stored_key, XMPP_SHA1_LEN);
  xmpp_hmac_init(&server, salted, XMPP_SHA1_LEN);
  both(&client, &server, bare, bare_len);
  both(&client, &server, ",", 1);
  both(&client, &server, server_first, server_first_len);
  both(&client, &server, ",", 1);
  both(&client, &server, final, n);
  xmpp_hmac_final(&client, proof);
  xmpp_hmac_final(&server, server_signature);
  for(k = 0; k < XMPP_SHA1_LEN; k++) {
    proof[k] ^= client_key[k];
  }
  memcpy(final + n, ",p=", 3);
  xmpp_base64_encode(proof, XMPP_SHA1_LEN, final + n + 3);
  memset(client_key, 0, sizeof(client_key));
  return NULL;
}
/*---------------------------------------------------------------------------*/
const char *
xmpp_scram_check(const char *server_final, size_t len,
                 const uint8_t server_signature[XMPP_SHA1_LEN])
{
  uint8_t got[XMPP_SHA1_LEN + 4];
  size_t v_len;
  const char *v;
  if(attribute(server_final, len, 'e', &v_len)) {
    return "server error";
  }
  v = attribute(server_final, len, 'v', &v_len);
  if(v == NULL || v_len > 4 * sizeof(got) / 3
     || xmpp_base64_decode(v, v_len, got) != XMPP_SHA1_LEN
     || memcmp(got, server_signature, XMPP_SHA1_LEN)) {
    return "server signature mismatch";
  }
  return NULL;
}
/*---------------------------------------------------------------------------*/
