/*
 * A minimal XMPP client (RFC 6120 / RFC 6121) for Contiki-NG, built from compile-time modules.
 *
 * core      xmpp.c: TCP (tcp-socket), stream open/restart/close, the streaming tokenizer,
 *           SASL negotiation, resource binding, the legacy session when the server requires
 *           it, whitespace keepalive, XEP-0199 ping answers and service-unavailable for any
 *           other IQ (RFC 6120 section 8.4).
 * modules   selected with XMPP_MODULES in the app's Makefile (Makefile.xmpp adds the source
 *           and defines XMPP_CONF_WITH_<MODULE>=1): plain (SASL PLAIN, RFC 4616), scram
 *           (SCRAM-SHA-1, RFC 5802), presence (RFC 6121 section 4), message (RFC 6121
 *           section 5), pubsub (XEP-0060 section 7.1 publish), iq (a sensor readout get
 *           answered with a result). A module left out is neither compiled nor referenced.
 * not here  STARTTLS (no TLS stack in this client), DNS (the server address is configured),
 *           stream management, roster.
 *
 * One session per node: the client is a singleton driven by tcp-socket callbacks and
 * ctimers; the application gets callbacks and sends stanzas with the builders below. Stanzas
 * are written straight into the socket's output buffer in two passes (measure, then write):
 * no stanza buffer, and a stanza that does not fit is not sent at all.
 */
#ifndef XMPP_H_
#define XMPP_H_

#include "contiki.h"
#include "net/ipv6/uip.h"

#ifndef XMPP_CONF_WITH_SASL_PLAIN
#define XMPP_CONF_WITH_SASL_PLAIN 0
#endif
#ifndef XMPP_CONF_WITH_SCRAM_SHA1
#define XMPP_CONF_WITH_SCRAM_SHA1 0
#endif
#ifndef XMPP_CONF_WITH_PRESENCE
#define XMPP_CONF_WITH_PRESENCE 0
#endif
#ifndef XMPP_CONF_WITH_MESSAGE
#define XMPP_CONF_WITH_MESSAGE 0
#endif
#ifndef XMPP_CONF_WITH_PUBSUB
#define XMPP_CONF_WITH_PUBSUB 0
#endif
#ifndef XMPP_CONF_WITH_IQ
#define XMPP_CONF_WITH_IQ 0
#endif

#if !XMPP_CONF_WITH_SASL_PLAIN && !XMPP_CONF_WITH_SCRAM_SHA1
#error "XMPP client: no SASL module (XMPP_MODULES needs plain or scram)"
#endif

/* The socket's buffers: the output must hold the largest stanza, the input any size. */
#ifdef XMPP_CONF_OUTPUT_BUFFER
#define XMPP_OUTPUT_BUFFER XMPP_CONF_OUTPUT_BUFFER
#else
#define XMPP_OUTPUT_BUFFER 512
#endif
#ifdef XMPP_CONF_INPUT_BUFFER
#define XMPP_INPUT_BUFFER XMPP_CONF_INPUT_BUFFER
#else
#define XMPP_INPUT_BUFFER 64
#endif
/* Character data kept of one element (a SASL challenge, a bound JID, a mechanism). */
#ifdef XMPP_CONF_TEXT_MAX
#define XMPP_TEXT_MAX XMPP_CONF_TEXT_MAX
#else
#define XMPP_TEXT_MAX 192
#endif
/* Longest IQ id / sender JID kept to address an answer. */
#define XMPP_ID_MAX 48
#define XMPP_JID_MAX XMPP_XML_VALUE_MAX

#define XMPP_SASL_PLAIN 1
#define XMPP_SASL_SCRAM_SHA1 2

struct xmpp_config {
  uip_ipaddr_t server;
  uint16_t port;
  const char *domain;
  const char *user;
  const char *password;
  const char *resource;
  uint8_t sasl;               /* XMPP_SASL_* */
  uint16_t server_timeout_s;  /* silence during set-up that ends the attempt */
  uint16_t keepalive_s;       /* whitespace keepalive after this much idle time */
};

/* What the client tells the application (called from the network's process context). */
struct xmpp_handler {
  /* the session is up: bound (its JID) and, with the presence module, available */
  void (*ready)(const char *jid);
  /* the session ended; `refused` when the server refused it (SASL, bind, stream error) */
  void (*closed)(const char *why, uint8_t refused);
#if XMPP_CONF_WITH_PUBSUB
  /* the server confirmed (ok = 1) or refused a publish sent with xmpp_pubsub_publish */
  void (*published)(uint32_t item, uint8_t ok);
#endif
#if XMPP_CONF_WITH_IQ
  /* a readout request: answer with xmpp_iq_answer(); return 0 if it could not be */
  int (*readout)(void);
#endif
};

