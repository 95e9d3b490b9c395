/*
 * SLIP on the console of a node on the medium (the border router's line to the host).
 *
 * Bytes from stdin go to slip.c instead of the serial line; bytes to stdout are gathered
 * until the frame's closing END and written in one write(2), so a frame leaves the pty as
 * one piece and log lines printed between frames stay outside them.
 */
#include "contiki.h"
#include "dev/slip.h"
#include "net/ipv6/uip.h"

#include <unistd.h>

#define SLIP_END_BYTE 0300

void native_uart_set_input(int (*input)(unsigned char c));

static unsigned char pending[2 * UIP_BUFSIZE + 2];
static size_t pending_len;
/*---------------------------------------------------------------------------*/
static void
flush_pending(void)
{
  size_t done = 0;
  ssize_t wrote;

  while(done < pending_len) {
    wrote = write(STDOUT_FILENO, pending + done, pending_len - done);
    if(wrote <= 0) {
      break; /* the host side is gone: nothing to deliver the frame to */
    }
    done += (size_t)wrote;
  }
  pending_len = 0;
}
/*---------------------------------------------------------------------------*/
void
slip_arch_writeb(unsigned char c)
{
  pending[pending_len++] = c;
  /* a frame ends with END (and starts with one: keep that with the frame) */
  if((c == SLIP_END_BYTE && pending_len > 1) || pending_len == sizeof(pending)) {
    flush_pending();
  }
}
/*---------------------------------------------------------------------------*/
void
slip_arch_init(void)
{
  native_uart_set_input(slip_input_byte);
}
/*---------------------------------------------------------------------------*/
