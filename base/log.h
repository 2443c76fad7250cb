/* The human log (stderr). What checkers and reports read is the timeline and
 * the history, never this. FL_LOG checks the level before it evaluates its
 * arguments, as Redis's serverLog does. */
#ifndef FL_LOG_H
#define FL_LOG_H

enum { FL_LOG_ERROR = 0, FL_LOG_WARN, FL_LOG_INFO, FL_LOG_DEBUG };

extern int fl_log_level;

void fl_log_write(int level, const char *tag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Reads FAULTLINE_LOG (error|warn|info|debug) once. */
void fl_log_init(void);

#define FL_LOG(level, tag, ...)                                                          \
  do {                                                                                   \
    if ((level) <= fl_log_level)                                                         \
      fl_log_write((level), (tag), __VA_ARGS__);                                         \
  } while (0)

#endif
