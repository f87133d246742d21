/* reload.h - SIGHUP: the new configuration beside the running one. */
#ifndef SIPEDGE_RELOAD_H
#define SIPEDGE_RELOAD_H

#include <stdbool.h>

struct edge;

/* Re-read edge.conf and every certificate, key, CA and CRL file. On any
 * error the running configuration stays and the errors are logged
 * (event=reload result=failed). Established connections keep their TLS
 * contexts; new ones get the new files. */
bool reload(struct edge *e);

/* Open or close the window of the previous key (edge.secret_previous_file)
 * from when it was loaded and edge.secret_previous_seconds, arm the timer
 * that closes it, and rebuild the rewrite view (fwd_refresh_view). At
 * start, after each reload, and by the timer. */
void reload_secret_window(struct edge *e);

#endif
