/* unit.h - what every unit test's main() shares. */
#ifndef SIPEDGE_UNIT_H
#define SIPEDGE_UNIT_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/conf.h"

/* Run one suite; the exit status automake's test driver expects. */
static inline int unit_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* edge.conf(5)'s limits, for tests that build a struct conf by hand. */
static inline void unit_default_limits(struct conf *cf)
{
	cf->limits.max_message_size = 65535;
	cf->limits.transaction_timeout = 32;
	cf->limits.max_transactions = 10000;
	cf->limits.invite_timeout = 180;
	cf->limits.handshake_timeout = 10;
	cf->limits.max_via = 70;
	cf->limits.max_header_values = 64;
	cf->limits.max_output_buffer = 1 << 20;
	cf->limits.output_stall_timeout = 30;
	cf->limits.max_transactions_per_peer = 1000;
	cf->limits.max_invites_per_peer = 100;
	cf->limits.max_dns_pending = 1024;
	cf->limits.max_dns_pending_per_peer = 32;
}

/* The edge most pipeline tests use: edge.example.com serving example.test,
 * one node imp1 (10.1.1.11:5062 over TCP, public port 5061), an external
 * TLS listener 192.0.2.10:5061 and an internal TCP one 10.1.1.1:5060, and
 * partner.test allowed through sip.partner.test:5061. The tables are
 * shared: tests add what they differ in (static routes, blocked, ...). */
static inline void unit_edge_conf(struct conf *cf)
{
	static struct conf_portmap ports[] = { { 5062, 5061 } };
	static struct conf_node node = {
		.name = "imp1", .address = "10.1.1.11", .tls_name = "10.1.1.11",
		.transport = TRANSPORT_TCP, .ports = ports, .nports = 1, .routing = true,
		.priority = 1,
	};
	static struct conf_listen listens[] = {
		{ .zone = ZONE_EXTERNAL, .address = "192.0.2.10", .port = 5061,
		  .transport = TRANSPORT_TLS },
		{ .zone = ZONE_INTERNAL, .address = "10.1.1.1", .port = 5060,
		  .transport = TRANSPORT_TCP },
	};
	static char *domains[] = { "example.test" };
	static struct conf_allowed partner = { .domain = "partner.test",
					       .peer = "sip.partner.test", .port = 5061 };
	memset(cf, 0, sizeof *cf);
	cf->edge.fqdn = "edge.example.com";
	cf->listen = listens;
	cf->nlisten = 2;
	cf->internal.domains = domains;
	cf->internal.ndomains = 1;
	cf->internal.nodes = &node;
	cf->internal.nnodes = 1;
	cf->federation.allowed = &partner;
	cf->federation.nallowed = 1;
	unit_default_limits(cf);
}

#endif
