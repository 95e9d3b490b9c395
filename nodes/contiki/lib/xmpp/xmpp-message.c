/*
 * Module "message": a message carrying the application's payload (RFC 6121 section 5),
 * byte for byte the Python sensor's stanzas.message(): no type, no id.
 */
#include "xmpp.h"

struct message {
  const char *to;
  xmpp_writer_t payload;
  const void *arg;
};
/*---------------------------------------------------------------------------*/
static void
put_message(const void *arg)
{
  const struct message *m = arg;
  xmpp_put("<message to='");
  xmpp_put_escaped(m->to);
  xmpp_put("'>");
  m->payload(m->arg);
  xmpp_put("</message>");
}
/*---------------------------------------------------------------------------*/
int
xmpp_message_send(const char *to, xmpp_writer_t payload, const void *arg)
{
  struct message m = { to, payload, arg };
  return xmpp_send(put_message, &m);
}
/*---------------------------------------------------------------------------*/
