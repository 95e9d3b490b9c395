/*
 * Module "iq": a sensor readout on request. The sink's
 * <iq type='get'><req xmlns='urn:xmpp:iot:sensordata'/></iq> is answered at once with an IQ
 * result carrying the reading (the application writes it in readout() through
 * xmpp_iq_answer()), the Python sensor's deliberate deviation from XEP-0323 3.1's
 * <accepted/> then <message/>.
 */
#include "xmpp.h"

#include <string.h>
/*---------------------------------------------------------------------------*/
int
xmpp_iq_input(const struct xmpp_stanza *s, const struct xmpp_handler *handler)
{
  if(strcmp(s->type, "get") || strcmp(s->child, "req") || s->child_ns != XMPP_NS_SENSORDATA) {
    return 0;
  }
  handler->readout();
  return 1;
}
/*---------------------------------------------------------------------------*/
