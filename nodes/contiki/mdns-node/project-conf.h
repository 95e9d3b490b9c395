/* mdns-node: compile-time options. The mDNS mechanisms are switched with
 * MDNS_CONF_<MECHANISM> 0 (lib/mdns/mdns.h), given by the study as -D options. */
#ifndef PROJECT_CONF_H_
#define PROJECT_CONF_H_

/* A node keeps every peer of a large clique: PTR, SRV, TXT and AAAA each (about 150 bytes
 * per record: 600 KB for 1000 peers on a Linux-hosted node; a board sets fewer) */
#ifndef MDNS_CONF_CACHE_ENTRIES
#define MDNS_CONF_CACHE_ENTRIES 1024
#endif
#ifndef MDNS_CONF_ASKS
#define MDNS_CONF_ASKS 64
#endif

#define ENERGEST_CONF_ON            1
#define LOG_CONF_LEVEL_MAIN LOG_LEVEL_WARN

#endif /* PROJECT_CONF_H_ */
