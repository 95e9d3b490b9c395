/*
 * node-config: a node app's configuration by key, the C side of CONFIG.json
 * (docs/CONTRACTS.md "Node firmware"; defaults = the app's manifest.toml).
 *
 * Keys are the manifest's keys in upper case: "READINGS", "INTERVAL_S", "PORT" ...
 * - Linux-hosted targets (native, medium): environment variables TESTBED_<KEY>, set by the
 *   orchestrator when it starts the node (TESTBED_NAME=s1 TESTBED_READINGS=10 ...).
 * - Boards: project-conf.h macros with the same names, each a string literal:
 *     #define TESTBED_NAME "s1"
 *     #define TESTBED_READINGS "10"
 *   (node-config.c lists every key the apps know; a new key needs a line there).
 *   The testbed writes them into a header it force-includes (BuildOptions.config in
 *   testbed/contiki/build.py); NODE_CONFIG_CONF_FROM_ENV=0 does the same for a Linux-hosted
 *   target, the way a lab's native board is configured.
 * Durations: node_config_ms("INTERVAL", 1000) reads TESTBED_INTERVAL_MS (integer ms) or
 * TESTBED_INTERVAL_S (decimal seconds, "1.5", as the manifest writes them).
 *
 * Bad values (not a number, out of range) keep the default and are remembered:
 * node_config_error() names the first one, so the app can say so in an "error" event.
 */
#ifndef NODE_CONFIG_H_
#define NODE_CONFIG_H_

#include <stdint.h>

#ifdef NODE_CONFIG_CONF_MAX_SENSORS
#define NODE_CONFIG_MAX_SENSORS NODE_CONFIG_CONF_MAX_SENSORS
#else
#define NODE_CONFIG_MAX_SENSORS 4
#endif

#ifdef NODE_CONFIG_CONF_SENSORS_SIZE
#define NODE_CONFIG_SENSORS_SIZE NODE_CONFIG_CONF_SENSORS_SIZE
#else
#define NODE_CONFIG_SENSORS_SIZE 64
#endif

/* The keys both apps share (CONTRACTS.md "common"), with the manifests' defaults. */
struct node_config {
  const char *name;           /* NAME, "s1" */
  int32_t seed;               /* SEED, 1 */
  uint32_t readings;          /* READINGS, 10 */
  uint32_t interval_ms;       /* INTERVAL_MS or INTERVAL_S, 1000 */
  const char *sensors[NODE_CONFIG_MAX_SENSORS]; /* SENSORS, "temperature" (comma-separated) */
  uint8_t sensor_count;
};

/* The raw value of TESTBED_<key>, or NULL when it is not set. */
const char *node_config_get(const char *key);
const char *node_config_string(const char *key, const char *fallback);
long node_config_int(const char *key, long fallback, long min, long max);
/* "1"/"true"/"yes"/"on" and "0"/"false"/"no"/"off" (any case) */
int node_config_bool(const char *key, int fallback);
/* <stem>_MS (integer) or <stem>_S (decimal seconds, millisecond precision) */
uint32_t node_config_ms(const char *stem, uint32_t fallback);

/* Fill the common keys; 0, or -1 if a value was bad (see node_config_error()). */
int node_config_load(struct node_config *config);

/* "TESTBED_READINGS: expected an integer in 0..1000000, got 'x'", or NULL if all were good. */
const char *node_config_error(void);

#endif /* NODE_CONFIG_H_ */
