/*
 * res-sensors: /sensors/<name> and /.well-known/core on Contiki-NG's CoAP engine (see
 * res-sensors.h).
 */
#include "res-sensors.h"

#include "coap-engine.h"
#include "coap-observe.h"
#include "coap-transactions.h"
#include "events.h"
#include "lib/sha-256.h"
#include "net/ipv6/uiplib.h"
#include "reading.h"

#include <stdio.h>
#include <string.h>

#include "sys/log.h"
#define LOG_MODULE "sensors"
#define LOG_LEVEL LOG_LEVEL_APP

/* RFC 7641 §3.4: 24-bit sequence numbers; ETag length as the Python app sends it */
#define ETAG_LEN 4
#define PATH_PREFIX "sensors/"
#define PATH_SIZE (sizeof(PATH_PREFIX) + 24)

/* RFC 7641 §4.5.1, as main.py: NON notifications at most one per round-trip time, one per
 * 3 s without an estimate; the estimate comes from the ACKs of CON notifications, the first
 * and every RES_SENSORS_NON_REFRESH-th after it. An ACK before the first retransmission
 * (COAP_RESPONSE_TIMEOUT) answers the first copy: the only samples taken (Karn). The engine
 * keeps observers per resource, so is the estimate (one observer per resource here). */
#ifdef RES_SENSORS_CONF_NON_REFRESH
#define NON_REFRESH RES_SENSORS_CONF_NON_REFRESH
#else
#define NON_REFRESH 16
#endif
#define NON_GAP_WITHOUT_RTT (3 * CLOCK_SECOND)

struct sensor {
  coap_resource_t resource;
  char path[PATH_SIZE];      /* "sensors/<name>", no leading slash (the engine's form) */
  char attributes[56];       /* rt="<name>";ct=<fmt>[;obs] */
  const char *name;
  uint32_t seq;              /* the last reading's sequence number, 0 before the first */
  uint64_t t_ms;             /* its time */
  uint8_t observed;          /* an observer registered once: the clock is running */
  clock_time_t last_sent;    /* when the last notification left, 0: none yet */
  clock_time_t srtt;         /* RFC 6298 §2 smoothed round-trip time, 0: no sample yet */
  int16_t since_con;         /* NON notifications since the last CON, -1: no CON yet */
  uint8_t probing;           /* a CON notification to measure the round trip is in flight */
  uint8_t deferred;          /* reading deferred_seq waits for the rate limit */
  uint32_t deferred_seq;
  struct ctimer pace;
};

static struct sensor sensors[NODE_CONFIG_MAX_SENSORS];
static uint8_t sensor_count;
static const struct res_sensors_config *config;
static struct process *owner;
/* set while the engine builds notifications (coap_notify_observers calls the GET handler
 * with a request it made up); the handler then answers the last reading */
static uint8_t notifying;
static uint8_t done;
static char links[NODE_CONFIG_MAX_SENSORS * (2 * PATH_SIZE + 24)];

process_event_t res_sensors_registered;

/* RFC 7252 §4.5: a duplicate request (same endpoint and Message ID: a retransmitted CON
 * whose answer was lost) gets the same reading again, never a new one, and is no new
 * registration. The engine keeps no duplicates ("TODO duplicates suppression" in
 * coap-engine.c), so the last RECENT_SIZE answers are kept here; a client does not reuse a
 * Message ID that soon (main.py keeps them for EXCHANGE_LIFETIME instead). */
#define RECENT_SIZE 8
struct recent {
  coap_endpoint_t peer;
  uint64_t t_ms;
  uint32_t seq;
  uint16_t mid;
  uint8_t sensor;
  uint8_t used;
};
static struct recent recent[RECENT_SIZE];
static uint8_t recent_next;

static void sensor_get(coap_message_t *request, coap_message_t *response,
                       uint8_t *buffer, uint16_t preferred_size, int32_t *offset);
static void well_known_get(coap_message_t *request, coap_message_t *response,
                           uint8_t *buffer, uint16_t preferred_size, int32_t *offset);

RESOURCE(res_well_known, "", well_known_get, NULL, NULL, NULL);
/*---------------------------------------------------------------------------*/
static struct sensor *
sensor_of(const coap_message_t *request)
{
  const char *url = NULL;
  size_t len = coap_get_header_uri_path(request, &url);
  uint8_t i;

  for(i = 0; i < sensor_count; i++) {
    if(url != NULL && len == strlen(sensors[i].path)
       && memcmp(url, sensors[i].path, len) == 0) {
      return &sensors[i];
    }
  }
  return NULL;
}
/* RFC 7641 §4.5: the engine drops an observer whose CON notification went unacknowledged
 * COAP_MAX_RETRANSMIT times (coap_remove_observer_by_client) and then calls the
 * transaction's callback with no answer; main.py says so in an "error" event, and so does
 * this callback. One slot per open transaction holds the observer's endpoint. */
