/*
 * DNS message writer and reader for mDNS (see mdns-msg.h).
 */
#include "mdns-msg.h"

#include <string.h>

#define POINTER 0xc0
#define POINTER_MAX 0x3fff
#define HEADER_LEN 12
/*---------------------------------------------------------------------------*/
static uint8_t
fold(uint8_t c)
{
  return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}
/*---------------------------------------------------------------------------*/
uint16_t
mdns_name_len(const uint8_t *name)
{
  uint16_t len = 0;

  while(name[len] != 0) {
    len += name[len] + 1;
  }
  return len + 1;
}
/*---------------------------------------------------------------------------*/
int
mdns_name_equal(const uint8_t *a, const uint8_t *b)
{
  uint16_t i;
  uint16_t len = mdns_name_len(a);

  if(len != mdns_name_len(b)) {
    return 0;
  }
  for(i = 0; i < len; i++) {
    if(fold(a[i]) != fold(b[i])) {
      return 0;
    }
  }
  return 1;
}
/*---------------------------------------------------------------------------*/
int
mdns_name_append(uint8_t *out, uint16_t size, const char *label, uint16_t label_len)
{
  uint16_t end = mdns_name_len(out) - 1;

  if(label_len == 0 || label_len > 63 || end + 1 + label_len + 1 > size
     || end + 1 + label_len + 1 > MDNS_NAME_MAX) {
    return -1;
  }
  out[end] = (uint8_t)label_len;
  memcpy(out + end + 1, label, label_len);
  out[end + 1 + label_len] = 0;
  return 0;
}
/*---------------------------------------------------------------------------*/
int
mdns_name_extend(uint8_t *out, uint16_t size, const uint8_t *suffix)
{
  while(*suffix != 0) {
    if(mdns_name_append(out, size, (const char *)suffix + 1, *suffix) < 0) {
      return -1;
    }
    suffix += *suffix + 1;
  }
  return 0;
}
/*---------------------------------------------------------------------------*/
int
mdns_name_text(const uint8_t *name, char *out, uint16_t size)
{
  uint16_t n = 0;

  if(size == 0) {
    return -1;
  }
  while(*name != 0) {
    if(n + (n > 0) + *name + 1 > size) {
      out[n] = '\0';
      return -1;
    }
    if(n > 0) {
      out[n++] = '.';
    }
    memcpy(out + n, name + 1, *name);
    n += *name;
    name += *name + 1;
  }
  out[n] = '\0';
  return n;
}
/*---------------------------------------------------------------------------*/
/* Whether the (possibly compressed) name at `at` in the message is `name`. */
static int
equal_at(const uint8_t *buf, uint16_t len, uint16_t at, const uint8_t *name)
{
  uint8_t hops = 0;
  uint8_t i;

  while(at < len) {
    if((buf[at] & POINTER) == POINTER) {
      if(at + 1 >= len || ++hops > 16) {
        return 0;
      }
      at = ((buf[at] & 0x3f) << 8) | buf[at + 1];
      continue;
    }
    if(buf[at] != *name || at + 1 + buf[at] > len) {
      return 0;
    }
    if(*name == 0) {
      return 1;
    }
    for(i = 1; i <= *name; i++) {
      if(fold(buf[at + i]) != fold(name[i])) {
        return 0;
      }
    }
    at += *name + 1;
    name += *name + 1;
  }
  return 0;
}
/*---------------------------------------------------------------------------*/
static void
put16(uint8_t *p, uint16_t v)
{
  p[0] = v >> 8;
  p[1] = v & 0xff;
}
/*---------------------------------------------------------------------------*/
void
mdns_writer_init(struct mdns_writer *w, uint8_t *buf, uint16_t size, uint16_t id,
                 uint16_t flags)
{
  memset(w, 0, sizeof(*w));
  w->buf = buf;
  w->size = size;
  if(size < HEADER_LEN) {
    w->full = 1;
    return;
  }
  memset(buf, 0, HEADER_LEN);
  put16(buf, id);
  put16(buf + 2, flags);
  w->len = HEADER_LEN;
}
/*---------------------------------------------------------------------------*/
/* The name, compressed against the labels written before (RFC 1035 §4.1.4). */
static int
write_name(struct mdns_writer *w, const uint8_t *name)
{
  uint8_t i;

  while(*name != 0) {
    for(i = 0; i < w->label_count; i++) {
      if(equal_at(w->buf, w->len, w->labels[i], name)) {
        if(w->len + 2 > w->size) {
          return -1;
        }
        put16(w->buf + w->len, (uint16_t)(0xc000 | w->labels[i]));
        w->len += 2;
        return 0;
      }
    }
    if(w->len + 1 + *name > w->size) {
      return -1;
    }
    if(w->label_count < MDNS_WRITER_LABELS && w->len <= POINTER_MAX) {
      w->labels[w->label_count++] = w->len;
    }
    memcpy(w->buf + w->len, name, *name + 1);
    w->len += *name + 1;
    name += *name + 1;
  }
  if(w->len + 1 > w->size) {
    return -1;
  }
  w->buf[w->len++] = 0;
  return 0;
}
/*---------------------------------------------------------------------------*/
/* Run a write; on failure the message and the compression table are as before it. */
#define TRY_BEGIN uint16_t saved_len = w->len; uint8_t saved_labels = w->label_count
#define TRY_FAIL do { w->len = saved_len; w->label_count = saved_labels; w->full = 1; \
                      return -1; } while(0)
