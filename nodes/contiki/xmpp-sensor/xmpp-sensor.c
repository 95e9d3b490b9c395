/*
 * xmpp-sensor for Contiki-NG: the C twin of nodes/xmpp-sensor (main.py), on the XMPP client
 * library of ../lib/xmpp over uIP TCP.
 *
 * Modes (config "mode"), as the Python app:
 *   message  a <message/> with the XEP-0323-shaped <fields/> payload to `sink` every interval
 *   pubsub   an XEP-0060 publish of that payload to pubsub_service / pubsub_node
 *   iq       the sink's readout <iq type='get'><req xmlns='urn:xmpp:iot:sensordata'/></iq>
 *            answered at once with an IQ result carrying <fields/>
 * Events (JSON lines on the console, key order as main.py's emit): phase (setup), ready,
 * reading, queued, dropped, done, reconnect, error, stopped.
 *
 * Like the Python sensor it never gives up: a failed connect, a refused login, a server
 * silent for server_timeout_s or a dropped connection is a "reconnect" event and a new
 * attempt after a full-jitter backoff (seeded from name and seed, the same xorshift32 as
 * backoff.py, in milliseconds). The push modes' reading clock starts with the first session
 * and keeps running without one: readings due while offline wait in a bounded outbox
 * ("queued"), pushed out of a full one they are "dropped"; pubsub publishes not confirmed
 * when a session drops go back to the outbox.
 *
 * Not in the C client: STARTTLS (a config asking for it is refused with one error event).
 */
#include "contiki.h"
#include "net/ipv6/uiplib.h"
#include "xmpp.h"
#include "events.h"
#include "node-config.h"
#include "reading.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if CONTIKI_TARGET_NATIVE || CONTIKI_TARGET_MEDIUM
#define LINUX_HOSTED 1
#include <signal.h>
#else
#define LINUX_HOSTED 0
#endif

#include "sys/log.h"
#define LOG_MODULE "App"
#define LOG_LEVEL LOG_LEVEL_APP

#define QUEUE_MAX XMPP_SENSOR_CONF_QUEUE_MAX
#define NS_SENSORDATA "urn:xmpp:iot:sensordata"
#define NS_JSON "urn:xmpp:json:0"                 /* XEP-0335 */
#define NS_PAYLOAD "urn:xmpp:testbed:payload:0"   /* CBOR as base64, text */
/* A SenML JSON pack of every sensor: 90 bytes for one (reading.h) */
#define PAYLOAD_MAX (24 + NODE_CONFIG_MAX_SENSORS * 64 + 32)

enum { MODE_MESSAGE, MODE_PUBSUB, MODE_IQ };
/* nodes/common/reading.py FORMATS */
enum { FORMAT_SENML_JSON, FORMAT_SENML_CBOR, FORMAT_XEP0323, FORMAT_TEXT };

struct reading {
  uint32_t seq;
  uint64_t t_ms;
};

/* A bounded FIFO of readings (outbox.py): the oldest one makes room for a new one. */
struct queue {
  struct reading items[QUEUE_MAX];
  uint8_t len;
};

static struct {
  struct node_config node;
  struct xmpp_config xmpp;
  uint8_t mode;
  uint8_t format;
  const char *sink;
  const char *pubsub_service;
  const char *pubsub_node;
  uint8_t queue_limit;
  uint32_t backoff_base_ms, backoff_factor_milli, backoff_cap_ms;
  uint32_t start_delay_ms;
} cfg;

static struct {
  uint32_t seq;             /* readings produced so far */
  uint32_t acked;           /* pubsub: publishes confirmed */
  uint8_t online;
  uint8_t done;
  uint8_t clock_started;
  uint8_t stopping;
  uint8_t refused;
  clock_time_t next_push;
  uint64_t setup_start_ms;
  struct queue outbox;
  struct queue unacked;     /* pubsub: published, result not yet in */
  uint32_t backoff_state;
  uint16_t attempt;
  char why[72];
  char jid[XMPP_JID_MAX];
  uint8_t ready_pending;
  uint8_t closed_pending;
  char pubsub_node[48];
} s;

static struct etimer tick_timer, retry_timer, flush_timer;

