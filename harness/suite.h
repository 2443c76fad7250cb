/* `faultline suite PATH...`: every scenario of the files and folders given,
 * each in its own `faultline run` process (so scenarios cannot disturb one
 * another), up to --jobs at a time, with one aggregated junit.xml and
 * summary.md. And `faultline report merge DIR...`, which joins the outputs
 * of several suite shards. */
#ifndef FL_SUITE_H
#define FL_SUITE_H

int fl_cmd_suite(int argc, char **argv);
int fl_cmd_report_merge(int argc, char **argv);

/* Lists the scenario names a file declares (in the engine): returns 0 and a
 * new NULL-terminated array (free each and the array with fl_free), or 2
 * with the message printed. */
int fl_engine_list(const char *file, char ***out);

#endif
