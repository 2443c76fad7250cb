/* `faultline cleanup [--dry-run]`: removes the network namespaces, links,
 * nftables tables and state files that namespace runs no longer alive left
 * behind (a faultline killed with -9 whose reaper was killed too, a reboot
 * of a container's host ...), and libfaketime's shared memory of processes
 * that are gone. */
#ifndef FL_CMD_CLEANUP_H
#define FL_CMD_CLEANUP_H

int fl_cmd_cleanup(int argc, char **argv);

#endif
