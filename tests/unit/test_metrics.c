/* Counters, bounded label sets, escaping and the endpoint's bind. */
#include "config.h"
#include <check.h>
#include "unit.h"
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "daemon/conf.h"
#include "proxy/edge.h"
#include "daemon/metrics.h"
#include "util/counters.h"

/* Does text contain line (a whole line)? */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

/* The exposition as a string (what /metrics serves), malloc'd. */
static char *render_text(const struct metrics *m)
{
	struct evbuffer *b = evbuffer_new();
	ck_assert_ptr_nonnull(b);
	metrics_render(m, b);
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);
	ck_assert_ptr_nonnull(s);
	evbuffer_remove(b, s, n);
	s[n] = '\0';
	evbuffer_free(b);
	return s;
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
	counters_reset();
	ck_assert(metrics_listen(NULL));
	metrics_free(NULL);
	ck_assert(counters_since(NULL) == 0);
	/* No endpoint: the counters still render, without gauges. */
	counters_rejection("inbound_rejected", "x");
	char *t = render_text(NULL);
	ck_assert(has_line(t, "sipedge_rejections_total{event=\"inbound_rejected\",reason=\"x\"} 1"));
	ck_assert(has_line(t, "sipedge_start_time_seconds 0.000"));
	free(t);
}
END_TEST

/* Each kind of count lands in its own table, whatever the caller. */
START_TEST(counter_kinds)
{
	counters_reset();
	counters_tls_failure("external", "unknown_ca");
	counters_request(COUNTER_OUTBOUND, "BYE", 200, 0);
	counters_rejection("message_rejected", "malformed");
	counters_options_answered();
	const struct counters *k = counters_get();
	ck_assert_uint_eq(k->tls_failures.row[0].n, 1);
	ck_assert_uint_eq(k->rejections.row[0].n, 1);
	ck_assert_uint_eq(k->latency[COUNTER_OUTBOUND].count, 1);
	ck_assert_uint_eq(k->options_answered, 1);
	ck_assert(counters_since(NULL) == 0);
}
END_TEST

START_TEST(requests_and_histogram)
{
	counters_reset();
	struct metrics *m = metrics_new(NULL);
	ck_assert_ptr_nonnull(m);
	counters_request(COUNTER_INBOUND, "MESSAGE", 200, 0.0005);
	counters_request(COUNTER_INBOUND, "MESSAGE", 200, 0.003);
	counters_request(COUNTER_INBOUND, "FOO", 299, 200);      /* other, 2xx, +Inf */
	counters_request(COUNTER_OUTBOUND, "invite", 42, -1);     /* other, other, 0 */
	counters_request(COUNTER_OUTBOUND, "INVITE", 486, 0.25);  /* le is inclusive */
	char *t = render_text(m);
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
	ck_assert(has_line(t, "sipedge_request_duration_seconds_bucket{direction=\"inbound\",le=\"180\"} 2"));
	ck_assert_uint_eq(count_prefix(t, "sipedge_request_duration_seconds_bucket{direction=\"inbound\""), 18);
	ck_assert(has_line(t, "# TYPE sipedge_build_info gauge"));
	/* No edge: no gauges read from it. */
	ck_assert_ptr_null(strstr(t, "sipedge_connections"));
	free(t);
	metrics_free(m);
}
END_TEST

