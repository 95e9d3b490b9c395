/*
 * coap-sensor: compile-time options. The run-time configuration (name, readings, format,
 * observe ...) comes from node-config (TESTBED_<KEY>: environment on native/medium, macros
 * below on boards).
 */
#ifndef PROJECT_CONF_H_
#define PROJECT_CONF_H_

/* Payload room of one CoAP message (the engine's default, 64, is too small for a SenML CBOR
 * pack with a long node name, and /.well-known/core of several sensors). */
#ifndef COAP_MAX_CHUNK_SIZE
#define COAP_MAX_CHUNK_SIZE 128
#endif

/* res-sensors.c serves /.well-known/core itself, in the Python app's link format */
#define COAP_CONF_WELL_KNOWN_RESOURCE_ENABLED 0

/* The engine's own limits apply as they are (os/net/app-layer/coap/coap-conf.h):
 * COAP_MAX_OPEN_TRANSACTIONS 4, COAP_MAX_OBSERVERS 3, COAP_OBSERVER_URL_LEN 20,
 * COAP_RESPONSE_TIMEOUT 3 s, COAP_MAX_RETRANSMIT 4. */

/* The JSON event lines are the console's job; keep Contiki's own log to warnings. */
#define LOG_CONF_LEVEL_COAP LOG_LEVEL_WARN
#define LOG_CONF_LEVEL_APP LOG_LEVEL_WARN

/* Boards: the node's configuration as TESTBED_<KEY> string macros (node-config.h), e.g.
 *   #define TESTBED_NAME "s1"
 *   #define TESTBED_OBSERVE "con"
 * and the Unix time at boot in ms, until set at run time (events.h). */
#ifndef NODE_CONF_EPOCH_MS
#define NODE_CONF_EPOCH_MS 0
#endif

/* How a node keeps and regains its RPL parent (shared by the PAN's nodes) */
#include "../common/pan-rpl-conf.h"

#endif /* PROJECT_CONF_H_ */
