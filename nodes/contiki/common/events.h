/*
 * events: the JSON event lines a node prints on its console (docs/CONTRACTS.md "Node
 * firmware"), byte for byte as the Python apps' json.dumps prints them, so
 * testbed/experiment/nodes.py reads C nodes unchanged.
 *
 *   struct event e;
 *   event_begin(&e, "reading");
 *   event_uint(&e, "seq", 3);
 *   event_string(&e, "sensor", "temperature");
 *   event_tenths(&e, "value", 225);
 *   event_emit(&e);      -> {"event": "reading", "seq": 3, "sensor": "temperature", "value": 22.5, "t": 1764836439.123}
 *
 * Key order: coap-sensor's emit writes "event" first; xmpp-sensor's writes it after the
 * fields (before "t"): EVENTS_CONF_EVENT_FIRST 1 (default) or 0. "t" is added last unless a
 * field named "t" was given.
 *
 * Time base (events_now_ms): Unix time in ms. Linux-hosted targets (native, medium):
 * gettimeofday(). Boards: milliseconds since boot (clock_time()) plus an epoch offset, from
 * NODE_CONF_EPOCH_MS (project-conf.h, default 0) until events_set_now_ms() sets the time
 * (the orchestrator's console line "time <unix ms>", events_console_command()).
 * Resolution: 1 ms (Python's "t" has more).
 */
#ifndef EVENTS_H_
#define EVENTS_H_

#include <stddef.h>
#include <stdint.h>

#ifdef EVENTS_CONF_EVENT_FIRST
#define EVENTS_EVENT_FIRST EVENTS_CONF_EVENT_FIRST
#else
#define EVENTS_EVENT_FIRST 1
#endif

#ifdef EVENTS_CONF_LINE_SIZE
#define EVENTS_LINE_SIZE EVENTS_CONF_LINE_SIZE
#else
#define EVENTS_LINE_SIZE 256
#endif

struct event {
  char line[EVENTS_LINE_SIZE];
  size_t len;
  const char *name;
  uint8_t fields;
  uint8_t has_t;
};

/* Unix time in milliseconds (see the time base above). */
uint64_t events_now_ms(void);
/* Boards: set the current Unix time; Linux-hosted targets ignore it (their clock is right). */
void events_set_now_ms(uint64_t unix_ms);

/* A console line "time <unix ms>" (the orchestrator over the serial port) sets the clock
 * with events_set_now_ms(); 1 if the line was that command, 0 for any other line. */
int events_console_command(const char *line);

void event_begin(struct event *e, const char *name);
void event_string(struct event *e, const char *key, const char *value);
void event_int(struct event *e, const char *key, long value);
void event_uint(struct event *e, const char *key, unsigned long value);
/* a float with one decimal, given in tenths: 225 -> 22.5 */
void event_tenths(struct event *e, const char *key, int tenths);
/* a float in seconds given in milliseconds, printed as Python's repr: 1500 -> 1.5 */
void event_ms(struct event *e, const char *key, uint64_t ms);
void event_bool(struct event *e, const char *key, int value);
void event_null(struct event *e, const char *key);
/* Adds "t" (now) unless given, closes the object, prints the line and flushes it. A line
 * that would not fit in EVENTS_LINE_SIZE is printed as an "error" event saying so. */
void event_emit(struct event *e);

/* JSON string as json.dumps(ensure_ascii=True) writes it, quotes included; the length, or -1
 * when it does not fit. Invalid UTF-8 bytes become \ufffd. */
int events_json_string(char *buf, size_t size, const char *s);

/* The one-line shortcuts the apps use most. */
void events_simple(const char *name);
void events_error(const char *what);

#endif /* EVENTS_H_ */
