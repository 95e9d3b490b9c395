/*
 * Copyright (c) 2002, Adam Dunkels.
 * All rights reserved.
 *
 * Redistribution and use in source and binary forms, with or without
 * modification, are permitted provided that the following conditions
 * are met:
 * 1. Redistributions of source code must retain the above copyright
 *    notice, this list of conditions and the following disclaimer.
 * 2. Redistributions in binary form must reproduce the above
 *    copyright notice, this list of conditions and the following
 *    disclaimer in the documentation and/or other materials provided
 *    with the distribution.
 * 3. The name of the author may not be used to endorse or promote
 *    products derived from this software without specific prior
 *    written permission.
 *
 * THIS SOFTWARE IS PROVIDED BY THE AUTHOR ``AS IS'' AND ANY EXPRESS
 * OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED
 * WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE
 * ARE DISCLAIMED.  IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR ANY
 * DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
 * DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE
 * GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS
 * INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY,
 * WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING
 * NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS
 * SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
 */

/**
 * \file
 *         TARGET=medium: the platform of a Linux-hosted node on the emulated medium.
 *
 *         Derived from Contiki-NG 5.0's arch/platform/native/platform.c (kept: the
 *         select() main loop and its callbacks, stdin as the serial line). Copied
 *         because these must differ: the node's identity (short address and medium
 *         socket, from the command line or the environment) gives its EUI-64 link
 *         address; no global address or default route is set by hand (RPL gives
 *         them, as on a board); the main loop tells Energest when it waits (LPM),
 *         sleeps until the next etimer rather than up to a second, and stops
 *         watching stdin at its end instead of spinning on it, and seeds
 *         random_rand() per node.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/select.h>
#include <errno.h>
#include <getopt.h>
#include <sys/random.h>

#include "contiki.h"
#include "net/netstack.h"
#include "net/linkaddr.h"
#include "dev/serial-line.h"
#include "dev/button-hal.h"
#include "dev/gpio-hal.h"
#include "dev/leds.h"
#include "lib/csprng.h"
#include "lib/random.h"
#include "sys/energest.h"
#include "sys/platform.h"
#include "sys/etimer.h"
#include "medium-radio.h"

#include "sys/log.h"
#define LOG_MODULE "Medium"
#define LOG_LEVEL LOG_LEVEL_MAIN

#ifdef SELECT_CONF_MAX
#define SELECT_MAX SELECT_CONF_MAX
#else
#define SELECT_MAX 8
#endif

/* select() timeout (ms) when no process asked to run and no fd is ready */
#ifdef SELECT_CONF_TIMEOUT
#define SELECT_TIMEOUT SELECT_CONF_TIMEOUT
#else
#define SELECT_TIMEOUT 1000
#endif

#define MEDIUM_OPTION_PRIO (CONTIKI_VERBOSE_PRIO + 40)

static const struct select_callback *select_callback[SELECT_MAX];
static int select_max = 0;
static int (*input_handler)(unsigned char c);

