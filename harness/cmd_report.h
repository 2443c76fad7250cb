/* `faultline report RUN_DIR...`: render again from report.json. */
#ifndef FL_CMD_REPORT_H
#define FL_CMD_REPORT_H

int fl_cmd_report(int argc, char **argv);

#endif