PROCESS(xmpp_sensor_process, "xmpp-sensor");
AUTOSTART_PROCESSES(&xmpp_sensor_process);
/*---------------------------------------------------------------------------*/
/* outbox.py's Outbox, on an array */
static int
queue_put(struct queue *q, const struct reading *r, uint8_t limit, struct reading *pushed)
{
  int out = q->len >= limit;
  if(out) {  /* the oldest makes room (before the new one: the array holds `limit`) */
    *pushed = q->items[0];
    memmove(&q->items[0], &q->items[1], --q->len * sizeof(q->items[0]));
  }
  q->items[q->len++] = *r;
  return out;
}
static void
queue_pop(struct queue *q)
{
  memmove(&q->items[0], &q->items[1], --q->len * sizeof(q->items[0]));
}
#if XMPP_CONF_WITH_PUBSUB
static int
queue_remove(struct queue *q, uint32_t seq)
{
  uint8_t i;
  for(i = 0; i < q->len; i++) {
    if(q->items[i].seq == seq) {
      memmove(&q->items[i], &q->items[i + 1], (q->len - i - 1) * sizeof(q->items[0]));
      q->len--;
      return 1;
    }
  }
  return 0;
}
#endif
/*---------------------------------------------------------------------------*/
/* events */
static void
emit_reading_events(const struct reading *r)
{
  uint8_t i;
  struct event e;
  for(i = 0; i < cfg.node.sensor_count; i++) {
    event_begin(&e, "reading");
    event_uint(&e, "seq", r->seq);
    event_string(&e, "sensor", cfg.node.sensors[i]);
    event_tenths(&e, "value", reading_value(cfg.node.name, cfg.node.sensors[i],
                                                 r->seq, cfg.node.seed));
    event_ms(&e, "t", r->t_ms);
    event_emit(&e);
  }
}
static void
emit_dropped(uint32_t seq)
{
  struct event e;
  char why[40];
  snprintf(why, sizeof(why), "outbox full (%u readings)", cfg.queue_limit);
  event_begin(&e, "dropped");
  event_uint(&e, "seq", seq);
  event_string(&e, "why", why);
  event_emit(&e);
}
/*---------------------------------------------------------------------------*/
/* stanzas.py payload(): one reading's payload element in the configured format */
/* XEP-0082 DateTime of Unix time in ms: YYYY-MM-DDTHH:MM:SS.mmmZ */
static void
iso8601(char *out, size_t size, uint64_t t_ms)
{
  uint32_t secs = (uint32_t)(t_ms / 1000);
  int32_t days = secs / 86400, era, doe, yoe, doy, mp, y, m, d;
  uint32_t rem = secs % 86400;
  /* days since 1970-01-01 to a civil date (Howard Hinnant's algorithm) */
  days += 719468;
  era = days / 146097;
  doe = days - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = yoe + era * 400;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  snprintf(out, size, "%04ld-%02ld-%02ldT%02lu:%02lu:%02lu.%03uZ", (long)y, (long)m, (long)d,
           (unsigned long)(rem / 3600), (unsigned long)(rem / 60 % 60),
           (unsigned long)(rem % 60), (unsigned)(t_ms % 1000));
}
static void
put_fields(const struct reading *r)
{
  char text[40];
  const char *unit;
  uint8_t i;
  xmpp_put("<fields xmlns='" NS_SENSORDATA "' seqnr='");
  xmpp_put_uint(r->seq);
  xmpp_put("'><node nodeId='");
  xmpp_put_escaped(cfg.node.name);
  xmpp_put("'><timestamp value='");
  iso8601(text, sizeof(text), r->t_ms);
  xmpp_put(text);
  xmpp_put("'>");
  for(i = 0; i < cfg.node.sensor_count; i++) {
    xmpp_put("<numeric name='");
    xmpp_put_escaped(cfg.node.sensors[i]);
    xmpp_put("' value='");
    reading_tenths_text(text, sizeof(text),
                        reading_value(cfg.node.name, cfg.node.sensors[i], r->seq,
                                      cfg.node.seed));
    xmpp_put(text);
    xmpp_put("' unit='");
    unit = reading_senml_unit(cfg.node.sensors[i]);
    xmpp_put_escaped(unit != NULL ? unit : "");
    xmpp_put("' momentary='true'/>");
  }
  xmpp_put("</timestamp></node></fields>");
}
static void
put_payload(const void *arg)
{
  const struct reading *r = arg;
  static char data[PAYLOAD_MAX];
  int tenths[NODE_CONFIG_MAX_SENSORS];
  int len;
  uint8_t i;

  for(i = 0; i < cfg.node.sensor_count; i++) {
    tenths[i] = reading_value(cfg.node.name, cfg.node.sensors[i], r->seq, cfg.node.seed);
  }
  switch(cfg.format) {
  case FORMAT_XEP0323:
    put_fields(r);
    return;
  case FORMAT_SENML_JSON:
    len = reading_senml_json(data, sizeof(data), cfg.node.name,
                             (const char *const *)cfg.node.sensors, tenths,
                             cfg.node.sensor_count, r->seq, r->t_ms);
    xmpp_put("<json xmlns='" NS_JSON "'>");
    xmpp_put_text(len < 0 ? "" : data);
    xmpp_put("</json>");
    return;
  case FORMAT_SENML_CBOR:  /* the first sensor's pack (the Python app packs every sensor) */
    len = reading_senml_cbor((uint8_t *)data, sizeof(data), cfg.node.name, cfg.node.sensors[0],
                             r->seq, r->t_ms, tenths[0]);
    xmpp_put("<cbor xmlns='" NS_PAYLOAD "'>");
    if(len > 0) {
      xmpp_put_base64(data, len);
      xmpp_put_base64_end();
    }
    xmpp_put("</cbor>");
    return;
  default:
    len = reading_text(data, sizeof(data), r->seq, r->t_ms, tenths[0]);
    xmpp_put("<text xmlns='" NS_PAYLOAD "' n='");
    xmpp_put_escaped(cfg.node.sensors[0]);
    xmpp_put("'>");
    xmpp_put_text(len < 0 ? "" : data);
    xmpp_put("</text>");
  }
}
/*---------------------------------------------------------------------------*/
/* backoff.py: full jitter in [0, min(cap, base * factor^(k-1))], xorshift32 seeded by
   FNV-1a of "backoff-<name>-<seed>" */
