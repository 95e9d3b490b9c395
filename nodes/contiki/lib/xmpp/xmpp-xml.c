/*
 * The streaming XML tokenizer of the XMPP client (see xmpp-xml.h for what it accepts).
 */
#include "xmpp-xml.h"

#include <string.h>

enum {
  S_TEXT, S_LT, S_NAME, S_ATTRS, S_ANAME, S_AEQ, S_AVALQ, S_AVAL, S_SLASH,
  S_ENDNAME, S_ENDTAIL, S_PI, S_BANG, S_BANG2, S_COMMENT, S_ENTITY, S_ERROR
};

#define IS_SPACE(c) ((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\n')
/*---------------------------------------------------------------------------*/
void
xmpp_xml_init(struct xmpp_xml *x, xmpp_xml_callback_t callback, void *ptr)
{
  memset(x, 0, sizeof(*x));
  x->callback = callback;
  x->ptr = ptr;
  x->state = S_TEXT;
}
/*---------------------------------------------------------------------------*/
static void
flush_text(struct xmpp_xml *x, uint8_t last)
{
  x->text_last = last;
  x->callback(x, XMPP_XML_TEXT, x->text, NULL, x->text_len);
  x->text_len = 0;
  x->dashes = 0; /* in S_TEXT: "a text run is open" */
}
/*---------------------------------------------------------------------------*/
static void
put_text(struct xmpp_xml *x, char c)
{
  x->dashes = 1;
  x->text[x->text_len++] = c;
  if(x->text_len == XMPP_XML_TEXT_CHUNK) {
    x->text_last = 0;
    x->callback(x, XMPP_XML_TEXT, x->text, NULL, x->text_len);
    x->text_len = 0;
  }
}
/*---------------------------------------------------------------------------*/
static void
put_value(struct xmpp_xml *x, char c)
{
  if(x->value_len < XMPP_XML_VALUE_MAX - 1) {
    x->value[x->value_len++] = c;
  }
}
/*---------------------------------------------------------------------------*/
static void
put_name(char *buf, uint8_t *len, char c)
{
  if(*len < XMPP_XML_NAME_MAX - 1) {
    buf[(*len)++] = c;
  }
}
/*---------------------------------------------------------------------------*/
/* Decode the entity in x->ent (XML 1.0 sections 4.1, 4.6) into the text or the value. */
static int
put_entity(struct xmpp_xml *x)
{
  static const char *const names[] = { "lt", "gt", "amp", "quot", "apos" };
  static const char chars[] = "<>&\"'";
  char out[4];
  uint8_t n = 0, i;
  uint32_t code = 0;

  x->ent[x->ent_len] = '\0';
  if(x->ent[0] == '#') {
    const char *p = x->ent + 1;
    uint8_t hex = (*p == 'x');
    p += hex;
    if(*p == '\0') {
      return -1;
    }
    for(; *p; p++) {
      uint8_t d;
      if(*p >= '0' && *p <= '9') {
        d = *p - '0';
      } else if(hex && (*p | 0x20) >= 'a' && (*p | 0x20) <= 'f') {
        d = (*p | 0x20) - 'a' + 10;
      } else {
        return -1;
      }
      code = code * (hex ? 16 : 10) + d;
      if(code > 0x10FFFF) {
        return -1;
      }
    }
    if(code == 0) {
      return -1;
    }
    if(code < 0x80) {
      out[n++] = code;
    } else if(code < 0x800) {
      out[n++] = 0xC0 | (code >> 6);
      out[n++] = 0x80 | (code & 0x3F);
    } else if(code < 0x10000) {
      out[n++] = 0xE0 | (code >> 12);
      out[n++] = 0x80 | ((code >> 6) & 0x3F);
      out[n++] = 0x80 | (code & 0x3F);
    } else {
      out[n++] = 0xF0 | (code >> 18);
      out[n++] = 0x80 | ((code >> 12) & 0x3F);
      out[n++] = 0x80 | ((code >> 6) & 0x3F);
      out[n++] = 0x80 | (code & 0x3F);
    }
  } else {
    for(i = 0; i < 5 && strcmp(x->ent, names[i]) != 0; i++) {
    }
    if(i == 5) {
      return -1;
    }
    out[n++] = chars[i];
  }
  for(i = 0; i < n; i++) {
    if(x->ret == S_TEXT) {
      put_text(x, out[i]);
    } else {
      put_value(x, out[i]);
    }
  }
  return 0;
}
/*---------------------------------------------------------------------------*/
static void
start_tag(struct xmpp_xml *x)
{
  x->name[x->name_len] = '\0';
  x->callback(x, XMPP_XML_START, x->name, NULL, x->name_len);
}
/*---------------------------------------------------------------------------*/
static void
end_tag(struct xmpp_xml *x)
{
  x->name[x->name_len] = '\0';
  x->callback(x, XMPP_XML_END, x->name, NULL, x->name_len);
  x->state = S_TEXT;
  x->dashes = 0;
}
/*---------------------------------------------------------------------------*/
static int
step(struct xmpp_xml *x, char c)
{
  switch(x->state) {
  case S_TEXT:
    if(c == '<') {
      if(x->dashes) {
        flush_text(x, 1);
      }
      x->state = S_LT;
    } else if(c == '&') {
      x->ret = S_TEXT;
      x->ent_len = 0;
      x->state = S_ENTITY;
    } else {
      put_text(x, c);
    }
    return 0;
  case S_LT:
    x->name_len = 0;
    x->quote = 0;
    if(c == '?') {
      x->state = S_PI;
    } else if(c == '!') {
      x->state = S_BANG;
    } else if(c == '/') {
      x->state = S_ENDNAME;
    } else if(IS_SPACE(c) || c == '>') {
      return -1;
    } else {
      put_name(x->name, &x->name_len, c);
      x->state = S_NAME;
    }
    return 0;
  case S_NAME:
    if(IS_SPACE(c) || c == '/' || c == '>') {
      start_tag(x);
      x->state = c == '/' ? S_SLASH : S_ATTRS;
      if(c == '>') {
        x->state = S_TEXT;
        x->dashes = 0;
      }
    } else {
      put_name(x->name, &x->name_len, c);
    }
    return 0;
  case S_ATTRS:
    if(c == '/') {
      x->state = S_SLASH;
    } else if(c == '>') {
      x->state = S_TEXT;
      x->dashes = 0;
    } else if(c == '=' || c == '\'' || c == '"') {
      return -1;
    } else if(!IS_SPACE(c)) {
      x->aname_len = 0;
      put_name(x->aname, &x->aname_len, c);
      x->state = S_ANAME;
    }
    return 0;
  case S_ANAME:
    if(c == '=') {
      x->state = S_AVALQ;
    } else if(IS_SPACE(c)) {
      x->state = S_AEQ;
    } else if(c == '>' || c == '/' || c == '\'' || c == '"') {
      return -1;
    } else {
      put_name(x->aname, &x->aname_len, c);
    }
    return 0;
  case S_AEQ:
    if(c == '=') {
      x->state = S_AVALQ;
    } else if(!IS_SPACE(c)) {
      return -1;
    }
    return 0;
  case S_AVALQ:
    if(c == '\'' || c == '"') {
      x->quote = c;
      x->value_len = 0;
      x->state = S_AVAL;
    } else if(!IS_SPACE(c)) {
      return -1;
    }
    return 0;
  case S_AVAL:
    if(c == x->quote) {
      x->aname[x->aname_len] = '\0';
      x->value[x->value_len] = '\0';
      x->callback(x, XMPP_XML_ATTR, x->aname, x->value, x->value_len);
      x->state = S_ATTRS;
    } else if(c == '&') {
      x->ret = S_AVAL;
      x->ent_len = 0;
      x->state = S_ENTITY;
    } else {
      put_value(x, c);
    }
    return 0;
  case S_SLASH:
    if(c != '>') {
      return -1;
    }
    end_tag(x);
    return 0;
  case S_ENDNAME:
    if(c == '>') {
      end_tag(x);
    } else if(IS_SPACE(c)) {
      if(x->name_len) {
        x->state = S_ENDTAIL;
      }
    } else {
      put_name(x->name, &x->name_len, c);
    }
    return 0;
  case S_ENDTAIL:
    if(c == '>') {
      end_tag(x);
    } else if(!IS_SPACE(c)) {
      return -1;
    }
    return 0;
  case S_PI:   /* to the next '>' outside quotes, as the Python tokenizer skips it */
    if(x->quote) {
      if(c == x->quote) {
        x->quote = 0;
      }
    } else if(c == '\'' || c == '"') {
      x->quote = c;
    } else if(c == '>') {
      x->state = S_TEXT;
      x->dashes = 0;
    }
    return 0;
  case S_BANG:
  case S_BANG2:
    if(c != '-') {
      return -1;   /* DTD, CDATA, declarations: not in XMPP (RFC 6120 section 11.1) */
    }
    x->dashes = 0;
    x->state = x->state == S_BANG ? S_BANG2 : S_COMMENT;
    return 0;
  case S_COMMENT:
    if(c == '>' && x->dashes >= 2) {
      x->state = S_TEXT;
      x->dashes = 0;
    } else if(c == '-') {
      x->dashes++;
    } else {
      x->dashes = 0;
    }
    return 0;
  case S_ENTITY:
    if(c == ';') {
      x->state = x->ret;
      return put_entity(x);
    }
    if(c == '<' || c == '\'' || c == '"' || x->ent_len >= sizeof(x->ent) - 1) {
      return -1;
    }
    x->ent[x->ent_len++] = c;
    return 0;
  }
  return -1;
}
/*---------------------------------------------------------------------------*/
int
xmpp_xml_feed(struct xmpp_xml *x, const uint8_t *data, uint16_t len)
{
  uint16_t i;
  for(i = 0; i < len && x->state != S_ERROR; i++) {
    if(step(x, (char)data[i]) < 0) {
      x->state = S_ERROR;
    }
  }
  return x->state == S_ERROR ? -1 : 0;
}
/*---------------------------------------------------------------------------*/
