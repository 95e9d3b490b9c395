/*
 * The XMPP client's core: session set-up and the stanza dispatch (see xmpp.h).
 *
 * Everything runs in callbacks: tcp-socket's (connected, data, closed) and one ctimer (the
 * set-up's server timeout, then the keepalive). The password goes only into the SASL
 * modules' output and is never logged.
 */
#include "xmpp.h"
#include "xmpp-base64.h"
#include "net/ipv6/tcp-socket.h"
#include "net/ipv6/tcpip.h"
#include "sys/ctimer.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "sys/log.h"
#define LOG_MODULE "XMPP"
#ifdef LOG_CONF_LEVEL_XMPP
#define LOG_LEVEL LOG_CONF_LEVEL_XMPP
#else
#define LOG_LEVEL LOG_LEVEL_WARN
#endif

#define NS_SASL "urn:ietf:params:xml:ns:xmpp-sasl"

PROCESS_NAME(tcp_socket_process);

#define XMPP_STAGE 128

enum {
  IDLE, CONNECTING, FEATURES, AUTH, FEATURES2, BIND, SESSION, ONLINE
};

static struct {
  const struct xmpp_config *config;
  const struct xmpp_handler *handler;
  struct tcp_socket socket;
  struct xmpp_xml xml;
  struct xmpp_stanza stanza;
  struct ctimer timer;
  clock_time_t last_sent;
  uint32_t sent_bytes;
  uint16_t out_len;
  uint8_t counting;
  uint8_t stage_len;
  uint8_t stage[XMPP_STAGE];
  uint8_t state;
  uint8_t connected;
  uint8_t depth;
  uint8_t collect_depth;  /* collect character data at this depth (0: none) */
  uint8_t stream_element; /* the depth-2 element is stream:* (stream:error) */
  uint8_t sasl_step;
  char level3[12];        /* local name of the open depth-3 element */
  char level4[12];        /* and of the depth-4 one */
  uint8_t in[XMPP_INPUT_BUFFER];
  uint8_t out[XMPP_OUTPUT_BUFFER];
  char jid[XMPP_JID_MAX];
} x;

static const char *const namespaces[] = {
  "", NS_SASL, "urn:ietf:params:xml:ns:xmpp-bind", "urn:ietf:params:xml:ns:xmpp-session",
  "urn:ietf:params:xml:ns:xmpp-tls", "urn:xmpp:ping", "urn:xmpp:iot:sensordata",
  "http://jabber.org/protocol/pubsub"
};
/*---------------------------------------------------------------------------*/
static const char *
local_name(const char *name)
{
  const char *colon = strchr(name, ':');
  return colon ? colon + 1 : name;
}
/*---------------------------------------------------------------------------*/
static void
copy(char *to, const char *from, size_t size)
{
  strncpy(to, from, size - 1);
  to[size - 1] = '\0';
}
/*---------------------------------------------------------------------------*/
/* writers: pieces are gathered in `stage` and handed to tcp-socket a stage at a time, since
   every tcp_socket_send() posts a poll event to the TCP/IP process (its event queue holds
   PROCESS_CONF_NUMEVENTS, 32; a piece a call would fill it with one stanza) */
