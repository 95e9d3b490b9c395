/*
 * res-sensors: the coap-sensor's CoAP resources on Contiki-NG's engine, as the Python app
 * serves them (nodes/coap-sensor/main.py):
 *   /.well-known/core   RFC 6690 link format, '</sensors/<name>>;rt="<name>";ct=<fmt>[;obs]'
 *   /sensors/<name>     GET -> 2.05 with ETag (SHA-256 of the payload, 4 bytes), Content-Format
 *                       (Accept: text/plain 0 or SenML CBOR 112, else 4.06) and Max-Age;
 *                       observable (RFC 7641) when the configuration's observe is con or non.
 * Readings: GET mode (observe unset): every GET answered is reading seq + 1. Observe mode: a
 * GET (the registration too) answers the current state (seq 0 before the first reading) and
 * is not a reading; res_sensors_tick() makes the next reading and notifies the observers.
 */
#ifndef RES_SENSORS_H_
#define RES_SENSORS_H_

#include "contiki.h"
#include "node-config.h"

/* RFC 7252 §12.3, RFC 6690, RFC 8428 §12.3 */
#define RES_SENSORS_TEXT_PLAIN 0
#define RES_SENSORS_LINK_FORMAT 40
#define RES_SENSORS_SENML_JSON 110
#define RES_SENSORS_SENML_CBOR 112

enum res_sensors_observe {
  RES_SENSORS_GET,   /* no Observe: every GET answered is a reading */
  RES_SENSORS_CON,   /* Observe, confirmable notifications */
  RES_SENSORS_NON,   /* Observe, non-confirmable notifications */
};

struct res_sensors_config {
  const struct node_config *node;
  unsigned content_format;
  enum res_sensors_observe observe;
  uint32_t max_age;     /* sent only when not RFC 7252's default (RES_SENSORS_MAX_AGE) */
  int etag;             /* an ETag only when configured: no sink validates one */
};

#define RES_SENSORS_MAX_AGE 60

/* Posted to `owner` with data = (void *)(uintptr_t)index when sensor `index` gets its first
 * observer: its notification clock starts then (main.py: next_tick). */
extern process_event_t res_sensors_registered;

/* Activate /.well-known/core and /sensors/<name> for every sensor; 0, or -1 with an "error"
 * event when a sensor's path does not fit the engine's limits. */
int res_sensors_init(const struct res_sensors_config *config, struct process *owner);

/* Sensor `index`'s notification is due: if it still has observers and fewer than `readings`
 * readings, make the next reading and notify (RFC 7641 §4.2). */
void res_sensors_tick(uint8_t index);

/* Observe mode: every sensor made `readings` readings. */
int res_sensors_done(void);

#endif /* RES_SENSORS_H_ */
