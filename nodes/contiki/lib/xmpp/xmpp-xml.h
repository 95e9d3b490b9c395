/*
 * A streaming XML tokenizer for XMPP streams: no DOM, no heap, one byte at a time.
 *
 * Contiki-NG's tcp-socket hands the input callback whatever arrived and drops what the
 * callback leaves, so the tokenizer keeps its whole state between calls and consumes every
 * byte. It follows the Python sensor's xmltok.py: entities (the five predefined ones and
 * character references) are decoded, the XML declaration / processing instructions and
 * comments are skipped, DTDs and CDATA are an error (RFC 6120 section 11.1), prefixes are kept
 * ("stream:features") and xmlns is an ordinary attribute. Names and attribute values longer
 * than the buffers below are cut (the client only compares short ones).
 */
#ifndef XMPP_XML_H_
#define XMPP_XML_H_

#include <stdint.h>

#ifdef XMPP_XML_CONF_NAME_MAX
#define XMPP_XML_NAME_MAX XMPP_XML_CONF_NAME_MAX
#else
#define XMPP_XML_NAME_MAX 24
#endif

#ifdef XMPP_XML_CONF_VALUE_MAX
#define XMPP_XML_VALUE_MAX XMPP_XML_CONF_VALUE_MAX
#else
#define XMPP_XML_VALUE_MAX 72
#endif

#define XMPP_XML_TEXT_CHUNK 16

typedef enum {
  XMPP_XML_START,   /* a start tag's name: a = name */
  XMPP_XML_ATTR,    /* one attribute of it: a = name, b = value */
  XMPP_XML_END,     /* an end tag (also after a self-closing start tag): a = name */
  XMPP_XML_TEXT,    /* decoded character data: a = bytes, len; last = a '<' followed it */
} xmpp_xml_event_t;

struct xmpp_xml;
typedef void (*xmpp_xml_callback_t)(struct xmpp_xml *x, xmpp_xml_event_t ev,
                                    const char *a, const char *b, uint16_t len);

struct xmpp_xml {
  xmpp_xml_callback_t callback;
  void *ptr;
  uint8_t state;
  uint8_t ret;       /* the state an entity returns to */
  uint8_t quote;
  uint8_t dashes;
  uint8_t name_len;
  uint8_t aname_len;
  uint8_t value_len;
  uint8_t ent_len;
  uint8_t text_len;
  uint8_t text_last; /* the TEXT event being flushed is the last of its run */
  char name[XMPP_XML_NAME_MAX];
  char aname[XMPP_XML_NAME_MAX];
  char value[XMPP_XML_VALUE_MAX];
  char ent[12];
  char text[XMPP_XML_TEXT_CHUNK];
};

void xmpp_xml_init(struct xmpp_xml *x, xmpp_xml_callback_t callback, void *ptr);
/* Feed bytes; 0 if fine, -1 once the input is not well-formed (then reinit). */
int xmpp_xml_feed(struct xmpp_xml *x, const uint8_t *data, uint16_t len);

#endif /* XMPP_XML_H_ */