static void
backoff_seed(void)
{
  char text[80];
  const char *p;
  uint32_t h = 0x811C9DC5;
  snprintf(text, sizeof(text), "backoff-%s-%ld", cfg.node.name, (long)cfg.node.seed);
  for(p = text; *p; p++) {
    h = (h ^ (uint8_t)*p) * 0x01000193;
  }
  s.backoff_state = h ? h : 1;
}
static uint32_t
backoff_next_ms(void)
{
  uint32_t x = s.backoff_state;
  uint64_t ceiling = cfg.backoff_base_ms;
  uint16_t k;
  s.attempt++;
  for(k = 1; k < s.attempt && ceiling < cfg.backoff_cap_ms; k++) {
    ceiling = ceiling * cfg.backoff_factor_milli / 1000;
  }
  if(ceiling > cfg.backoff_cap_ms) {
    ceiling = cfg.backoff_cap_ms;
  }
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  s.backoff_state = x;
  return (uint32_t)((ceiling * x + 0x80000000UL) >> 32);
}
/*---------------------------------------------------------------------------*/
static struct reading
produce(void)
{
  struct reading r;
  r.seq = ++s.seq;
  r.t_ms = events_now_ms();
  return r;
}
/* Write one reading's stanza; 1 if it went out (then it is reported), else 0. */
static int
transmit(const struct reading *r)
{
  struct reading pushed;
  int sent = 0;
#if XMPP_CONF_WITH_MESSAGE
  if(cfg.mode == MODE_MESSAGE) {
    sent = xmpp_message_send(cfg.sink, put_payload, r) == 1;
  }
#endif
#if XMPP_CONF_WITH_PUBSUB
  if(cfg.mode == MODE_PUBSUB && s.unacked.len < QUEUE_MAX) {
    sent = xmpp_pubsub_publish(cfg.pubsub_service, cfg.pubsub_node, r->seq, put_payload, r) == 1;
    if(sent) {
      queue_put(&s.unacked, r, QUEUE_MAX, &pushed);
    }
  }
#endif
  (void)pushed;
  if(sent) {
    emit_reading_events(r);
  }
  return sent;
}
/* Send the queued readings, oldest first, while the output buffer takes them. */
static void
flush(void)
{
  while(s.online && s.outbox.len) {
    if(!transmit(&s.outbox.items[0])) {
      etimer_set(&flush_timer, CLOCK_SECOND / 5); /* the output buffer is full: later */
      return;
    }
    queue_pop(&s.outbox);
  }
}
static void
enqueue(const struct reading *r)
{
  struct reading pushed;
  struct event e;
  int out = queue_put(&s.outbox, r, cfg.queue_limit, &pushed);
  event_begin(&e, "queued");
  event_uint(&e, "seq", r->seq);
  event_uint(&e, "queued", s.outbox.len);
  event_emit(&e);
  if(out) {
    emit_dropped(pushed.seq);
  }
}
/*---------------------------------------------------------------------------*/
static int
finished(void)
{
  if(cfg.mode == MODE_PUBSUB) {
    return s.seq >= cfg.node.readings && s.acked >= cfg.node.readings;
  }
  return s.seq >= cfg.node.readings && !s.outbox.len;
}
static void
check_done(void)
{
  if(!s.done && finished()) {
    s.done = 1;
    events_simple("done");
  }
}
/* The push modes' reading clock: produce what is due, send it when online, else queue it. */
static void
tick(void)
{
  clock_time_t now = clock_time();
  clock_time_t interval = (clock_time_t)((uint64_t)cfg.node.interval_ms * CLOCK_SECOND / 1000);
  struct reading r;
  if(cfg.mode == MODE_IQ || !s.clock_started) {
    return;
  }
  while(s.seq < cfg.node.readings && (clock_time_t)(now - s.next_push) < (clock_time_t)-1 / 2) {
    r = produce();
    s.next_push += interval;
    if((clock_time_t)(now - s.next_push) < (clock_time_t)-1 / 2 && now != s.next_push) {
      s.next_push = now + interval;  /* late: no burst of catch-up readings */
    }
    if(s.online && !s.outbox.len && transmit(&r)) {
      continue;
    }
    enqueue(&r);
    flush();
  }
  if(s.seq < cfg.node.readings) {
    etimer_set(&tick_timer, s.next_push - now);
  }
}
/*---------------------------------------------------------------------------*/
/* the client's callbacks (tcp-socket's process): hand over to this process with a poll,
   which unlike a posted event cannot be lost to a full event queue */
