/*
 * Module "pubsub": XEP-0060 7.1.1 publish of one item, as the Python sensor's
 * stanzas.publish(): item id = the reading's seq, IQ id = "p<seq>"; the IQ result (or error)
 * with such an id is handed to the application's published().
 */
#include "xmpp.h"

#include <string.h>

struct publish {
  const char *service;
  const char *node;
  uint32_t item;
  xmpp_writer_t payload;
  const void *arg;
};
/*---------------------------------------------------------------------------*/
static void
put_publish(const void *arg)
{
  const struct publish *p = arg;
  xmpp_put("<iq type='set' to='");
  xmpp_put_escaped(p->service);
  xmpp_put("' id='p");
  xmpp_put_uint(p->item);
  xmpp_put("'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='");
  xmpp_put_escaped(p->node);
  xmpp_put("'><item id='");
  xmpp_put_uint(p->item);
  xmpp_put("'>");
  p->payload(p->arg);
  xmpp_put("</item></publish></pubsub></iq>");
}
/*---------------------------------------------------------------------------*/
int
xmpp_pubsub_publish(const char *service, const char *node, uint32_t item,
                    xmpp_writer_t payload, const void *arg)
{
  struct publish p = { service, node, item, payload, arg };
  return xmpp_send(put_publish, &p);
}
/*---------------------------------------------------------------------------*/
int
xmpp_pubsub_input(const struct xmpp_stanza *s, const struct xmpp_handler *handler)
{
  const char *p;
  uint32_t item = 0;
  uint8_t ok = !strcmp(s->type, "result");
  if((!ok && strcmp(s->type, "error")) || s->id[0] != 'p' || s->id[1] == '\0') {
    return 0;
  }
  for(p = s->id + 1; *p; p++) {
    if(*p < '0' || *p > '9') {
      return 0;
    }
    item = item * 10 + (*p - '0');
  }
  handler->published(item, ok);
  return 1;
}
/*---------------------------------------------------------------------------*/