struct pending {
  coap_endpoint_t peer;
  struct sensor *sensor;
  clock_time_t sent;
  uint8_t used;
};
static struct pending pending[COAP_MAX_OPEN_TRANSACTIONS];
/*---------------------------------------------------------------------------*/
static void
notification_answered(void *data, coap_message_t *answer)
{
  struct pending *p = data;
  char address[UIPLIB_IPV6_MAX_STR_LEN];
  char what[96];

  clock_time_t sample = clock_time() - p->sent;
  struct sensor *s = p->sensor;

  if(answer == NULL) {
    uiplib_ipaddr_snprint(address, sizeof(address), &p->peer.ipaddr);
    snprintf(what, sizeof(what), "observer [%s]:%u gave up after %u retransmissions",
             address, UIP_HTONS(p->peer.port), COAP_MAX_RETRANSMIT);
    events_error(what);
  } else if(sample < COAP_RESPONSE_TIMEOUT * CLOCK_SECOND) {
    sample = MAX(sample, 1);
    s->srtt = s->srtt == 0 ? sample : (7 * s->srtt + sample) / 8;
  }
  s->probing = 0;
  p->used = 0;
}
/*---------------------------------------------------------------------------*/
/* A CON notification is being built: have its transaction report how it ends. (The engine
 * does not reset a reused transaction's callback; every CON transaction of this app is a
 * notification and gets one here.) */
static void
watch_notification(const coap_message_t *notification, struct sensor *s)
{
  coap_transaction_t *t = coap_get_transaction_by_mid(notification->mid);
  uint8_t i;

  for(i = 0; t != NULL && i < COAP_MAX_OPEN_TRANSACTIONS; i++) {
    if(!pending[i].used) {
      pending[i].used = 1;
      coap_endpoint_copy(&pending[i].peer, &t->endpoint);
      pending[i].sensor = s;
      pending[i].sent = clock_time();
      s->probing = 1;
      t->callback = notification_answered;
      t->callback_data = &pending[i];
      return;
    }
  }
}
/*---------------------------------------------------------------------------*/
static struct recent *
recent_find(const coap_message_t *request, const struct sensor *s)
{
  const coap_endpoint_t *peer = coap_get_src_endpoint(request);
  uint8_t i;

  for(i = 0; peer != NULL && i < RECENT_SIZE; i++) {
    if(recent[i].used && recent[i].mid == request->mid && recent[i].sensor == s - sensors
       && coap_endpoint_cmp(&recent[i].peer, peer)) {
      return &recent[i];
    }
  }
  return NULL;
}
/*---------------------------------------------------------------------------*/
static void
recent_add(const coap_message_t *request, const struct sensor *s, uint32_t seq, uint64_t t_ms)
{
  const coap_endpoint_t *peer = coap_get_src_endpoint(request);
  struct recent *r = &recent[recent_next];

  if(peer == NULL) {
    return;
  }
  coap_endpoint_copy(&r->peer, peer);
  r->mid = request->mid;
  r->sensor = (uint8_t)(s - sensors);
  r->seq = seq;
  r->t_ms = t_ms;
  r->used = 1;
  recent_next = (recent_next + 1) % RECENT_SIZE;
}
/*---------------------------------------------------------------------------*/
static int
value_of(const struct sensor *s, uint32_t seq)
{
  return reading_value(config->node->name, s->name, seq, config->node->seed);
}
/*---------------------------------------------------------------------------*/
/* main.py new_reading: reading seq + 1, its "reading" event */
static void
new_reading(struct sensor *s)
{
  struct event e;

  s->seq++;
  s->t_ms = events_now_ms();
  event_begin(&e, "reading");
  event_uint(&e, "seq", s->seq);
  event_string(&e, "sensor", s->name);
  event_tenths(&e, "value", value_of(s, s->seq));
  event_ms(&e, "t", s->t_ms);
  event_emit(&e);
}
/*---------------------------------------------------------------------------*/
/* main.py check_done: observe mode only, once, when no reading waits for the rate limit */
static void
check_done(void)
{
  uint8_t i;

  if(done || config->observe == RES_SENSORS_GET) {
    return;
  }
  for(i = 0; i < sensor_count; i++) {
    if(sensors[i].seq < config->node->readings || sensors[i].deferred) {
      return;
    }
  }
  done = 1;
  events_simple("done");
}
/*---------------------------------------------------------------------------*/
/* main.py "observe" event: a registration (RFC 7641 §3.1), before the engine adds it */
static void
registered(struct sensor *s, const coap_message_t *request)
{
  const coap_endpoint_t *peer = coap_get_src_endpoint(request);
  char address[UIPLIB_IPV6_MAX_STR_LEN];
  char token[2 * COAP_TOKEN_LEN + 1];
  struct event e;
  int i;

  if(peer == NULL) {
    return;
  }
  uiplib_ipaddr_snprint(address, sizeof(address), &peer->ipaddr);
  for(i = 0; i < request->token_len; i++) {
    snprintf(token + 2 * i, 3, "%02x", request->token[i]);
  }
  token[2 * request->token_len] = '\0';
  event_begin(&e, "observe");
  event_string(&e, "peer", address);
  event_uint(&e, "port", UIP_HTONS(peer->port));
  event_string(&e, "token", token);
  event_uint(&e, "handed_over", 0); /* the engine keeps no unacknowledged notifications */
  event_emit(&e);
  if(!s->observed) {
    s->observed = 1;
    process_post(owner, res_sensors_registered, (void *)(uintptr_t)(s - sensors));
  }
}
/*---------------------------------------------------------------------------*/
/* NON mode: the next notification goes as a CON to measure the round trip (main.py
 * probe_due) */