START_TEST(pairs_bounded)
{
	counters_reset();
	struct metrics *m = metrics_new(NULL);
	char reason[32];
	for (int i = 0; i < 100; i++) {
		snprintf(reason, sizeof reason, "r%d", i);
		counters_rejection("inbound_rejected", reason);
	}
	counters_rejection("inbound_rejected", "r0");            /* known row */
	counters_rejection(NULL, NULL);
	counters_tls_failure("external", "unknown_ca");
	counters_tls_failure("external", "unknown_ca");
	char *t = render_text(m);
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
	counters_reset();
	struct metrics *m = metrics_new(&e);
	counters_rejection("message_rejected", "a\"b");
	char *t = render_text(m);
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

/* Buckets up to 180 s; a refusal counts as a request, not as a latency. */
START_TEST(long_latency_and_refusals)
{
	counters_reset();
	counters_request(COUNTER_INBOUND, "INVITE", 200, 45);     /* le 60 */
	counters_request(COUNTER_INBOUND, "INVITE", 408, 179.5);  /* le 180 */
	counters_answered(COUNTER_INBOUND, "MESSAGE", 403);
	char *t = render_text(NULL);
	ck_assert(has_line(t, "sipedge_request_duration_seconds_bucket{direction=\"inbound\",le=\"30\"} 0"));
	ck_assert(has_line(t, "sipedge_request_duration_seconds_bucket{direction=\"inbound\",le=\"60\"} 1"));
	ck_assert(has_line(t, "sipedge_request_duration_seconds_bucket{direction=\"inbound\",le=\"120\"} 1"));
	ck_assert(has_line(t, "sipedge_request_duration_seconds_bucket{direction=\"inbound\",le=\"180\"} 2"));
	ck_assert(has_line(t, "sipedge_request_duration_seconds_count{direction=\"inbound\"} 2"));
	ck_assert(has_line(t, "sipedge_requests_total{direction=\"inbound\",method=\"MESSAGE\",status=\"403\"} 1"));
	free(t);
}
END_TEST

/* Reload state, build info and process metrics. */
START_TEST(config_build_process)
{
	counters_reset();
	char *t = render_text(NULL);
	ck_assert(has_line(t, "sipedge_config_last_reload_success 0"));   /* never loaded */
	free(t);
	struct metrics *m = metrics_new(NULL);
	const struct counter_proc *p = counters_proc(0);
	ck_assert_int_eq(p->pid, (int)getpid());
	ck_assert(p->config_time > 1e9);
	t = render_text(m);
	ck_assert(has_line(t, "# TYPE sipedge_config_last_reload_success gauge"));
	ck_assert(has_line(t, "sipedge_config_last_reload_success 1"));
	free(t);
	counters_config_loaded(false, 5e9);
	ck_assert(p->config_time < 5e9);                 /* a failure keeps the time */
	t = render_text(m);
	ck_assert(has_line(t, "sipedge_config_last_reload_success 0"));
	free(t);
	counters_config_loaded(true, 5e9);
	t = render_text(m);
	ck_assert(has_line(t, "sipedge_config_last_reload_success 1"));
	ck_assert(has_line(t, "sipedge_config_last_reload_timestamp_seconds 5000000000.000"));
	ck_assert_ptr_nonnull(strstr(t, "\nsipedge_build_info{version=\"" PACKAGE_VERSION "\",openssl=\""));
	ck_assert_ptr_nonnull(strstr(t, "\nprocess_open_fds "));
	ck_assert_ptr_nonnull(strstr(t, "\nprocess_resident_memory_bytes "));
	ck_assert_ptr_nonnull(strstr(t, "\n# TYPE process_cpu_seconds_total counter\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nprocess_max_fds "));
	ck_assert_ptr_nonnull(strstr(t, "\nprocess_start_time_seconds "));
	ck_assert_ptr_null(strstr(t, "process_open_fds 0\n"));
	free(t);
	metrics_free(m);
}
END_TEST

/* Workers: success only if every live worker's last load was good; the
 * oldest good load; a dead worker's slot does not count. (Each test runs
 * in its own fork: the shared slots do not leak into the others.) */
START_TEST(config_workers)
{
	ck_assert(counters_share(3));
	ck_assert_int_eq(counters_supervisor(), (int)getpid());
	ck_assert_uint_eq(counters_nprocs(), 3);
	counters_use_slot(0);
	counters_proc_start((int)getpid(), 2000);
	counters_use_slot(1);
	counters_proc_start((int)getppid(), 1000);        /* alive: the runner */
	counters_use_slot(2);
	counters_proc_start(0x3ffffff0, 500);             /* no such pid */
	counters_config_loaded(false, 600);
	counters_use_slot(0);
	char *t = render_text(NULL);
	ck_assert(has_line(t, "sipedge_config_last_reload_success 1"));
	ck_assert(has_line(t, "sipedge_config_last_reload_timestamp_seconds 1000.000"));
	free(t);
	counters_use_slot(1);
	counters_config_loaded(false, 3000);
	t = render_text(NULL);
	ck_assert(has_line(t, "sipedge_config_last_reload_success 0"));
	ck_assert(has_line(t, "sipedge_config_last_reload_timestamp_seconds 1000.000"));
	free(t);
	counters_config_loaded(true, 3000);
	t = render_text(NULL);
	ck_assert(has_line(t, "sipedge_config_last_reload_success 1"));
	ck_assert(has_line(t, "sipedge_config_last_reload_timestamp_seconds 2000.000"));
	/* Supervisor and live workers: the supervisor is this process. */
	ck_assert_ptr_nonnull(strstr(t, "\nprocess_resident_memory_bytes "));
	free(t);
}
END_TEST

START_TEST(since)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	double s = counters_since(&ts);
	ck_assert(s >= 0 && s < 1);
	ts.tv_sec -= 2;
	s = counters_since(&ts);
	ck_assert(s >= 2 && s < 3);
	struct timespec zero = { 0 };
	ck_assert(counters_since(&zero) == 0);   /* never set */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, null_safe);
	tcase_add_test(tc, counter_kinds);
	tcase_add_test(tc, requests_and_histogram);
	tcase_add_test(tc, pairs_bounded);
	tcase_add_test(tc, gauges_and_escaping);
	tcase_add_test(tc, endpoint_bind);
	tcase_add_test(tc, since);
	tcase_add_test(tc, long_latency_and_refusals);
	tcase_add_test(tc, config_build_process);
	tcase_add_test(tc, config_workers);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
