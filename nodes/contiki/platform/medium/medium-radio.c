/**
 * \file
 *         The radio of TARGET=medium: Contiki-NG's struct radio_driver on the
 *         testbed's emulated IEEE 802.15.4 medium, through its frame port (an
 *         AF_UNIX SOCK_SEQPACKET socket, one message per packet; the wire format is
 *         in docs/CONTRACTS.md, "Frame port", and testbed/radio/frameport.py).
 *
 *         What the medium does for us is what a radio chip does: CCA before the
 *         frame (send-on-CCA), the FCS, the airtime, the ACK of a frame addressed
 *         to us (auto-ACK) and the wait for the ACK of ours, address filtering.
 *         What Contiki's CSMA does (backoff, retries, duplicate rejection) stays
 *         in Contiki.
 *
 *         States of the driver:
 *         - idle: received frames wait in a small queue (rx_queue) until the
 *           process hands them to NETSTACK_MAC.input(); pending_packet() says
 *           whether one waits, as a radio's RX FIFO does;
 *         - transmitting: transmit() sends TX and blocks until the TX-DONE with
 *           the same token, which the medium sends at the modelled end of the
 *           exchange (after the ACK or macAckWaitDuration), or TX_TIMEOUT;
 *           frames that arrive meanwhile are queued;
 *         - after a transmission (in_exchange, until the next prepare() or the
 *           process runs): pending_packet() and read() show only the ACK.
 *           TX-DONE OK of a frame that asked for an ACK leaves a 3-byte ACK with
 *           the frame's DSN to read, as a radio without hardware ACK wait gives
 *           CSMA; TX-DONE NOACK returns RADIO_TX_OK with no ACK to read, so CSMA
 *           (csma-output.c send_one_packet) waits CSMA_ACK_WAIT_TIME, finds none
 *           and counts MAC_TX_NOACK, and retries. (Contiki-NG 5.0's CSMA maps a
 *           RADIO_TX_NOACK return to MAC_TX_ERR, which it never retries.)
 *           TX-DONE COLLISION (the CCA found the channel busy) is RADIO_TX_COLLISION.
 */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "contiki.h"
#include "net/packetbuf.h"
#include "net/netstack.h"
#include "net/mac/framer/frame802154.h"
#include "sys/energest.h"
#include "medium-radio.h"

#include "sys/log.h"
#define LOG_MODULE "Radio"
#ifdef MEDIUM_RADIO_CONF_LOG_LEVEL
#define LOG_LEVEL MEDIUM_RADIO_CONF_LOG_LEVEL
#else
#define LOG_LEVEL LOG_LEVEL_WARN
#endif

/* Frames received and not yet read */
#ifdef MEDIUM_RADIO_CONF_RX_QUEUE
#define RX_QUEUE MEDIUM_RADIO_CONF_RX_QUEUE
#else
#define RX_QUEUE 8
#endif

/* How long transmit() waits for TX-DONE (ms): the exchange takes < 6 ms of model time */
#ifdef MEDIUM_RADIO_CONF_TX_TIMEOUT
#define TX_TIMEOUT MEDIUM_RADIO_CONF_TX_TIMEOUT
#else
#define TX_TIMEOUT 1000
#endif

/* How long init() waits for the medium's WELCOME (ms) */
#define WELCOME_TIMEOUT 5000

#define MAX_PAYLOAD 125 /* aMaxPHYPacketSize 127 - FCS 2 */
#define MESSAGE_MAX 160
#define ACK_LEN 3
#define FCF_ACK_REQUEST 0x20

struct rx_frame {
  uint8_t len;
  int8_t rssi;
  uint8_t lqi;
  uint8_t data[MAX_PAYLOAD];
};

static const char *socket_path;
static uint16_t short_addr;
static int sock = -1;

static uint8_t channel = IEEE802154_DEFAULT_CHANNEL;
static uint16_t pan_id = IEEE802154_PANID;
static uint8_t tx_buf[MAX_PAYLOAD];
static uint16_t tx_len;

static struct rx_frame rx_queue[RX_QUEUE];
static uint8_t rx_head;
static uint8_t rx_count;
static uint32_t rx_dropped;