static const char *socket_path;
static const char *short_text;
static const char *seed_text;
static uint16_t node_short;
/*---------------------------------------------------------------------------*/
uint64_t
medium_energest_now(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
/*---------------------------------------------------------------------------*/
static int
socket_callback(const char *optarg)
{
  socket_path = optarg;
  return 0;
}
CONTIKI_OPTION(MEDIUM_OPTION_PRIO, { "medium", required_argument, NULL, 0 },
               socket_callback,
               "the medium's frame socket (default: $TESTBED_MEDIUM_SOCKET)\n");
static int
short_callback(const char *optarg)
{
  short_text = optarg;
  return 0;
}
CONTIKI_OPTION(MEDIUM_OPTION_PRIO + 1, { "short", required_argument, NULL, 0 },
               short_callback,
               "the node's 16-bit short address, 1..0xfffd (default: $TESTBED_NODE_SHORT)\n");
static int
seed_callback(const char *optarg)
{
  seed_text = optarg;
  return 0;
}
CONTIKI_OPTION(MEDIUM_OPTION_PRIO + 2, { "seed", required_argument, NULL, 0 },
               seed_callback,
               "seed of random_rand(), mixed with the short address"
               " (default: $TESTBED_NODE_SEED, else random)\n");
/*---------------------------------------------------------------------------*/
/*
 * random_rand() is libc's rand() on this CPU, and native never seeds it: every node
 * would draw the same CSMA backoffs, the same initial DSN and the same trickle
 * intervals, and neighbours would collide in lockstep forever. Seeded per node: from
 * --seed/TESTBED_NODE_SEED and the short address (a run repeats), else at random.
 */
static void
seed_random(const struct csprng_seed *fresh)
{
  unsigned long seed;

  if(seed_text == NULL) {
    seed_text = getenv("TESTBED_NODE_SEED");
  }
  if(seed_text != NULL && *seed_text != '\0') {
    seed = strtoul(seed_text, NULL, 0);
    random_init((unsigned short)((seed * 40503UL) ^ node_short));
  } else {
    random_init((unsigned short)(fresh->u8[0] | (fresh->u8[1] << 8)));
  }
}
/*---------------------------------------------------------------------------*/
/* The node's identity; a bad one is bad input: one line on stderr, exit status 2. */
static void
read_identity(void)
{
  char *end;
  unsigned long value;

  if(socket_path == NULL) {
    socket_path = getenv("TESTBED_MEDIUM_SOCKET");
  }
  if(short_text == NULL) {
    short_text = getenv("TESTBED_NODE_SHORT");
  }
  if(socket_path == NULL || *socket_path == '\0') {
    fprintf(stderr, "medium: no medium socket: give --medium PATH or TESTBED_MEDIUM_SOCKET\n");
    exit(2);
  }
  if(short_text == NULL || *short_text == '\0') {
    fprintf(stderr, "medium: no short address: give --short N or TESTBED_NODE_SHORT\n");
    exit(2);
  }
  errno = 0;
  value = strtoul(short_text, &end, 0);
  if(errno != 0 || *end != '\0' || value < 1 || value > 0xfffd) {
    fprintf(stderr, "medium: short address '%s' is not a number in 1..0xfffd\n",
            short_text);
    exit(2);
  }
  node_short = (uint16_t)value;
  medium_radio_configure(socket_path, node_short);
}
/*---------------------------------------------------------------------------*/
int
select_set_callback(int fd, const struct select_callback *callback)
{
  int i;

  if(fd >= 0 && fd < SELECT_MAX) {
    if(callback != NULL &&
       (callback->set_fd == NULL || callback->handle_fd == NULL)) {
      callback = NULL;
    }
    select_callback[fd] = callback;
    if(callback != NULL) {
      if(fd > select_max) {
        select_max = fd;
      }
    } else {
      select_max = 0;
      for(i = SELECT_MAX - 1; i > 0; i--) {
        if(select_callback[i] != NULL) {
          select_max = i;
          break;
        }
      }
    }
    return 1;
  }
  return 0;
}
/*---------------------------------------------------------------------------*/
void
native_uart_set_input(int (*input)(unsigned char c))
{
  input_handler = input;
}
/*---------------------------------------------------------------------------*/
static int
stdin_set_fd(fd_set *rset, fd_set *wset)
{
  FD_SET(STDIN_FILENO, rset);
  return 1;
}
static void
stdin_handle_fd(fd_set *rset, fd_set *wset)
{
  char c;
  ssize_t got;

  if(FD_ISSET(STDIN_FILENO, rset)) {
    got = read(STDIN_FILENO, &c, 1);
    if(got > 0) {
      input_handler(c);
    } else if(got == 0) {
      /* end of the console's input (native would spin on it): stop watching it */
      select_set_callback(STDIN_FILENO, NULL);
    }
  }
}
static const struct select_callback stdin_fd = {
  stdin_set_fd, stdin_handle_fd
};
/*---------------------------------------------------------------------------*/
void
platform_init_stage_one(void)
{
  struct csprng_seed seed;

  gpio_hal_init();
  button_hal_init();
  leds_init();
  memset(&seed, 0, sizeof(seed));
  if(getrandom(seed.u8, CSPRNG_SEED_LEN, 0) == CSPRNG_SEED_LEN) {
    csprng_feed(&seed);
  }
  read_identity();
  seed_random(&seed);
}
/*---------------------------------------------------------------------------*/
void
platform_init_stage_two(void)
{
  linkaddr_t addr;

  /* The EUI-64 of testbed/lowpan/addresses.py: 02:00:00:ff:fe:00:HH:LL */
  medium_radio_eui64(addr.u8);
  linkaddr_set_node_addr(&addr);
  serial_line_init();
  if(input_handler == NULL) {
    native_uart_set_input(serial_line_input_byte);
  }
}
/*---------------------------------------------------------------------------*/
void
platform_init_stage_three(void)
{
  /* The console is a pty (or a pipe): every line leaves at once. */
  setvbuf(stdout, NULL, _IONBF, 0);
}
/*---------------------------------------------------------------------------*/
/*
 * How long select() may wait: not at all while processes have events, else until
 * the next etimer (native waits up to SELECT_TIMEOUT, which would delay CSMA's
 * backoff timers by up to a second).
 */
static void
wait_for(struct timeval *tv, int events)
{
  clock_time_t wait = SELECT_TIMEOUT * CLOCK_SECOND / 1000;
  clock_time_t now;
  clock_time_t next;

  if(events) {
    wait = 0;
  } else if(etimer_pending()) {
    now = clock_time();
    next = etimer_next_expiration_time();
    wait = CLOCK_LT(now, next) ? MIN(next - now, wait) : 0;
  }
  tv->tv_sec = wait / CLOCK_SECOND;
  tv->tv_usec = (wait % CLOCK_SECOND) * (1000000 / CLOCK_SECOND);
}
/*---------------------------------------------------------------------------*/
void
platform_main_loop(void)
{
  select_set_callback(STDIN_FILENO, &stdin_fd);
  while(1) {
    fd_set fdr;
    fd_set fdw;
    int maxfd;
    int i;
    int retval;
    struct timeval tv;

    retval = process_run();
    wait_for(&tv, retval);

    FD_ZERO(&fdr);
    FD_ZERO(&fdw);
    maxfd = 0;
    for(i = 0; i <= select_max; i++) {
      if(select_callback[i] != NULL && select_callback[i]->set_fd(&fdr, &fdw)) {
        maxfd = i;
      }
    }

    ENERGEST_SWITCH(ENERGEST_TYPE_CPU, ENERGEST_TYPE_LPM);
    retval = select(maxfd + 1, &fdr, &fdw, NULL, &tv);
    ENERGEST_SWITCH(ENERGEST_TYPE_LPM, ENERGEST_TYPE_CPU);
    if(retval < 0) {
      if(errno != EINTR) {
        perror("select");
      }
    } else if(retval > 0) {
      for(i = 0; i <= maxfd; i++) {
        if(select_callback[i] != NULL) {
          select_callback[i]->handle_fd(&fdr, &fdw);
        }
      }
    }
    etimer_request_poll();
  }
}
/*---------------------------------------------------------------------------*/
