/*
 * mdns-node: a Contiki-NG node that only takes part in discovery, for `testbed study mdns`
 * on Contiki nodes: it claims "<name>@<name>" as a XEP-0174 `_presence._tcp` service (what
 * xmpp-sensor announces in serverless mode) and browses that type for its peers, with the
 * mDNS engine of lib/mdns. Its events are the engine's ({"event": "mdns", "what": ...}).
 *
 * The console line "mdns-stop" sends the goodbyes and prints what was sent, by kind; the
 * study writes it before it stops the node, as the Python swarm calls stop().
 */
#include "contiki.h"
#include "dev/serial-line.h"
#include "events.h"
#include "node-config.h"
#include "mdns-process.h"

#include <stdio.h>
#include <string.h>

/* The XEP-0174 port and TXT keys xmpp-sensor announces (linklocal.py) */
#define PRESENCE_PORT 5562

PROCESS(mdns_node_process, "mdns-node");
AUTOSTART_PROCESSES(&mdns_node_process);

static const char *const txt[] = { "txtvers=1", "port.p2pj=5562", "status=avail" };
static char instance[2 * 32 + 2];
static struct mdns_service presence = {
  instance, "_presence._tcp", PRESENCE_PORT, txt, sizeof(txt) / sizeof(txt[0])
};
/*---------------------------------------------------------------------------*/
PROCESS_THREAD(mdns_node_process, ev, data)
{
  static struct node_config node;

  PROCESS_BEGIN();

  if(node_config_load(&node) < 0) {
    events_error(node_config_error());
  }
  snprintf(instance, sizeof(instance), "%.32s@%.32s", node.name, node.name);
  mdns_process_start(node.name, &presence, "_presence._tcp", NULL);
  events_simple("ready");

  while(1) {
    PROCESS_WAIT_EVENT_UNTIL(ev == serial_line_event_message);
    if(strcmp((const char *)data, "mdns-stop") == 0) {
      mdns_process_stop();
    } else {
      events_console_command((const char *)data);
    }
  }

  PROCESS_END();
}
/*---------------------------------------------------------------------------*/
