/*
 * Contiki-NG configuration of TARGET=medium, after the native platform's
 * contiki-conf.h (arch/platform/native/contiki-conf.h, Contiki-NG 5.0).
 *
 * Copied because it must differ: the network layer is sicslowpan (native's is
 * the tun6 driver), the radio is the medium's frame port, and Energest counts
 * microseconds of the host's monotonic clock (native's rtimer ticks in ms, less
 * than one frame's airtime). The rest is native's, unchanged.
 */
#ifndef CONTIKI_CONF_H_
#define CONTIKI_CONF_H_

#include <inttypes.h>
#include <sys/select.h>
#include <ctype.h>

#ifdef PROJECT_CONF_PATH
#include PROJECT_CONF_PATH
#endif /* PROJECT_CONF_PATH */

#include "native-def.h"

struct select_callback {
  int (*set_fd)(fd_set *fdr, fd_set *fdw);
  void (*handle_fd)(fd_set *fdr, fd_set *fdw);
};
int select_set_callback(int fd, const struct select_callback *callback);

#define CC_CONF_VA_ARGS 1

#ifndef EEPROM_CONF_SIZE
#define EEPROM_CONF_SIZE 1024
#endif

typedef unsigned int uip_stats_t;

#ifndef UIP_CONF_BYTE_ORDER
#define UIP_CONF_BYTE_ORDER UIP_LITTLE_ENDIAN
#endif

/* The radio: the emulated medium's frame port (medium-radio.c). */
#ifndef NETSTACK_CONF_RADIO
#define NETSTACK_CONF_RADIO medium_radio_driver
#endif

/* 802.15.4 extended addresses: the node's EUI-64 comes from its short address. */
#define LINKADDR_CONF_SIZE 8

/* As native: a host has the memory for a root's routes in a 100-node PAN. */
#ifndef NETSTACK_MAX_ROUTE_ENTRIES
#define NETSTACK_MAX_ROUTE_ENTRIES 300
#endif
#ifndef NBR_TABLE_CONF_MAX_NEIGHBORS
#define NBR_TABLE_CONF_MAX_NEIGHBORS 300
#endif
#ifndef QUEUEBUF_CONF_NUM
#define QUEUEBUF_CONF_NUM 64
#endif
#define UIP_ARCH_IPCHKSUM 1

/* select() watches the frame port too: room for the fds a host process may hold */
#ifndef SELECT_CONF_MAX
#define SELECT_CONF_MAX 64
#endif

#define CLOCK_CONF_SECOND 1000

/*
 * Energest in microseconds of CLOCK_MONOTONIC (platform.c). On this Linux-hosted
 * node the times are wall-clock times of the host, not a board's: "Radio Tx" is how
 * long the driver waited for the medium's modelled exchange (CCA, turnaround,
 * airtime, ACK or macAckWaitDuration) plus the medium's lateness; "Radio Rx" is the
 * rest of the time the radio was on; "CPU" is the time the process was not waiting
 * in select() (its own work, and the host's scheduling), "LPM" the time it waited.
 */
uint64_t medium_energest_now(void);
#define ENERGEST_CONF_CURRENT_TIME medium_energest_now
#define ENERGEST_CONF_TIME_T uint64_t
#define ENERGEST_CONF_SECOND 1000000

/* One Energest summary every 5 s (Contiki's default is 60 s): a sensor of a short run lives
 * 6-10 s (it joins within 3-8 s of its start, three readings 0.5 s apart), and only complete
 * periods are compared with the medium's times (testbed/energy/energest_medium.py). */
#ifndef SIMPLE_ENERGEST_CONF_PERIOD
#define SIMPLE_ENERGEST_CONF_PERIOD (5 * CLOCK_SECOND)
#endif

#define LOG_CONF_ENABLED 1

#define PLATFORM_SUPPORTS_BUTTON_HAL 1
#define PLATFORM_CONF_PROVIDES_MAIN_LOOP 1
#define PLATFORM_CONF_MAIN_ACCEPTS_ARGS 1
#define PLATFORM_CONF_SUPPORTS_STACK_CHECK 0

#endif /* CONTIKI_CONF_H_ */