/*---------------------------------------------------------------------------*/
int
mdns_write_question(struct mdns_writer *w, const uint8_t *name, uint16_t type, int unicast)
{
  TRY_BEGIN;

  if(w->full || write_name(w, name) < 0 || w->len + 4 > w->size) {
    TRY_FAIL;
  }
  put16(w->buf + w->len, type);
  put16(w->buf + w->len + 2, MDNS_CLASS_IN | (unicast ? MDNS_CLASS_TOP_BIT : 0));
  w->len += 4;
  w->counts[MDNS_QUESTION]++;
  return 0;
}
/*---------------------------------------------------------------------------*/
int
mdns_write_rr(struct mdns_writer *w, int section, const struct mdns_rr *rr)
{
  uint16_t rdata_at;
  TRY_BEGIN;

  if(w->full || write_name(w, rr->name) < 0 || w->len + 10 > w->size) {
    TRY_FAIL;
  }
  put16(w->buf + w->len, rr->type);
  put16(w->buf + w->len + 2, MDNS_CLASS_IN | (rr->flush ? MDNS_CLASS_TOP_BIT : 0));
  put16(w->buf + w->len + 4, (uint16_t)(rr->ttl >> 16));
  put16(w->buf + w->len + 6, (uint16_t)(rr->ttl & 0xffff));
  w->len += 10;
  rdata_at = w->len;
  if(rr->type == MDNS_TYPE_PTR) {
    if(write_name(w, rr->target) < 0) {
      TRY_FAIL;
    }
  } else if(rr->type == MDNS_TYPE_SRV) {
    if(w->len + 6 > w->size) {
      TRY_FAIL;
    }
    put16(w->buf + w->len, 0);
    put16(w->buf + w->len + 2, 0);
    put16(w->buf + w->len + 4, rr->port);
    w->len += 6;
    if(write_name(w, rr->target) < 0) {
      TRY_FAIL;
    }
  } else {
    if(w->len + rr->data_len > w->size) {
      TRY_FAIL;
    }
    memcpy(w->buf + w->len, rr->data, rr->data_len);
    w->len += rr->data_len;
  }
  put16(w->buf + rdata_at - 2, w->len - rdata_at);
  w->counts[section]++;
  return 0;
}
/*---------------------------------------------------------------------------*/
uint16_t
mdns_writer_finish(struct mdns_writer *w)
{
  uint8_t i;

  if(w->len < HEADER_LEN) {
    return 0;
  }
  for(i = 0; i < 4; i++) {
    put16(w->buf + 4 + 2 * i, w->counts[i]);
  }
  return w->len;
}
/*---------------------------------------------------------------------------*/
void
mdns_reader_init(struct mdns_reader *r, const uint8_t *buf, uint16_t len)
{
  r->buf = buf;
  r->len = len;
  r->pos = 0;
  r->error_at = -1;
  r->error = NULL;
}
/*---------------------------------------------------------------------------*/
static int
fail(struct mdns_reader *r, uint16_t at, const char *what)
{
  if(r->error_at < 0) {
    r->error_at = at;
    r->error = what;
  }
  return -1;
}
/*---------------------------------------------------------------------------*/
static uint16_t
get16(const uint8_t *p)
{
  return (uint16_t)((p[0] << 8) | p[1]);
}
/*---------------------------------------------------------------------------*/
int
mdns_read_header(struct mdns_reader *r, struct mdns_header *h)
{
  uint8_t i;

  if(r->len < HEADER_LEN) {
    return fail(r, 0, "message shorter than the 12-byte header");
  }
  h->id = get16(r->buf);
  h->flags = get16(r->buf + 2);
  for(i = 0; i < 4; i++) {
    h->counts[i] = get16(r->buf + 4 + 2 * i);
  }
  r->pos = HEADER_LEN;
  return 0;
}
/*---------------------------------------------------------------------------*/
/* The name at `at` into `out`; where the name ends in the message (after its first
 * pointer, if any) into *end. */
