/*
 * The mDNS/DNS-SD engine (see mdns.h): what this node claims, what it caches, when it
 * sends. Times are milliseconds of the caller's clock, compared modulo 2^32.
 */
#include "mdns.h"

#include <stdio.h>
#include <string.h>

#define HOST_TTL 120
#define OTHER_TTL 4500
#define PROBE_WAIT_MS 250
#define PROBES 3
#define ANNOUNCEMENTS 2
#define ANNOUNCE_GAP_MS 1000
#define SHARED_DELAY_MIN_MS 20
#define SHARED_DELAY_MAX_MS 120
#define RATE_LIMIT_MS 1000
#define DEFENCE_RATE_LIMIT_MS 250
#define LOST_TIE_WAIT_MS 1000
#define REFRESH_STEPS 4 /* at 80, 85, 90, 95 % of the TTL */
#define REFRESH_JITTER_PERMILLE 20
#define QUERY_INTERVAL_MAX_MS 3600000UL
#define GOODBYE_EXPIRE_MS 1000
#define FLUSH_GRACE_MS 1000
#define LEGACY_TTL 10
#define ASK_TRIES 6
#define RECORDS_MAX 64 /* records of one received message that the cache pass tracks */
#define THEIRS_MAX 4
#define THEIRS_DATA 80

const char *const mdns_sent_names[MDNS_SENT_KINDS] = {
  "probe", "announce", "response", "query", "goodbye"
};

enum { PROBING, ANNOUNCING, READY };
#define IN(state) (1 << (state))
enum { HOST, INSTANCE, OWNED };
/* This node's records, by index into bit masks */
enum { R_AAAA0, R_AAAA1, R_PTR, R_META, R_SRV, R_TXT, R_COUNT };
#define BIT(i) (1u << (i))
#define HOST_RECORDS (BIT(R_AAAA0) | BIT(R_AAAA1))
#define SERVICE_RECORDS (BIT(R_PTR) | BIT(R_META) | BIT(R_SRV) | BIT(R_TXT))
#define SHARED_RECORDS (BIT(R_PTR) | BIT(R_META))

struct owned {
  char base[MDNS_LABEL_MAX + 1];
  char label[MDNS_LABEL_MAX + 1];
  uint8_t state;
  uint8_t attempt;
};

struct cached {
  uint8_t used;
  uint8_t flush;
  uint8_t reported;       /* PTR of the browsed type: a "service" event went out */
  uint8_t refresh_step;   /* the next refresh (0..3), REFRESH_STEPS: none left */
  uint16_t type;
  uint16_t port;          /* SRV */
  uint16_t data_len;
  uint32_t ttl;
  uint32_t received, expires, refresh_at;
  uint8_t name[MDNS_CACHED_MAX];
  uint8_t data[MDNS_CACHED_MAX]; /* PTR, SRV: the target name; else the record's data */
};

struct ask {
  uint8_t used;
  uint8_t tries;
  uint16_t type;
  uint32_t next, interval;
  uint8_t name[MDNS_CACHED_MAX];
};

struct pending {
  uint8_t used;
  uint8_t answers, additional;
  uint32_t due;
};

/* What this node is */
static struct owned owned[OWNED];
static uint8_t addresses[MDNS_ADDRESSES][16];
static uint8_t address_count;
static uint8_t published;
static uint16_t service_port;
static uint8_t txt_data[MDNS_TXT_MAX];
static uint16_t txt_len;
static uint8_t host_name[MDNS_NAME_MAX + 1];
static uint8_t instance_name[MDNS_NAME_MAX + 1];
static uint8_t type_name[MDNS_NAME_MAX + 1];
static uint8_t meta_name[MDNS_NAME_MAX + 1];
static uint8_t local_name[MDNS_NAME_MAX + 1];

/* What it does */
static uint32_t random_state;
static uint8_t started;
static uint8_t probe_due, announce_due;
static uint32_t probe_at, announce_at;
static uint8_t probes_sent, announces_sent;
static uint32_t last_multicast[R_COUNT];
static uint8_t multicast_ever;
static struct pending pending[MDNS_PENDING];
static uint8_t browsing;
static uint8_t browse_name[MDNS_NAME_MAX + 1];
static uint32_t browse_next, browse_interval;
static struct ask asks[MDNS_ASKS];
static struct cached cache[MDNS_CACHE_ENTRIES];
static struct mdns_counts counts;

