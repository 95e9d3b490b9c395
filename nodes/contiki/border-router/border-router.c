/*
 * The testbed's border router: Contiki-NG's rpl-border-router service does the work (RPL
 * root, prefix from the host over SLIP, fallback interface toward the host); this process
 * only says on the console that it runs.
 */
#include "contiki.h"

#include "sys/log.h"
#define LOG_MODULE "BR"
#define LOG_LEVEL LOG_LEVEL_INFO

PROCESS(testbed_br_process, "Testbed border router");
AUTOSTART_PROCESSES(&testbed_br_process);
/*---------------------------------------------------------------------------*/
PROCESS_THREAD(testbed_br_process, ev, data)
{
  PROCESS_BEGIN();

  LOG_INFO("border router started\n");

  PROCESS_END();
}
/*---------------------------------------------------------------------------*/
