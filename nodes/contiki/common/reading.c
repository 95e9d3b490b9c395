/*
 * reading: values and payloads of one reading (see reading.h for what it is and is not).
 */
#include "reading.h"

#include <stdio.h>
#include <string.h>

/*---------------------------------------------------------------------------*/
/* Python's a % b for b > 0: never negative. */
static int64_t
py_mod(int64_t a, int64_t b)
{
  int64_t r = a % b;
  return r < 0 ? r + b : r;
}
/*---------------------------------------------------------------------------*/
/* Feed the UTF-8 bytes of name + "/" + sensor to a step function, as `.encode()` does. */
#define FOR_EACH_BYTE(name, sensor, byte, body) do { \
    const char *parts_[3] = { (name), "/", (sensor) }; \
    int part_; \
    for(part_ = 0; part_ < 3; part_++) { \
      const unsigned char *p_ = (const unsigned char *)parts_[part_]; \
      for(; *p_ != '\0'; p_++) { \
        int64_t byte = *p_; \
        body; \
      } \
    } \
} while(0)
/*---------------------------------------------------------------------------*/
int
reading_value(const char *name, const char *sensor, uint32_t seq, int32_t seed)
{
  int64_t offset = 0;

  FOR_EACH_BYTE(name, sensor, byte, offset = (offset * 31 + byte) % 1000);
  return 200 + (int)py_mod((int64_t)seq * 37 + (int64_t)seed * 11 + offset, 100);
}
/*---------------------------------------------------------------------------*/
static int
fitted(int n, size_t size)
{
  return (n < 0 || (size_t)n >= size) ? -1 : n;
}
/*---------------------------------------------------------------------------*/
int
reading_tenths_text(char *buf, size_t size, int tenths)
{
  unsigned long magnitude = tenths < 0 ? (unsigned long)(-(long)tenths) : (unsigned long)tenths;

  return fitted(snprintf(buf, size, "%s%lu.%lu", tenths < 0 ? "-" : "",
                         magnitude / 10, magnitude % 10), size);
}
/*---------------------------------------------------------------------------*/
/* Whole seconds and milliseconds as two unsigned longs (newlib-nano printf has no %llu). */
static int
seconds_text(char *buf, size_t size, uint64_t t_ms, int repr)
{
  char whole[24];
  char *w = whole + sizeof(whole);
  uint64_t s = t_ms / 1000;
  unsigned ms = (unsigned)(t_ms % 1000);
  char frac[4];

  *--w = '\0';
  do {
    *--w = (char)('0' + (int)(s % 10));
    s /= 10;
  } while(s > 0);
  snprintf(frac, sizeof(frac), "%03u", ms);
  if(repr) {
    /* the shortest decimal that reads back as the same double: trailing zeros go, one stays */
    if(frac[2] == '0') {
      frac[2] = '\0';
      if(frac[1] == '0') {
        frac[1] = '\0';
      }
    }
  }
  return fitted(snprintf(buf, size, "%s.%s", w, frac), size);
}
/*---------------------------------------------------------------------------*/
int
reading_seconds_repr(char *buf, size_t size, uint64_t t_ms)
{
  return seconds_text(buf, size, t_ms, 1);
}
/*---------------------------------------------------------------------------*/
int
reading_seconds_fixed3(char *buf, size_t size, uint64_t t_ms)
{
  return seconds_text(buf, size, t_ms, 0);
}
/*---------------------------------------------------------------------------*/
int
reading_text(char *buf, size_t size, uint32_t seq, uint64_t t_ms, int tenths)
{
  char t[24];
  char v[16];

  if(reading_seconds_fixed3(t, sizeof(t), t_ms) < 0
     || reading_tenths_text(v, sizeof(v), tenths) < 0) {
    return -1;
  }
  return fitted(snprintf(buf, size, "seq=%lu t=%s v=%s", (unsigned long)seq, t, v), size);
}
/*---------------------------------------------------------------------------*/
/* RFC 8428 §12.1 units, as reading.py UNITS */
static const char *const units[][2] = {
  { "temperature", "Cel" },
  { "humidity", "%RH" },
  { "pressure", "Pa" },
  { "illuminance", "lx" },
};
/*---------------------------------------------------------------------------*/
const char *
reading_senml_unit(const char *sensor)
{
  size_t i;

  for(i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
    if(strcmp(sensor, units[i][0]) == 0) {
      return units[i][1];
    }
  }
  return NULL;
}
/*---------------------------------------------------------------------------*/
/* A text writer that counts what did not fit instead of checking every call. */
struct json {
  char *buf;
  size_t size;
  size_t len;
};
static void
json_put(struct json *j, const char *text)
{
  for(; *text != '\0'; text++) {
    if(j->len + 1 < j->size) {
      j->buf[j->len] = *text;
    }
    j->len++;
  }
}
/* RFC 8259 §7, as reading.py _json_string: quote, backslash and control characters escaped */
static void
json_string(struct json *j, const char *text, const char *suffix)
{
  char esc[8];

  json_put(j, "\"");
  for(; *text != '\0'; text++) {
    unsigned char ch = (unsigned char)*text;
    if(ch == '"' || ch == '\\') {
      esc[0] = '\\';
      esc[1] = (char)ch;
      esc[2] = '\0';
    } else if(ch < 0x20) {
      snprintf(esc, sizeof(esc), "\\u%04x", ch);
    } else {
      esc[0] = (char)ch;
      esc[1] = '\0';
    }
    json_put(j, esc);
  }
  if(suffix != NULL) {
    json_put(j, suffix);
  }
  json_put(j, "\"");
}
/*---------------------------------------------------------------------------*/
int
reading_senml_json(char *buf, size_t size, const char *name, const char *const *sensors,
                   const int *tenths, int count, uint32_t seq, uint64_t t_ms)
{
  struct json j = { buf, size, 0 };
  char number[24];
  const char *unit;
  int i;

  json_put(&j, "[");
  for(i = 0; i < count; i++) {
    json_put(&j, i ? ",{" : "{\"bn\":");
    if(i == 0) {
      json_string(&j, name, "/");
      reading_seconds_fixed3(number, sizeof(number), t_ms);
      json_put(&j, ",\"bt\":");
      json_put(&j, number);
      json_put(&j, ",");
    }
    json_put(&j, "\"n\":");
    json_string(&j, sensors[i], NULL);
    unit = reading_senml_unit(sensors[i]);
    if(unit != NULL) {
      json_put(&j, ",\"u\":");
      json_string(&j, unit, NULL);
    }
    reading_tenths_text(number, sizeof(number), tenths[i]);
    json_put(&j, ",\"v\":");
    json_put(&j, number);
    json_put(&j, "}");
  }
  snprintf(number, sizeof(number), "%lu", (unsigned long)seq);
  json_put(&j, ",{\"n\":\"seq\",\"v\":");
  json_put(&j, number);
  json_put(&j, "}]");
  if(size > 0) {
    buf[j.len < size ? j.len : size - 1] = '\0';
  }
  return j.len < size ? (int)j.len : -1;
}
/*---------------------------------------------------------------------------*/
/* A CBOR writer that counts what did not fit instead of checking every call. */
struct cbor {
  uint8_t *buf;
  size_t size;
  size_t len;
};

