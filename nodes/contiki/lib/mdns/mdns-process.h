/*
 * The mDNS engine (mdns.h) as a Contiki-NG process: UDP port 5353 through simple-udp, the
 * group ff02::fb joined on the node's interface, one etimer for the engine's deadline.
 * Every engine event is a JSON event line on the console (events.h), as the Python
 * sensor's discovery.py prints them: {"event": "mdns", "what": "service", ...}.
 *
 *   static const char *txt[] = { "txtvers=1", "port.p2pj=5562" };
 *   mdns_process_start("s1", &service, "_presence._tcp", found_callback);
 *
 * Host records: the node's link-local address and, when it has one at start, its global
 * address. mdns_process_stop() sends the goodbyes and prints what was sent, by kind
 * ("what": "sent").
 */
#ifndef MDNS_PROCESS_H_
#define MDNS_PROCESS_H_

#include "contiki.h"
#include "mdns.h"

struct mdns_service {
  const char *instance;      /* "s1@s1" */
  const char *type;          /* "_presence._tcp" */
  uint16_t port;
  const char *const *txt;
  uint8_t txt_count;
};

/* Called for every engine event after it is printed (e.g. a "service" found) */
typedef void (*mdns_event_callback_t)(const struct mdns_event *e);

PROCESS_NAME(mdns_process);

/* `service` and `browse_type` may be NULL; the strings must outlive the process. */
void mdns_process_start(const char *host, const struct mdns_service *service,
                        const char *browse_type, mdns_event_callback_t callback);
void mdns_process_stop(void);

#endif /* MDNS_PROCESS_H_ */
