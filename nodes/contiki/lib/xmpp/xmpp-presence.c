/*
 * Module "presence": directed presence (RFC 6121 4.6); with it the core also sends the
 * initial presence after binding (RFC 6121 4.2), as the Python sensor does.
 */
#include "xmpp.h"
/*---------------------------------------------------------------------------*/
static void
put_presence(const void *arg)
{
  xmpp_put("<presence to='");
  xmpp_put_escaped(arg);
  xmpp_put("'/>");
}
/*---------------------------------------------------------------------------*/
int
xmpp_presence_send(const char *to)
{
  return xmpp_send(put_presence, to);
}
/*---------------------------------------------------------------------------*/
