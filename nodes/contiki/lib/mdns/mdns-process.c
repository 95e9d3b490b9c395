/*
 * The mDNS engine on Contiki-NG's netstack (see mdns-process.h).
 */
#include "contiki.h"
#include "net/ipv6/simple-udp.h"
#include "net/ipv6/uip-ds6.h"
#include "net/ipv6/uiplib.h"
#include "lib/random.h"
#include "events.h"
#include "mdns-process.h"

#include <string.h>

#include "sys/log.h"
#define LOG_MODULE "mDNS"
#define LOG_LEVEL LOG_LEVEL_WARN

PROCESS(mdns_process, "mDNS");

static struct simple_udp_connection udp;
static struct etimer deadline;
static uip_ipaddr_t group;
static const char *host;
static const struct mdns_service *service;
static const char *browse_type;
static mdns_event_callback_t callback;
/*---------------------------------------------------------------------------*/
static uint32_t
now_ms(void)
{
  return (uint32_t)((uint64_t)clock_time() * 1000 / CLOCK_SECOND);
}
/*---------------------------------------------------------------------------*/
void
mdns_arch_send(const uint8_t *data, uint16_t len, const uint8_t *address, uint16_t port)
{
  uip_ipaddr_t to;

  if(address == NULL) { /* to port 5353: the connection takes datagrams from any port */
    simple_udp_sendto_port(&udp, data, len, &group, MDNS_PORT);
    return;
  }
  memcpy(&to, address, sizeof(to));
  simple_udp_sendto_port(&udp, data, len, &to, port);
}
/*---------------------------------------------------------------------------*/
void
mdns_arch_event(const struct mdns_event *e)
{
  struct event line;
  char address[UIPLIB_IPV6_MAX_STR_LEN];

  event_begin(&line, "mdns");
  event_string(&line, "what", e->what);
  if(e->name != NULL) {
    event_string(&line, e->type != NULL ? "instance" : "name", e->name);
  }
  if(e->renamed != NULL) {
    event_string(&line, "renamed", e->renamed);
  }
  if(e->type != NULL) {
    event_string(&line, "type", e->type);
  }
  if(e->host != NULL) {
    event_string(&line, "host", e->host);
    event_uint(&line, "port", e->port);
  }
  if(e->address != NULL) {
    uiplib_ipaddr_snprint(address, sizeof(address), (const uip_ipaddr_t *)e->address);
    event_string(&line, e->offset >= 0 ? "source" : "address", address);
  }
  if(e->offset >= 0) {
    event_int(&line, "offset", e->offset);
  }
  if(e->why != NULL) {
    event_string(&line, "why", e->why);
  }
  event_emit(&line);
  if(callback != NULL) {
    callback(e);
  }
}
/*---------------------------------------------------------------------------*/
static void
received(struct simple_udp_connection *c, const uip_ipaddr_t *sender_addr,
         uint16_t sender_port, const uip_ipaddr_t *receiver_addr, uint16_t receiver_port,
         const uint8_t *data, uint16_t datalen)
{
  uint8_t sender[16]; /* it points into uip_buf, which an answer sent meanwhile rewrites */

  memcpy(sender, sender_addr, sizeof(sender));
  mdns_receive(data, datalen, sender, sender_port, now_ms());
  process_poll(&mdns_process);
}
/*---------------------------------------------------------------------------*/
static void
rearm(void)
{
  uint32_t at, now = now_ms();

  if(!mdns_deadline(&at)) {
    etimer_stop(&deadline);
    return;
  }
  at = (int32_t)(at - now) > 0 ? at - now : 0;
  etimer_set(&deadline, (clock_time_t)((uint64_t)at * CLOCK_SECOND / 1000) + 1);
}
/*---------------------------------------------------------------------------*/
void
mdns_process_start(const char *host_label, const struct mdns_service *published,
                   const char *browse, mdns_event_callback_t on_event)
{
  host = host_label;
  service = published;
  browse_type = browse;
  callback = on_event;
  process_start(&mdns_process, NULL);
}
/*---------------------------------------------------------------------------*/
void
mdns_process_stop(void)
{
  const struct mdns_counts *sent;
  struct event line;
  char key[24];
  int i;

  mdns_stop(now_ms());
  sent = mdns_sent();
  event_begin(&line, "mdns");
  event_string(&line, "what", "sent");
  for(i = 0; i < MDNS_SENT_KINDS; i++) {
    snprintf(key, sizeof(key), "%s_packets", mdns_sent_names[i]);
    event_uint(&line, key, sent->packets[i]);
    snprintf(key, sizeof(key), "%s_bytes", mdns_sent_names[i]);
    event_uint(&line, key, sent->bytes[i]);
  }
  event_emit(&line);
  process_exit(&mdns_process);
}
/*---------------------------------------------------------------------------*/
PROCESS_THREAD(mdns_process, ev, data)
{
  static uint8_t addresses[MDNS_ADDRESSES][16];
  uint8_t count = 0;
  uip_ds6_addr_t *address;

  PROCESS_BEGIN();

  uip_ip6addr(&group, 0xff02, 0, 0, 0, 0, 0, 0, 0x00fb);
  if(uip_ds6_maddr_add(&group) == NULL) {
    events_error("mdns: no room for ff02::fb (UIP_CONF_DS6_MADDR_NBU)");
    PROCESS_EXIT();
  }
  if(!simple_udp_register(&udp, MDNS_PORT, NULL, 0, received)) {
    events_error("mdns: no UDP connection free (UIP_CONF_UDP_CONNS)");
    PROCESS_EXIT();
  }
  udp.udp_conn->ttl = 255; /* RFC 6762 §11: sent with hop limit 255 */

  address = uip_ds6_get_link_local(-1);
  if(address != NULL) {
    memcpy(addresses[count++], &address->ipaddr, 16);
  }
  address = uip_ds6_get_global(ADDR_PREFERRED);
  if(address != NULL) {
    memcpy(addresses[count++], &address->ipaddr, 16);
  }
  mdns_init(host, addresses[0], count, ((uint32_t)random_rand() << 16) | random_rand());
  if(service != NULL) {
    mdns_publish(service->instance, service->type, service->port, service->txt,
                 service->txt_count);
  }
  if(browse_type != NULL) {
    mdns_browse(browse_type);
  }
  mdns_start(now_ms());
  rearm();

  while(1) {
    PROCESS_WAIT_EVENT();
    if(ev == PROCESS_EVENT_TIMER || ev == PROCESS_EVENT_POLL) {
      mdns_poll(now_ms());
      rearm();
    }
  }

  PROCESS_END();
}
/*---------------------------------------------------------------------------*/