/* Scratch */
static uint8_t out[MDNS_BUFFER_SIZE];
static struct mdns_rr_read rr;
static char text[2][MDNS_NAME_MAX + 1];
/*---------------------------------------------------------------------------*/
static int
due(uint32_t at, uint32_t now)
{
  return (int32_t)(now - at) >= 0;
}
/*---------------------------------------------------------------------------*/
static uint32_t
random_next(void)
{
  /* Xorshift32 (Marsaglia 2003), as nodes/xmpp-sensor/prng.py */
  random_state ^= random_state << 13;
  random_state ^= random_state >> 17;
  random_state ^= random_state << 5;
  return random_state;
}
/*---------------------------------------------------------------------------*/
static uint32_t
between(uint32_t low, uint32_t high)
{
  return low + random_next() % (high - low + 1);
}
/*---------------------------------------------------------------------------*/
static void
emit(const char *what, const char *name, const char *renamed, const char *why)
{
  struct mdns_event e;

  memset(&e, 0, sizeof(e));
  e.what = what;
  e.name = name;
  e.renamed = renamed;
  e.why = why;
  e.offset = -1;
  mdns_arch_event(&e);
}
/*---------------------------------------------------------------------------*/
/* Names */
static int
label_name(uint8_t *name, const char *label, const uint8_t *suffix)
{
  name[0] = 0;
  return (mdns_name_append(name, MDNS_NAME_MAX + 1, label, strlen(label)) < 0
          || mdns_name_extend(name, MDNS_NAME_MAX + 1, suffix) < 0) ? -1 : 0;
}
/*---------------------------------------------------------------------------*/
/* "_presence._tcp" + ".local" in wire form */
static int
dotted_name(uint8_t *name, const char *dotted)
{
  const char *dot;

  name[0] = 0;
  while(*dotted != '\0') {
    dot = strchr(dotted, '.');
    if(mdns_name_append(name, MDNS_NAME_MAX + 1, dotted,
                        dot ? (uint16_t)(dot - dotted) : strlen(dotted)) < 0) {
      return -1;
    }
    if(dot == NULL) {
      break;
    }
    dotted = dot + 1;
  }
  return mdns_name_extend(name, MDNS_NAME_MAX + 1, local_name);
}
/*---------------------------------------------------------------------------*/
static void
make_names(void)
{
  label_name(host_name, owned[HOST].label, local_name);
  if(published) {
    label_name(instance_name, owned[INSTANCE].label, type_name);
  }
}
/*---------------------------------------------------------------------------*/
static const uint8_t *
owned_name(int o)
{
  return o == HOST ? host_name : instance_name;
}
/*---------------------------------------------------------------------------*/
/* This node's records */
static uint8_t
valid_records(void)
{
  uint8_t mask = 0;
  uint8_t i;

  for(i = 0; i < address_count; i++) {
    mask |= BIT(R_AAAA0 + i);
  }
  if(published) {
    mask |= SERVICE_RECORDS;
  }
  return mask;
}
/*---------------------------------------------------------------------------*/
static uint32_t
own_ttl(int i)
{
  return (i == R_AAAA0 || i == R_AAAA1 || i == R_SRV) ? HOST_TTL : OTHER_TTL;
}
/*---------------------------------------------------------------------------*/
static void
own_rr(int i, struct mdns_rr *r)
{
  memset(r, 0, sizeof(*r));
  r->type = MDNS_TYPE_AAAA;
  r->ttl = own_ttl(i);
  r->flush = (SHARED_RECORDS & BIT(i)) == 0;
  switch(i) {
  case R_AAAA0:
  case R_AAAA1:
    r->name = host_name;
    r->data = addresses[i - R_AAAA0];
    r->data_len = 16;
    break;
  case R_PTR:
    r->name = type_name;
    r->type = MDNS_TYPE_PTR;
    r->target = instance_name;
    break;
  case R_META:
    r->name = meta_name;
    r->type = MDNS_TYPE_PTR;
    r->target = type_name;
    break;
  case R_SRV:
    r->name = instance_name;
    r->type = MDNS_TYPE_SRV;
    r->target = host_name;
    r->port = service_port;
    break;
  default:
    r->name = instance_name;
    r->type = MDNS_TYPE_TXT;
    r->data = txt_data;
    r->data_len = txt_len;
  }
}
/*---------------------------------------------------------------------------*/
/* The records of names in `states`; a service's only while its host name is held. */
static uint8_t
records_in(uint8_t states)
{
  uint8_t mask = 0;
  uint8_t valid = valid_records();

  if(states & IN(owned[HOST].state)) {
    mask |= HOST_RECORDS;
  }
  if(published && (states & IN(owned[INSTANCE].state))
     && (IN(owned[HOST].state) & (IN(READY) | IN(ANNOUNCING)))) {
    mask |= SERVICE_RECORDS;
  }
  return mask & valid;
}
/*---------------------------------------------------------------------------*/
static uint8_t
unique_records_of(int o)
{
  return valid_records() & (o == HOST ? HOST_RECORDS : (BIT(R_SRV) | BIT(R_TXT)));
}
/*---------------------------------------------------------------------------*/
/* Whether a received record is this node's record i (name, type and data). */
static int
same_as_own(const struct mdns_reader *m, const struct mdns_rr_read *r, int i)
{
  struct mdns_rr mine;

  own_rr(i, &mine);
  if(r->type != mine.type || !mdns_name_equal(r->name, mine.name)) {
    return 0;
  }
  if(r->type == MDNS_TYPE_PTR) {
    return mdns_name_equal(r->target, mine.target);
  }
  if(r->type == MDNS_TYPE_SRV) {
    return r->port == mine.port && mdns_name_equal(r->target, mine.target);
  }
  return r->rdlen == mine.data_len && memcmp(m->buf + r->rdata, mine.data, r->rdlen) == 0;
}
/*---------------------------------------------------------------------------*/
static int
own_index(const struct mdns_reader *m, const struct mdns_rr_read *r)
{
  int i;
  uint8_t valid = valid_records();

  for(i = 0; i < R_COUNT; i++) {
    if((valid & BIT(i)) && same_as_own(m, r, i)) {
      return i;
    }
  }
  return -1;
}
/*---------------------------------------------------------------------------*/
/* Sending */
static void
sent(int kind, uint16_t len)
{
  counts.packets[kind]++;
  counts.bytes[kind] += len;
}
/*---------------------------------------------------------------------------*/
static void
send_message(int kind, struct mdns_writer *w, const uint8_t *address, uint16_t port)
{
  uint16_t len = mdns_writer_finish(w);

  if(len > 12) {
    mdns_arch_send(out, len, address, port);
    sent(kind, len);
  }
}
/*---------------------------------------------------------------------------*/
/* Answers, then the additional records not among them; `ttl0`: goodbye; legacy: TTL at most
 * 10 s and no cache-flush bit (§6.7). */
static void
write_records(struct mdns_writer *w, uint8_t answers, uint8_t additional, int ttl0, int legacy)
{
  struct mdns_rr r;
  int i;

  for(i = 0; i < R_COUNT; i++) {
    if(answers & BIT(i)) {
      own_rr(i, &r);
      r.ttl = ttl0 ? 0 : (legacy && r.ttl > LEGACY_TTL ? LEGACY_TTL : r.ttl);
      r.flush = legacy ? 0 : r.flush;
      mdns_write_rr(w, MDNS_ANSWER, &r);
    }
  }
  for(i = 0; i < R_COUNT; i++) {
    if((additional & BIT(i)) && !(answers & BIT(i))) {
      own_rr(i, &r);
      r.ttl = legacy && r.ttl > LEGACY_TTL ? LEGACY_TTL : r.ttl;
      r.flush = legacy ? 0 : r.flush;
      mdns_write_rr(w, MDNS_ADDITIONAL, &r);
    }
  }
}
/*---------------------------------------------------------------------------*/
/* Send `answers` to the group, leaving out records multicast too recently (§6). */
static void
multicast_response(int kind, uint8_t answers, uint8_t additional, uint32_t now, int defence)
{
  struct mdns_writer w;
  int i;

  if(MDNS_RATE_LIMIT) {
    uint32_t limit = defence ? DEFENCE_RATE_LIMIT_MS : RATE_LIMIT_MS;
    for(i = 0; i < R_COUNT; i++) {
      if((answers & BIT(i)) && (multicast_ever & BIT(i))
         && now - last_multicast[i] < limit) {
        answers &= ~BIT(i);
      }
    }
  }
  if(answers == 0) {
    return;
  }
  for(i = 0; i < R_COUNT; i++) {
    if(answers & BIT(i)) {
      last_multicast[i] = now;
      multicast_ever |= BIT(i);
    }
  }
  mdns_writer_init(&w, out, sizeof(out), 0, MDNS_FLAG_QR | MDNS_FLAG_AA);
  write_records(&w, answers, additional, 0, 0);
  send_message(kind, &w, NULL, MDNS_PORT);
}
/*---------------------------------------------------------------------------*/
/* Probing and announcing */
static void announced(void);