static void
flush_stage(void)
{
  if(x.stage_len) {
    tcp_socket_send(&x.socket, x.stage, x.stage_len);
    x.stage_len = 0;
  }
}
static void
out(const char *text, uint16_t len)
{
  x.out_len += len;
  if(x.counting) {
    return;
  }
  while(len--) {
    if(x.stage_len == sizeof(x.stage)) {
      flush_stage();
    }
    x.stage[x.stage_len++] = *text++;
  }
}
void
xmpp_put(const char *text)
{
  out(text, strlen(text));
}
void
xmpp_put_escaped(const char *text)
{
  static const char specials[] = "&<>'\"";
  static const char *const entities[] = { "&amp;", "&lt;", "&gt;", "&apos;", "&quot;" };
  const char *special;
  for(; *text; text++) {
    special = strchr(specials, *text);
    if(special != NULL) {
      xmpp_put(entities[special - specials]);
    } else {
      out(text, 1);
    }
  }
}
void
xmpp_put_text(const char *text)
{
  static const char specials[] = "&<>";
  static const char *const entities[] = { "&amp;", "&lt;", "&gt;" };
  const char *special;
  for(; *text; text++) {
    special = strchr(specials, *text);
    if(special != NULL) {
      xmpp_put(entities[special - specials]);
    } else {
      out(text, 1);
    }
  }
}
void
xmpp_put_uint(uint32_t value)
{
  char digits[11];
  int8_t i = sizeof(digits) - 1;
  digits[i] = '\0';
  do {
    digits[--i] = '0' + value % 10;
    value /= 10;
  } while(value);
  xmpp_put(digits + i);
}
/*---------------------------------------------------------------------------*/
/* Base64 written in groups of three bytes, so SASL needs no message buffer. */
static struct {
  uint8_t group[3];
  uint8_t n;
} b64;
void
xmpp_put_base64(const void *data, size_t len)
{
  const uint8_t *p = data;
  char text[5];
  while(len--) {
    b64.group[b64.n++] = *p++;
    if(b64.n == 3) {
      out(text, xmpp_base64_encode(b64.group, 3, text));
      b64.n = 0;
    }
  }
}
void
xmpp_put_base64_end(void)
{
  char text[5];
  if(b64.n) {
    out(text, xmpp_base64_encode(b64.group, b64.n, text));
    b64.n = 0;
  }
}
/*---------------------------------------------------------------------------*/
static void
arm_timer(clock_time_t seconds);

int
xmpp_send(xmpp_writer_t writer, const void *arg)
{
  uint16_t len;
  if(!x.connected) {
    return -1;
  }
  x.counting = 1;
  x.out_len = 0;
  b64.n = 0;
  writer(arg);
  len = x.out_len;
  if(len > tcp_socket_max_sendlen(&x.socket)) {
    LOG_WARN("no room for a %u-byte stanza\n", len);
    return 0;
  }
  x.counting = 0;
  b64.n = 0;
  x.stage_len = 0;
  writer(arg);
  flush_stage();
  x.sent_bytes += len;
  x.last_sent = clock_time();
  if(x.state != ONLINE) {
    arm_timer(x.config->server_timeout_s); /* each answer of the set-up gets the full time */
  }
  return 1;
}
/*---------------------------------------------------------------------------*/
static void
put_text(const void *arg)
{
  xmpp_put(arg);
}
static int
send_text(const char *text)
{
  return xmpp_send(put_text, text);
}
/*---------------------------------------------------------------------------*/
/* RFC 6120 4.7: the stream header (the same bytes as the Python sensor's) */
static void
put_stream_header(const void *arg)
{
  xmpp_put("<?xml version='1.0'?><stream:stream to='");
  xmpp_put_escaped(x.config->domain);
  xmpp_put("' version='1.0' xml:lang='en' xmlns='jabber:client' "
           "xmlns:stream='http://etherx.jabber.org/streams'>");
}
/*---------------------------------------------------------------------------*/
static void xml_event(struct xmpp_xml *xml, xmpp_xml_event_t ev, const char *a,
                      const char *b, uint16_t len);

static void
open_stream(uint8_t state)
{
  xmpp_xml_init(&x.xml, xml_event, NULL);
  x.depth = 0;
  x.collect_depth = 0;
  x.state = state;
  xmpp_send(put_stream_header, NULL);
}
/*---------------------------------------------------------------------------*/
/* Drop the TCP connection at once: the next event on it finds no socket and uIP aborts it
   (what tcp-socket does to a connection nobody owns). */
