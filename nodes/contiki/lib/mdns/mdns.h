/*
 * Multicast DNS (RFC 6762) responder and querier with DNS-SD (RFC 6763): the C twin of
 * nodes/xmpp-sensor/mdns.py, for the Contiki-NG apps (Contiki-NG's resolv answers only its
 * own host name and holds no service records).
 *
 * The engine is driven from outside with a clock in milliseconds, so the same code runs in
 * a Contiki process (mdns-process.c) and under the host test driver's clock:
 * mdns_receive() takes one UDP payload, mdns_poll() fires what is due, mdns_deadline() says
 * when to poll next. It sends and reports through three functions its user provides:
 * mdns_arch_send(), mdns_arch_event() and nothing else (no heap, no Contiki include).
 *
 * What it does, with the RFC's numbers; each mechanism is a compile-time switch
 * (MDNS_CONF_<NAME> 0 in project-conf.h or -D, for the study), all on by default:
 *   PROBING           3 probes 250 ms apart after a random 0-250 ms wait, the proposed
 *                     records in the authority section (§8.1); a response naming a probed
 *                     name, or a simultaneous probe that wins the tie-break (§8.2), renames
 *                     ("x (2)" for an instance, "x-2" for a host) and probes again (§9)
 *   ANNOUNCING        two unsolicited responses 1 s apart (§8.3)
 *   RESPONSE_DELAY    answers holding a shared record (PTR) wait 20-120 ms (§6)
 *   KNOWN_ANSWER      queries list the cached answers with more than half their TTL left;
 *                     a responder leaves out what a query already knows (§7.1)
 *   DUPLICATE_ANSWER  a delayed answer another responder sends first is not sent (§7.4)
 *   RATE_LIMIT        a record is multicast at most once per second, 250 ms for probe
 *                     defence (§6)
 *   CACHE_REFRESH     a record still wanted is asked for at 80, 85, 90, 95 % of its TTL plus
 *                     0-2 % (§5.2); every record is dropped at 100 %
 *   GOODBYE           mdns_stop() sends every record once with TTL 0 (§10.1)
 * TTLs: 120 s for records holding a host name (AAAA, SRV), 4500 s for others (§10).
 * Continuous querying (§5.2): a browse asks after 20-120 ms, then 1 s later, doubling to
 * 60 min; SRV, TXT and AAAA of a found instance are asked for after 20-120 ms, then 1, 2,
 * 4 ... s, six times at most.
 *
 * Limits, unlike the Python engine: one published service and one browsed type; cached
 * names and data of more than MDNS_CACHED_MAX bytes are not cached; known answers that do
 * not fit one MDNS_BUFFER_SIZE message are left out (no §7.2 multi-packet known answers);
 * "service" events carry the first address and no TXT strings.
 */
#ifndef MDNS_H_
#define MDNS_H_

#include <stdint.h>

#ifdef CONTIKI
#include "contiki.h" /* the app's project-conf.h: its MDNS_CONF_ settings */
#endif
#include "mdns-msg.h"

#define MDNS_PORT 5353

#ifdef MDNS_CONF_PROBING
#define MDNS_PROBING MDNS_CONF_PROBING
#else
#define MDNS_PROBING 1
#endif
#ifdef MDNS_CONF_ANNOUNCING
#define MDNS_ANNOUNCING MDNS_CONF_ANNOUNCING
#else
#define MDNS_ANNOUNCING 1
#endif
#ifdef MDNS_CONF_RESPONSE_DELAY
#define MDNS_RESPONSE_DELAY MDNS_CONF_RESPONSE_DELAY
#else
#define MDNS_RESPONSE_DELAY 1
#endif
#ifdef MDNS_CONF_KNOWN_ANSWER
#define MDNS_KNOWN_ANSWER MDNS_CONF_KNOWN_ANSWER
#else
#define MDNS_KNOWN_ANSWER 1
#endif
#ifdef MDNS_CONF_DUPLICATE_ANSWER
#define MDNS_DUPLICATE_ANSWER MDNS_CONF_DUPLICATE_ANSWER
#else
#define MDNS_DUPLICATE_ANSWER 1
#endif
#ifdef MDNS_CONF_RATE_LIMIT
#define MDNS_RATE_LIMIT MDNS_CONF_RATE_LIMIT
#else
#define MDNS_RATE_LIMIT 1
#endif
#ifdef MDNS_CONF_CACHE_REFRESH
#define MDNS_CACHE_REFRESH MDNS_CONF_CACHE_REFRESH
#else
#define MDNS_CACHE_REFRESH 1
#endif
#ifdef MDNS_CONF_GOODBYE
#define MDNS_GOODBYE MDNS_CONF_GOODBYE
#else
#define MDNS_GOODBYE 1
#endif

