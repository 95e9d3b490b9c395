/*
 * Module "plain": SASL PLAIN (RFC 4616) with the initial response (RFC 6120 6.4.2).
 * message = [authzid] NUL authcid NUL passwd, base64 straight into the output buffer.
 */
#include "xmpp.h"

#include <string.h>
/*---------------------------------------------------------------------------*/
static void
put_auth(const void *arg)
{
  const struct xmpp_config *config = arg;
  xmpp_put("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>");
  xmpp_put_base64("", 1);
  xmpp_put_base64(config->user, strlen(config->user));
  xmpp_put_base64("", 1);
  xmpp_put_base64(config->password, strlen(config->password));
  xmpp_put_base64_end();
  xmpp_put("</auth>");
}
/*---------------------------------------------------------------------------*/
void
xmpp_plain_auth(const struct xmpp_config *config)
{
  xmpp_send(put_auth, config);
}
/*---------------------------------------------------------------------------*/
