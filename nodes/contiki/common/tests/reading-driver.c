/*
 * A host-gcc driver of nodes/contiki/common for tests/contiki/test_reading.py: one command a
 * line on stdin, one answer a line on stdout. Strings travel as hex (any byte but NUL).
 *   value NAME SENSOR SEQ SEED       -> tenths (reading_value)
 *   json NAME SENSOR SEQ T_MS TENTHS -> the SenML JSON pack of one sensor
 *   text SEQ T_MS TENTHS             -> the text payload
 *   cbor NAME SENSOR SEQ T_MS TENTHS -> the SenML CBOR pack, hex
 *   reading SEQ SENSOR TENTHS T_MS   -> the "reading" event line
 *   observe PEER PORT TOKEN HANDED T_MS -> the "observe" event line
 *   error WHAT T_MS                  -> the "error" event line
 *   console LINE                     -> 1 if LINE is the "time <unix ms>" command, else 0
 *   config                           -> the common configuration and its error, one line
 * Built without Contiki (no -DCONTIKI): the Linux-hosted branches are used.
 */
#include "reading.h"
#include "events.h"
#include "node-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *
unhex(const char *hex)
{
  size_t n = strlen(hex) / 2, i;
  char *s = malloc(n + 1);

  for(i = 0; i < n; i++) {
    unsigned byte;
    sscanf(hex + 2 * i, "%2x", &byte);
    s[i] = (char)byte;
  }
  s[n] = '\0';
  return s;
}
int
main(void)
{
  char line[8192], cmd[16], a[2048], b[2048], c[2048];
  unsigned long long u1, u2, u3;
  long l1, l2;
  char out[1024];
  uint8_t cbor[1024];
  struct event e;
  int n, i;

  while(fgets(line, sizeof(line), stdin) != NULL) {
    a[0] = b[0] = c[0] = '\0';
    if(sscanf(line, "%15s", cmd) != 1) {
      continue;
    }
    if(!strcmp(cmd, "value")) {
      sscanf(line, "%*s %2047s %2047s %llu %ld", a, b, &u1, &l1);
      char *name = unhex(strcmp(a, "-") ? a : ""), *sensor = unhex(strcmp(b, "-") ? b : "");
      printf("%d\n", reading_value(name, sensor, (uint32_t)u1, (int32_t)l1));
      free(name);
      free(sensor);
    } else if(!strcmp(cmd, "json")) {
      sscanf(line, "%*s %2047s %2047s %llu %llu %ld", a, b, &u1, &u2, &l1);
      char *name = unhex(strcmp(a, "-") ? a : ""), *sensor = unhex(strcmp(b, "-") ? b : "");
      const char *sensors[1] = { sensor };
      int tenths[1] = { (int)l1 };
      n = reading_senml_json(out, sizeof(out), name, sensors, tenths, 1, (uint32_t)u1, u2);
      for(i = 0; i < n; i++) {
        printf("%02x", (unsigned char)out[i]);
      }
      printf("%s\n", n < 0 ? "ERROR" : "");
      free(name);
      free(sensor);
    } else if(!strcmp(cmd, "text")) {
      sscanf(line, "%*s %llu %llu %ld", &u1, &u2, &l1);
      n = reading_text(out, sizeof(out), (uint32_t)u1, u2, (int)l1);
      printf("%s\n", n < 0 ? "ERROR" : out);
    } else if(!strcmp(cmd, "cbor")) {
      sscanf(line, "%*s %2047s %2047s %llu %llu %ld", a, b, &u1, &u2, &l1);
      char *name = unhex(strcmp(a, "-") ? a : ""), *sensor = unhex(strcmp(b, "-") ? b : "");
      n = reading_senml_cbor(cbor, sizeof(cbor), name, sensor, (uint32_t)u1, u2, (int)l1);
      for(i = 0; i < n; i++) {
        printf("%02x", cbor[i]);
      }
      printf("%s\n", n < 0 ? "ERROR" : "");
      free(name);
      free(sensor);
    } else if(!strcmp(cmd, "reading")) {
      sscanf(line, "%*s %llu %2047s %ld %llu", &u1, a, &l1, &u2);
      char *sensor = unhex(strcmp(a, "-") ? a : "");
      event_begin(&e, "reading");
      event_uint(&e, "seq", (unsigned long)u1);
      event_string(&e, "sensor", sensor);
      event_tenths(&e, "value", (int)l1);
      event_ms(&e, "t", u2);
      event_emit(&e);
      free(sensor);
    } else if(!strcmp(cmd, "observe")) {
      sscanf(line, "%*s %2047s %ld %2047s %ld %llu", a, &l1, b, &l2, &u2);
      char *peer = unhex(strcmp(a, "-") ? a : ""), *token = unhex(strcmp(b, "-") ? b : "");
      event_begin(&e, "observe");
      event_string(&e, "peer", peer);
      event_int(&e, "port", l1);
      event_string(&e, "token", token);
      event_int(&e, "handed_over", l2);
      event_ms(&e, "t", u2);
      event_emit(&e);
      free(peer);
      free(token);
    } else if(!strcmp(cmd, "error")) {
      sscanf(line, "%*s %2047s %llu", a, &u2);
      char *what = unhex(strcmp(a, "-") ? a : "");
      event_begin(&e, "error");
      event_string(&e, "what", what);
      event_ms(&e, "t", u2);
      event_emit(&e);
      free(what);
    } else if(!strcmp(cmd, "console")) {
      sscanf(line, "%*s %2047s", a);
      char *text = unhex(strcmp(a, "-") ? a : "");
      printf("%d\n", events_console_command(text));
      free(text);
    } else if(!strcmp(cmd, "now")) {
      printf("%llu\n", (unsigned long long)events_now_ms());
    } else if(!strcmp(cmd, "config")) {
      struct node_config config;
      int rc = node_config_load(&config);
      printf("rc=%d name=%s seed=%ld readings=%lu interval_ms=%lu sensors=", rc, config.name,
             (long)config.seed, (unsigned long)config.readings,
             (unsigned long)config.interval_ms);
      for(i = 0; i < config.sensor_count; i++) {
        printf("%s%s", i ? "," : "", config.sensors[i]);
      }
      printf(" error=%s\n", node_config_error() ? node_config_error() : "-");
    } else {
      printf("ERROR unknown command %s\n", cmd);
    }
    (void)u3;
    (void)c;
    fflush(stdout);
  }
  return 0;
}