static void
probed(uint32_t now)
{
  int o;

  for(o = 0; o < OWNED; o++) {
    if((o == HOST || published) && owned[o].state == PROBING) {
      owned[o].state = ANNOUNCING;
      mdns_name_text(owned_name(o), text[0], sizeof(text[0]));
      emit("claimed", text[0], NULL, NULL);
    }
  }
  if(MDNS_ANNOUNCING) {
    announces_sent = 0;
    announce_due = 1;
    announce_at = now;
  } else {
    announced();
  }
}
/*---------------------------------------------------------------------------*/
static void
announced(void)
{
  int o;

  for(o = 0; o < OWNED; o++) {
    if(owned[o].state == ANNOUNCING) {
      owned[o].state = READY;
    }
  }
}
/*---------------------------------------------------------------------------*/
static void
probe(uint32_t now)
{
  struct mdns_writer w;
  struct mdns_rr r;
  int o, i, any = 0;

  if(probes_sent == PROBES) { /* 250 ms after the last probe, nobody objected */
    probe_due = 0;
    probed(now);
    return;
  }
  mdns_writer_init(&w, out, sizeof(out), 0, 0);
  for(o = 0; o < OWNED; o++) {
    if((o == HOST || published) && owned[o].state == PROBING) {
      /* §8.1: the first probe asks for a unicast answer */
      mdns_write_question(&w, owned_name(o), MDNS_TYPE_ANY, probes_sent == 0);
      any = 1;
    }
  }
  if(!any) {
    probe_due = 0;
    return;
  }
  for(o = 0; o < OWNED; o++) {
    if((o == HOST || published) && owned[o].state == PROBING) {
      for(i = 0; i < R_COUNT; i++) {
        if(unique_records_of(o) & BIT(i)) {
          own_rr(i, &r);
          mdns_write_rr(&w, MDNS_AUTHORITY, &r);
        }
      }
    }
  }
  send_message(MDNS_SENT_PROBE, &w, NULL, MDNS_PORT);
  probes_sent++;
  probe_at = now + PROBE_WAIT_MS;
}
/*---------------------------------------------------------------------------*/
static void
announce(uint32_t now)
{
  struct mdns_writer w;
  uint8_t records = records_in(IN(ANNOUNCING));
  int i;

  if(records) {
    mdns_writer_init(&w, out, sizeof(out), 0, MDNS_FLAG_QR | MDNS_FLAG_AA);
    write_records(&w, records, 0, 0, 0);
    send_message(MDNS_SENT_ANNOUNCE, &w, NULL, MDNS_PORT);
    for(i = 0; i < R_COUNT; i++) {
      if(records & BIT(i)) {
        last_multicast[i] = now;
        multicast_ever |= BIT(i);
      }
    }
  }
  if(++announces_sent >= ANNOUNCEMENTS) {
    announce_due = 0;
    announced();
  } else {
    announce_at = now + ANNOUNCE_GAP_MS;
  }
}
/*---------------------------------------------------------------------------*/
static void
restart_probing(int o, uint32_t now, uint32_t wait)
{
  owned[o].state = PROBING;
  announce_due = 0;
  if(MDNS_PROBING) {
    probes_sent = 0;
    probe_due = 1;
    probe_at = now + wait + between(0, PROBE_WAIT_MS);
  } else {
    probed(now);
  }
}
/*---------------------------------------------------------------------------*/
static void
rename_owned(int o)
{
  char suffix[8];
  size_t room;

  owned[o].attempt++;
  snprintf(suffix, sizeof(suffix), o == INSTANCE ? " (%u)" : "-%u",
           (unsigned)owned[o].attempt);
  room = MDNS_LABEL_MAX - strlen(suffix);
  room = strlen(owned[o].base) < room ? strlen(owned[o].base) : room;
  memcpy(owned[o].label, owned[o].base, room);
  strcpy(owned[o].label + room, suffix);
  make_names();
}
/*---------------------------------------------------------------------------*/
static void
conflict(int o, uint32_t now, const char *why)
{
  mdns_name_text(owned_name(o), text[0], sizeof(text[0]));
  rename_owned(o);
  mdns_name_text(owned_name(o), text[1], sizeof(text[1]));
  emit("conflict", text[0], text[1], why);
  if(o == HOST && published && owned[INSTANCE].state == READY) {
    owned[INSTANCE].state = PROBING; /* its SRV names the new host: probed and announced anew */
  }
  restart_probing(o, now, 0);
}
/*---------------------------------------------------------------------------*/
/* The cache */
static int
cached_same(const struct cached *c, const struct mdns_reader *m, const struct mdns_rr_read *r)
{
  if(c->type != r->type || !mdns_name_equal(c->name, r->name)) {
    return 0;
  }
  if(r->type == MDNS_TYPE_PTR) {
    return mdns_name_equal(c->data, r->target);
  }
  if(r->type == MDNS_TYPE_SRV) {
    return c->port == r->port && mdns_name_equal(c->data, r->target);
  }
  return c->data_len == r->rdlen && memcmp(c->data, m->buf + r->rdata, r->rdlen) == 0;
}
/*---------------------------------------------------------------------------*/
static struct cached *
cache_find(const uint8_t *name, uint16_t type, const struct cached *after)
{
  struct cached *c = after ? (struct cached *)after + 1 : cache;

  for(; c < cache + MDNS_CACHE_ENTRIES; c++) {
    if(c->used && c->type == type && mdns_name_equal(c->name, name)) {
      return c;
    }
  }
  return NULL;
}
/*---------------------------------------------------------------------------*/
static void
ask(const uint8_t *name, uint16_t type, uint32_t now)
{
  struct ask *a, *free_slot = NULL;

  if(mdns_name_len(name) > MDNS_CACHED_MAX) {
    return;
  }
  for(a = asks; a < asks + MDNS_ASKS; a++) {
    if(a->used && a->type == type && mdns_name_equal(a->name, name)) {
      return;
    }
    if(!a->used && free_slot == NULL) {
      free_slot = a;
    }
  }
  if(free_slot == NULL) {
    return; /* asked again by the next update_found() */
  }
  free_slot->used = 1;
  free_slot->type = type;
  free_slot->tries = 0;
  free_slot->interval = 1000;
  free_slot->next = now + between(SHARED_DELAY_MIN_MS, SHARED_DELAY_MAX_MS);
  memcpy(free_slot->name, name, mdns_name_len(name));
}
/*---------------------------------------------------------------------------*/
static void
refresh_schedule(struct cached *c)
{
  /* 80, 85, 90, 95 % of the TTL, plus 0-2 % */
  uint32_t permille = 800 + 50 * c->refresh_step + between(0, REFRESH_JITTER_PERMILLE);

  c->refresh_at = c->received + (uint32_t)((uint64_t)c->ttl * permille);
}
/*---------------------------------------------------------------------------*/
/* An event about the instance a cached PTR names: its label and the browsed type */
static void
service_event(struct mdns_event *e, const char *what, const struct cached *ptr)
{
  memset(e, 0, sizeof(*e));
  e->offset = -1;
  e->what = what;
  snprintf(text[0], sizeof(text[0]), "%.*s", ptr->data[0], (const char *)ptr->data + 1);
  e->name = text[0];
  mdns_name_text(browse_name, text[1], sizeof(text[1]));
  text[1][strlen(text[1]) - strlen(".local")] = '\0';
  e->type = text[1];
}
/*---------------------------------------------------------------------------*/
static void
report_found(struct cached *ptr)
{
  static char host[MDNS_CACHED_MAX + 1];
  struct mdns_event e;
  struct cached *srv = cache_find(ptr->data, MDNS_TYPE_SRV, NULL);
  struct cached *aaaa = srv ? cache_find(srv->data, MDNS_TYPE_AAAA, NULL) : NULL;

  service_event(&e, "service", ptr);
  e.port = srv->port;
  e.address = aaaa->data;
  mdns_name_text(srv->data, host, sizeof(host));
  e.host = host;
  mdns_arch_event(&e);
}
/*---------------------------------------------------------------------------*/
static void
report_removed(struct cached *ptr)
{
  struct mdns_event e;

  service_event(&e, "service-removed", ptr);
  ptr->reported = 0;
  mdns_arch_event(&e);
}
/*---------------------------------------------------------------------------*/
static void
forget(struct cached *c)
{
  if(c->type == MDNS_TYPE_PTR && c->reported) {
    report_removed(c);
  }
  c->used = 0;
}
/*---------------------------------------------------------------------------*/
static void
update_found(uint32_t now)
{
  struct cached *ptr = NULL;
  struct cached *srv;

  while((ptr = cache_find(browse_name, MDNS_TYPE_PTR, ptr)) != NULL) {
    srv = cache_find(ptr->data, MDNS_TYPE_SRV, NULL);
    if(srv == NULL) {
      ask(ptr->data, MDNS_TYPE_SRV, now);
    }
    if(cache_find(ptr->data, MDNS_TYPE_TXT, NULL) == NULL) {
      ask(ptr->data, MDNS_TYPE_TXT, now);
    }
    if(srv == NULL) {
      if(ptr->reported) { /* its SRV expired: gone until it is found again */
        report_removed(ptr);
      }
      continue;
    }
    if(cache_find(srv->data, MDNS_TYPE_AAAA, NULL) == NULL) {
      ask(srv->data, MDNS_TYPE_AAAA, now);
      continue;
    }
    if(!ptr->reported) {
      ptr->reported = 1;
      report_found(ptr);
    }
  }
}
/*---------------------------------------------------------------------------*/
/* A record of the browsed type, of an instance found, or an address of its host. */
static int
wanted(const struct mdns_rr_read *r)
{
  struct cached *c;

  if(r->type == MDNS_TYPE_PTR) {
    return browsing && mdns_name_equal(r->name, browse_name);
  }
  for(c = cache; c < cache + MDNS_CACHE_ENTRIES; c++) {
    if(!c->used) {
      continue;
    }
    if(c->type == MDNS_TYPE_PTR && (r->type == MDNS_TYPE_SRV || r->type == MDNS_TYPE_TXT)
       && mdns_name_equal(c->data, r->name)) {
      return 1;
    }
    if(c->type == MDNS_TYPE_SRV && r->type == MDNS_TYPE_AAAA
       && mdns_name_equal(c->data, r->name)) {
      return 1;
    }
  }
  return 0;
}
/*---------------------------------------------------------------------------*/
static void
remember(const struct mdns_reader *m, const struct mdns_rr_read *r, uint32_t now)
{
  struct cached *c, *slot = NULL;
  struct ask *a;
  uint16_t data_len;

  if(mdns_name_len(r->name) > MDNS_CACHED_MAX) {
    return;
  }
  if(r->type == MDNS_TYPE_PTR || r->type == MDNS_TYPE_SRV) {
    data_len = mdns_name_len(r->target);
  } else {
    data_len = r->rdlen;
  }
  if(data_len > MDNS_CACHED_MAX) {
    return;
  }
  for(c = cache; c < cache + MDNS_CACHE_ENTRIES; c++) {
    if(c->used && cached_same(c, m, r)) {
      slot = c;
      break;
    }
  }
  if(slot == NULL) {
    for(c = cache; c < cache + MDNS_CACHE_ENTRIES; c++) {
      if(!c->used) {
        slot = c;
        break;
      }
      if(slot == NULL || (int32_t)(c->expires - slot->expires) < 0) {
        slot = c; /* full: the one expiring first makes room */
      }
    }
    if(slot->used) {
      forget(slot);
    }
    memset(slot, 0, sizeof(*slot));
    memcpy(slot->name, r->name, mdns_name_len(r->name));
    slot->type = r->type;
    slot->port = r->port;
    slot->data_len = data_len;
    if(r->type == MDNS_TYPE_PTR || r->type == MDNS_TYPE_SRV) {
      memcpy(slot->data, r->target, data_len);
    } else {
      memcpy(slot->data, m->buf + r->rdata, data_len);
    }
  }
  slot->used = 1;
  slot->flush = r->flush;
  /* a day at most: the clock is 32-bit milliseconds (RFC 2181 §8: 2^31 s and up is 0) */
  slot->ttl = r->ttl >= 0x80000000UL ? 0 : (r->ttl > 86400 ? 86400 : r->ttl);
  slot->received = now;
  slot->expires = now + slot->ttl * 1000;
  slot->refresh_step = MDNS_CACHE_REFRESH ? 0 : REFRESH_STEPS;
  if(MDNS_CACHE_REFRESH) {
    refresh_schedule(slot);
  }
  for(a = asks; a < asks + MDNS_ASKS; a++) {
    if(a->used && a->type == r->type && mdns_name_equal(a->name, r->name)) {
      a->used = 0;
    }
  }
}
/*---------------------------------------------------------------------------*/
static void
expire(uint32_t now)
{
  struct cached *c;
  int gone = 0;

  for(c = cache; c < cache + MDNS_CACHE_ENTRIES; c++) {
    if(c->used && due(c->expires, now)) {
      forget(c);
      gone = 1;
    }
  }
  if(gone) {
    update_found(now);
  }
}
/*---------------------------------------------------------------------------*/
/* Reading a message: the reader set to the first record of `section` */
static int
seek_section(struct mdns_reader *m, const struct mdns_header *h, int section)
{
  uint16_t i;
  uint16_t type;
  int unicast;
  int s;

  m->pos = 12;
  for(i = 0; i < h->counts[MDNS_QUESTION]; i++) {
    if(mdns_read_question(m, rr.name, &type, &unicast) < 0) {
      return -1;
    }
  }
  for(s = MDNS_ANSWER; s < section; s++) {
    for(i = 0; i < h->counts[s]; i++) {
      if(mdns_read_rr(m, &rr) < 0) {
        return -1;
      }
    }
  }
  return 0;
}
/*---------------------------------------------------------------------------*/
/* Records of the answer and additional sections in turn: calls `each` with the record's
 * index among them; stops at the first malformed record. */
