/* `faultline shrink RUN_DIR [--budget N] [--time T] [--repeat K] [--out DIR]`:
 * the smallest fl.nemesis schedule that still fails the same check. */
#ifndef FL_CMD_SHRINK_H
#define FL_CMD_SHRINK_H

int fl_cmd_shrink(int argc, char **argv);

#endif
