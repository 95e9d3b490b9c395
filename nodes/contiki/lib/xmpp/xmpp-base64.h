/*
 * Base64 (RFC 4648 section 4, padded), as SASL carries its data in XMPP (RFC 6120 6.4.2).
 */
#ifndef XMPP_BASE64_H_
#define XMPP_BASE64_H_

#include <stdint.h>
#include <stddef.h>

/* Encode `len` bytes into `out` (room for 4 * ceil(len / 3) + 1); returns the text length. */
size_t xmpp_base64_encode(const uint8_t *in, size_t len, char *out);
/* Decode `len` characters (may be in == out); the byte count, or -1 on a bad character. */
int xmpp_base64_decode(const char *in, size_t len, uint8_t *out);

#endif /* XMPP_BASE64_H_ */
