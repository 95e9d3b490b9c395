/*
 * node-config: configuration by key from the environment or project-conf.h (see node-config.h).
 */
#include "node-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Linux-hosted targets read the environment, unless the build compiled the configuration in
 * as a board's is (NODE_CONFIG_CONF_FROM_ENV=0: a native board of a lab, which is flashed
 * with its configuration like any board). */
#ifdef NODE_CONFIG_CONF_FROM_ENV
#define NODE_CONFIG_FROM_ENV NODE_CONFIG_CONF_FROM_ENV
#elif CONTIKI_TARGET_NATIVE || CONTIKI_TARGET_MEDIUM
#define NODE_CONFIG_FROM_ENV 1
#else
#define NODE_CONFIG_FROM_ENV 0
#endif
#if !NODE_CONFIG_FROM_ENV && CONTIKI
#include "contiki.h"
#endif

static char error[160];
/*---------------------------------------------------------------------------*/
#if !NODE_CONFIG_FROM_ENV
/* Every key the node apps read (both manifests); set on boards by project-conf.h. */
static const struct {
  const char *key;
  const char *value;
} macros[] = {
#ifdef TESTBED_NAME
  { "NAME", TESTBED_NAME },
#endif
#ifdef TESTBED_SEED
  { "SEED", TESTBED_SEED },
#endif
#ifdef TESTBED_READINGS
  { "READINGS", TESTBED_READINGS },
#endif
#ifdef TESTBED_INTERVAL_MS
  { "INTERVAL_MS", TESTBED_INTERVAL_MS },
#endif
#ifdef TESTBED_INTERVAL_S
  { "INTERVAL_S", TESTBED_INTERVAL_S },
#endif
#ifdef TESTBED_SENSORS
  { "SENSORS", TESTBED_SENSORS },
#endif
#ifdef TESTBED_PORT
  { "PORT", TESTBED_PORT },
#endif
  /* coap-sensor */
#ifdef TESTBED_FORMAT
  { "FORMAT", TESTBED_FORMAT },
#endif
#ifdef TESTBED_OBSERVE
  { "OBSERVE", TESTBED_OBSERVE },
#endif
#ifdef TESTBED_MAX_AGE
  { "MAX_AGE", TESTBED_MAX_AGE },
#endif
#ifdef TESTBED_ACK_TIMEOUT_MS
  { "ACK_TIMEOUT_MS", TESTBED_ACK_TIMEOUT_MS },
#endif
#ifdef TESTBED_ACK_TIMEOUT_S
  { "ACK_TIMEOUT_S", TESTBED_ACK_TIMEOUT_S },
#endif
  /* xmpp-sensor */
#ifdef TESTBED_SERVER
  { "SERVER", TESTBED_SERVER },
#endif
#ifdef TESTBED_DOMAIN
  { "DOMAIN", TESTBED_DOMAIN },
#endif
#ifdef TESTBED_USER
  { "USER", TESTBED_USER },
#endif
#ifdef TESTBED_PASSWORD
  { "PASSWORD", TESTBED_PASSWORD },
#endif
#ifdef TESTBED_RESOURCE
  { "RESOURCE", TESTBED_RESOURCE },
#endif
#ifdef TESTBED_MODE
  { "MODE", TESTBED_MODE },
#endif
#ifdef TESTBED_SINK
  { "SINK", TESTBED_SINK },
#endif
#ifdef TESTBED_PUBSUB_SERVICE
  { "PUBSUB_SERVICE", TESTBED_PUBSUB_SERVICE },
#endif
#ifdef TESTBED_PUBSUB_NODE
  { "PUBSUB_NODE", TESTBED_PUBSUB_NODE },
#endif
#ifdef TESTBED_STARTTLS
  { "STARTTLS", TESTBED_STARTTLS },
#endif
#ifdef TESTBED_SASL
  { "SASL", TESTBED_SASL },
#endif
#ifdef TESTBED_KEEPALIVE_MS
  { "KEEPALIVE_MS", TESTBED_KEEPALIVE_MS },
#endif
#ifdef TESTBED_KEEPALIVE_S
  { "KEEPALIVE_S", TESTBED_KEEPALIVE_S },
#endif
#ifdef TESTBED_SERVER_TIMEOUT_MS
  { "SERVER_TIMEOUT_MS", TESTBED_SERVER_TIMEOUT_MS },
#endif
#ifdef TESTBED_SERVER_TIMEOUT_S
  { "SERVER_TIMEOUT_S", TESTBED_SERVER_TIMEOUT_S },
#endif
#ifdef TESTBED_QUEUE_LIMIT
  { "QUEUE_LIMIT", TESTBED_QUEUE_LIMIT },
#endif
#ifdef TESTBED_BACKOFF_BASE_MS
  { "BACKOFF_BASE_MS", TESTBED_BACKOFF_BASE_MS },
#endif
#ifdef TESTBED_BACKOFF_BASE_S
  { "BACKOFF_BASE_S", TESTBED_BACKOFF_BASE_S },
#endif
#ifdef TESTBED_BACKOFF_FACTOR
  { "BACKOFF_FACTOR", TESTBED_BACKOFF_FACTOR },
#endif
#ifdef TESTBED_BACKOFF_CAP_MS
  { "BACKOFF_CAP_MS", TESTBED_BACKOFF_CAP_MS },
#endif
#ifdef TESTBED_BACKOFF_CAP_S
  { "BACKOFF_CAP_S", TESTBED_BACKOFF_CAP_S },
#endif
  { NULL, NULL }
};
#endif /* !NODE_CONFIG_FROM_ENV */
/*---------------------------------------------------------------------------*/
const char *
node_config_get(const char *key)
{
#if NODE_CONFIG_FROM_ENV
  char name[48];

  if(snprintf(name, sizeof(name), "TESTBED_%s", key) >= (int)sizeof(name)) {
    return NULL;
  }
  return getenv(name);
#else
  int i;

  for(i = 0; macros[i].key != NULL; i++) {
    if(strcmp(macros[i].key, key) == 0) {
      return macros[i].value;
    }
  }
  return NULL;
#endif
}
/*---------------------------------------------------------------------------*/
static void
bad(const char *key, const char *expected, const char *value)
{
  if(error[0] == '\0') {
    if(snprintf(error, sizeof(error), "TESTBED_%s: expected %s, got '%s'", key, expected, value)
       >= (int)sizeof(error)) {
      /* cut short: its start names the key */
    }
  }
}
/*---------------------------------------------------------------------------*/
const char *
node_config_error(void)
{
  return error[0] ? error : NULL;
}
/*---------------------------------------------------------------------------*/
const char *
node_config_string(const char *key, const char *fallback)
{
  const char *value = node_config_get(key);

  return value != NULL ? value : fallback;
}
/*---------------------------------------------------------------------------*/
long
node_config_int(const char *key, long fallback, long min, long max)
{
  const char *value = node_config_get(key);
  char expected[64];
  char *end;
  long n;

  if(value == NULL) {
    return fallback;
  }
  n = strtol(value, &end, 10);
  if(end == value || *end != '\0' || n < min || n > max) {
    snprintf(expected, sizeof(expected), "an integer in %ld..%ld", min, max);
    bad(key, expected, value);
    return fallback;
  }
  return n;
}
/*---------------------------------------------------------------------------*/
static int
same_word(const char *a, const char *b)
{
  for(; *a && *b; a++, b++) {
    char x = (*a >= 'A' && *a <= 'Z') ? (char)(*a - 'A' + 'a') : *a;
    if(x != *b) {
      return 0;
    }
  }
  return *a == *b;
}
/*---------------------------------------------------------------------------*/
int
node_config_bool(const char *key, int fallback)
{
  const char *value = node_config_get(key);

  if(value == NULL) {
    return fallback;
  }
  if(same_word(value, "1") || same_word(value, "true") || same_word(value, "yes")
     || same_word(value, "on")) {
    return 1;
  }
  if(same_word(value, "0") || same_word(value, "false") || same_word(value, "no")
     || same_word(value, "off")) {
    return 0;
  }
  bad(key, "true or false", value);
  return fallback;
}
/*---------------------------------------------------------------------------*/
/* "1.5" seconds -> 1500 ms without floating point; at most 3 decimals count, more are cut */
static int
seconds_to_ms(const char *s, uint32_t *ms)
{
  uint64_t whole = 0;
  uint32_t frac = 0;
  int digits = 0, decimals = 0;

  for(; *s >= '0' && *s <= '9'; s++, digits++) {
    whole = whole * 10 + (uint64_t)(*s - '0');
    if(whole > 4000000) {
      return -1;
    }
  }
  if(*s == '.') {
    for(s++; *s >= '0' && *s <= '9'; s++, digits++) {
      if(decimals < 3) {
        frac = frac * 10 + (uint32_t)(*s - '0');
        decimals++;
      }
    }
  }
  if(*s != '\0' || digits == 0) {
    return -1;
  }
  for(; decimals < 3; decimals++) {
    frac *= 10;
  }
  *ms = (uint32_t)(whole * 1000 + frac);
  return 0;
}
/*---------------------------------------------------------------------------*/
uint32_t
node_config_ms(const char *stem, uint32_t fallback)
{
  char key[40];
  const char *value;
  uint32_t ms;

  snprintf(key, sizeof(key), "%s_MS", stem);
  if(node_config_get(key) != NULL) {
    return (uint32_t)node_config_int(key, (long)fallback, 0, 2147483647L);
  }
  snprintf(key, sizeof(key), "%s_S", stem);
  value = node_config_get(key);
  if(value == NULL) {
    return fallback;
  }
  if(seconds_to_ms(value, &ms) < 0) {
    bad(key, "seconds (e.g. 1.5)", value);
    return fallback;
  }
  return ms;
}
/*---------------------------------------------------------------------------*/
int
node_config_load(struct node_config *config)
{
  static char sensors[NODE_CONFIG_SENSORS_SIZE];
  const char *list;
  char *p;

  config->name = node_config_string("NAME", "s1");
  config->seed = (int32_t)node_config_int("SEED", 1, -2147483647L - 1, 2147483647L);
  config->readings = (uint32_t)node_config_int("READINGS", 10, 0, 1000000L);
  config->interval_ms = node_config_ms("INTERVAL", 1000);
  if(config->interval_ms == 0) {
    bad("INTERVAL_MS", "a duration above 0", "0");
    config->interval_ms = 1000;
  }

  list = node_config_string("SENSORS", "temperature");
  config->sensor_count = 0;
  if(strlen(list) >= sizeof(sensors)) {
    bad("SENSORS", "a shorter list", list);
    list = "temperature";
  }
  strcpy(sensors, list);
  for(p = strtok(sensors, ","); p != NULL; p = strtok(NULL, ",")) {
    if(config->sensor_count == NODE_CONFIG_MAX_SENSORS) {
      bad("SENSORS", "at most NODE_CONFIG_CONF_MAX_SENSORS names", list);
      break;
    }
    config->sensors[config->sensor_count++] = p;
  }
  if(config->sensor_count == 0) {
    bad("SENSORS", "comma-separated sensor names", list);
    strcpy(sensors, "temperature");
    config->sensors[config->sensor_count++] = sensors;
  }
  return node_config_error() ? -1 : 0;
}
/*---------------------------------------------------------------------------*/
