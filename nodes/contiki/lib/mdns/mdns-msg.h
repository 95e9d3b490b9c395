/*
 * DNS messages as mDNS (RFC 6762) sends them: a writer with name compression and a reader
 * that decompresses, both on caller-given buffers (no heap, no Contiki dependency, so the
 * host test driver links it alone).
 *
 * Names are kept in wire form without compression: length-prefixed labels ending in a zero
 * byte ("\x02s1\x05local\x00"). They compare without regard to ASCII case (RFC 6762 §16).
 * The reader never reads past the message: every error is the byte offset where it found
 * the message wrong (mdns_reader.error_at), as nodes/xmpp-sensor/dnsmsg.py's DNSError says.
 */
#ifndef MDNS_MSG_H_
#define MDNS_MSG_H_

#include <stdint.h>

#define MDNS_TYPE_A 1
#define MDNS_TYPE_PTR 12
#define MDNS_TYPE_TXT 16
#define MDNS_TYPE_AAAA 28
#define MDNS_TYPE_SRV 33
#define MDNS_TYPE_NSEC 47
#define MDNS_TYPE_ANY 255
#define MDNS_CLASS_IN 1
/* The top bit of a record's class (cache flush) and of a question's class (unicast answer) */
#define MDNS_CLASS_TOP_BIT 0x8000
#define MDNS_FLAG_QR 0x8000
#define MDNS_FLAG_AA 0x0400
#define MDNS_FLAG_TC 0x0200

/* The longest name in wire form (RFC 1035 §3.1) */
#define MDNS_NAME_MAX 255

enum { MDNS_QUESTION, MDNS_ANSWER, MDNS_AUTHORITY, MDNS_ADDITIONAL };

/* -- names ----------------------------------------------------------------------------- */

/* Length of a wire-form name, the final zero byte included. */
uint16_t mdns_name_len(const uint8_t *name);
int mdns_name_equal(const uint8_t *a, const uint8_t *b);
/* Append one label to a wire-form name in `out` (size bytes); 0, or -1 if it does not fit.
 * Start with out[0] = 0 (the root). */
int mdns_name_append(uint8_t *out, uint16_t size, const char *label, uint16_t label_len);
/* Labels of `suffix` after those of `out`: "s1" + "_presence._tcp.local" */
int mdns_name_extend(uint8_t *out, uint16_t size, const uint8_t *suffix);
/* Dotted text ("s1@s1._presence._tcp.local"); labels are not escaped (the events quote them) */
int mdns_name_text(const uint8_t *name, char *out, uint16_t size);

/* -- writing --------------------------------------------------------------------------- */

#define MDNS_WRITER_LABELS 32 /* label offsets remembered for compression */

struct mdns_writer {
  uint8_t *buf;
  uint16_t size, len;
  uint16_t counts[4];
  uint16_t labels[MDNS_WRITER_LABELS];
  uint8_t label_count;
  uint8_t full;           /* a write did not fit: the message ends before it */
};

/* A record to write. PTR: target; SRV: port and target (priority and weight 0);
 * TXT, AAAA and any other type: data, data_len. */
struct mdns_rr {
  const uint8_t *name;
  uint16_t type;
  uint8_t flush;
  uint32_t ttl;
  const uint8_t *target;
  uint16_t port;
  const uint8_t *data;
  uint16_t data_len;
};

void mdns_writer_init(struct mdns_writer *w, uint8_t *buf, uint16_t size, uint16_t id,
                      uint16_t flags);
/* Each returns 0, or -1 (and leaves the message as it was) if it does not fit. Sections in
 * order: questions, then answers, authority, additional. */
int mdns_write_question(struct mdns_writer *w, const uint8_t *name, uint16_t type,
                        int unicast);
int mdns_write_rr(struct mdns_writer *w, int section, const struct mdns_rr *rr);
/* Sets the section counts; the message's length. */
uint16_t mdns_writer_finish(struct mdns_writer *w);

/* -- reading --------------------------------------------------------------------------- */

struct mdns_header {
  uint16_t id, flags;
  uint16_t counts[4];
};

struct mdns_reader {
  const uint8_t *buf;
  uint16_t len, pos;
  int32_t error_at;   /* -1, or the byte offset of the first error */
  const char *error;  /* what was wrong there */
};

/* A record read; PTR and SRV targets decompressed into `target`; rdata is the offset of
 * the record's data in the message (for AAAA, TXT and comparison). */
struct mdns_rr_read {
  uint8_t name[MDNS_NAME_MAX + 1];
  uint16_t type, klass;
  uint8_t flush;
  uint32_t ttl;
  uint16_t rdata, rdlen;
  uint8_t target[MDNS_NAME_MAX + 1];
  uint16_t port;
};

void mdns_reader_init(struct mdns_reader *r, const uint8_t *buf, uint16_t len);
int mdns_read_header(struct mdns_reader *r, struct mdns_header *h);
/* A name at the reader's position (compression followed, loops refused) */
int mdns_read_name(struct mdns_reader *r, uint8_t *out);
int mdns_read_question(struct mdns_reader *r, uint8_t *name, uint16_t *type, int *unicast);
int mdns_read_rr(struct mdns_reader *r, struct mdns_rr_read *rr);

#endif /* MDNS_MSG_H_ */