/* A stanza part written by the application (a payload), through the xmpp_put* calls. */
typedef void (*xmpp_writer_t)(const void *arg);

void xmpp_init(const struct xmpp_config *config, const struct xmpp_handler *handler);
/* Open a session (TCP connect, stream, SASL, bind ...); 0 if the attempt could not start. */
int xmpp_connect(void);
/* End the session: closing stream tag, then the TCP close. */
void xmpp_close(void);
/* The session is open (ready was called and closed was not). */
int xmpp_online(void);
/* Bytes the client wrote in this session (the set-up's cost while not yet online). */
uint32_t xmpp_sent_bytes(void);

/* Writers for use inside an xmpp_writer_t. */
void xmpp_put(const char *text);
void xmpp_put_escaped(const char *text);
/* Character data: only & < > escaped (stanzas.py text_escape; a JSON payload keeps its quotes) */
void xmpp_put_text(const char *text);
void xmpp_put_uint(uint32_t value);
/* Base64 of the bytes given in any number of calls, then _end() for the last group. */
void xmpp_put_base64(const void *data, size_t len);
void xmpp_put_base64_end(void);
/* Write one stanza made by `writer`: 1 sent, 0 no room in the output buffer, -1 offline. */
int xmpp_send(xmpp_writer_t writer, const void *arg);

#if XMPP_CONF_WITH_PRESENCE
/* RFC 6121 4.6 directed presence to `to` (4.2 initial presence is sent by the core). */
int xmpp_presence_send(const char *to);
#endif
#if XMPP_CONF_WITH_MESSAGE
/* RFC 6121 5: <message to='to'>payload</message> */
int xmpp_message_send(const char *to, xmpp_writer_t payload, const void *arg);
#endif
#if XMPP_CONF_WITH_PUBSUB
/* XEP-0060 7.1.1: publish item `item` (its id, and the IQ's id "p<item>") to service/node */
int xmpp_pubsub_publish(const char *service, const char *node, uint32_t item,
                        xmpp_writer_t payload, const void *arg);
#endif
#if XMPP_CONF_WITH_IQ
/* Answer the readout request being handled with <iq type='result'>payload</iq>. */
int xmpp_iq_answer(xmpp_writer_t payload, const void *arg);
#endif

/* ---- between the core and its modules ---------------------------------------------- */
#include "xmpp-xml.h"

/* What the core kept of the element just completed at depth 2 (a stanza or a stream-level
   element), since there is no DOM. */
struct xmpp_stanza {
  char name[16];            /* local name: message, iq, features, success, challenge ... */
  char type[8];
  char id[XMPP_ID_MAX];
  char from[XMPP_JID_MAX];
  char child[16];           /* local name of its first child (or the failure condition) */
  uint8_t child_ns;         /* XMPP_NS_* of that child */
  uint16_t features;        /* XMPP_F_* found in <stream:features/> */
  uint8_t text_len;
  char text[XMPP_TEXT_MAX]; /* character data of the element or of mechanism / jid */
};

enum {
  XMPP_NS_OTHER, XMPP_NS_SASL, XMPP_NS_BIND, XMPP_NS_SESSION, XMPP_NS_TLS, XMPP_NS_PING,
  XMPP_NS_SENSORDATA, XMPP_NS_PUBSUB
};

#define XMPP_F_PLAIN             0x01
#define XMPP_F_SCRAM_SHA1        0x02
#define XMPP_F_BIND              0x04
#define XMPP_F_SESSION           0x08
#define XMPP_F_SESSION_OPTIONAL  0x10
#define XMPP_F_STARTTLS          0x20
#define XMPP_F_STARTTLS_REQUIRED 0x40

/* SASL mechanism modules: the initial response (base64) and the challenge steps. */
void xmpp_plain_auth(const struct xmpp_config *config);
void xmpp_scram_auth(const struct xmpp_config *config);
/* a challenge's text: send the next response; 0 if fine, else the failure reason */
const char *xmpp_scram_challenge(const struct xmpp_config *config, struct xmpp_stanza *s);
/* success's (or the last challenge's) text: verify the server signature; NULL if fine */
const char *xmpp_scram_verify(struct xmpp_stanza *s);
/* The pubsub and iq modules see every IQ first; 1 if they took it. */
int xmpp_pubsub_input(const struct xmpp_stanza *s, const struct xmpp_handler *handler);
int xmpp_iq_input(const struct xmpp_stanza *s, const struct xmpp_handler *handler);
/* The IQ being answered (its sender and id), for the iq module. */
const struct xmpp_stanza *xmpp_current_stanza(void);

#endif /* XMPP_H_ */