typedef void (*record_fn)(const struct mdns_reader *m, const struct mdns_rr_read *r,
                          uint16_t index, uint32_t now);

static int
for_each_response_record(struct mdns_reader *m, const struct mdns_header *h, record_fn each,
                         uint32_t now)
{
  uint16_t i, index = 0;
  int s;

  if(seek_section(m, h, MDNS_ANSWER) < 0) {
    return -1;
  }
  for(s = MDNS_ANSWER; s <= MDNS_ADDITIONAL; s++) {
    for(i = 0; i < h->counts[s]; i++) {
      if(mdns_read_rr(m, &rr) < 0) {
        return -1;
      }
      if(s != MDNS_AUTHORITY) {
        each(m, &rr, index++, now);
      }
    }
  }
  return 0;
}
/*---------------------------------------------------------------------------*/
/* Receiving a query */
struct theirs {
  uint8_t count;
  uint16_t type[THEIRS_MAX];
  uint16_t len[THEIRS_MAX];
  uint8_t data[THEIRS_MAX][THEIRS_DATA];
};
static struct theirs theirs[OWNED];
/*---------------------------------------------------------------------------*/
/* Record data as it is without compression (the §8.2 tie-break compares it) */
static uint16_t
canonical_data(const struct mdns_reader *m, const struct mdns_rr_read *r, uint8_t *buf,
               uint16_t size)
{
  uint16_t len;

  if(r->type == MDNS_TYPE_SRV) {
    len = 6 + mdns_name_len(r->target);
    if(len > size) {
      return 0;
    }
    memcpy(buf, m->buf + r->rdata, 6);
    memcpy(buf + 6, r->target, len - 6);
    return len;
  }
  if(r->type == MDNS_TYPE_PTR) {
    len = mdns_name_len(r->target);
    if(len > size) {
      return 0;
    }
    memcpy(buf, r->target, len);
    return len;
  }
  len = r->rdlen < size ? r->rdlen : size;
  memcpy(buf, m->buf + r->rdata, len);
  return len;
}
/*---------------------------------------------------------------------------*/
static uint16_t
own_canonical(int i, uint8_t *buf, uint16_t size)
{
  struct mdns_rr r;
  uint16_t len;

  own_rr(i, &r);
  if(r.type == MDNS_TYPE_SRV) {
    len = 6 + mdns_name_len(r.target);
    if(len > size) {
      return 0;
    }
    memset(buf, 0, 4);
    buf[4] = r.port >> 8;
    buf[5] = r.port & 0xff;
    memcpy(buf + 6, r.target, len - 6);
    return len;
  }
  len = r.data_len < size ? r.data_len : size;
  memcpy(buf, r.data, len);
  return len;
}
/*---------------------------------------------------------------------------*/
static int
compare_entry(uint16_t type_a, const uint8_t *a, uint16_t len_a, uint16_t type_b,
              const uint8_t *b, uint16_t len_b)
{
  uint16_t n = len_a < len_b ? len_a : len_b;
  int c;

  if(type_a != type_b) {
    return type_a < type_b ? -1 : 1;
  }
  c = memcmp(a, b, n);
  if(c != 0) {
    return c < 0 ? -1 : 1;
  }
  return len_a == len_b ? 0 : (len_a < len_b ? -1 : 1);
}
/*---------------------------------------------------------------------------*/
/* §8.2: both sets sorted by class, type, data and compared in turn; the longer wins a tie of
 * its prefix. < 0 when ours sorts first (we lose), 0 when they are the same. */