static int
read_name_at(struct mdns_reader *r, uint16_t at, uint8_t *out, uint16_t *end)
{
  uint16_t n = 0;
  uint8_t jumped = 0;
  uint16_t limit = r->len; /* after a jump, labels must end before the pointer: no loops */

  while(1) {
    if(at >= limit) {
      return fail(r, at, "name runs past its end");
    }
    if((r->buf[at] & POINTER) == POINTER) {
      uint16_t to;
      if(at + 1 >= limit) {
        return fail(r, at, "compression pointer cut off");
      }
      to = ((r->buf[at] & 0x3f) << 8) | r->buf[at + 1];
      if(to >= at) {
        return fail(r, at, "compression pointer is not backwards");
      }
      if(!jumped) {
        *end = at + 2;
        jumped = 1;
      }
      limit = at;
      at = to;
      continue;
    }
    if(r->buf[at] & POINTER) {
      return fail(r, at, "label type unknown");
    }
    if(r->buf[at] == 0) {
      out[n] = 0;
      if(!jumped) {
        *end = at + 1;
      }
      return 0;
    }
    if(at + 1 + r->buf[at] > limit) {
      return fail(r, at, "label runs past its end");
    }
    if(n + 1 + r->buf[at] + 1 > MDNS_NAME_MAX) { /* with the root's zero byte */
      return fail(r, at, "name longer than 255 bytes");
    }
    memcpy(out + n, r->buf + at, r->buf[at] + 1);
    n += r->buf[at] + 1;
    at += r->buf[at] + 1;
  }
}
/*---------------------------------------------------------------------------*/
int
mdns_read_name(struct mdns_reader *r, uint8_t *out)
{
  uint16_t end;

  if(read_name_at(r, r->pos, out, &end) < 0) {
    return -1;
  }
  r->pos = end;
  return 0;
}
/*---------------------------------------------------------------------------*/
int
mdns_read_question(struct mdns_reader *r, uint8_t *name, uint16_t *type, int *unicast)
{
  uint16_t klass;

  if(mdns_read_name(r, name) < 0) {
    return -1;
  }
  if(r->pos + 4 > r->len) {
    return fail(r, r->pos, "question runs past the end");
  }
  *type = get16(r->buf + r->pos);
  klass = get16(r->buf + r->pos + 2);
  *unicast = (klass & MDNS_CLASS_TOP_BIT) != 0;
  r->pos += 4;
  return 0;
}
/*---------------------------------------------------------------------------*/
int
mdns_read_rr(struct mdns_reader *r, struct mdns_rr_read *rr)
{
  uint16_t klass, end;
  uint16_t at;

  if(mdns_read_name(r, rr->name) < 0) {
    return -1;
  }
  at = r->pos;
  if(at + 10 > r->len) {
    return fail(r, at, "record runs past the end");
  }
  rr->type = get16(r->buf + at);
  klass = get16(r->buf + at + 2);
  rr->klass = klass & ~MDNS_CLASS_TOP_BIT;
  rr->flush = (klass & MDNS_CLASS_TOP_BIT) != 0;
  rr->ttl = ((uint32_t)get16(r->buf + at + 4) << 16) | get16(r->buf + at + 6);
  rr->rdlen = get16(r->buf + at + 8);
  rr->rdata = at + 10;
  rr->target[0] = 0;
  rr->port = 0;
  if(rr->rdata + rr->rdlen > r->len) {
    return fail(r, rr->rdata, "record data runs past the end");
  }
  if(rr->type == MDNS_TYPE_PTR) {
    if(read_name_at(r, rr->rdata, rr->target, &end) < 0) {
      return -1;
    }
    if(end != rr->rdata + rr->rdlen) {
      return fail(r, rr->rdata, "PTR data is not one name");
    }
  } else if(rr->type == MDNS_TYPE_SRV) {
    if(rr->rdlen < 7) {
      return fail(r, rr->rdata, "SRV data shorter than 7 bytes");
    }
    rr->port = get16(r->buf + rr->rdata + 4);
    if(read_name_at(r, rr->rdata + 6, rr->target, &end) < 0) {
      return -1;
    }
    if(end != rr->rdata + rr->rdlen) {
      return fail(r, rr->rdata, "SRV data is not priority, weight, port and one name");
    }
  } else if(rr->type == MDNS_TYPE_AAAA && rr->rdlen != 16) {
    return fail(r, rr->rdata, "AAAA data is not 16 bytes");
  }
  r->pos = rr->rdata + rr->rdlen;
  return 0;
}
/*---------------------------------------------------------------------------*/
