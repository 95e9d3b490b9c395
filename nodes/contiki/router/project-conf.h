/* A forwarding node: Energest on for the radio figures. */
#ifndef PROJECT_CONF_H_
#define PROJECT_CONF_H_

#define ENERGEST_CONF_ON            1
#define SIMPLE_ENERGEST_CONF_PERIOD (10 * CLOCK_SECOND)

/* How a node keeps and regains its RPL parent (shared by the PAN's nodes) */
#include "../common/pan-rpl-conf.h"

#endif /* PROJECT_CONF_H_ */
