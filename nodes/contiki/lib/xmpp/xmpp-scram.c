/*
 * Module "scram": SASL SCRAM-SHA-1 (RFC 5802) in XMPP (RFC 6120 6.4): auth with the
 * client-first-message, a response to the challenge, the server signature checked on
 * <success/> (or in a second challenge, answered with an empty response by the core).
 */
#include "xmpp.h"
#include "xmpp-scram.h"
#include "xmpp-base64.h"
#include "lib/csprng.h"
#include "lib/random.h"

#include <string.h>

static struct {
  char nonce[25];                          /* base64 of 18 random bytes, as scram.py */
  uint8_t server_signature[XMPP_SHA1_LEN];
} scram;

#define FINAL_MAX 160
/*---------------------------------------------------------------------------*/
static void
put_auth(const void *arg)
{
  const struct xmpp_config *config = arg;
  char bare[96];
  int len = xmpp_scram_first_bare(config->user, scram.nonce, bare, sizeof(bare));
  xmpp_put("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>");
  xmpp_put_base64("n,,", 3);
  xmpp_put_base64(bare, len > 0 ? len : 0);
  xmpp_put_base64_end();
  xmpp_put("</auth>");
}
/*---------------------------------------------------------------------------*/
void
xmpp_scram_auth(const struct xmpp_config *config)
{
  uint8_t bytes[18], i;
  if(!csprng_rand(bytes, sizeof(bytes))) {
    for(i = 0; i < sizeof(bytes); i++) {
      bytes[i] = random_rand();
    }
  }
  xmpp_base64_encode(bytes, sizeof(bytes), scram.nonce);
  xmpp_send(put_auth, config);
}
/*---------------------------------------------------------------------------*/
static void
put_response(const void *arg)
{
  const char *final = arg;
  xmpp_put("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>");
  xmpp_put_base64(final, strlen(final));
  xmpp_put_base64_end();
  xmpp_put("</response>");
}
/*---------------------------------------------------------------------------*/
const char *
xmpp_scram_challenge(const struct xmpp_config *config, struct xmpp_stanza *s)
{
  char final[FINAL_MAX];
  const char *error;
  int len = xmpp_base64_decode(s->text, s->text_len, (uint8_t *)s->text);
  if(len < 0) {
    return "challenge is not base64";
  }
  error = xmpp_scram_final(config->user, config->password, scram.nonce, s->text, len,
                           final, sizeof(final), scram.server_signature);
  if(error == NULL) {
    xmpp_send(put_response, final);
  }
  memset(final, 0, sizeof(final));
  return error;
}
/*---------------------------------------------------------------------------*/
const char *
xmpp_scram_verify(struct xmpp_stanza *s)
{
  int len = xmpp_base64_decode(s->text, s->text_len, (uint8_t *)s->text);
  if(len < 0) {
    return "server-final-message is not base64";
  }
  return xmpp_scram_check(s->text, len, scram.server_signature);
}
/*---------------------------------------------------------------------------*/
