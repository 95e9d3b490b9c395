/*
 * The border router of a Contiki PAN on the testbed: the RPL root, no web server (the
 * testbed reads the routes from the log and the shell), Energest on for the radio figures.
 */
#ifndef PROJECT_CONF_H_
#define PROJECT_CONF_H_

#define BORDER_ROUTER_CONF_WEBSERVER 0
#define ENERGEST_CONF_ON             1
#define SIMPLE_ENERGEST_CONF_PERIOD  (10 * CLOCK_SECOND)

#endif /* PROJECT_CONF_H_ */
