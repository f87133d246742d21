/* pat.h - the PAT-style address map of SPEC section 3, as pure functions.
 *
 * node.address:internal <-> edge.fqdn:public is a bijection fixed by the
 * configuration (conf.c validates it), so both directions are lookups.
 */
#ifndef SIPEDGE_PAT_H
#define SIPEDGE_PAT_H

#include <stdbool.h>

#include "core/types.h"

/* Public port for a URI naming node address host:port, else 0. */
int pat_public_port(const struct conf *c, const char *host, int port);

/* Does a URI host name node n: its address, tls_name or one of names[]
 * (case-insensitive, IPv6 in brackets or not)? */
bool pat_names_node(const struct conf_node *n, const char *host);

/* Public port for a URI naming a node by address, tls_name or names[]:
 * the pair's for a port in its map, else the node's FIRST public port
 * (an unpaired port: the way back leads to the node's SIP port); 0 if
 * host names no node. */
int pat_public_port_any(const struct conf *c, const char *host, int port);

/* The node owning public port P and its internal port, else NULL. */
const struct conf_node *pat_node_for_public(const struct conf *c, int public_port,
					    int *internal_port);

/* Default port of a SIP URI: 5061 for sips: or transport=tls, else 5060. */
int pat_default_port(int is_sips, const char *params);

#endif