static int
compare_sets(int o)
{
  static uint8_t ours[R_COUNT][THEIRS_DATA];
  uint16_t our_len[R_COUNT], our_type[R_COUNT];
  uint8_t our_order[R_COUNT], their_order[THEIRS_MAX];
  uint8_t n = 0, i, j, t;
  struct mdns_rr r;
  struct theirs *th = &theirs[o];
  int c;

  for(i = 0; i < R_COUNT; i++) {
    if(unique_records_of(o) & BIT(i)) {
      own_rr(i, &r);
      our_type[n] = r.type;
      our_len[n] = own_canonical(i, ours[n], THEIRS_DATA);
      our_order[n] = n;
      n++;
    }
  }
  /* insertion sorts: a handful of records */
  for(i = 1; i < n; i++) {
    for(j = i; j > 0 && compare_entry(our_type[our_order[j - 1]], ours[our_order[j - 1]],
                                      our_len[our_order[j - 1]], our_type[our_order[j]],
                                      ours[our_order[j]], our_len[our_order[j]]) > 0; j--) {
      t = our_order[j];
      our_order[j] = our_order[j - 1];
      our_order[j - 1] = t;
    }
  }
  for(i = 0; i < th->count; i++) {
    their_order[i] = i;
  }
  for(i = 1; i < th->count; i++) {
    for(j = i; j > 0 && compare_entry(th->type[their_order[j - 1]], th->data[their_order[j - 1]],
                                      th->len[their_order[j - 1]], th->type[their_order[j]],
                                      th->data[their_order[j]], th->len[their_order[j]]) > 0;
        j--) {
      t = their_order[j];
      their_order[j] = their_order[j - 1];
      their_order[j - 1] = t;
    }
  }
  for(i = 0; i < n && i < th->count; i++) {
    c = compare_entry(our_type[our_order[i]], ours[our_order[i]], our_len[our_order[i]],
                      th->type[their_order[i]], th->data[their_order[i]],
                      th->len[their_order[i]]);
    if(c != 0) {
      return c;
    }
  }
  return n == th->count ? 0 : (n < th->count ? -1 : 1);
}
/*---------------------------------------------------------------------------*/
/* Another host probes: defend a name we hold, or break a tie for one we probe (§8.2). */
static void
received_probe(struct mdns_reader *m, const struct mdns_header *h, uint32_t now)
{
  uint16_t i;
  int o;
  struct theirs *th;

  memset(theirs, 0, sizeof(theirs));
  if(seek_section(m, h, MDNS_AUTHORITY) < 0) {
    return;
  }
  for(i = 0; i < h->counts[MDNS_AUTHORITY]; i++) {
    if(mdns_read_rr(m, &rr) < 0) {
      return;
    }
    for(o = 0; o < OWNED; o++) {
      th = &theirs[o];
      if((o == HOST || published) && mdns_name_equal(rr.name, owned_name(o))
         && th->count < THEIRS_MAX) {
        th->type[th->count] = rr.type;
        th->len[th->count] = canonical_data(m, &rr, th->data[th->count], THEIRS_DATA);
        th->count++;
      }
    }
  }
  for(o = 0; o < OWNED; o++) {
    if(theirs[o].count == 0) {
      continue;
    }
    if(owned[o].state == PROBING) {
      if(compare_sets(o) < 0) {
        mdns_name_text(owned_name(o), text[0], sizeof(text[0]));
        emit("lost-tie", text[0], NULL, NULL);
        restart_probing(o, now, LOST_TIE_WAIT_MS);
      }
    } else if(compare_sets(o) != 0) {
      multicast_response(MDNS_SENT_RESPONSE, unique_records_of(o), 0, now, 1);
    }
  }
}
/*---------------------------------------------------------------------------*/
/* RFC 6763 §12: a PTR brings its SRV, TXT and addresses, an SRV its addresses. */
static uint8_t
additional_for(uint8_t answers)
{
  uint8_t extra = 0;

  if(answers & BIT(R_PTR)) {
    extra |= BIT(R_SRV) | BIT(R_TXT);
  }
  if(answers & (BIT(R_PTR) | BIT(R_META) | BIT(R_SRV))) {
    extra |= HOST_RECORDS;
  }
  return extra & records_in(IN(READY) | IN(ANNOUNCING)) & ~answers;
}
/*---------------------------------------------------------------------------*/
static void
unicast_response(struct mdns_reader *m, const struct mdns_header *h, uint8_t answers,
                 uint8_t additional, const uint8_t *address, uint16_t port, int legacy)
{
  struct mdns_writer w;
  uint16_t i, type;
  int unicast;

  if(legacy) { /* §6.7: the query's id and questions, as a unicast DNS answer */
    mdns_writer_init(&w, out, sizeof(out), h->id, MDNS_FLAG_QR | MDNS_FLAG_AA);
    m->pos = 12;
    for(i = 0; i < h->counts[MDNS_QUESTION]; i++) {
      if(mdns_read_question(m, rr.name, &type, &unicast) < 0) {
        return;
      }
      mdns_write_question(&w, rr.name, type, 0);
    }
  } else {
    mdns_writer_init(&w, out, sizeof(out), 0, MDNS_FLAG_QR | MDNS_FLAG_AA);
  }
  write_records(&w, answers, additional, 0, legacy);
  send_message(MDNS_SENT_RESPONSE, &w, address, port);
}
/*---------------------------------------------------------------------------*/
static void
received_query(struct mdns_reader *m, const struct mdns_header *h, const uint8_t *address,
               uint16_t port, uint32_t now)
{
  uint8_t held = records_in(IN(READY) | IN(ANNOUNCING));
  uint8_t answers = 0, known = 0, additional;
  uint16_t i, type;
  int unicast, any_unicast = 0, idx, legacy = port != MDNS_PORT;
  struct mdns_rr r;
  struct pending *p;

  if(h->counts[MDNS_AUTHORITY] > 0) {
    received_probe(m, h, now);
  }
  m->pos = 12;
  for(i = 0; i < h->counts[MDNS_QUESTION]; i++) {
    if(mdns_read_question(m, rr.name, &type, &unicast) < 0) {
      return;
    }
    any_unicast |= unicast;
    for(idx = 0; idx < R_COUNT; idx++) {
      if(held & BIT(idx)) {
        own_rr(idx, &r);
        if(mdns_name_equal(rr.name, r.name) && (type == MDNS_TYPE_ANY || type == r.type)) {
          answers |= BIT(idx);
        }
      }
    }
  }
  if(answers == 0) {
    return;
  }
  if(MDNS_KNOWN_ANSWER) {
    for(i = 0; i < h->counts[MDNS_ANSWER]; i++) {
      if(mdns_read_rr(m, &rr) < 0) {
        break;
      }
      idx = own_index(m, &rr);
      if(idx >= 0 && rr.ttl >= own_ttl(idx) / 2) {
        known |= BIT(idx);
      }
    }
    answers &= ~known;
  }
  if(answers == 0) {
    return;
  }
  additional = additional_for(answers);
  if(legacy || any_unicast) {
    unicast_response(m, h, answers, additional, address, port, legacy);
    return;
  }
  if(MDNS_RESPONSE_DELAY && (answers & SHARED_RECORDS)) {
    for(p = pending; p < pending + MDNS_PENDING; p++) {
      if(!p->used) {
        p->used = 1;
        p->answers = answers;
        p->additional = additional;
        p->due = now + between(SHARED_DELAY_MIN_MS, SHARED_DELAY_MAX_MS);
        return;
      }
    }
  }
  multicast_response(MDNS_SENT_RESPONSE, answers, additional, now, 0);
}
/*---------------------------------------------------------------------------*/
/* Receiving a response */
static uint8_t clashed[OWNED];