static int
probe_due(const struct sensor *s)
{
  return config->observe == RES_SENSORS_NON && !s->probing
         && (s->since_con < 0 || s->since_con >= NON_REFRESH);
}
/*---------------------------------------------------------------------------*/
static void
dropped(uint32_t seq)
{
  struct event e;

  event_begin(&e, "dropped");
  event_uint(&e, "seq", seq);
  event_string(&e, "why", "RFC 7641 4.5.1: a newer reading within one round-trip time");
  event_emit(&e);
}
/*---------------------------------------------------------------------------*/
static void
notify(struct sensor *s)
{
  notifying = 1;
  coap_notify_observers(&s->resource);
  notifying = 0;
  check_done();
}
/*---------------------------------------------------------------------------*/
/* the rate limit's wait is over: the latest reading goes (ctimer, in the app's process) */
static void
paced(void *ptr)
{
  struct sensor *s = ptr;

  s->deferred = 0;
  notify(s);
}
/*---------------------------------------------------------------------------*/
static void
sensor_get(coap_message_t *request, coap_message_t *response,
           uint8_t *buffer, uint16_t preferred_size, int32_t *offset)
{
  struct sensor *s = sensor_of(request);
  struct recent *duplicate = NULL;
  unsigned content_format = config->content_format;
  unsigned accept;
  uint32_t observe;
  uint32_t seq;
  uint64_t t_ms;
  uint8_t digest[SHA_256_DIGEST_LENGTH];
  int len;

  if(s == NULL) {
    coap_set_status_code(response, NOT_FOUND_4_04);
    return;
  }
  if(!notifying && coap_get_header_accept(request, &accept)) {
    if(accept != RES_SENSORS_TEXT_PLAIN && accept != RES_SENSORS_SENML_JSON
       && accept != RES_SENSORS_SENML_CBOR) {
      coap_set_status_code(response, NOT_ACCEPTABLE_4_06);
      return;
    }
    content_format = accept;
  }

  if(notifying) {
    /* RFC 7641 §4.2: the last reading, to every observer (the engine keeps no per-observer
     * Accept: notifications use the configured format) */
    response->type = config->observe == RES_SENSORS_CON || probe_due(s)
      ? COAP_TYPE_CON : COAP_TYPE_NON;
    if(response->type == COAP_TYPE_CON) {
      watch_notification(response, s);
      if(config->observe == RES_SENSORS_NON) {
        s->since_con = 0;
      }
    } else if(s->since_con >= 0) {
      s->since_con++;
    }
    s->last_sent = clock_time();
    seq = s->seq;
    t_ms = s->t_ms;
  } else if((duplicate = recent_find(request, s)) != NULL) {
    seq = duplicate->seq;
    t_ms = duplicate->t_ms;
  } else if(config->observe != RES_SENSORS_GET) {
    /* the current state, not a new reading (main.py respond) */
    if(coap_get_header_observe(request, &observe) && observe == 0) {
      registered(s, request);
    }
    seq = s->seq;
    t_ms = events_now_ms();
  } else {
    new_reading(s);
    seq = s->seq;
    t_ms = s->t_ms;
  }
  if(!notifying && duplicate == NULL) {
    recent_add(request, s, seq, t_ms);
  }

  if(content_format == RES_SENSORS_SENML_CBOR) {
    len = reading_senml_cbor(buffer, preferred_size, config->node->name, s->name, seq, t_ms,
                             value_of(s, seq));
  } else if(content_format == RES_SENSORS_SENML_JSON) {
    const char *names[1] = { s->name };
    int tenths[1] = { value_of(s, seq) };
    len = reading_senml_json((char *)buffer, preferred_size, config->node->name, names, tenths,
                             1, seq, t_ms);
  } else {
    len = reading_text((char *)buffer, preferred_size, seq, t_ms, value_of(s, seq));
  }
  if(len < 0) {
    events_error("representation larger than COAP_MAX_CHUNK_SIZE");
    coap_set_status_code(response, INTERNAL_SERVER_ERROR_5_00);
    return;
  }
  if(config->etag) {
    sha_256_hash(buffer, len, digest);
    coap_set_header_etag(response, digest, ETAG_LEN);
  }
  coap_set_header_content_format(response, content_format);
  if(config->max_age != RES_SENSORS_MAX_AGE) {
    coap_set_header_max_age(response, config->max_age);
  }
  coap_set_payload(response, buffer, len);
  if(!notifying) {
    check_done();
  }
}
/*---------------------------------------------------------------------------*/
/* RFC 6690 §5 link format, as main.py link_format; sliced for Block2 (RFC 7959) when the
 * client asks for blocks or the list is longer than one block */
