/* `faultline check HISTORY.jsonl... --model M [--timeout S] [--json]`: the
 * offline checker. */
#ifndef FL_CMD_CHECK_H
#define FL_CMD_CHECK_H

/* argv[0] is "check". Prints one verdict line per file (with --json, one JSON
 * object per line) and returns the exit code: 2 when any file is bad input
 * (or the command line is), else 1 when any history is not valid, else 3
 * when any check ran out of its budget, else 0. */
int fl_cmd_check(int argc, char **argv);

#endif