static void
check_conflict(const struct mdns_reader *m, const struct mdns_rr_read *r, uint16_t index,
               uint32_t now)
{
  (void)index;
  int o, i, ours;

  for(o = 0; o < OWNED; o++) {
    if(clashed[o] || !(o == HOST || published) || r->ttl == 0
       || !mdns_name_equal(r->name, owned_name(o))) {
      continue;
    }
    ours = 0;
    for(i = 0; i < R_COUNT; i++) {
      if((unique_records_of(o) & BIT(i)) && same_as_own(m, r, i)) {
        ours = 1;
      }
    }
    if(ours) {
      continue;
    }
    if(owned[o].state == PROBING) {
      clashed[o] = 1;
      conflict(o, now, "answered by another host");
    } else if(r->flush) { /* §9: a conflicting unique record */
      clashed[o] = 1;
      mdns_name_text(owned_name(o), text[0], sizeof(text[0]));
      emit("conflict-seen", text[0], NULL, NULL);
      restart_probing(o, now, 0);
    }
  }
}
/*---------------------------------------------------------------------------*/
static void
suppress_duplicate(const struct mdns_reader *m, const struct mdns_rr_read *r, uint16_t index,
                   uint32_t now)
{
  (void)index;
  struct pending *p;
  int idx = own_index(m, r);

  if(idx < 0 || r->ttl < own_ttl(idx)) {
    return;
  }
  for(p = pending; p < pending + MDNS_PENDING; p++) {
    if(p->used && (p->answers & BIT(idx))) {
      p->answers &= ~BIT(idx);
      last_multicast[idx] = now; /* as if we had sent it */
      multicast_ever |= BIT(idx);
      if(p->answers == 0) {
        p->used = 0;
      }
    }
  }
}
/*---------------------------------------------------------------------------*/
/* The message being read, for in_message() */
static struct mdns_reader *current;
static const struct mdns_header *current_header;
static uint8_t found_in_message;
static const struct cached *looking_for;