static void
put(struct cbor *c, uint8_t byte)
{
  if(c->len < c->size) {
    c->buf[c->len] = byte;
  }
  c->len++;
}
/*---------------------------------------------------------------------------*/
static void
put_be(struct cbor *c, uint64_t value, int bytes)
{
  while(bytes-- > 0) {
    put(c, (uint8_t)(value >> (8 * bytes)));
  }
}
/*---------------------------------------------------------------------------*/
/* RFC 8949 §3: initial byte = major type << 5 | additional information */
static void
head(struct cbor *c, uint8_t major, uint64_t argument)
{
  if(argument < 24) {
    put(c, (uint8_t)((major << 5) | argument));
  } else if(argument < 0x100) {
    put(c, (uint8_t)((major << 5) | 24));
    put_be(c, argument, 1);
  } else if(argument < 0x10000) {
    put(c, (uint8_t)((major << 5) | 25));
    put_be(c, argument, 2);
  } else if(argument < 0x100000000ULL) {
    put(c, (uint8_t)((major << 5) | 26));
    put_be(c, argument, 4);
  } else {
    put(c, (uint8_t)((major << 5) | 27));
    put_be(c, argument, 8);
  }
}
/*---------------------------------------------------------------------------*/
/* RFC 8949 §3.1 major types 0 and 1 */
static void
integer(struct cbor *c, int64_t value)
{
  if(value >= 0) {
    head(c, 0, (uint64_t)value);
  } else {
    head(c, 1, (uint64_t)(-1 - value));
  }
}
/*---------------------------------------------------------------------------*/
static void
text(struct cbor *c, const char *s, const char *suffix)
{
  size_t a = strlen(s);
  size_t b = suffix ? strlen(suffix) : 0;

  head(c, 3, a + b);
  while(*s) {
    put(c, (uint8_t)*s++);
  }
  while(suffix && *suffix) {
    put(c, (uint8_t)*suffix++);
  }
}
/*---------------------------------------------------------------------------*/
/* RFC 8949 §3.3, as senml.py _float: single precision (0xfa) when it holds the value
 * exactly, else double (0xfb). */
static void
floating(struct cbor *c, double value)
{
  uint64_t bits64;
  uint32_t bits32;
  float single;

  if(value <= 3.4028234663852886e38 && value >= -3.4028234663852886e38) {
    single = (float)value;
    if((double)single == value) {
      memcpy(&bits32, &single, sizeof(bits32));
      put(c, 0xfa);
      put_be(c, bits32, 4);
      return;
    }
  }
  memcpy(&bits64, &value, sizeof(bits64));
  put(c, 0xfb);
  put_be(c, bits64, 8);
}
/*---------------------------------------------------------------------------*/
/* RFC 8428 §6 (table 4) integer labels */
#define SENML_BASE_NAME -2
#define SENML_BASE_TIME -3
#define SENML_NAME 0
#define SENML_UNIT 1
#define SENML_VALUE 2

int
reading_senml_cbor(uint8_t *buf, size_t size, const char *name, const char *sensor,
                   uint32_t seq, uint64_t t_ms, int tenths)
{
  struct cbor c = { buf, size, 0 };
  const char *unit = reading_senml_unit(sensor);
  /* the same double operations as Python's t_ms / 1000 and 20 + k / 10 (both exact-rounded) */
  double t = (double)t_ms / 1000.0;
  double value = (double)tenths / 10.0;

  head(&c, 4, 2);
  head(&c, 5, unit ? 5 : 4);
  integer(&c, SENML_BASE_NAME);
  text(&c, name, "/");
  integer(&c, SENML_BASE_TIME);
  floating(&c, t);
  integer(&c, SENML_NAME);
  text(&c, sensor, NULL);
  if(unit) {
    integer(&c, SENML_UNIT);
    text(&c, unit, NULL);
  }
  integer(&c, SENML_VALUE);
  floating(&c, value);
  head(&c, 5, 2);
  integer(&c, SENML_NAME);
  text(&c, "seq", NULL);
  integer(&c, SENML_VALUE);
  integer(&c, seq);
  return c.len <= size ? (int)c.len : -1;
}
/*---------------------------------------------------------------------------*/
