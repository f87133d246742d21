/* metrics.c - placeholder until the exposition lands: counts nothing. */
#include <stddef.h>

#include "metrics.h"

struct metrics *metrics_new(struct edge *e) { (void)e; return NULL; }
bool metrics_listen(struct metrics *m) { (void)m; return true; }
void metrics_free(struct metrics *m) { (void)m; }
void metrics_request(struct metrics *m, enum metric_dir dir, const char *method,
		     int status, double seconds)
{ (void)m; (void)dir; (void)method; (void)status; (void)seconds; }
void metrics_rejection(struct metrics *m, const char *event, const char *reason)
{ (void)m; (void)event; (void)reason; }
void metrics_tls_failure(struct metrics *m, const char *zone, const char *reason)
{ (void)m; (void)zone; (void)reason; }
