/*
 * Base64 for the SASL mechanisms (see xmpp-base64.h).
 */
#include "xmpp-base64.h"

static const char alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/*---------------------------------------------------------------------------*/
size_t
xmpp_base64_encode(const uint8_t *in, size_t len, char *out)
{
  size_t i, n = 0;
  uint32_t v;
  for(i = 0; i < len; i += 3) {
    v = (uint32_t)in[i] << 16;
    if(i + 1 < len) {
      v |= (uint32_t)in[i + 1] << 8;
    }
    if(i + 2 < len) {
      v |= in[i + 2];
    }
    out[n++] = alphabet[(v >> 18) & 63];
    out[n++] = alphabet[(v >> 12) & 63];
    out[n++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
    out[n++] = i + 2 < len ? alphabet[v & 63] : '=';
  }
  out[n] = '\0';
  return n;
}
/*---------------------------------------------------------------------------*/
static int
sextet(char c)
{
  if(c >= 'A' && c <= 'Z') {
    return c - 'A';
  } else if(c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  } else if(c >= '0' && c <= '9') {
    return c - '0' + 52;
  } else if(c == '+') {
    return 62;
  } else if(c == '/') {
    return 63;
  }
  return -1;
}
/*---------------------------------------------------------------------------*/
int
xmpp_base64_decode(const char *in, size_t len, uint8_t *out)
{
  size_t i;
  int n = 0, bits = 0, s;
  uint32_t acc = 0;
  for(i = 0; i < len; i++) {
    char c = in[i];
    if(c == '=' || c == ' ' || c == '\r' || c == '\n' || c == '\t') {
      continue;
    }
    s = sextet(c);
    if(s < 0) {
      return -1;
    }
    acc = (acc << 6) | s;
    bits += 6;
    if(bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xFF;
    }
  }
  return n;
}
/*---------------------------------------------------------------------------*/
