/* fuzz_dns_stub.h - driving the DNS stand-in of fuzz_rewrite. */
#ifndef SIPEDGE_FUZZ_DNS_STUB_H
#define SIPEDGE_FUZZ_DNS_STUB_H

#include "net/dns.h"

/* Answer every pending SRV lookup with st; with DNS_OK, make() writes the
 * records for a name (0 records = DNS_NOTFOUND). Lookups asked while
 * answering are answered too, for at most max_rounds rounds (0 = until
 * none is left), the rest with DNS_FAILED. Returns how many. */
size_t fuzz_dns_answer_srv(struct dns *d, enum dns_status st,
			   size_t (*make)(const char *name, struct dns_srv *out,
					  size_t max, void *arg),
			   void *arg, unsigned max_rounds);

/* Forget address lookups without answering (their connections are gone). */
void fuzz_dns_forget_addr(struct dns *d);

#endif
