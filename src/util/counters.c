/* counters.c - counting into bounded label sets (see counters.h). */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/counters.h"

/* This process counts into *cur: its own table, or with workers its slot
 * of the shared mapping (counters_share(), counters_use_slot()). */
static struct counters table;
static struct counters *cur = &table;
static struct counters *slots;       /* MAP_SHARED, nslots tables */
static size_t nslots;
static struct counters summed;       /* counters_get() with slots */
static int supervisor;               /* the pid that made the slots */

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
	30, 60, 120, 180,    /* timer B/F (32 s), Timer C (limits.invite_timeout) */
};
static const char *const bucket_label[COUNTERS_BUCKETS + 1] = {
	"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
	"1", "2.5", "5", "10", "30", "60", "120", "180", "+Inf",
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

void counters_answered(enum counter_dir dir, const char *method, int status)
{
	int d = dir == COUNTER_OUTBOUND ? 1 : 0;
	cur->requests[d][method_index(method)][status_index(status)]++;
}

void counters_request(enum counter_dir dir, const char *method, int status,
		      double seconds)
{
	int d = dir == COUNTER_OUTBOUND ? 1 : 0;
	counters_answered(dir, method, status);
	if (!(seconds > 0))          /* also NaN */
		seconds = 0;
	struct counter_histogram *h = &cur->latency[d];
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
		/* Filled before it is counted in n: the endpoint, maybe in
		 * another worker, reads rows [0, n) while we write. */
		struct counter_pair *p = &t->row[t->n];
		memcpy(p->a, ka, sizeof ka);
		memcpy(p->b, kb, sizeof kb);
		p->n = 1;
		__atomic_store_n(&t->n, t->n + 1, __ATOMIC_RELEASE);
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
	pair_count(&cur->rejections, event, reason);
}

void counters_options_answered(void)
{
	cur->options_answered++;
}

void counters_tls_failure(const char *zone, const char *reason)
{
	pair_count(&cur->tls_failures, zone, reason);
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

/* Adds n of (a, b) to a summed table, by label. */
static void pair_add(struct counter_pairs *t, const char *a, const char *b,
		     unsigned long long n)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->row[i].a, a) == 0 && strcmp(t->row[i].b, b) == 0) {
			t->row[i].n += n;
			return;
		}
	if (t->n < COUNTERS_PAIR_MAX) {
		struct counter_pair *p = &t->row[t->n++];
		snprintf(p->a, sizeof p->a, "%s", a);
		snprintf(p->b, sizeof p->b, "%s", b);
		p->n = n;
	} else {
		t->overflow += n;
	}
}

static void pairs_sum(struct counter_pairs *to, const struct counter_pairs *from)
{
	size_t n = __atomic_load_n(&from->n, __ATOMIC_ACQUIRE);
	for (size_t i = 0; i < n && i < COUNTERS_PAIR_MAX; i++)
		pair_add(to, from->row[i].a, from->row[i].b, from->row[i].n);
	to->overflow += from->overflow;
}

const struct counters *counters_get(void)
{
	if (!slots)
		return cur;
	/* Workers: each counts in its own slot (no lock, no shared line);
	 * the endpoint sums them. A value read while a worker writes it is
	 * that worker's count just before or just after. */
	memset(&summed, 0, sizeof summed);
	for (size_t w = 0; w < nslots; w++) {
		const struct counters *k = &slots[w];
		for (size_t d = 0; d < 2; d++) {
			for (size_t m = 0; m < COUNTERS_METHODS; m++)
				for (size_t st = 0; st < COUNTERS_STATUS; st++)
					summed.requests[d][m][st] += k->requests[d][m][st];
			for (size_t b = 0; b <= COUNTERS_BUCKETS; b++)
				summed.latency[d].bucket[b] += k->latency[d].bucket[b];
			summed.latency[d].count += k->latency[d].count;
			summed.latency[d].sum += k->latency[d].sum;
		}
		pairs_sum(&summed.rejections, &k->rejections);
		pairs_sum(&summed.tls_failures, &k->tls_failures);
		summed.options_answered += k->options_answered;
	}
	return &summed;
}

bool counters_share(size_t n)
{
	if (n == 0 || slots)
		return slots != NULL;
	void *p = mmap(NULL, n * sizeof *slots, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return false;
	slots = p;                       /* zeroed by the kernel */
	nslots = n;
	supervisor = (int)getpid();
	return true;
}

void counters_use_slot(size_t i)
{
	if (slots && i < nslots)
		cur = &slots[i];
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

/* The fields below are one aligned word each: the endpoint, maybe in
 * another worker, reads the value before or after a store, never half. */
void counters_proc_start(int pid, double now)
{
	cur->proc.pid = pid;
	cur->proc.config_time = now;
	cur->proc.config_ok = 1;
}

void counters_config_loaded(bool ok, double now)
{
	if (ok)
		cur->proc.config_time = now;
	cur->proc.config_ok = ok ? 1 : 0;
}

void counters_proc_fds(unsigned long long n)
{
	cur->proc.open_fds = n;
}

size_t counters_nprocs(void)
{
	return slots ? nslots : 1;
}

const struct counter_proc *counters_proc(size_t i)
{
	if (!slots)
		return &cur->proc;
	return i < nslots ? &slots[i].proc : NULL;
}

int counters_supervisor(void)
{
	return slots ? supervisor : 0;
}

void counters_reset(void)
{
	memset(cur, 0, sizeof *cur);
}
