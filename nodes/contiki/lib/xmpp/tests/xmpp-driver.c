/*
 * Host test driver of the XMPP client's Contiki-free parts (SHA-1, HMAC, PBKDF2, base64,
 * SCRAM-SHA-1 messages, the XML tokenizer), built with the host gcc and driven line by line
 * from tests/contiki/test_xmpp_crypto.py, which checks every answer against Python.
 *
 * stdin, one command a line, arguments in hex (h) or plain:
 *   sha1 h | hmac h h | pbkdf2 h h iterations | b64e h | b64d text
 *   scram user_h password_h nonce server_first_h  -> final  server_signature_h | ERR why
 *   check server_final_h signature_h               -> OK | ERR why
 *   xml chunk_size h  -> one event a line: S name_h | A name_h value_h | E name_h | T text_h
 *                        (a text run, its chunks joined), then OK or ERR
 * stdout: the answer lines, then "." after each command.
 */
#include "xmpp-sha1.h"
#include "xmpp-base64.h"
#include "xmpp-scram.h"
#include "xmpp-xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX 65536

static uint8_t a[MAX], b[MAX];
static char line[4 * MAX], text[MAX];
static size_t text_len;
/*---------------------------------------------------------------------------*/
static size_t
unhex(const char *h, uint8_t *out)
{
  size_t n = 0;
  unsigned v;
  while(h[0] && h[1] && sscanf(h, "%2x", &v) == 1) {
    out[n++] = v;
    h += 2;
  }
  return n;
}
static void
hex(const void *data, size_t len)
{
  const uint8_t *p = data;
  while(len--) {
    printf("%02x", *p++);
  }
}
/*---------------------------------------------------------------------------*/
static void
xml_event(struct xmpp_xml *x, xmpp_xml_event_t ev, const char *s1, const char *s2,
          uint16_t len)
{
  switch(ev) {
  case XMPP_XML_START:
    printf("S ");
    hex(s1, strlen(s1));
    printf("\n");
    break;
  case XMPP_XML_ATTR:
    printf("A ");
    hex(s1, strlen(s1));
    printf(" ");
    hex(s2, strlen(s2));
    printf("\n");
    break;
  case XMPP_XML_END:
    printf("E ");
    hex(s1, strlen(s1));
    printf("\n");
    break;
  case XMPP_XML_TEXT:
    memcpy(text + text_len, s1, len);
    text_len += len;
    if(x->text_last) {
      printf("T ");
      hex(text, text_len);
      printf("\n");
      text_len = 0;
    }
    break;
  }
}
/*---------------------------------------------------------------------------*/
int
main(void)
{
  char cmd[16], arg1[2 * MAX], arg2[2 * MAX], arg3[2 * MAX], arg4[2 * MAX];
  uint8_t digest[XMPP_SHA1_LEN];

  while(fgets(line, sizeof(line), stdin)) {
    int n = sscanf(line, "%15s %s %s %s %s", cmd, arg1, arg2, arg3, arg4);
    if(n < 1) {
      continue;
    }
    if(n == 1) {
      arg1[0] = '\0';  /* an empty argument: no bytes */
    }
    if(!strcmp(cmd, "sha1")) {
      xmpp_sha1(a, unhex(arg1, a), digest);
      hex(digest, sizeof(digest));
      printf("\n");
    } else if(!strcmp(cmd, "hmac")) {
      size_t kl = unhex(arg1, a), ml = unhex(arg2, b);
      xmpp_hmac_sha1(a, kl, b, ml, digest);
      hex(digest, sizeof(digest));
      printf("\n");
    } else if(!strcmp(cmd, "pbkdf2")) {
      size_t pl = unhex(arg1, a), sl = unhex(arg2, b);
      xmpp_pbkdf2_sha1(a, pl, b, sl, strtoul(arg3, NULL, 10), digest);
      hex(digest, sizeof(digest));
      printf("\n");
    } else if(!strcmp(cmd, "b64e")) {
      xmpp_base64_encode(a, unhex(arg1, a), text);
      printf("%s\n", text);
    } else if(!strcmp(cmd, "b64d")) {
      int len = xmpp_base64_decode(arg1, strlen(arg1), a);
      if(len < 0) {
        printf("ERR\n");
      } else {
        hex(a, len);
        printf("\n");
      }
    } else if(!strcmp(cmd, "scram")) {
      char user[256], password[1024], first[1024], final[1024];
      uint8_t signature[XMPP_SHA1_LEN];
      const char *error;
      size_t fl;
      user[unhex(arg1, (uint8_t *)user)] = '\0';
      password[unhex(arg2, (uint8_t *)password)] = '\0';
      fl = unhex(arg4, (uint8_t *)first);
      error = xmpp_scram_final(user, password, arg3, first, fl, final, sizeof(final),
                               signature);
      if(error) {
        printf("ERR %s\n", error);
      } else {
        printf("%s ", final);
        hex(signature, sizeof(signature));
        printf("\n");
      }
    } else if(!strcmp(cmd, "check")) {
      size_t fl = unhex(arg1, a);
      const char *error;
      unhex(arg2, b);
      error = xmpp_scram_check((const char *)a, fl, b);
      printf(error ? "ERR %s\n" : "OK\n", error);
    } else if(!strcmp(cmd, "xml")) {
      static struct xmpp_xml x;
      size_t chunk = strtoul(arg1, NULL, 10), len = unhex(arg2, a), i;
      int status = 0;
      xmpp_xml_init(&x, xml_event, NULL);
      text_len = 0;
      for(i = 0; i < len && status == 0; i += chunk) {
        status = xmpp_xml_feed(&x, a + i, len - i < chunk ? len - i : chunk);
      }
      printf(status ? "ERR\n" : "OK\n");
    } else {
      printf("ERR unknown command\n");
    }
    printf(".\n");
    fflush(stdout);
  }
  return 0;
}
