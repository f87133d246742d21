/* Counters, bounded label sets, escaping and the endpoint's bind. */
#include <check.h>
#include "unit.h"
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

#include "daemon/conf.h"
#include "proxy/edge.h"
#include "daemon/metrics.h"

/* Does text contain line (a whole line)? */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

static unsigned count_prefix(const char *text, const char *prefix)
{
	unsigned n = 0;
	size_t len = strlen(prefix);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		n += strncmp(p, prefix, len) == 0;
	return n;
}

START_TEST(null_safe)
{
	metrics_request(NULL, METRIC_INBOUND, "INVITE", 200, 0.1);
	metrics_rejection(NULL, "inbound_rejected", "x");
	metrics_tls_failure(NULL, "external", "x");
	ck_assert(metrics_listen(NULL));
	ck_assert_ptr_null(metrics_text(NULL, NULL));
	metrics_free(NULL);
	ck_assert(metrics_since(NULL) == 0);
}
END_TEST

START_TEST(requests_and_histogram)
{
	struct metrics *m = metrics_new(NULL);
	ck_assert_ptr_nonnull(m);
	metrics_request(m, METRIC_INBOUND, "MESSAGE", 200, 0.0005);
	metrics_request(m, METRIC_INBOUND, "MESSAGE", 200, 0.003);
	metrics_request(m, METRIC_INBOUND, "FOO", 299, 20);       /* other, 2xx, +Inf */
	metrics_request(m, METRIC_OUTBOUND, "invite", 42, -1);     /* other, other, 0 */
	metrics_request(m, METRIC_OUTBOUND, "INVITE", 486, 0.25);  /* le is inclusive */
	size_t len = 0;
	char *t = metrics_text(m, &len);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(len, strlen(t));
	ck_assert(has_line(t, "# TYPE sipedge_requests_total counter"));
	ck_assert(has_line(t, "sipedge_requests_total{direction=\"inbound\",method=\"MESSAGE\",status=\"200\"} 2"));
	ck_assert(has_line(t, "sipedge_requests_total{direction=\"inbound\",method=\"other\",status=\"2xx\"} 1"));
	ck_assert(has_line(t, "sipedge_requests_total{direction=\"outbound\",method=\"other\",status=\"other\"} 1"));
	ck_assert(has_line(t, "sipedge_requests_total{direction=\"outbound\",method=\"INVITE\",status=\"486\"} 1"));
	ck_assert(has_line(t, "# TYPE sipedge_request_duration_seconds histogram"));
	ck_assert(has_line(t, "sipedge_request_duration_seconds_bucket{direction=\"inbound\",le=\"0.001\"} 1"));
	ck_assert(has_line(t, "sipedge_request_duration_seconds_bucket{direction=\"inbound\",le=\"0.0025\"} 1"));
	ck_assert(has_line(t, "sipedge_request_duration_seconds_bucket{direction=\"inbound\",le=\"0.005\"} 2"));
	ck_assert(has_line(t, "sipedge_request_duration_seconds_bucket{direction=\"inbound\",le=\"10\"} 2"));
	ck_assert(has_line(t, "sipedge_request_duration_seconds_bucket{direction=\"inbound\",le=\"+Inf\"} 3"));
	ck_assert(has_line(t, "sipedge_request_duration_seconds_count{direction=\"inbound\"} 3"));
	ck_assert(has_line(t, "sipedge_request_duration_seconds_bucket{direction=\"outbound\",le=\"0.001\"} 1"));
	ck_assert(has_line(t, "sipedge_request_duration_seconds_bucket{direction=\"outbound\",le=\"0.1\"} 1"));
	ck_assert(has_line(t, "sipedge_request_duration_seconds_bucket{direction=\"outbound\",le=\"0.25\"} 2"));
	ck_assert(has_line(t, "sipedge_request_duration_seconds_sum{direction=\"outbound\"} 0.25"));
	ck_assert_uint_eq(count_prefix(t, "sipedge_request_duration_seconds_bucket{direction=\"inbound\""), 14);
	ck_assert(has_line(t, "# TYPE sipedge_build_info gauge"));
	/* No edge: no gauges read from it. */
	ck_assert_ptr_null(strstr(t, "sipedge_connections"));
	free(t);
	metrics_free(m);
}
END_TEST

