/*
 * coap-sensor: the CoAP sensor node on Contiki-NG's CoAP engine, the C twin of
 * nodes/coap-sensor/main.py (same readings, sequence numbers, timestamps, events and
 * payloads; docs/CONTRACTS.md "Node firmware").
 *
 * One process: it reads the configuration (node-config: TESTBED_<KEY>), activates the
 * resources (res-sensors.c), says "ready", and runs each sensor's notification clock from
 * its first Observe registration on (every interval, drift-free like main.py's next_tick).
 * On boards a console line "time <unix ms>" sets the clock the events and readings carry.
 * The engine's own process answers requests.
 */
#include "contiki.h"
#include "coap-engine.h"
#include "dev/serial-line.h"
#include "events.h"
#include "node-config.h"
#include "res-sensors.h"
#include "net/routing/routing.h"
#if COAP_SENSOR_CONF_MDNS
#include "mdns-process.h"
#endif

#include <stdlib.h>
#include <string.h>

#include "sys/log.h"
#define LOG_MODULE "coap-sensor"
#define LOG_LEVEL LOG_LEVEL_APP

#define JOIN_CHECK_INTERVAL (CLOCK_SECOND / 4)

PROCESS(coap_sensor_process, "coap-sensor");
AUTOSTART_PROCESSES(&coap_sensor_process);

static struct node_config node;
static struct res_sensors_config config;
static struct etimer ticks[NODE_CONFIG_MAX_SENSORS];
#if COAP_SENSOR_CONF_MDNS
/* DNS-SD for the CoAP server (RFC 6763 §6: a TXT record even with nothing to say) */
static const char *const coap_txt[] = { "txtvers=1" };
static struct mdns_service coap_service = {
  NULL, "_coap._udp", COAP_DEFAULT_PORT, coap_txt, 1
};
#endif
/*---------------------------------------------------------------------------*/
/* Bad configuration: one "error" event naming the key; a Linux-hosted node exits with 2. */
static void
refuse(const char *what)
{
  events_error(what);
#if CONTIKI_TARGET_NATIVE || CONTIKI_TARGET_MEDIUM
  exit(2);
#endif
}
/*---------------------------------------------------------------------------*/
/* The coap keys of manifest.toml (port, format, observe, max_age, etag) */
static int
configure(void)
{
  const char *format;
  const char *observe;
  long port;

  node_config_load(&node);
  config.node = &node;
  format = node_config_string("FORMAT", "senml-json");
  if(strcmp(format, "text") == 0) {
    config.content_format = RES_SENSORS_TEXT_PLAIN;
  } else if(strcmp(format, "senml-json") == 0) {
    config.content_format = RES_SENSORS_SENML_JSON;
  } else if(strcmp(format, "senml-cbor") == 0) {
    config.content_format = RES_SENSORS_SENML_CBOR;
  } else {
    refuse("TESTBED_FORMAT: expected senml-json, senml-cbor or text "
           "(the C coap-sensor writes no XEP-0323 XML)");
    return -1;
  }
  /* the manifest's default is "con"; unset, empty, "null" or "none" means GET mode as the
   * runner's null does */
  observe = node_config_string("OBSERVE", "con");
  if(strcmp(observe, "con") == 0) {
    config.observe = RES_SENSORS_CON;
  } else if(strcmp(observe, "non") == 0) {
    config.observe = RES_SENSORS_NON;
  } else if(observe[0] == '\0' || strcmp(observe, "null") == 0
            || strcmp(observe, "none") == 0) {
    config.observe = RES_SENSORS_GET;
  } else {
    refuse("TESTBED_OBSERVE: expected con, non or null");
    return -1;
  }
  config.max_age = (uint32_t)node_config_int("MAX_AGE", RES_SENSORS_MAX_AGE, 0,
                                             0xffffffffL >> 1);
  config.etag = node_config_bool("ETAG", 0);
  /* the engine binds COAP_DEFAULT_PORT at start-up; another port is a compile-time change */
  port = node_config_int("PORT", COAP_DEFAULT_PORT, 1, 65535);
  if(port != COAP_DEFAULT_PORT) {
    refuse("TESTBED_PORT: this build serves only the CoAP default port 5683");
    return -1;
  }
  if(node_config_error() != NULL) {
    refuse(node_config_error());
    return -1;
  }
  return 0;
}
/*---------------------------------------------------------------------------*/
PROCESS_THREAD(coap_sensor_process, ev, data)
{
  static uint8_t i;

  PROCESS_BEGIN();

  if(configure() < 0 || res_sensors_init(&config, &coap_sensor_process) < 0) {
    PROCESS_EXIT();
  }
#if !CONTIKI_TARGET_NATIVE
  /* "ready" means a client can reach the server: in a PAN, once the node is in the DODAG
   * (the Python app's namespace has its routes before it starts). Native's tun has no DODAG. */
  etimer_set(&ticks[0], JOIN_CHECK_INTERVAL);
  while(!NETSTACK_ROUTING.node_is_reachable()) {
    PROCESS_WAIT_EVENT_UNTIL(etimer_expired(&ticks[0]));
    etimer_reset(&ticks[0]);
  }
  etimer_stop(&ticks[0]);
#endif
#if COAP_SENSOR_CONF_MDNS
  /* from here the node has the addresses a client can reach it at (in a PAN: its global
   * one too), which its host records carry */
  coap_service.instance = node.name;
  mdns_process_start(node.name, &coap_service, NULL, NULL);
#endif
  events_simple("ready");

  while(1) {
    PROCESS_WAIT_EVENT();
    if(ev == res_sensors_registered) {
      i = (uint8_t)(uintptr_t)data;
      etimer_set(&ticks[i], (clock_time_t)((uint64_t)node.interval_ms * CLOCK_SECOND / 1000));
    } else if(ev == serial_line_event_message) {
      events_console_command(data); /* "time <unix ms>" on boards */
    } else if(ev == PROCESS_EVENT_TIMER) {
      for(i = 0; i < node.sensor_count; i++) {
        if(data == &ticks[i]) {
          etimer_reset(&ticks[i]);
          res_sensors_tick(i);
        }
      }
    }
  }

  PROCESS_END();
}
/*---------------------------------------------------------------------------*/