static void
on_ready(const char *jid)
{
  strncpy(s.jid, jid, sizeof(s.jid) - 1);
  s.jid[sizeof(s.jid) - 1] = '\0';
  s.ready_pending = 1;
  process_poll(&xmpp_sensor_process);
}
static void
on_closed(const char *why, uint8_t refused)
{
  strncpy(s.why, why, sizeof(s.why) - 1);
  s.why[sizeof(s.why) - 1] = '\0';
  s.refused = refused;
  s.online = 0;
  s.closed_pending = 1;
  process_poll(&xmpp_sensor_process);
}
#if XMPP_CONF_WITH_PUBSUB
static void
on_published(uint32_t item, uint8_t ok)
{
  char what[40];
  if(!queue_remove(&s.unacked, item)) {
    return;
  }
  if(ok) {
    s.acked++;
    check_done();
  } else {
    snprintf(what, sizeof(what), "publish p%lu refused", (unsigned long)item);
    events_error(what);
  }
}
#endif
#if XMPP_CONF_WITH_IQ
static int
on_readout(void)
{
  struct reading r;
  if(cfg.mode != MODE_IQ) {
    return 0;
  }
  r.seq = s.seq + 1;
  r.t_ms = events_now_ms();
  if(xmpp_iq_answer(put_payload, &r) != 1) {
    return 0;  /* never sent: the next readout asks for this reading again */
  }
  s.seq = r.seq;
  emit_reading_events(&r);
  check_done();
  return 1;
}
#endif
static const struct xmpp_handler handler = {
  on_ready, on_closed,
#if XMPP_CONF_WITH_PUBSUB
  on_published,
#endif
#if XMPP_CONF_WITH_IQ
  on_readout,
#endif
};
/*---------------------------------------------------------------------------*/
static void
session_up(void)
{
  struct event e;
  uint64_t end;
#if XMPP_CONF_WITH_PRESENCE
  if(cfg.mode == MODE_IQ) {  /* RFC 6121 4.6: directed presence, the sink sees our full JID */
    xmpp_presence_send(cfg.sink);
  }
#endif
  end = events_now_ms();
  event_begin(&e, "phase");
  event_string(&e, "name", "setup");
  event_ms(&e, "start", s.setup_start_ms);
  event_ms(&e, "end", end);
  event_bool(&e, "tls", 0);
  event_uint(&e, "sent_bytes", xmpp_sent_bytes());
  event_emit(&e);
  event_begin(&e, "ready");
  if(s.jid[0]) {
    event_string(&e, "jid", s.jid);
  } else {
    event_null(&e, "jid");
  }
  event_emit(&e);
  s.attempt = 0;
  s.online = 1;
  if(!s.clock_started) {
    s.clock_started = 1;  /* the reading clock starts with the first session */
    s.next_push = clock_time();
  }
  flush();
  tick();
}
static void
session_down(void)
{
  struct event e;
  struct reading pushed;
  uint32_t delay_ms;
  uint8_t i, excess;
  s.online = 0;
  if(s.refused) {
    events_error(s.why);
  }
  /* pubsub items the server did not confirm go back in front of the outbox; what exceeds
     its limit is pushed out oldest first (outbox.py's requeue) */
  excess = s.outbox.len + s.unacked.len > cfg.queue_limit
    ? s.outbox.len + s.unacked.len - cfg.queue_limit : 0;
  for(i = 0; i < excess; i++) {
    emit_dropped(s.unacked.items[i].seq);
  }
  memmove(&s.outbox.items[s.unacked.len - excess], &s.outbox.items[0],
          s.outbox.len * sizeof(pushed));
  memcpy(&s.outbox.items[0], &s.unacked.items[excess],
         (s.unacked.len - excess) * sizeof(pushed));
  s.outbox.len += s.unacked.len - excess;
  s.unacked.len = 0;
  delay_ms = backoff_next_ms();
  event_begin(&e, "reconnect");
  event_uint(&e, "attempt", s.attempt);
  event_ms(&e, "delay_s", delay_ms);
  event_string(&e, "why", s.why);
  event_uint(&e, "queued", s.outbox.len);
  event_emit(&e);
  etimer_set(&retry_timer, (clock_time_t)((uint64_t)delay_ms * CLOCK_SECOND / 1000) + 1);
}
static void
connect(void)
{
  s.setup_start_ms = events_now_ms();
  if(!xmpp_connect()) {
    on_closed("no TCP connection free", 0);
  }
}
/*---------------------------------------------------------------------------*/
/* Configuration: the manifest's keys (nodes/xmpp-sensor/manifest.toml defaults). */
static uint32_t
factor_milli(const char *text, uint32_t fallback)
{
  uint32_t whole = 0, frac = 0, scale = 1000;
  if(text == NULL || *text == '\0') {
    return fallback;
  }
  for(; *text >= '0' && *text <= '9'; text++) {
    whole = whole * 10 + (*text - '0');
  }
  if(*text == '.') {
    for(text++; *text >= '0' && *text <= '9'; text++) {
      if(scale > 1) {
        scale /= 10;
        frac += (*text - '0') * scale;
      }
    }
  }
  return *text ? fallback : whole * 1000 + frac;
}
static const char *
load_config(void)
{
  static char error[96];
  const char *text;
  node_config_load(&cfg.node);
  text = node_config_string("SERVER", "fd00::1");
  if(!uiplib_ipaddrconv(text, &cfg.xmpp.server)) {
    snprintf(error, sizeof(error), "TESTBED_SERVER: not an IPv6 address: '%.40s'", text);
    return error;
  }
  cfg.xmpp.port = node_config_int("PORT", 5222, 1, 65535);
  cfg.xmpp.domain = node_config_string("DOMAIN", "iot.testbed");
  cfg.xmpp.user = node_config_string("USER", cfg.node.name);
  cfg.xmpp.password = node_config_string("PASSWORD", "");
  cfg.xmpp.resource = node_config_string("RESOURCE", "sensor");
  cfg.xmpp.server_timeout_s = (node_config_ms("SERVER_TIMEOUT", 30000) + 999) / 1000;
  cfg.xmpp.keepalive_s = (node_config_ms("KEEPALIVE", 30000) + 999) / 1000;
  cfg.sink = node_config_string("SINK", "sink@iot.testbed");
  cfg.pubsub_service = node_config_string("PUBSUB_SERVICE", "pubsub.iot.testbed");
  snprintf(s.pubsub_node, sizeof(s.pubsub_node), "sensors/%s", cfg.node.name);
  cfg.pubsub_node = node_config_string("PUBSUB_NODE", s.pubsub_node);
  cfg.queue_limit = node_config_int("QUEUE_LIMIT", 32, 1, QUEUE_MAX);
  cfg.backoff_base_ms = node_config_ms("BACKOFF_BASE", 1000);
  cfg.backoff_factor_milli = factor_milli(node_config_get("BACKOFF_FACTOR"), 2000);
  cfg.backoff_cap_ms = node_config_ms("BACKOFF_CAP", 15000);
  cfg.start_delay_ms = node_config_ms("START_DELAY", 0);
  if(cfg.backoff_base_ms == 0 || cfg.backoff_factor_milli < 1000
     || cfg.backoff_cap_ms < cfg.backoff_base_ms) {
    return "backoff needs base_s > 0, factor >= 1, cap_s >= base_s";
  }
  if(node_config_error() != NULL) {
    return node_config_error();
  }
  if(node_config_bool("STARTTLS", 0)) {
    return "starttls: true is not supported by the C xmpp-sensor (no TLS stack); "
           "use the Python node for the TLS variant";
  }
  text = node_config_string("SASL", "PLAIN");
  if(!strcmp(text, "PLAIN") && XMPP_CONF_WITH_SASL_PLAIN) {
    cfg.xmpp.sasl = XMPP_SASL_PLAIN;
  } else if(!strcmp(text, "SCRAM-SHA-1") && XMPP_CONF_WITH_SCRAM_SHA1) {
    cfg.xmpp.sasl = XMPP_SASL_SCRAM_SHA1;
  } else {
    snprintf(error, sizeof(error), "sasl '%.24s' is not built in (XMPP_MODULES)", text);
    return error;
  }
  text = node_config_string("FORMAT", "senml-json");
  if(!strcmp(text, "senml-json")) {
    cfg.format = FORMAT_SENML_JSON;
  } else if(!strcmp(text, "senml-cbor")) {
    cfg.format = FORMAT_SENML_CBOR;
  } else if(!strcmp(text, "xep0323")) {
    cfg.format = FORMAT_XEP0323;
  } else if(!strcmp(text, "text")) {
    cfg.format = FORMAT_TEXT;
  } else {
    return "TESTBED_FORMAT: expected senml-json, senml-cbor, xep0323 or text";
  }
  text = node_config_string("MODE", "message");
  if(!strcmp(text, "message") && XMPP_CONF_WITH_MESSAGE) {
    cfg.mode = MODE_MESSAGE;
  } else if(!strcmp(text, "pubsub") && XMPP_CONF_WITH_PUBSUB) {
    cfg.mode = MODE_PUBSUB;
  } else if(!strcmp(text, "iq") && XMPP_CONF_WITH_IQ && XMPP_CONF_WITH_PRESENCE) {
    cfg.mode = MODE_IQ;
  } else {
    snprintf(error, sizeof(error), "mode '%.24s' is not built in (XMPP_MODULES)", text);
    return error;
  }
  return NULL;
}
/*---------------------------------------------------------------------------*/
#if LINUX_HOSTED
static void
stop(int signo)
{
  s.stopping = 1;
  process_poll(&xmpp_sensor_process);
}
#endif
/*---------------------------------------------------------------------------*/
PROCESS_THREAD(xmpp_sensor_process, ev, data)
{
  static struct etimer linger;
  const char *error;

  PROCESS_BEGIN();

  error = load_config();
  if(error != NULL) {
    events_error(error);
#if LINUX_HOSTED
    exit(2);
#endif
    PROCESS_EXIT();
  }
#if LINUX_HOSTED
  signal(SIGTERM, stop);  /* after tun6-net's: end the session cleanly, as main.py does */
  signal(SIGINT, stop);
#endif
  backoff_seed();
  xmpp_init(&cfg.xmpp, &handler);
  if(cfg.start_delay_ms) {
    etimer_set(&retry_timer, (clock_time_t)((uint64_t)cfg.start_delay_ms * CLOCK_SECOND / 1000));
    PROCESS_WAIT_EVENT_UNTIL(etimer_expired(&retry_timer));
  }
  connect();

  while(1) {
    PROCESS_WAIT_EVENT();
    if(s.stopping) {
      break;
    }
    if(s.ready_pending) {  /* a session that came up and went down: both, in that order */
      s.ready_pending = 0;
      session_up();
    }
    if(s.closed_pending) {
      s.closed_pending = 0;
      session_down();
    }
    if(ev == PROCESS_EVENT_TIMER && data == &retry_timer) {
      connect();
    } else if(ev == PROCESS_EVENT_TIMER && data == &tick_timer) {
      tick();
    } else if(ev == PROCESS_EVENT_TIMER && data == &flush_timer) {
      flush();
    }
    check_done();
  }

  {
    struct event e;
    event_begin(&e, "stopped");
    event_uint(&e, "produced", s.seq);
    event_uint(&e, "queued", s.outbox.len);
    event_emit(&e);
  }
  if(s.online) {
    xmpp_close();
    etimer_set(&linger, CLOCK_SECOND / 2);  /* the closing tag and FIN on their way */
    PROCESS_WAIT_EVENT_UNTIL(etimer_expired(&linger));
  }
#if LINUX_HOSTED
  exit(0);
#endif
  PROCESS_END();
}
/*---------------------------------------------------------------------------*/
