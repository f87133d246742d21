/* privs.h - least privilege after binding. */
#ifndef SIPEDGE_PRIVS_H
#define SIPEDGE_PRIVS_H
#include <stdbool.h>
#include "daemon/conf.h"

/* Started as root: become admin.user/admin.group for good, or false (the
 * reason logged) when that is unset, unknown, root or impossible. Not
 * root: true, nothing to do. */
bool privs_drop(const struct conf *c);

#endif