static void
well_known_get(coap_message_t *request, coap_message_t *response,
               uint8_t *buffer, uint16_t preferred_size, int32_t *offset)
{
  unsigned accept;
  size_t total = strlen(links);
  size_t start = *offset > 0 ? (size_t)*offset : 0;
  size_t len;

  if(coap_get_header_accept(request, &accept) && accept != RES_SENSORS_LINK_FORMAT) {
    coap_set_status_code(response, NOT_ACCEPTABLE_4_06);
    return;
  }
  if(start > total) {
    coap_set_status_code(response, BAD_OPTION_4_02);
    return;
  }
  len = MIN(total - start, preferred_size);
  memcpy(buffer, links + start, len);
  coap_set_header_content_format(response, RES_SENSORS_LINK_FORMAT);
  coap_set_payload(response, buffer, len);
  *offset = start + len < total ? (int32_t)(start + len) : -1;
  if(*offset == -1 && start == 0) {
    *offset = 0; /* all of it in one message: no Block2 */
  }
}
/*---------------------------------------------------------------------------*/
int
res_sensors_init(const struct res_sensors_config *c, struct process *p)
{
  size_t used = 0;
  uint8_t i;

  config = c;
  owner = p;
  res_sensors_registered = process_alloc_event();
  sensor_count = c->node->sensor_count;
  links[0] = '\0';
  for(i = 0; i < sensor_count; i++) {
    struct sensor *s = &sensors[i];
    const char *name = c->node->sensors[i];

    memset(s, 0, sizeof(*s));
    s->name = name;
    s->since_con = -1;
    /* the engine keeps an observer's path in COAP_OBSERVER_URL_LEN bytes */
    if(strlen(PATH_PREFIX) + strlen(name) + 1 > MIN(sizeof(s->path), COAP_OBSERVER_URL_LEN)) {
      events_error("sensor name too long for COAP_OBSERVER_URL_LEN");
      return -1;
    }
    snprintf(s->path, sizeof(s->path), PATH_PREFIX "%s", name);
    if(snprintf(s->attributes, sizeof(s->attributes), "rt=\"%s\";ct=%u%s", name,
                c->content_format, c->observe != RES_SENSORS_GET ? ";obs" : "")
       >= (int)sizeof(s->attributes)) {
      events_error("sensor name too long for its link attributes");
      return -1;
    }
    used += snprintf(links + used, sizeof(links) - used, "%s</%s>;%s", i ? "," : "",
                     s->path, s->attributes);
    s->resource.flags = METHOD_GET | (c->observe != RES_SENSORS_GET ? IS_OBSERVABLE : 0);
    s->resource.attributes = s->attributes;
    s->resource.get_handler = sensor_get;
    coap_activate_resource(&s->resource, s->path);
  }
  coap_activate_resource(&res_well_known, ".well-known/core");
  return 0;
}
/*---------------------------------------------------------------------------*/
void
res_sensors_tick(uint8_t index)
{
  struct sensor *s = &sensors[index];

  /* main.py notify: no observer, no reading (none is made only to be thrown away) */
  if(s->seq >= config->node->readings || !coap_has_observers(s->path)) {
    return;
  }
  new_reading(s);
  if(s->deferred) { /* the newer reading takes its place (RFC 7641 §4.5.2: latest state) */
    dropped(s->deferred_seq);
    s->deferred = 0;
    ctimer_stop(&s->pace);
  }
  if(config->observe == RES_SENSORS_NON && !probe_due(s) && s->last_sent != 0) {
    clock_time_t gap = s->srtt != 0 ? s->srtt : NON_GAP_WITHOUT_RTT;
    clock_time_t since = clock_time() - s->last_sent;

    if(since < gap) {
      s->deferred = 1;
      s->deferred_seq = s->seq;
      ctimer_set(&s->pace, gap - since, paced, s);
      return;
    }
  }
  notify(s);
}
/*---------------------------------------------------------------------------*/
int
res_sensors_done(void)
{
  return done;
}
/*---------------------------------------------------------------------------*/
