/*
 * A router of the PAN: Contiki-NG's netstack does the forwarding; this process says on the
 * console when the node has joined the DODAG (the testbed's bring-up waits on the line
 * "joined"), and again when it loses it.
 */
#include "contiki.h"
#include "net/routing/routing.h"

#include "sys/log.h"
#define LOG_MODULE "Router"
#define LOG_LEVEL LOG_LEVEL_INFO

#define CHECK_INTERVAL (CLOCK_SECOND / 4)

PROCESS(router_process, "Router");
AUTOSTART_PROCESSES(&router_process);
/*---------------------------------------------------------------------------*/
PROCESS_THREAD(router_process, ev, data)
{
  static struct etimer timer;
  static int joined;

  PROCESS_BEGIN();

  LOG_INFO("router started\n");
  etimer_set(&timer, CHECK_INTERVAL);
  while(1) {
    PROCESS_WAIT_EVENT_UNTIL(etimer_expired(&timer));
    if(NETSTACK_ROUTING.node_is_reachable() != joined) {
      joined = !joined;
      LOG_INFO("%s\n", joined ? "joined" : "left the DODAG");
    }
    etimer_reset(&timer);
  }

  PROCESS_END();
}
/*---------------------------------------------------------------------------*/
