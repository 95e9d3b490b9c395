/*
 * xmpp-sensor: compile-time options. The run-time configuration (name, server, mode ...)
 * comes from node-config (TESTBED_<KEY>: environment on native/medium, macros on boards);
 * which XMPP client modules are in comes from the Makefile's XMPP_MODULES.
 */
#ifndef PROJECT_CONF_H_
#define PROJECT_CONF_H_

/* uIP TCP: one connection to the server, no listening port */
#define UIP_CONF_TCP 1
#define UIP_CONF_MAX_CONNECTIONS 2
#define UIP_CONF_MAX_LISTENPORTS 1

/* The client's buffers: the output holds the largest stanza (a pubsub publish of four
 * sensors is about 600 bytes) and what uIP has not yet seen acknowledged. */
#define XMPP_CONF_OUTPUT_BUFFER 1024
#define XMPP_CONF_INPUT_BUFFER 64
/* JIDs and ids the client keeps to address its answers (the sink's full JID) */
#define XMPP_XML_CONF_VALUE_MAX 96

/* Readings kept while disconnected (config queue_limit is capped to this), and publishes
 * awaiting their result */
#ifndef XMPP_SENSOR_CONF_QUEUE_MAX
#define XMPP_SENSOR_CONF_QUEUE_MAX 32
#endif

/* EVENTS_CONF_EVENT_FIRST and EVENTS_CONF_LINE_SIZE are set in the Makefile: events.c
 * includes events.h before contiki.h, so it would not see them here. */

/* The JSON event lines are the console's job; keep Contiki's own log to warnings, and the
 * IPv6 module's to errors: uip6.c's "tcp: got reset" warning has no newline, and the event
 * line after it would not start a line of its own. */
#define LOG_CONF_LEVEL_MAIN LOG_LEVEL_WARN
#define LOG_CONF_LEVEL_IPV6 LOG_LEVEL_ERR
#define LOG_CONF_LEVEL_TCPIP LOG_LEVEL_WARN
#define LOG_CONF_LEVEL_APP LOG_LEVEL_WARN
#define LOG_CONF_LEVEL_XMPP LOG_LEVEL_WARN

/* Boards: the node's configuration as TESTBED_<KEY> string macros (node-config.h), e.g.
 *   #define TESTBED_NAME "s1"
 *   #define TESTBED_SERVER "fd00::1"
 * (the password too: TESTBED_PASSWORD, which is then in the image) and the Unix time at
 * boot in ms, until set at run time (events.h). */
#ifndef NODE_CONF_EPOCH_MS
#define NODE_CONF_EPOCH_MS 0
#endif

/* How a node keeps and regains its RPL parent (shared by the PAN's nodes) */
#include "../common/pan-rpl-conf.h"

#endif /* PROJECT_CONF_H_ */