static void
match_cached(const struct mdns_reader *m, const struct mdns_rr_read *r, uint16_t index,
             uint32_t now)
{
  (void)index;
  (void)now;
  if(cached_same(looking_for, m, r)) {
    found_in_message = 1;
  }
}
/*---------------------------------------------------------------------------*/
static int
in_message(const struct cached *c, uint32_t now)
{
  struct mdns_reader again = *current;
  static struct mdns_rr_read saved;

  saved = rr; /* the caller's record, which the pass below overwrites */
  looking_for = c;
  found_in_message = 0;
  for_each_response_record(&again, current_header, match_cached, now);
  rr = saved;
  return found_in_message;
}
/*---------------------------------------------------------------------------*/
static void
flush_and_goodbye(const struct mdns_reader *m, const struct mdns_rr_read *r, uint16_t index,
                  uint32_t now)
{
  (void)index;
  struct cached *c;
  struct mdns_rr_read record;

  record = *r; /* in_message() reuses the scratch record */
  for(c = cache; c < cache + MDNS_CACHE_ENTRIES; c++) {
    if(!c->used || c->type != record.type || !mdns_name_equal(c->name, record.name)) {
      continue;
    }
    if(record.ttl == 0) { /* goodbye: gone in 1 s (§10.1) */
      if(cached_same(c, m, &record)) {
        if((int32_t)(c->expires - (now + GOODBYE_EXPIRE_MS)) > 0) {
          c->expires = now + GOODBYE_EXPIRE_MS;
        }
        c->refresh_step = REFRESH_STEPS;
      }
    } else if(record.flush && now - c->received > FLUSH_GRACE_MS && !in_message(c, now)) {
      /* §10.2: older records of a unique set expire in 1 s */
      if((int32_t)(c->expires - (now + FLUSH_GRACE_MS)) > 0) {
        c->expires = now + FLUSH_GRACE_MS;
      }
      c->refresh_step = REFRESH_STEPS;
    }
  }
}
/*---------------------------------------------------------------------------*/
static uint8_t taken[RECORDS_MAX / 8];
static uint8_t took;

static void
take_wanted(const struct mdns_reader *m, const struct mdns_rr_read *r, uint16_t index,
            uint32_t now)
{
  if(index >= RECORDS_MAX || (taken[index / 8] & (1 << (index % 8))) || r->ttl == 0
     || r->klass != MDNS_CLASS_IN) {
    return;
  }
  if(wanted(r)) {
    remember(m, r, now);
    taken[index / 8] |= 1 << (index % 8);
    took = 1;
  }
}
/*---------------------------------------------------------------------------*/
static void
received_response(struct mdns_reader *m, const struct mdns_header *h, uint32_t now)
{
  uint8_t pass;

  memset(clashed, 0, sizeof(clashed));
  if(for_each_response_record(m, h, check_conflict, now) < 0) {
    return;
  }
  if(MDNS_DUPLICATE_ANSWER) {
    for_each_response_record(m, h, suppress_duplicate, now);
  }
  current = m;
  current_header = h;
  for_each_response_record(m, h, flush_and_goodbye, now);
  memset(taken, 0, sizeof(taken));
  for(pass = 0; pass < 3; pass++) { /* an address may come before the SRV that wants it */
    took = 0;
    for_each_response_record(m, h, take_wanted, now);
    if(!took) {
      break;
    }
  }
  update_found(now);
}
/*---------------------------------------------------------------------------*/
/* Querying */
#define QUESTIONS_MAX 16

