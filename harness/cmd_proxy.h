/* `faultline proxy`: a standalone fault proxy speaking Toxiproxy's HTTP API. */
#ifndef FL_CMD_PROXY_H
#define FL_CMD_PROXY_H

/* argv[0] is "proxy". Returns the exit code. */
int fl_cmd_proxy(int argc, char **argv);

#endif