static void
abort_connection(void)
{
  if(x.socket.c != NULL) {
    PROCESS_CONTEXT_BEGIN(&tcp_socket_process);
    tcp_markconn(x.socket.c, NULL);
    tcpip_poll_tcp(x.socket.c);
    PROCESS_CONTEXT_END();
    x.socket.c = NULL;
  }
  x.connected = 0;
}
/*---------------------------------------------------------------------------*/
static void
end_session(const char *why, uint8_t refused)
{
  uint8_t was = x.state;
  ctimer_stop(&x.timer);
  if(was == IDLE) {
    return;
  }
  if(x.connected) {  /* RFC 6120 4.4: the closing tag, then the TCP close */
    send_text("</stream:stream>");
    tcp_socket_close(&x.socket);
    x.connected = 0;
  } else {
    abort_connection();
  }
  x.state = IDLE;
  LOG_INFO("session ended: %s\n", why);
  x.handler->closed(why, refused);
}
/*---------------------------------------------------------------------------*/
static void
on_timer(void *ptr)
{
  static char why[48];
  if(x.state == ONLINE) {
    clock_time_t idle = clock_time() - x.last_sent;
    if(idle >= (clock_time_t)x.config->keepalive_s * CLOCK_SECOND) {
      send_text(" ");  /* RFC 6120 4.6.1 whitespace keepalive */
      idle = 0;
    }
    ctimer_set(&x.timer, (clock_time_t)x.config->keepalive_s * CLOCK_SECOND - idle,
               on_timer, NULL);
    return;
  }
  snprintf(why, sizeof(why), "no answer from the server within %u s",
           x.config->server_timeout_s);
  if(x.state == CONNECTING) {
    snprintf(why, sizeof(why), "connect timed out after %u s", x.config->server_timeout_s);
  }
  end_session(why, 0);
}
static void
arm_timer(clock_time_t seconds)
{
  ctimer_set(&x.timer, seconds * CLOCK_SECOND, on_timer, NULL);
}
/*---------------------------------------------------------------------------*/
/* IQ answers of the core */
static void
put_iq_head(const char *type)
{
  xmpp_put("<iq type='");
  xmpp_put(type);
  xmpp_put("'");
  if(x.stanza.from[0]) {
    xmpp_put(" to='");
    xmpp_put_escaped(x.stanza.from);
    xmpp_put("'");
  }
  xmpp_put(" id='");
  xmpp_put_escaped(x.stanza.id);
  xmpp_put("'");
}
static void
put_iq_result(const void *arg)
{
  put_iq_head("result");
  xmpp_put("/>");
}
static void
put_iq_unavailable(const void *arg)
{
  put_iq_head("error");
  xmpp_put("><error type='cancel'><service-unavailable "
           "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>");
}
#if XMPP_CONF_WITH_IQ
struct answer {
  xmpp_writer_t payload;
  const void *arg;
};
static void
put_iq_answer(const void *arg)
{
  const struct answer *a = arg;
  put_iq_head("result");
  xmpp_put(">");
  a->payload(a->arg);
  xmpp_put("</iq>");
}
int
xmpp_iq_answer(xmpp_writer_t payload, const void *arg)
{
  struct answer a = { payload, arg };
  return xmpp_send(put_iq_answer, &a);
}
#endif
const struct xmpp_stanza *
xmpp_current_stanza(void)
{
  return &x.stanza;
}
/*---------------------------------------------------------------------------*/
/* RFC 6120 7.6 resource binding, and the RFC 3921 session if the server requires it */
static void
put_bind(const void *arg)
{
  xmpp_put("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>");
  xmpp_put_escaped(x.config->resource);
  xmpp_put("</resource></bind></iq>");
}
static void
go_online(void)
{
  x.state = ONLINE;
#if XMPP_CONF_WITH_PRESENCE
  send_text("<presence/>");  /* RFC 6121 4.2 initial presence */
#endif
  ctimer_set(&x.timer, (clock_time_t)x.config->keepalive_s * CLOCK_SECOND,
             on_timer, NULL);
  x.handler->ready(x.jid);
}
/*---------------------------------------------------------------------------*/
static const char *
mechanism_name(void)
{
  return x.config->sasl == XMPP_SASL_SCRAM_SHA1 ? "SCRAM-SHA-1" : "PLAIN";
}
/*---------------------------------------------------------------------------*/
static void
fail_sasl(const char *reason)
{
  static char why[64];
  snprintf(why, sizeof(why), "SASL %s failed: %s", mechanism_name(), reason);
  end_session(why, 1);
}
/*---------------------------------------------------------------------------*/
static void
authenticate(void)
{
  struct xmpp_stanza *s = &x.stanza;
  static char why[64];
  uint16_t wanted = x.config->sasl == XMPP_SASL_SCRAM_SHA1 ? XMPP_F_SCRAM_SHA1 : XMPP_F_PLAIN;

  if(s->features & XMPP_F_STARTTLS_REQUIRED) {
    end_session("the server requires STARTTLS (not in the C client)", 1);
    return;
  }
  if(!(s->features & wanted)) {
    snprintf(why, sizeof(why), "SASL %s not offered", mechanism_name());
    end_session(why, 1);
    return;
  }
  x.state = AUTH;
  x.sasl_step = 0;
#if XMPP_CONF_WITH_SASL_PLAIN
  if(wanted == XMPP_F_PLAIN) {
    xmpp_plain_auth(x.config);
    return;
  }
#endif
#if XMPP_CONF_WITH_SCRAM_SHA1
  if(wanted == XMPP_F_SCRAM_SHA1) {
    xmpp_scram_auth(x.config);
    return;
  }
#endif
  end_session("SASL mechanism not built in (XMPP_MODULES)", 1);
}
/*---------------------------------------------------------------------------*/
static void
sasl_answer(void)
{
  struct xmpp_stanza *s = &x.stanza;
  if(!strcmp(s->name, "failure")) {
    fail_sasl(s->child[0] ? s->child : "failure");
    return;
  }
#if XMPP_CONF_WITH_SCRAM_SHA1
  if(x.config->sasl == XMPP_SASL_SCRAM_SHA1) {
    const char *error = NULL;
    if(!strcmp(s->name, "challenge") && x.sasl_step == 0) {
      error = xmpp_scram_challenge(x.config, s);
      x.sasl_step = 1;
    } else if(!strcmp(s->name, "challenge") && x.sasl_step == 1) {
      /* RFC 6120 6.3.10: the server-final-message in a challenge; an empty response */
      error = xmpp_scram_verify(s);
      x.sasl_step = 2;
      if(error == NULL) {
        send_text("<response xmlns='" NS_SASL "'></response>");
      }
    } else if(!strcmp(s->name, "success") && x.sasl_step == 1) {
      error = xmpp_scram_verify(s);
    } else if(strcmp(s->name, "success")) {
      error = s->name;
    }
    if(error != NULL) {
      fail_sasl(error);
      return;
    }
    if(strcmp(s->name, "success")) {
      return;
    }
  }
#endif
  if(strcmp(s->name, "success")) {
    fail_sasl(s->name);
    return;
  }
  open_stream(FEATURES2); /* RFC 6120 6.4.6: restart the stream */
}
/*---------------------------------------------------------------------------*/
static void
iq_input(void)
{
  struct xmpp_stanza *s = &x.stanza;
#if XMPP_CONF_WITH_PUBSUB
  if(xmpp_pubsub_input(s, x.handler)) {
    return;
  }
#endif
  if(!strcmp(s->type, "result") || !strcmp(s->type, "error")) {
    return;
  }
  if(!strcmp(s->type, "get") && !strcmp(s->child, "ping") && s->child_ns == XMPP_NS_PING) {
    xmpp_send(put_iq_result, NULL); /* XEP-0199 4.2 */
    return;
  }
#if XMPP_CONF_WITH_IQ
  if(xmpp_iq_input(s, x.handler)) {
    return;
  }
#endif
  xmpp_send(put_iq_unavailable, NULL); /* RFC 6120 8.4 */
}
/*---------------------------------------------------------------------------*/
/* A complete element at depth 2: what it means depends on where the set-up is. */
static void
element(void)
{
  struct xmpp_stanza *s = &x.stanza;
  static char why[48];

  s->text[s->text_len] = '\0';
  if(x.stream_element && !strcmp(s->name, "error")) {
    snprintf(why, sizeof(why), "stream error: %s", s->child);
    end_session(why, x.state != ONLINE);
    return;
  }
  switch(x.state) {
  case FEATURES:
    if(strcmp(s->name, "features")) {
      end_session("expected stream features", 1);
    } else {
      authenticate();
    }
    break;
  case AUTH:
    sasl_answer();
    break;
  case FEATURES2:
    if(!(s->features & XMPP_F_BIND)) {
      end_session("the server offers no resource binding", 1);
      break;
    }
    x.state = BIND;
    x.stanza.features = s->features;
    xmpp_send(put_bind, NULL);
    break;
  case BIND:
    if(strcmp(s->name, "iq") || strcmp(s->id, "b")) {
      break;
    }
    if(strcmp(s->type, "result")) {
      end_session("resource binding failed", 1);
      break;
    }
    if((s->features & XMPP_F_SESSION) && !(s->features & XMPP_F_SESSION_OPTIONAL)) {
      x.state = SESSION;
      send_text("<iq type='set' id='s'><session "
                "xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
    } else {
      go_online();
    }
    break;
  case SESSION:
    if(!strcmp(s->name, "iq") && !strcmp(s->id, "s")) {
      if(strcmp(s->type, "result")) {
        end_session("session establishment failed", 1);
      } else {
        go_online();
      }
    }
    break;
  case ONLINE:
    if(!strcmp(s->name, "iq")) {
      iq_input();
    }
    break;
  }
}
/*---------------------------------------------------------------------------*/
static void
start(const char *name)
{
  struct xmpp_stanza *s = &x.stanza;
  const char *local = local_name(name);

  x.depth++;
  if(x.depth == 2) {
    uint16_t features = s->features;  /* the bind step needs the last features */
    memset(s, 0, offsetof(struct xmpp_stanza, text));
    s->features = x.state == BIND || x.state == SESSION ? features : 0;
    copy(s->name, local, sizeof(s->name));
    x.stream_element = !strncmp(name, "stream:", 7);
    x.collect_depth = 2;
    s->text_len = 0;
    x.level3[0] = '\0';
  } else if(x.depth == 3) {
    if(!s->child[0]) {
      copy(s->child, local, sizeof(s->child));
    }
    copy(x.level3, local, sizeof(x.level3));
    if(!strcmp(s->name, "features")) {
      if(!strcmp(local, "bind")) {
        s->features |= XMPP_F_BIND;
      } else if(!strcmp(local, "session")) {
        s->features |= XMPP_F_SESSION;
      } else if(!strcmp(local, "starttls")) {
        s->features |= XMPP_F_STARTTLS;
      }
    }
  } else if(x.depth == 4) {
    copy(x.level4, local, sizeof(x.level4));
    if(!strcmp(x.level3, "session") && !strcmp(local, "optional")) {
      s->features |= XMPP_F_SESSION_OPTIONAL;
    } else if(!strcmp(x.level3, "starttls") && !strcmp(local, "required")) {
      s->features |= XMPP_F_STARTTLS_REQUIRED;
    } else if((!strcmp(x.level3, "mechanisms") && !strcmp(local, "mechanism"))
              || (!strcmp(x.level3, "bind") && !strcmp(local, "jid"))) {
      x.collect_depth = 4;
      s->text_len = 0;
    }
  }
}
/*---------------------------------------------------------------------------*/
static void
attribute(const char *name, const char *value)
{
  struct xmpp_stanza *s = &x.stanza;
  uint8_t i;
  if(x.depth == 2) {
    if(!strcmp(name, "type")) {
      copy(s->type, value, sizeof(s->type));
    } else if(!strcmp(name, "id")) {
      copy(s->id, value, sizeof(s->id));
    } else if(!strcmp(name, "from")) {
      copy(s->from, value, sizeof(s->from));
    }
  } else if(x.depth == 3 && !strcmp(name, "xmlns") && !strcmp(s->child, x.level3)) {
    for(i = sizeof(namespaces) / sizeof(namespaces[0]) - 1; i > 0; i--) {
      if(!strcmp(value, namespaces[i])) {
        break;
      }
    }
    s->child_ns = i;
  }
}
/*---------------------------------------------------------------------------*/
static void
end(void)
{
  struct xmpp_stanza *s = &x.stanza;
  if(x.depth == 4 && x.collect_depth == 4) {
    s->text[s->text_len] = '\0';
    if(!strcmp(x.level4, "mechanism")) {
      if(!strcmp(s->text, "PLAIN")) {
        s->features |= XMPP_F_PLAIN;
      } else if(!strcmp(s->text, "SCRAM-SHA-1")) {
        s->features |= XMPP_F_SCRAM_SHA1;
      }
    } else {
      copy(x.jid, s->text, sizeof(x.jid));
    }
    x.collect_depth = 0;
  }
  if(x.depth == 2) {
    x.depth--;
    element();
    return;
  }
  if(x.depth == 1) {
    x.depth = 0;
    end_session("server closed the stream", 0);
    return;
  }
  if(x.depth) {
    x.depth--;
  }
}
/*---------------------------------------------------------------------------*/
static void
xml_event(struct xmpp_xml *xml, xmpp_xml_event_t ev, const char *a, const char *b,
          uint16_t len)
{
  struct xmpp_stanza *s = &x.stanza;
  if(x.state == IDLE || x.state == CONNECTING) {
    return;
  }
  switch(ev) {
  case XMPP_XML_START:
    start(a);
    break;
  case XMPP_XML_ATTR:
    attribute(a, b);
    break;
  case XMPP_XML_END:
    end();
    break;
  case XMPP_XML_TEXT:
    if(x.depth == x.collect_depth && x.depth > 1) {
      while(len-- && s->text_len < XMPP_TEXT_MAX - 1) {
        s->text[s->text_len++] = *a++;
      }
    }
    break;
  }
}
/*---------------------------------------------------------------------------*/
static int
input(struct tcp_socket *sock, void *ptr, const uint8_t *data, int len)
{
  if(x.state != IDLE && xmpp_xml_feed(&x.xml, data, len) < 0 && x.state != IDLE) {
    end_session("not-well-formed XML from the server", 0);
  }
  return 0;
}
/*---------------------------------------------------------------------------*/
static void
event(struct tcp_socket *sock, void *ptr, tcp_socket_event_t ev)
{
  if(ev == TCP_SOCKET_CONNECTED) {
    x.connected = 1;
    if(x.state == CONNECTING) {
      open_stream(FEATURES);
    }
  } else if(ev == TCP_SOCKET_CLOSED || ev == TCP_SOCKET_TIMEDOUT
            || ev == TCP_SOCKET_ABORTED) {
    x.connected = 0;
    x.socket.c = NULL;
    if(x.state == CONNECTING) {
      end_session(ev == TCP_SOCKET_ABORTED ? "connection refused" : "connect failed", 0);
    } else {
      end_session(ev == TCP_SOCKET_TIMEDOUT ? "connection timed out"
                  : ev == TCP_SOCKET_ABORTED ? "connection reset by the server"
                  : "connection closed by the server", 0);
    }
  }
}
/*---------------------------------------------------------------------------*/
void
xmpp_init(const struct xmpp_config *config, const struct xmpp_handler *handler)
{
  x.config = config;
  x.handler = handler;
  x.state = IDLE;
}
/*---------------------------------------------------------------------------*/
int
xmpp_connect(void)
{
  abort_connection();
  tcp_socket_unregister(&x.socket);
  memset(&x.socket, 0, sizeof(x.socket));
  tcp_socket_register(&x.socket, NULL, x.in, sizeof(x.in), x.out, sizeof(x.out),
                      input, event);
  x.sent_bytes = 0;
  x.jid[0] = '\0';
  x.state = CONNECTING;
  if(tcp_socket_connect(&x.socket, &x.config->server, x.config->port) < 0) {
    x.state = IDLE;
    return 0;
  }
  arm_timer(x.config->server_timeout_s);
  return 1;
}
/*---------------------------------------------------------------------------*/
void
xmpp_close(void)
{
  end_session("closed by the client", 0);
}
/*---------------------------------------------------------------------------*/
int
xmpp_online(void)
{
  return x.state == ONLINE;
}
/*---------------------------------------------------------------------------*/
uint32_t
xmpp_sent_bytes(void)
{
  return x.sent_bytes;
}
/*---------------------------------------------------------------------------*/
