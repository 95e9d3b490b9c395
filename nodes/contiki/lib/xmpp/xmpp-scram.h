/*
 * SCRAM-SHA-1 client messages (RFC 5802 sections 3 and 5), free of Contiki so the host test
 * driver can check them against the Python sensor's scram.py.
 */
#ifndef XMPP_SCRAM_H_
#define XMPP_SCRAM_H_

#include <stddef.h>
#include <stdint.h>
#include "xmpp-sha1.h"

/* The largest iteration count accepted (scram.py MAX_ITERATIONS): more stalls the node. */
#define XMPP_SCRAM_MAX_ITERATIONS 65536UL

/* client-first-message-bare: "n=<saslname(user)>,r=<nonce>" into out; its length or -1. */
int xmpp_scram_first_bare(const char *user, const char *nonce, char *out, size_t size);
/*
 * From the server-first-message: the client-final-message into `final` (size bytes, NUL
 * ended) and the server signature to expect. NULL if fine, else why it was refused.
 */
const char *xmpp_scram_final(const char *user, const char *password, const char *nonce,
                             const char *server_first, size_t server_first_len,
                             char *final, size_t size,
                             uint8_t server_signature[XMPP_SHA1_LEN]);
/* The server-final-message "v=..." against the expected signature: NULL if it matches. */
const char *xmpp_scram_check(const char *server_final, size_t len,
                             const uint8_t server_signature[XMPP_SHA1_LEN]);

#endif /* XMPP_SCRAM_H_ */