static void
query(uint32_t now)
{
  const uint8_t *names[QUESTIONS_MAX];
  uint16_t types[QUESTIONS_MAX];
  uint8_t n = 0, i, j;
  struct ask *a;
  struct cached *c;
  struct mdns_writer w;
  struct mdns_rr r;
  uint32_t left;

  if(browsing && due(browse_next, now)) {
    names[n] = browse_name;
    types[n++] = MDNS_TYPE_PTR;
    browse_next = now + browse_interval;
    browse_interval = browse_interval * 2 > QUERY_INTERVAL_MAX_MS
      ? QUERY_INTERVAL_MAX_MS : browse_interval * 2;
  }
  for(a = asks; a < asks + MDNS_ASKS; a++) {
    if(!a->used || !due(a->next, now)) {
      continue;
    }
    if(cache_find(a->name, a->type, NULL) != NULL || a->tries >= ASK_TRIES) {
      a->used = 0;
      continue;
    }
    if(n < QUESTIONS_MAX) {
      names[n] = a->name;
      types[n++] = a->type;
    }
    a->next = now + a->interval;
    a->interval *= 2;
    a->tries++;
  }
  for(c = cache; c < cache + MDNS_CACHE_ENTRIES; c++) {
    if(c->used && c->refresh_step < REFRESH_STEPS && due(c->refresh_at, now)) {
      while(c->refresh_step < REFRESH_STEPS && due(c->refresh_at, now)) {
        if(++c->refresh_step < REFRESH_STEPS) {
          refresh_schedule(c);
        }
      }
      if(n < QUESTIONS_MAX) {
        names[n] = c->name;
        types[n++] = c->type;
      }
    }
  }
  if(n == 0) {
    return;
  }
  mdns_writer_init(&w, out, sizeof(out), 0, 0);
  for(i = 0; i < n; i++) {
    for(j = 0; j < i; j++) {
      if(types[j] == types[i] && mdns_name_equal(names[j], names[i])) {
        break;
      }
    }
    if(j == i) {
      mdns_write_question(&w, names[i], types[i], 0);
    } else {
      names[i] = NULL;
    }
  }
  if(MDNS_KNOWN_ANSWER) { /* §7.1: answers with more than half their TTL left */
    for(i = 0; i < n && !w.full; i++) {
      if(names[i] == NULL) {
        continue;
      }
      for(c = cache; c < cache + MDNS_CACHE_ENTRIES && !w.full; c++) {
        if(!c->used || c->type != types[i] || !mdns_name_equal(c->name, names[i])) {
          continue;
        }
        left = c->expires - now;
        if((int32_t)left <= 0 || left <= c->ttl * 500) {
          continue;
        }
        memset(&r, 0, sizeof(r));
        r.name = c->name;
        r.type = c->type;
        r.flush = 0; /* §10.2: never in a query's known answers */
        r.ttl = left / 1000;
        r.port = c->port;
        r.target = c->data;
        r.data = c->data;
        r.data_len = c->data_len;
        mdns_write_rr(&w, MDNS_ANSWER, &r);
      }
    }
  }
  send_message(MDNS_SENT_QUERY, &w, NULL, MDNS_PORT);
}
/*---------------------------------------------------------------------------*/
/* The API */
void
mdns_init(const char *host, const uint8_t *addrs, uint8_t count, uint32_t seed)
{
  memset(owned, 0, sizeof(owned));
  memset(cache, 0, sizeof(cache));
  memset(asks, 0, sizeof(asks));
  memset(pending, 0, sizeof(pending));
  memset(&counts, 0, sizeof(counts));
  published = browsing = started = 0;
  probe_due = announce_due = 0;
  multicast_ever = 0;
  local_name[0] = 0;
  mdns_name_append(local_name, sizeof(local_name), "local", 5);
  meta_name[0] = 0;
  dotted_name(meta_name, "_services._dns-sd._udp");
  snprintf(owned[HOST].base, sizeof(owned[HOST].base), "%s", host);
  snprintf(owned[HOST].label, sizeof(owned[HOST].label), "%s", host);
  owned[HOST].attempt = 1;
  address_count = count > MDNS_ADDRESSES ? MDNS_ADDRESSES : count;
  memcpy(addresses, addrs, 16 * address_count);
  random_state = seed ? seed : 0x2545f491;
  make_names();
}
/*---------------------------------------------------------------------------*/
int
mdns_publish(const char *instance, const char *type, uint16_t port, const char *const *txt,
             uint8_t txt_count)
{
  uint8_t i;
  size_t len;

  if(dotted_name(type_name, type) < 0) {
    return -1;
  }
  txt_len = 0;
  for(i = 0; i < txt_count; i++) {
    len = strlen(txt[i]);
    if(len > 255 || txt_len + 1 + len > sizeof(txt_data)) {
      return -1;
    }
    txt_data[txt_len++] = (uint8_t)len;
    memcpy(txt_data + txt_len, txt[i], len);
    txt_len += len;
  }
  if(txt_len == 0) { /* RFC 6763 §6.1: an empty TXT record holds one empty string */
    txt_data[txt_len++] = 0;
  }
  snprintf(owned[INSTANCE].base, sizeof(owned[INSTANCE].base), "%s", instance);
  snprintf(owned[INSTANCE].label, sizeof(owned[INSTANCE].label), "%s", instance);
  owned[INSTANCE].attempt = 1;
  owned[INSTANCE].state = PROBING;
  service_port = port;
  published = 1;
  make_names();
  return 0;
}
/*---------------------------------------------------------------------------*/
int
mdns_browse(const char *type)
{
  if(dotted_name(browse_name, type) < 0) {
    return -1;
  }
  browsing = 1;
  return 0;
}
/*---------------------------------------------------------------------------*/
void
mdns_start(uint32_t now)
{
  int o;

  started = 1;
  if(browsing) {
    browse_next = now + between(SHARED_DELAY_MIN_MS, SHARED_DELAY_MAX_MS);
    browse_interval = 1000;
  }
  if(MDNS_PROBING) {
    probe_due = 1;
    probe_at = now + between(0, PROBE_WAIT_MS);
    probes_sent = 0;
    for(o = 0; o < OWNED; o++) {
      if(o == HOST || published) {
        owned[o].state = PROBING;
        mdns_name_text(owned_name(o), text[0], sizeof(text[0]));
        emit("probing", text[0], NULL, NULL);
      }
    }
  } else {
    probed(now);
  }
}
/*---------------------------------------------------------------------------*/
int
mdns_deadline(uint32_t *at)
{
  int any = 0;
  struct pending *p;
  struct ask *a;
  struct cached *c;

#define CONSIDER(t) do { if(!any || (int32_t)((t) - *at) < 0) { *at = (t); } any = 1; } while(0)
  if(!started) {
    return 0;
  }
  if(probe_due) {
    CONSIDER(probe_at);
  }
  if(announce_due) {
    CONSIDER(announce_at);
  }
  for(p = pending; p < pending + MDNS_PENDING; p++) {
    if(p->used) {
      CONSIDER(p->due);
    }
  }
  if(browsing) {
    CONSIDER(browse_next);
  }
  for(a = asks; a < asks + MDNS_ASKS; a++) {
    if(a->used) {
      CONSIDER(a->next);
    }
  }
  for(c = cache; c < cache + MDNS_CACHE_ENTRIES; c++) {
    if(c->used) {
      CONSIDER(c->expires);
      if(c->refresh_step < REFRESH_STEPS) {
        CONSIDER(c->refresh_at);
      }
    }
  }
#undef CONSIDER
  return any;
}
/*---------------------------------------------------------------------------*/
void
mdns_poll(uint32_t now)
{
  struct pending *p;
  uint8_t answers = 0, additional = 0;

  if(!started) {
    return;
  }
  if(probe_due && due(probe_at, now)) {
    probe(now);
  }
  if(announce_due && due(announce_at, now)) {
    announce(now);
  }
  for(p = pending; p < pending + MDNS_PENDING; p++) {
    if(p->used && due(p->due, now)) {
      answers |= p->answers;
      additional |= p->additional;
      p->used = 0;
    }
  }
  if(answers) {
    multicast_response(MDNS_SENT_RESPONSE, answers, additional, now, 0);
  }
  expire(now);
  query(now);
}
/*---------------------------------------------------------------------------*/
void
mdns_receive(const uint8_t *data, uint16_t len, const uint8_t *address, uint16_t port,
             uint32_t now)
{
  struct mdns_reader m;
  struct mdns_header h;
  struct mdns_event e;
  uint16_t i;

  if(!started) {
    return;
  }
  mdns_reader_init(&m, data, len);
  /* the whole message first: a malformed one is dropped before it changes anything */
  if(mdns_read_header(&m, &h) == 0 && seek_section(&m, &h, MDNS_ADDITIONAL) == 0) {
    for(i = 0; i < h.counts[MDNS_ADDITIONAL]; i++) {
      if(mdns_read_rr(&m, &rr) < 0) {
        break;
      }
    }
  }
  if(m.error_at >= 0) {
    memset(&e, 0, sizeof(e));
    e.what = "malformed";
    e.offset = m.error_at;
    e.why = m.error;
    e.address = address;
    mdns_arch_event(&e);
    return;
  }
  if((h.flags & 0x780f) != 0) { /* §18.3, §18.11: opcode and rcode must be zero */
    return;
  }
  if(h.flags & MDNS_FLAG_QR) {
    if(port != MDNS_PORT) { /* §6: a response not from port 5353 is ignored */
      return;
    }
    received_response(&m, &h, now);
  } else {
    received_query(&m, &h, address, port, now);
  }
}
/*---------------------------------------------------------------------------*/
void
mdns_stop(uint32_t now)
{
  struct mdns_writer w;
  uint8_t records;

  (void)now; /* goodbyes go out at once, not rate-limited */
  if(!started) {
    return;
  }
  records = records_in(IN(READY) | IN(ANNOUNCING));
  if(MDNS_GOODBYE && records) {
    mdns_writer_init(&w, out, sizeof(out), 0, MDNS_FLAG_QR | MDNS_FLAG_AA);
    write_records(&w, records, 0, 1, 0);
    send_message(MDNS_SENT_GOODBYE, &w, NULL, MDNS_PORT);
  }
  started = 0;
}
/*---------------------------------------------------------------------------*/
const struct mdns_counts *
mdns_sent(void)
{
  return &counts;
}
/*---------------------------------------------------------------------------*/
