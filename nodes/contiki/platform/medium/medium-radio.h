/**
 * \file
 *         The radio of TARGET=medium: the testbed's emulated medium through its
 *         frame port (docs/CONTRACTS.md, "Frame port").
 */
#ifndef MEDIUM_RADIO_H_
#define MEDIUM_RADIO_H_

#include "contiki.h"
#include "dev/radio.h"

/*
 * Wire format version and message types (testbed/radio/frameport.py):
 * TX = version, type, flags, token, PSDU; TX-DONE = version, type, status, token.
 */
#define MEDIUM_PORT_VERSION     1
#define MEDIUM_MSG_HELLO        0x01
#define MEDIUM_MSG_TX           0x02
#define MEDIUM_MSG_WELCOME      0x81
#define MEDIUM_MSG_TX_DONE      0x82
#define MEDIUM_MSG_RX           0x83
#define MEDIUM_MSG_REFUSED      0x84

#define MEDIUM_TX_FLAG_CCA      0x01

#define MEDIUM_TX_OK            0
#define MEDIUM_TX_NOACK         1
#define MEDIUM_TX_COLLISION     2
#define MEDIUM_TX_ERROR         3

extern const struct radio_driver medium_radio_driver;

/* The node's identity, given before netstack_init() (platform.c). */
void medium_radio_configure(const char *socket_path, uint16_t short_addr);
/* The node's EUI-64, 02:00:00:ff:fe:00:HH:LL from its short address. */
void medium_radio_eui64(uint8_t *eui64);

#endif /* MEDIUM_RADIO_H_ */
