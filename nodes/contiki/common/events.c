/*
 * events: JSON event lines on the console (see events.h).
 */
#include "events.h"
#include "reading.h"

#include <stdio.h>
#include <string.h>

#if CONTIKI_TARGET_NATIVE || CONTIKI_TARGET_MEDIUM
#define EVENTS_HOSTED 1
#include <sys/time.h>
#else
#define EVENTS_HOSTED 0
#include "contiki.h"
#endif

#ifdef NODE_CONF_EPOCH_MS
#define NODE_EPOCH_MS NODE_CONF_EPOCH_MS
#else
#define NODE_EPOCH_MS 0
#endif

#if !EVENTS_HOSTED
/* Unix time at boot, in ms */
static uint64_t epoch_ms = NODE_EPOCH_MS;
#endif
/*---------------------------------------------------------------------------*/
uint64_t
events_now_ms(void)
{
#if EVENTS_HOSTED
  struct timeval tv;

  gettimeofday(&tv, NULL);
  return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
#else
  return epoch_ms + (uint64_t)clock_time() * 1000 / CLOCK_SECOND;
#endif
}
/*---------------------------------------------------------------------------*/
void
events_set_now_ms(uint64_t unix_ms)
{
#if !EVENTS_HOSTED
  epoch_ms = unix_ms - (uint64_t)clock_time() * 1000 / CLOCK_SECOND;
#else
  (void)unix_ms;
#endif
}
/*---------------------------------------------------------------------------*/
int
events_console_command(const char *line)
{
  uint64_t ms = 0;
  const char *p;

  if(line == NULL || strncmp(line, "time ", 5) != 0) {
    return 0;
  }
  for(p = line + 5; *p >= '0' && *p <= '9'; p++) {
    ms = ms * 10 + (uint64_t)(*p - '0');
  }
  if(p == line + 5 || *p != '\0') {
    return 0;
  }
  events_set_now_ms(ms);
  return 1;
}
/*---------------------------------------------------------------------------*/
static int
put_text(char *buf, size_t size, size_t *len, const char *text)
{
  size_t n = strlen(text);

  if(*len + n >= size) {
    return -1;
  }
  memcpy(buf + *len, text, n + 1);
  *len += n;
  return 0;
}
/*---------------------------------------------------------------------------*/
/* "\\u00e9": four lowercase hex digits, as json.dumps writes them */
static const char *
u_escape(char esc[8], unsigned long unit)
{
  static const char hex[] = "0123456789abcdef";
  int i;

  esc[0] = '\\';
  esc[1] = 'u';
  for(i = 0; i < 4; i++) {
    esc[2 + i] = hex[(unit >> (12 - 4 * i)) & 0xf];
  }
  esc[6] = '\0';
  return esc;
}
/*---------------------------------------------------------------------------*/
static int
put_escape(char *buf, size_t size, size_t *len, unsigned long cp)
{
  char esc[8];

  switch(cp) {
  case '"': return put_text(buf, size, len, "\\\"");
  case '\\': return put_text(buf, size, len, "\\\\");
  case '\n': return put_text(buf, size, len, "\\n");
  case '\r': return put_text(buf, size, len, "\\r");
  case '\t': return put_text(buf, size, len, "\\t");
  case '\b': return put_text(buf, size, len, "\\b");
  case '\f': return put_text(buf, size, len, "\\f");
  }
  if(cp >= 0x20 && cp <= 0x7e) {
    esc[0] = (char)cp;
    esc[1] = '\0';
    return put_text(buf, size, len, esc);
  }
  if(cp >= 0x10000) { /* UTF-16 surrogate pair, as Python writes it */
    cp -= 0x10000;
    if(put_text(buf, size, len, u_escape(esc, 0xd800 + ((cp >> 10) & 0x3ff))) < 0) {
      return -1;
    }
    cp = 0xdc00 + (cp & 0x3ff);
  }
  return put_text(buf, size, len, u_escape(esc, cp & 0xffff));
}
/*---------------------------------------------------------------------------*/
/* One code point from UTF-8 (RFC 3629); *n = bytes used; U+FFFD for an invalid sequence. */
static unsigned long
utf8_next(const unsigned char *s, int *n)
{
  unsigned long cp;
  int extra, i;

  if(s[0] < 0x80) {
    *n = 1;
    return s[0];
  } else if((s[0] & 0xe0) == 0xc0) {
    cp = s[0] & 0x1f;
    extra = 1;
  } else if((s[0] & 0xf0) == 0xe0) {
    cp = s[0] & 0x0f;
    extra = 2;
  } else if((s[0] & 0xf8) == 0xf0) {
    cp = s[0] & 0x07;
    extra = 3;
  } else {
    *n = 1;
    return 0xfffd;
  }
  for(i = 1; i <= extra; i++) {
    if((s[i] & 0xc0) != 0x80) {
      *n = 1;
      return 0xfffd;
    }
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  *n = extra + 1;
  if((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000)
     || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    *n = 1;
    return 0xfffd;
  }
  return cp;
}
/*---------------------------------------------------------------------------*/
int
events_json_string(char *buf, size_t size, const char *s)
{
  const unsigned char *p = (const unsigned char *)s;
  size_t len = 0;
  int n;

  if(size == 0) {
    return -1;
  }
  buf[0] = '\0';
  if(put_text(buf, size, &len, "\"") < 0) {
    return -1;
  }
  while(*p) {
    if(put_escape(buf, size, &len, utf8_next(p, &n)) < 0) {
      return -1;
    }
    p += n;
  }
  if(put_text(buf, size, &len, "\"") < 0) {
    return -1;
  }
  return (int)len;
}
/*---------------------------------------------------------------------------*/
static void
overflow(struct event *e)
{
  e->len = EVENTS_LINE_SIZE; /* marks the event as too long; event_emit reports it */
}
/*---------------------------------------------------------------------------*/
static int
is_overflown(const struct event *e)
{
  return e->len >= EVENTS_LINE_SIZE;
}
/*---------------------------------------------------------------------------*/
/* ", " between members and `"key": ` (json.dumps' default separators) */
static void
key(struct event *e, const char *name)
{
  int n;

  if(is_overflown(e)) {
    return;
  }
  if(e->fields++ > 0 && put_text(e->line, sizeof(e->line), &e->len, ", ") < 0) {
    overflow(e);
    return;
  }
  n = events_json_string(e->line + e->len, sizeof(e->line) - e->len, name);
  if(n < 0) {
    overflow(e);
    return;
  }
  e->len += n;
  if(put_text(e->line, sizeof(e->line), &e->len, ": ") < 0) {
    overflow(e);
  }
  if(strcmp(name, "t") == 0) {
    e->has_t = 1;
  }
}
/*---------------------------------------------------------------------------*/
static void
raw(struct event *e, const char *text)
{
  if(!is_overflown(e) && put_text(e->line, sizeof(e->line), &e->len, text) < 0) {
    overflow(e);
  }
}
/*---------------------------------------------------------------------------*/
void
event_begin(struct event *e, const char *name)
{
  e->len = 0;
  e->fields = 0;
  e->has_t = 0;
  e->name = name;
  e->line[0] = '\0';
  raw(e, "{");
#if EVENTS_EVENT_FIRST
  event_string(e, "event", name);
#endif
}
/*---------------------------------------------------------------------------*/
void
event_string(struct event *e, const char *name, const char *value)
{
  int n;

  key(e, name);
  if(is_overflown(e)) {
    return;
  }
  n = events_json_string(e->line + e->len, sizeof(e->line) - e->len, value);
  if(n < 0) {
    overflow(e);
  } else {
    e->len += n;
  }
}
/*---------------------------------------------------------------------------*/
void
event_int(struct event *e, const char *name, long value)
{
  char text[24];

  snprintf(text, sizeof(text), "%ld", value);
  key(e, name);
  raw(e, text);
}
/*---------------------------------------------------------------------------*/
void
event_uint(struct event *e, const char *name, unsigned long value)
{
  char text[24];

  snprintf(text, sizeof(text), "%lu", value);
  key(e, name);
  raw(e, text);
}
/*---------------------------------------------------------------------------*/
void
event_tenths(struct event *e, const char *name, int tenths)
{
  char text[16];

  reading_tenths_text(text, sizeof(text), tenths);
  key(e, name);
  raw(e, text);
}
/*---------------------------------------------------------------------------*/
void
event_ms(struct event *e, const char *name, uint64_t ms)
{
  char text[32];

  reading_seconds_repr(text, sizeof(text), ms);
  key(e, name);
  raw(e, text);
}
/*---------------------------------------------------------------------------*/
void
event_bool(struct event *e, const char *name, int value)
{
  key(e, name);
  raw(e, value ? "true" : "false");
}
/*---------------------------------------------------------------------------*/
void
event_null(struct event *e, const char *name)
{
  key(e, name);
  raw(e, "null");
}
/*---------------------------------------------------------------------------*/
void
event_emit(struct event *e)
{
  const char *name = e->name;

#if !EVENTS_EVENT_FIRST
  event_string(e, "event", name);
#endif
  if(!e->has_t) {
    event_ms(e, "t", events_now_ms());
  }
  raw(e, "}");
  if(is_overflown(e)) {
    event_begin(e, "error");
    event_string(e, "what", "event line too long");
    event_string(e, "dropped", name);
#if !EVENTS_EVENT_FIRST
    event_string(e, "event", "error");
#endif
    event_ms(e, "t", events_now_ms());
    raw(e, "}");
  }
  printf("%s\n", e->line);
#if EVENTS_HOSTED
  fflush(stdout); /* stdout is a pipe to the orchestrator: line by line, not by 4 KB */
#endif
}
/*---------------------------------------------------------------------------*/
void
events_simple(const char *name)
{
  struct event e;

  event_begin(&e, name);
  event_emit(&e);
}
/*---------------------------------------------------------------------------*/
void
events_error(const char *what)
{
  struct event e;

  event_begin(&e, "error");
  event_string(&e, "what", what);
  event_emit(&e);
}
/*---------------------------------------------------------------------------*/