START_TEST(pairs_bounded)
{
	struct metrics *m = metrics_new(NULL);
	char reason[32];
	for (int i = 0; i < 100; i++) {
		snprintf(reason, sizeof reason, "r%d", i);
		metrics_rejection(m, "inbound_rejected", reason);
	}
	metrics_rejection(m, "inbound_rejected", "r0");            /* known row */
	metrics_rejection(m, NULL, NULL);
	metrics_tls_failure(m, "external", "unknown_ca");
	metrics_tls_failure(m, "external", "unknown_ca");
	char *t = metrics_text(m, NULL);
	ck_assert_uint_eq(count_prefix(t, "sipedge_rejections_total{"), 65);
	ck_assert(has_line(t, "sipedge_rejections_total{event=\"inbound_rejected\",reason=\"r0\"} 2"));
	ck_assert(has_line(t, "sipedge_rejections_total{event=\"inbound_rejected\",reason=\"r63\"} 1"));
	ck_assert_ptr_null(strstr(t, "reason=\"r64\""));
	ck_assert(has_line(t, "sipedge_rejections_total{event=\"other\",reason=\"other\"} 37"));
	ck_assert(has_line(t, "sipedge_tls_handshake_failures_total{zone=\"external\",reason=\"unknown_ca\"} 2"));
	free(t);
	metrics_free(m);
}
END_TEST

START_TEST(gauges_and_escaping)
{
	struct conf_node nodes[2] = { { .name = "imp\"1\\a\nb" }, { .name = "imp2" } };
	struct conf c = { 0 };
	c.internal.nodes = nodes;
	c.internal.nnodes = 2;
	struct edge e = { .conf = &c };
	struct metrics *m = metrics_new(&e);
	metrics_rejection(m, "message_rejected", "a\"b");
	char *t = metrics_text(m, NULL);
	ck_assert(has_line(t, "sipedge_node_up{node=\"imp\\\"1\\\\a\\nb\"} 1"));
	ck_assert(has_line(t, "sipedge_node_up{node=\"imp2\"} 1"));
	ck_assert(has_line(t, "sipedge_rejections_total{event=\"message_rejected\",reason=\"a\\\"b\"} 1"));
	ck_assert(has_line(t, "# TYPE sipedge_start_time_seconds gauge"));
	free(t);
	metrics_free(m);
}
END_TEST

START_TEST(endpoint_bind)
{
	struct conf c = { 0 };
	c.admin.metrics_address = "127.0.0.1";
	struct edge e = { .conf = &c, .base = event_base_new() };
	ck_assert_ptr_nonnull(e.base);

	struct metrics *m = metrics_new(&e);
	ck_assert(metrics_listen(m));           /* port 0: off */
	metrics_free(m);

	/* A port someone else listens on: false. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof sa;
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	c.admin.metrics_port = ntohs(sa.sin_port);
	m = metrics_new(&e);
	ck_assert(!metrics_listen(m));
	metrics_free(m);
	close(fd);

	/* Free again: true, and freed with its listener. */
	m = metrics_new(&e);
	ck_assert(metrics_listen(m));
	ck_assert(metrics_listen(m));           /* already listening */
	metrics_free(m);
	event_base_free(e.base);
}
END_TEST

START_TEST(since)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	double s = metrics_since(&ts);
	ck_assert(s >= 0 && s < 1);
	ts.tv_sec -= 2;
	s = metrics_since(&ts);
	ck_assert(s >= 2 && s < 3);
	struct timespec zero = { 0 };
	ck_assert(metrics_since(&zero) == 0);   /* never set */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, null_safe);
	tcase_add_test(tc, requests_and_histogram);
	tcase_add_test(tc, pairs_bounded);
	tcase_add_test(tc, gauges_and_escaping);
	tcase_add_test(tc, endpoint_bind);
	tcase_add_test(tc, since);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