/*
 * The token of the TX under way: its TX-DONE echoes it, so a TX-DONE that comes
 * after transmit() gave up waiting is never taken for a later TX's answer.
 */
static uint8_t tx_token;

static uint8_t in_exchange;
static uint8_t ack_pending;
static uint8_t ack_dsn;

static uint8_t radio_on;
static radio_value_t rx_mode = RADIO_RX_MODE_ADDRESS_FILTER | RADIO_RX_MODE_AUTOACK;
static radio_value_t tx_mode = RADIO_TX_MODE_SEND_ON_CCA;
static int8_t last_rssi;
static uint8_t last_lqi;

PROCESS(medium_radio_process, "medium radio");
/*---------------------------------------------------------------------------*/
void
medium_radio_configure(const char *path, uint16_t short_address)
{
  socket_path = path;
  short_addr = short_address;
}
/*---------------------------------------------------------------------------*/
void
medium_radio_eui64(uint8_t *eui64)
{
  static const uint8_t prefix[6] = { 0x02, 0x00, 0x00, 0xff, 0xfe, 0x00 };

  memcpy(eui64, prefix, sizeof(prefix));
  eui64[6] = short_addr >> 8;
  eui64[7] = short_addr & 0xff;
}
/*---------------------------------------------------------------------------*/
CC_NORETURN static void
fail(const char *what)
{
  fprintf(stderr, "medium: node 0x%04x: %s\n", short_addr, what);
  exit(1);
}
/*---------------------------------------------------------------------------*/
static void
queue_rx(const uint8_t *msg, int len)
{
  struct rx_frame *frame;
  int psdu_len = len - 4;

  if(!radio_on || psdu_len < 3 || psdu_len > MAX_PAYLOAD) {
    return;
  }
  if(rx_count == RX_QUEUE) {
    rx_dropped++;
    LOG_WARN("RX queue full, frame dropped (%lu so far)\n", (unsigned long)rx_dropped);
    return;
  }
  frame = &rx_queue[(rx_head + rx_count) % RX_QUEUE];
  frame->rssi = (int8_t)msg[2];
  frame->lqi = msg[3];
  frame->len = psdu_len;
  memcpy(frame->data, msg + 4, psdu_len);
  rx_count++;
  process_poll(&medium_radio_process);
}
/*---------------------------------------------------------------------------*/
/*
 * One message from the medium: RX is queued; TX-DONE's status is returned;
 * -1 for anything else. A closed socket or a REFUSED ends the node: its radio is
 * gone, as when the medium stops at the end of a run.
 */
