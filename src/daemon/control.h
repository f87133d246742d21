/* control.h - the control socket sipedge-ctl(8) talks to.
 *
 * A Unix stream socket (admin.control_socket, mode 0660, group
 * admin.group), bound while the process may still be root. With
 * edge.workers > 1 each worker has its own: worker 0 the configured path,
 * worker N the path with ".N" appended; sipedge-ctl asks each in turn.
 *
 * Protocol (one command per connection): the server greets with
 * "# sipedge VERSION worker=W workers=N", reads one line "COMMAND [ARG...]
 * [--json] [--count N]" (at most 1024 bytes), answers zero or more
 * records, one per line ("key=value ..." or, with --json, one JSON
 * object), and ends with "OK" or "ERR text". trace streams until its
 * count is reached or the client goes away; the message text of a trace
 * record follows it as lines starting with "| " (text) or in its
 * "message" field (JSON).
 */
#ifndef SIPEDGE_CONTROL_H
#define SIPEDGE_CONTROL_H

#include <stddef.h>

struct edge;
struct control;

/* Bind and listen (before the privilege drop). NULL with why[0] == '\0'
 * when admin.control_socket is "" (off); NULL with a reason otherwise. */
struct control *control_open(struct edge *e, int worker, int nworkers,
			     char *why, size_t len);

/* Accept commands (once the event base runs). */
void control_start(struct control *ctl);

/* Close every session and the socket; removes the socket file if it can. */
void control_free(struct control *ctl);

/* The socket path of worker w for a configured path (buf, len). */
const char *control_path(const char *path, int worker, char *buf, size_t len);

#endif