/* Records cached from other hosts (about 150 bytes each; a peer takes PTR, SRV, TXT, AAAA) */
#ifdef MDNS_CONF_CACHE_ENTRIES
#define MDNS_CACHE_ENTRIES MDNS_CONF_CACHE_ENTRIES
#else
#define MDNS_CACHE_ENTRIES 24
#endif
/* One-off questions (SRV, TXT, AAAA of found instances) in flight */
#ifdef MDNS_CONF_ASKS
#define MDNS_ASKS MDNS_CONF_ASKS
#else
#define MDNS_ASKS 8
#endif
/* Delayed responses waiting */
#ifdef MDNS_CONF_PENDING
#define MDNS_PENDING MDNS_CONF_PENDING
#else
#define MDNS_PENDING 4
#endif
/* The largest message sent (IPv6 minimum MTU 1280 - IPv6 40 - UDP 8) */
#ifdef MDNS_CONF_BUFFER_SIZE
#define MDNS_BUFFER_SIZE MDNS_CONF_BUFFER_SIZE
#else
#define MDNS_BUFFER_SIZE 1232
#endif
#define MDNS_CACHED_MAX 64
#define MDNS_LABEL_MAX 63
#define MDNS_ADDRESSES 2
#define MDNS_TXT_MAX 96

/* What was sent, by kind */
enum { MDNS_SENT_PROBE, MDNS_SENT_ANNOUNCE, MDNS_SENT_RESPONSE, MDNS_SENT_QUERY,
       MDNS_SENT_GOODBYE, MDNS_SENT_KINDS };
extern const char *const mdns_sent_names[MDNS_SENT_KINDS];

struct mdns_counts {
  uint32_t packets[MDNS_SENT_KINDS];
  uint32_t bytes[MDNS_SENT_KINDS];
};

/* An event, as nodes/xmpp-sensor/discovery.py names them ("what"): probing, claimed,
 * conflict (name, renamed, why), conflict-seen, lost-tie, service (name = instance label,
 * type, host, port, address), service-removed (name, type), malformed (offset, why). */
struct mdns_event {
  const char *what;
  const char *name;
  const char *renamed;
  const char *type;
  const char *host;
  const char *why;
  const uint8_t *address; /* 16 bytes */
  uint16_t port;
  int32_t offset;
};

/* Provided by the engine's user */
void mdns_arch_send(const uint8_t *data, uint16_t len, const uint8_t *address, uint16_t port);
void mdns_arch_event(const struct mdns_event *e);

/* Set-up: the host label ("s1"), its addresses (16 bytes each) and the seed of the engine's
 * random delays. */
void mdns_init(const char *host, const uint8_t *addresses, uint8_t address_count,
               uint32_t seed);
/* One service: instance label ("s1@s1"), type ("_presence._tcp"), port, TXT strings. */
int mdns_publish(const char *instance, const char *type, uint16_t port,
                 const char *const *txt, uint8_t txt_count);
int mdns_browse(const char *type);
void mdns_start(uint32_t now);
/* Whether mdns_poll() has something to do at some time, and when (*at). */
int mdns_deadline(uint32_t *at);
void mdns_poll(uint32_t now);
/* One UDP payload from `address` (16 bytes) and `port` */
void mdns_receive(const uint8_t *data, uint16_t len, const uint8_t *address, uint16_t port,
                  uint32_t now);
void mdns_stop(uint32_t now);
const struct mdns_counts *mdns_sent(void);

#endif /* MDNS_H_ */