static int
handle_message(const uint8_t *msg, int len)
{
  char reason[MESSAGE_MAX];

  if(len == 0) {
    fail("the medium closed the frame port");
  }
  if(len < 2 || msg[0] != MEDIUM_PORT_VERSION) {
    LOG_ERR("bad message from the medium (%d bytes)\n", len);
    return -1;
  }
  switch(msg[1]) {
  case MEDIUM_MSG_RX:
    if(len >= 4) {
      queue_rx(msg, len);
    }
    return -1;
  case MEDIUM_MSG_TX_DONE:
    if(len < 4 || msg[3] != tx_token) {
      return -1; /* the late answer to a TX transmit() gave up on */
    }
    return msg[2];
  case MEDIUM_MSG_REFUSED:
    snprintf(reason, sizeof(reason), "the medium refused: %.*s", len - 2,
             (const char *)msg + 2);
    fail(reason);
  default:
    return -1;
  }
}
/*---------------------------------------------------------------------------*/
/* Wait up to timeout_ms for one message; its length, 0 when closed, -1 on timeout */
static int
receive(uint8_t *msg, int timeout_ms)
{
  struct pollfd pfd = { .fd = sock, .events = POLLIN };
  int len;

  if(poll(&pfd, 1, timeout_ms) <= 0) {
    return -1;
  }
  len = recv(sock, msg, MESSAGE_MAX, 0);
  if(len < 0) {
    return errno == EINTR || errno == EAGAIN ? -1 : 0;
  }
  return len;
}
/*---------------------------------------------------------------------------*/
static int
sock_set_fd(fd_set *rset, fd_set *wset)
{
  FD_SET(sock, rset);
  return 1;
}
static void
sock_handle_fd(fd_set *rset, fd_set *wset)
{
  uint8_t msg[MESSAGE_MAX];
  int len;

  if(!FD_ISSET(sock, rset)) {
    return;
  }
  while((len = recv(sock, msg, sizeof(msg), MSG_DONTWAIT)) >= 0) {
    handle_message(msg, len); /* a TX-DONE here is a late one: ignored */
  }
  if(errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    fail("the frame port failed");
  }
}
static const struct select_callback sock_callback = { sock_set_fd, sock_handle_fd };
/*---------------------------------------------------------------------------*/
static int
init(void)
{
  struct sockaddr_un addr;
  uint8_t hello[4] = { MEDIUM_PORT_VERSION, MEDIUM_MSG_HELLO };
  uint8_t msg[MESSAGE_MAX];
  char what[sizeof(addr.sun_path) + 128];
  int len;

  if(strlen(socket_path) >= sizeof(addr.sun_path)) {
    fail("the medium socket's path is too long for AF_UNIX");
  }
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  strcpy(addr.sun_path, socket_path);
  sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if(sock < 0 || connect(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
    snprintf(what, sizeof(what), "no medium at %s: %s", socket_path, strerror(errno));
    fail(what);
  }
  hello[2] = short_addr & 0xff;
  hello[3] = short_addr >> 8;
  if(send(sock, hello, sizeof(hello), 0) != sizeof(hello)) {
    fail("cannot send HELLO to the medium");
  }
  len = receive(msg, WELCOME_TIMEOUT);
  if(len < 0) {
    fail("no WELCOME from the medium within 5 s");
  }
  handle_message(msg, len); /* ends the node on REFUSED or a closed socket */
  if(len < 5 || msg[1] != MEDIUM_MSG_WELCOME) {
    fail("the medium did not answer HELLO with WELCOME");
  }
  channel = msg[2];
  pan_id = msg[3] | (msg[4] << 8);
  if(pan_id != IEEE802154_PANID) {
    LOG_WARN("the medium's PAN is 0x%04x, this node's 0x%04x\n", pan_id, IEEE802154_PANID);
  }
  if(!select_set_callback(sock, &sock_callback)) {
    fail("the frame port's fd is above SELECT_CONF_MAX");
  }
  process_start(&medium_radio_process, NULL);
  return 1;
}
/*---------------------------------------------------------------------------*/
static int
prepare(const void *payload, unsigned short payload_len)
{
  in_exchange = 0;
  ack_pending = 0;
  if(payload_len > MAX_PAYLOAD) {
    tx_len = 0;
    return 1;
  }
  memcpy(tx_buf, payload, payload_len);
  tx_len = payload_len;
  return 0;
}
/*---------------------------------------------------------------------------*/
static int
transmit(unsigned short transmit_len)
{
  uint8_t msg[MESSAGE_MAX];
  struct timespec start, now;
  int status = -1;
  int len;
  int waited;

  if(sock < 0 || transmit_len != tx_len || transmit_len < 3) {
    return RADIO_TX_ERR;
  }
  msg[0] = MEDIUM_PORT_VERSION;
  msg[1] = MEDIUM_MSG_TX;
  msg[2] = (tx_mode & RADIO_TX_MODE_SEND_ON_CCA) ? MEDIUM_TX_FLAG_CCA : 0;
  msg[3] = ++tx_token;
  memcpy(msg + 4, tx_buf, tx_len);

  if(radio_on) {
    ENERGEST_OFF(ENERGEST_TYPE_LISTEN);
  }
  ENERGEST_ON(ENERGEST_TYPE_TRANSMIT);
  if(send(sock, msg, 4 + tx_len, 0) == 4 + tx_len) {
    clock_gettime(CLOCK_MONOTONIC, &start);
    waited = 0;
    while(status < 0 && waited < TX_TIMEOUT) {
      len = receive(msg, TX_TIMEOUT - waited);
      if(len >= 0) {
        status = handle_message(msg, len);
      }
      clock_gettime(CLOCK_MONOTONIC, &now);
      waited = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
    }
  }
  ENERGEST_OFF(ENERGEST_TYPE_TRANSMIT);
  if(radio_on) {
    ENERGEST_ON(ENERGEST_TYPE_LISTEN);
  }

  in_exchange = 1;
  switch(status) {
  case MEDIUM_TX_OK:
    if(tx_buf[0] & FCF_ACK_REQUEST) {
      ack_pending = 1;
      ack_dsn = tx_buf[2];
    }
    return RADIO_TX_OK;
  case MEDIUM_TX_NOACK:
    return RADIO_TX_OK; /* no ACK to read: CSMA counts MAC_TX_NOACK */
  case MEDIUM_TX_COLLISION:
    return RADIO_TX_COLLISION;
  case -1:
    LOG_ERR("no TX-DONE from the medium within %u ms\n", TX_TIMEOUT);
    return RADIO_TX_ERR;
  default:
    LOG_ERR("the medium could not send a %u-byte frame\n", tx_len);
    return RADIO_TX_ERR;
  }
}
/*---------------------------------------------------------------------------*/
static int
send_frame(const void *payload, unsigned short payload_len)
{
  if(prepare(payload, payload_len) != 0) {
    return RADIO_TX_ERR;
  }
  return transmit(payload_len);
}
/*---------------------------------------------------------------------------*/
static int
read_frame(void *buf, unsigned short buf_len)
{
  struct rx_frame *frame;
  int len;

  if(in_exchange) {
    if(!ack_pending || buf_len < ACK_LEN) {
      return 0;
    }
    ack_pending = 0;
    ((uint8_t *)buf)[0] = FRAME802154_ACKFRAME;
    ((uint8_t *)buf)[1] = 0;
    ((uint8_t *)buf)[2] = ack_dsn;
    return ACK_LEN;
  }
  if(rx_count == 0) {
    return 0;
  }
  frame = &rx_queue[rx_head];
  rx_head = (rx_head + 1) % RX_QUEUE;
  rx_count--;
  if(frame->len > buf_len) {
    return 0;
  }
  memcpy(buf, frame->data, frame->len);
  last_rssi = frame->rssi;
  last_lqi = frame->lqi;
  len = frame->len;
  return len;
}
/*---------------------------------------------------------------------------*/
static int
channel_clear(void)
{
  return 1; /* the medium makes the CCA of a TX itself (send-on-CCA) */
}
/*---------------------------------------------------------------------------*/
static int
receiving_packet(void)
{
  return 0; /* the medium hands over whole frames only */
}
/*---------------------------------------------------------------------------*/
static int
pending_packet(void)
{
  return in_exchange ? ack_pending : rx_count > 0;
}
/*---------------------------------------------------------------------------*/
static int
on(void)
{
  if(!radio_on) {
    radio_on = 1;
    ENERGEST_ON(ENERGEST_TYPE_LISTEN);
  }
  return 1;
}
/*---------------------------------------------------------------------------*/
static int
off(void)
{
  if(radio_on) {
    radio_on = 0;
    ENERGEST_OFF(ENERGEST_TYPE_LISTEN);
  }
  return 1;
}
/*---------------------------------------------------------------------------*/
static radio_result_t
get_value(radio_param_t param, radio_value_t *value)
{
  if(value == NULL) {
    return RADIO_RESULT_INVALID_VALUE;
  }
  switch(param) {
  case RADIO_PARAM_POWER_MODE:
    *value = radio_on ? RADIO_POWER_MODE_ON : RADIO_POWER_MODE_OFF;
    return RADIO_RESULT_OK;
  case RADIO_PARAM_CHANNEL:
    *value = channel;
    return RADIO_RESULT_OK;
  case RADIO_PARAM_PAN_ID:
    *value = pan_id;
    return RADIO_RESULT_OK;
  case RADIO_PARAM_16BIT_ADDR:
    *value = short_addr;
    return RADIO_RESULT_OK;
  case RADIO_PARAM_RX_MODE:
    *value = rx_mode;
    return RADIO_RESULT_OK;
  case RADIO_PARAM_TX_MODE:
    *value = tx_mode;
    return RADIO_RESULT_OK;
  case RADIO_PARAM_TXPOWER:
    *value = 0;
    return RADIO_RESULT_OK;
  case RADIO_PARAM_LAST_RSSI:
  case RADIO_PARAM_RSSI:
    *value = last_rssi;
    return RADIO_RESULT_OK;
  case RADIO_PARAM_LAST_LINK_QUALITY:
    *value = last_lqi;
    return RADIO_RESULT_OK;
  case RADIO_CONST_CHANNEL_MIN:
    *value = 11;
    return RADIO_RESULT_OK;
  case RADIO_CONST_CHANNEL_MAX:
    *value = 26;
    return RADIO_RESULT_OK;
  case RADIO_CONST_MAX_PAYLOAD_LEN:
    *value = MAX_PAYLOAD;
    return RADIO_RESULT_OK;
  default:
    return RADIO_RESULT_NOT_SUPPORTED;
  }
}
/*---------------------------------------------------------------------------*/
static radio_result_t
set_value(radio_param_t param, radio_value_t value)
{
  switch(param) {
  case RADIO_PARAM_POWER_MODE:
    if(value == RADIO_POWER_MODE_ON) {
      on();
    } else if(value == RADIO_POWER_MODE_OFF) {
      off();
    } else {
      return RADIO_RESULT_INVALID_VALUE;
    }
    return RADIO_RESULT_OK;
  case RADIO_PARAM_CHANNEL:
    /* The medium is one channel: another one hears nothing, like a board would. */
    if(value != channel) {
      LOG_WARN("channel %d asked, the medium is on channel %u\n", (int)value, channel);
      return RADIO_RESULT_INVALID_VALUE;
    }
    return RADIO_RESULT_OK;
  case RADIO_PARAM_PAN_ID:
    pan_id = value & 0xffff;
    return RADIO_RESULT_OK;
  case RADIO_PARAM_16BIT_ADDR:
    return RADIO_RESULT_OK;
  case RADIO_PARAM_RX_MODE:
    /* The medium filters addresses and ACKs for its radios: both stay on. */
    rx_mode = value;
    return RADIO_RESULT_OK;
  case RADIO_PARAM_TX_MODE:
    tx_mode = value;
    return RADIO_RESULT_OK;
  default:
    return RADIO_RESULT_NOT_SUPPORTED;
  }
}
/*---------------------------------------------------------------------------*/
static radio_result_t
get_object(radio_param_t param, void *dest, size_t size)
{
  if(param == RADIO_PARAM_64BIT_ADDR && size == 8) {
    medium_radio_eui64(dest);
    return RADIO_RESULT_OK;
  }
  return RADIO_RESULT_NOT_SUPPORTED;
}
/*---------------------------------------------------------------------------*/
static radio_result_t
set_object(radio_param_t param, const void *src, size_t size)
{
  return RADIO_RESULT_NOT_SUPPORTED;
}
/*---------------------------------------------------------------------------*/
PROCESS_THREAD(medium_radio_process, ev, data)
{
  int len;

  PROCESS_BEGIN();

  while(1) {
    PROCESS_YIELD_UNTIL(ev == PROCESS_EVENT_POLL);
    while(rx_count > 0) {
      in_exchange = 0; /* the MAC is done with the last ACK */
      packetbuf_clear();
      len = read_frame(packetbuf_dataptr(), PACKETBUF_SIZE);
      if(len > 0) {
        packetbuf_set_datalen(len);
        packetbuf_set_attr(PACKETBUF_ATTR_RSSI, last_rssi);
        packetbuf_set_attr(PACKETBUF_ATTR_LINK_QUALITY, last_lqi);
        NETSTACK_MAC.input();
      }
    }
  }

  PROCESS_END();
}
/*---------------------------------------------------------------------------*/
const struct radio_driver medium_radio_driver = {
  init,
  prepare,
  transmit,
  send_frame,
  read_frame,
  channel_clear,
  receiving_packet,
  pending_packet,
  on,
  off,
  get_value,
  set_value,
  get_object,
  set_object
};
/*---------------------------------------------------------------------------*/
