/* policy.h - the Access Edge decision of SPEC section 4, as pure functions.
 *
 * Given a claimed domain, what the peer's certificate proves, and (when
 * needed) the domain's _sipfederationtls._tcp SRV targets, say whether the
 * peer may speak for that domain. No DNS, no sockets: the caller looks up
 * SRV when asked (POLICY_LOOKUP_SRV) and calls again with the answer.
 */
#ifndef SIPEDGE_POLICY_H
#define SIPEDGE_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "core/certname.h"
#include "core/types.h"
#include "core/diag.h"

enum srv_state { SRV_UNKNOWN = 0, SRV_FOUND, SRV_NONE, SRV_FAILED };

struct policy_in {
	const char *domain;               /* claimed identity domain */
	const struct certnames *cert;     /* what the peer certificate proves */
	enum srv_state srv;
	const char *const *srv_targets;   /* with SRV_FOUND */
	size_t nsrv;
};

enum policy_action { POLICY_ACCEPT, POLICY_REJECT, POLICY_LOOKUP_SRV };

struct policy_out {
	enum policy_action action;
	int status;                       /* response code when rejected */
	enum diag_code code;              /* ms-diagnostics code when rejected */
	const char *reason;               /* log slug, documented in sipedge(8) */
	const struct conf_allowed *entry; /* NULL: admitted through discovery */
	const char *proved_by;            /* name the certificate matched */
};

void policy_inbound(const struct conf *c, const struct policy_in *in,
		    struct policy_out *out);

/* The pieces, also used for outbound requests (issue: outbound policy). */
bool policy_blocked(const struct conf *c, const char *domain);
const struct conf_allowed *policy_allowed(const struct conf *c, const char *domain);
bool policy_srv_target_counts(enum srv_match m, const char *target,
			      const char *domain);

/* Is domain suffix itself, or under it at a label boundary? Case and one
 * trailing dot on either side do not count ("sip.A.test." is under
 * "a.test"; "nota.test" is not). */
bool policy_under(const char *domain, const char *suffix);

#endif
