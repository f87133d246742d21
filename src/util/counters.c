/* counters.c - counting into bounded label sets (see counters.h). */
#include <stdio.h>
#include <string.h>

#include "util/counters.h"

static struct counters table;

static const char *const method_names[COUNTERS_METHODS] = {
	"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "INFO", "PRACK",
	"UPDATE", "MESSAGE", "SUBSCRIBE", "NOTIFY", "REFER", "PUBLISH", "SERVICE",
	"BENOTIFY", "other",
};

static const int status_codes[COUNTERS_CODES] = {
	200, 202, 400, 401, 403, 404, 407, 408, 420, 480, 481, 482, 483, 486,
	487, 488, 500, 501, 502, 503, 504, 603,
};
static const char *const status_classes[COUNTERS_STATUS - COUNTERS_CODES] = {
	"2xx", "3xx", "4xx", "5xx", "6xx", "other",
};

/* Upper bounds of the latency buckets, seconds (+Inf is implicit). */
static const double bucket_le[COUNTERS_BUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
static const char *const bucket_label[COUNTERS_BUCKETS + 1] = {
	"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
	"1", "2.5", "5", "10", "+Inf",
};

static const char *const dir_names[] = { "inbound", "outbound" };

static size_t method_index(const char *method)
{
	for (size_t i = 0; method && i + 1 < COUNTERS_METHODS; i++)
		if (strcmp(method, method_names[i]) == 0)
			return i;
	return COUNTERS_METHODS - 1;
}

static size_t status_index(int status)
{
	for (size_t i = 0; i < COUNTERS_CODES; i++)
		if (status == status_codes[i])
			return i;
	if (status >= 200 && status <= 699)
		return COUNTERS_CODES + (size_t)(status / 100 - 2);
	return COUNTERS_STATUS - 1;
}

void counters_request(enum counter_dir dir, const char *method, int status,
		      double seconds)
{
	int d = dir == COUNTER_OUTBOUND ? 1 : 0;
	table.requests[d][method_index(method)][status_index(status)]++;
	if (!(seconds > 0))          /* also NaN */
		seconds = 0;
	struct counter_histogram *h = &table.latency[d];
	size_t b = 0;
	while (b < COUNTERS_BUCKETS && seconds > bucket_le[b])
		b++;
	h->bucket[b]++;
	h->count++;
	h->sum += seconds;
}

static void pair_count(struct counter_pairs *t, const char *a, const char *b)
{
	char ka[COUNTERS_LABEL_MAX], kb[COUNTERS_LABEL_MAX];
	snprintf(ka, sizeof ka, "%s", a && *a ? a : "unknown");
	snprintf(kb, sizeof kb, "%s", b && *b ? b : "unknown");
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->row[i].a, ka) == 0 && strcmp(t->row[i].b, kb) == 0) {
			t->row[i].n++;
			return;
		}
	if (t->n < COUNTERS_PAIR_MAX) {
		struct counter_pair *p = &t->row[t->n++];
		memcpy(p->a, ka, sizeof ka);
		memcpy(p->b, kb, sizeof kb);
		p->n = 1;
		return;
	}
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->row[i].a, ka) == 0 && strcmp(t->row[i].b, "other") == 0) {
			t->row[i].n++;
			return;
		}
	t->overflow++;
}

void counters_rejection(const char *event, const char *reason)
{
	pair_count(&table.rejections, event, reason);
}

void counters_options_answered(void)
{
	table.options_answered++;
}

void counters_tls_failure(const char *zone, const char *reason)
{
	pair_count(&table.tls_failures, zone, reason);
}

double counters_since(const struct timespec *start)
{
	struct timespec now;
	if (!start || (start->tv_sec == 0 && start->tv_nsec == 0))
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double s = (double)(now.tv_sec - start->tv_sec) +
		   (double)(now.tv_nsec - start->tv_nsec) / 1e9;
	return s > 0 ? s : 0;
}

const struct counters *counters_get(void)
{
	return &table;
}

const char *counters_dir_name(size_t d)
{
	return dir_names[d ? 1 : 0];
}

const char *counters_method_name(size_t i)
{
	return i < COUNTERS_METHODS ? method_names[i] : "other";
}

const char *counters_status_label(size_t i, char *buf, size_t len)
{
	if (i < COUNTERS_CODES) {
		snprintf(buf, len, "%d", status_codes[i]);
		return buf;
	}
	return i < COUNTERS_STATUS ? status_classes[i - COUNTERS_CODES] : "other";
}

const char *counters_bucket_label(size_t i)
{
	return i <= COUNTERS_BUCKETS ? bucket_label[i] : "+Inf";
}

void counters_reset(void)
{
	memset(&table, 0, sizeof table);
}
