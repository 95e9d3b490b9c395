/*
 * RPL-lite settings of every node that picks a parent (sensors and routers; the border
 * router is the root and picks none). Included from each app's project-conf.h.
 *
 * Why not Contiki-NG 5.0's defaults: a node whose only neighbour is the border router, over
 * a lossy link with a hidden terminal beside it, loses a frame's ACK after 8 colliding
 * attempts now and then. One such NOACK adds ETX 12 as a penalty (link-stats.c), two in a
 * row push the link's ETX past 4, the largest MRHOF accepts (MAX_LINK_METRIC 512), and the
 * node drops its only parent. Later DIOs do not bring it back (the ETX stays), and it leaves
 * the DODAG to start afresh only after RPL_DELAY_BEFORE_LEAVING, 5 minutes: longer than any
 * reading waits. Measured on topologies/default.yaml: about one run in six lost s2's last
 * readings (benchmarks/README.md, "Contiki nodes").
 */
#ifndef PAN_RPL_CONF_H_
#define PAN_RPL_CONF_H_

/* A parent over a bad link beats none: accept up to ETX 8 (five NOACKs in a row from a
 * good link) before giving the link up. */
#ifndef RPL_MRHOF_CONF_MAX_LINK_METRIC
#define RPL_MRHOF_CONF_MAX_LINK_METRIC 1024
#endif

/* A node left with no acceptable parent leaves after 30 s, forgets the link statistics
 * (rpl_dag_leave) and joins again from the next DIO, instead of after 5 minutes. */
#ifndef RPL_CONF_DELAY_BEFORE_LEAVING
#define RPL_CONF_DELAY_BEFORE_LEAVING (30 * CLOCK_SECOND)
#endif

/* Trickle's smallest DIO interval 2^10 ms (1 s) instead of Contiki-NG's 2^12 ms (4 s), and a
 * DAO 1 s (+-0.5 s) after a parent is found instead of 4 s, for a PAN whose nodes boot
 * together. Measured once each on default.yaml (coap-observe-con): the sensors were ready
 * 13.5 s after they started instead of 16 s. With probing off and a DIS every 1-3 s (below),
 * 8.3-12.3 s after the medium started (three seeds) instead of 17.7-20.0 s: a Contiki run of
 * coap-observe-con 12-18 s instead of 22 s. RFC 6550 §17's own default DIOIntervalMin is
 * 2^3 ms; the cost is two more DIOs per node in a run's first minute (Trickle doubles from
 * 1 s: 1, 2, 4, 8, 16, 32 s), counted as the run's overhead, never as a reading's bytes. */
#ifndef RPL_CONF_DIO_INTERVAL_MIN
#define RPL_CONF_DIO_INTERVAL_MIN 10
#endif
#ifndef RPL_CONF_DAO_DELAY
#define RPL_CONF_DAO_DELAY (CLOCK_SECOND * 1)
#endif

/* No probing: a node takes the best parent its DIOs offer at once. With probing, RPL-lite
 * first makes that link's statistics "fresh" (link-stats.c: 4 transmissions), one unicast
 * DIO per urgent probe at a random 0-4 s (rpl_schedule_probing_now, not configurable): 5-7 s
 * per hop before the DAO. */
#ifndef RPL_CONF_WITH_PROBING
#define RPL_CONF_WITH_PROBING 0
#endif

/* A node with no parent asks for DIOs (DIS, RFC 6550 §8.3) every 1-3 s instead of every
 * 15-45 s: the sensors boot after the routers joined, when the root's Trickle interval has
 * grown to several seconds, and a DIS resets it. */
#ifndef RPL_CONF_DIS_INTERVAL
#define RPL_CONF_DIS_INTERVAL (2 * CLOCK_SECOND)
#endif

/* On the emulated air (TARGET=medium), parent losses and joins on the console ("no parent
 * ...", "found parent ..."), so that a run's logs say when a node was detached. Not in a
 * board's image: RPL's log code is about 5 KB of ROM, which the firmware's memory figures
 * (built for cc2538dk) would count as the application's. */
#if CONTIKI_TARGET_MEDIUM && !defined(LOG_CONF_LEVEL_RPL)
#define LOG_CONF_LEVEL_RPL LOG_LEVEL_WARN
#endif

#endif /* PAN_RPL_CONF_H_ */
