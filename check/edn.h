/* Jepsen's EDN histories read as history.jsonl (edn.c). */
#ifndef FL_EDN_H
#define FL_EDN_H

#include <stddef.h>

#include "base/buf.h"
#include "base/error.h"

/* Converts the EDN history in buf (len bytes; name is used in messages) to
 * JSON lines appended to out, one operation map per line, for
 * fl_history_parse. Returns 0, or FL_EPARSE with "name:line: what" in err. */
int fl_edn_to_jsonl(const char *buf, size_t len, const char *name, fl_buf_t *out,
                    fl_err_t *err);

#endif
