/*
 * Host test driver of lib/mdns (the message codec and the engine, the same files the
 * firmware compiles), built with the host gcc and driven line by line from
 * tests/contiki/test_mdns_lib.py, which puts the engine on a virtual link beside the Python
 * engine and checks what it sends with scapy and nodes/xmpp-sensor/dnsmsg.py.
 *
 * stdin, one command a line; h: hex ("-" for none), t: the engine's clock in ms:
 *   decode h                -> H id flags qd an ns ar, then a line per entry:
 *                              Q name_h type unicast | R section name_h type class flush ttl
 *                              rdata_h target_h port; or ERR offset
 *   init host_h seed addr_h [addr_h]   publish instance_h type port [txt_h ...]
 *   browse type    start t    poll t    stop t    recv t port addr_h data_h
 *   deadline                -> D t | D none
 * While a command runs, what the engine does is printed as it happens:
 *   S dest_h port data_h    (dest "-": the group ff02::fb)
 *   E what key=h ...        (the event's fields, values in hex)
 * stdout: those lines, then "." after each command.
 */
#include "mdns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX 4096

static uint8_t a[MAX], b[MAX];
static char line[4 * MAX + 64];
/*---------------------------------------------------------------------------*/
static size_t
unhex(const char *h, uint8_t *out)
{
  size_t n = 0;
  unsigned v;

  if(h == NULL || strcmp(h, "-") == 0) {
    return 0;
  }
  while(h[0] && h[1] && sscanf(h, "%2x", &v) == 1) {
    out[n++] = v;
    h += 2;
  }
  return n;
}
/*---------------------------------------------------------------------------*/
static void
hex(const uint8_t *data, size_t len)
{
  size_t i;

  if(len == 0) {
    printf("-");
  }
  for(i = 0; i < len; i++) {
    printf("%02x", data[i]);
  }
}
/*---------------------------------------------------------------------------*/
static void
hex_text(const char *s)
{
  hex((const uint8_t *)s, strlen(s));
}
/*---------------------------------------------------------------------------*/
void
mdns_arch_send(const uint8_t *data, uint16_t len, const uint8_t *address, uint16_t port)
{
  printf("S ");
  hex(address, address ? 16 : 0);
  printf(" %u ", port);
  hex(data, len);
  printf("\n");
}
/*---------------------------------------------------------------------------*/
void
mdns_arch_event(const struct mdns_event *e)
{
  printf("E %s", e->what);
#define FIELD(key, value) if(value) { printf(" " key "="); hex_text(value); }
  FIELD("name", e->name);
  FIELD("renamed", e->renamed);
  FIELD("type", e->type);
  FIELD("host", e->host);
  FIELD("why", e->why);
#undef FIELD
  if(e->address) {
    printf(" address=");
    hex(e->address, 16);
  }
  if(e->host) {
    printf(" port=%u", e->port);
  }
  if(e->offset >= 0) {
    printf(" offset=%ld", (long)e->offset);
  }
  printf("\n");
}
/*---------------------------------------------------------------------------*/
static void
decode(const char *h)
{
  static struct mdns_rr_read rr;
  static uint8_t name[MDNS_NAME_MAX + 1];
  struct mdns_reader r;
  struct mdns_header head;
  size_t len = unhex(h, a);
  uint16_t i, type;
  int unicast, s;

  mdns_reader_init(&r, a, (uint16_t)len);
  if(mdns_read_header(&r, &head) < 0) {
    printf("ERR %ld\n", (long)r.error_at);
    return;
  }
  printf("H %u %u %u %u %u %u\n", head.id, head.flags, head.counts[0], head.counts[1],
         head.counts[2], head.counts[3]);
  for(i = 0; i < head.counts[MDNS_QUESTION]; i++) {
    if(mdns_read_question(&r, name, &type, &unicast) < 0) {
      printf("ERR %ld\n", (long)r.error_at);
      return;
    }
    printf("Q ");
    hex(name, mdns_name_len(name));
    printf(" %u %d\n", type, unicast);
  }
  for(s = MDNS_ANSWER; s <= MDNS_ADDITIONAL; s++) {
    for(i = 0; i < head.counts[s]; i++) {
      if(mdns_read_rr(&r, &rr) < 0) {
        printf("ERR %ld\n", (long)r.error_at);
        return;
      }
      printf("R %d ", s);
      hex(rr.name, mdns_name_len(rr.name));
      printf(" %u %u %u %lu ", rr.type, rr.klass, rr.flush, (unsigned long)rr.ttl);
      hex(a + rr.rdata, rr.rdlen);
      printf(" ");
      hex(rr.target, rr.target[0] ? mdns_name_len(rr.target) : 0);
      printf(" %u\n", rr.port);
    }
  }
}
/*---------------------------------------------------------------------------*/
int
main(void)
{
  static char host[128], instance[128];
  static const char *txt[8];
  static char txt_text[8][256];
  char *argv[16];
  int argc;
  uint32_t at;
  int i;

  while(fgets(line, sizeof(line), stdin) != NULL) {
    line[strcspn(line, "\n")] = '\0';
    argc = 0;
    for(argv[argc] = strtok(line, " "); argv[argc] != NULL && argc < 15;
        argv[++argc] = strtok(NULL, " ")) {
    }
    if(argc == 0) {
      printf(".\n");
      fflush(stdout);
      continue;
    }
    if(strcmp(argv[0], "decode") == 0 && argc == 2) {
      decode(argv[1]);
    } else if(strcmp(argv[0], "init") == 0 && argc >= 4) {
      host[unhex(argv[1], (uint8_t *)host)] = '\0';
      unhex(argv[3], b);
      if(argc > 4) {
        unhex(argv[4], b + 16);
      }
      mdns_init(host, b, argc - 3, (uint32_t)strtoul(argv[2], NULL, 10));
    } else if(strcmp(argv[0], "publish") == 0 && argc >= 4) {
      instance[unhex(argv[1], (uint8_t *)instance)] = '\0';
      for(i = 0; i + 4 < argc && i < 8; i++) {
        txt_text[i][unhex(argv[4 + i], (uint8_t *)txt_text[i])] = '\0';
        txt[i] = txt_text[i];
      }
      printf("%s\n", mdns_publish(instance, argv[2], (uint16_t)atoi(argv[3]), txt, i) == 0
             ? "OK" : "ERR");
    } else if(strcmp(argv[0], "browse") == 0 && argc == 2) {
      mdns_browse(argv[1]);
    } else if(strcmp(argv[0], "start") == 0 && argc == 2) {
      mdns_start((uint32_t)strtoul(argv[1], NULL, 10));
    } else if(strcmp(argv[0], "poll") == 0 && argc == 2) {
      mdns_poll((uint32_t)strtoul(argv[1], NULL, 10));
    } else if(strcmp(argv[0], "stop") == 0 && argc == 2) {
      mdns_stop((uint32_t)strtoul(argv[1], NULL, 10));
    } else if(strcmp(argv[0], "recv") == 0 && argc == 5) {
      unhex(argv[3], b);
      mdns_receive(a, (uint16_t)unhex(argv[4], a), b, (uint16_t)atoi(argv[2]),
                   (uint32_t)strtoul(argv[1], NULL, 10));
    } else if(strcmp(argv[0], "deadline") == 0) {
      if(mdns_deadline(&at)) {
        printf("D %lu\n", (unsigned long)at);
      } else {
        printf("D none\n");
      }
    } else {
      printf("ERR unknown command %s\n", argv[0]);
    }
    printf(".\n");
    fflush(stdout);
  }
  return 0;
}
