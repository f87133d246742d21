/* nodeview.c - the header of the shared node health (see nodeview.h). */
#include <string.h>

#include "core/nodeview.h"

size_t nodeview_bytes(size_t n)
{
	return sizeof(struct node_view) + n * sizeof(bool);
}

static uint64_t fnv(uint64_t h, const void *p, size_t len)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

uint64_t nodeview_gen(const struct conf *c)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < c->internal.nnodes; i++) {
		const struct conf_node *n = &c->internal.nodes[i];
		int port = n->nports ? n->ports[0].internal : 0;
		int tr = (int)n->transport;
		h = fnv(h, n->name ? n->name : "", n->name ? strlen(n->name) + 1 : 1);
		h = fnv(h, n->address ? n->address : "", n->address ? strlen(n->address) + 1 : 1);
		h = fnv(h, &tr, sizeof tr);
		h = fnv(h, &port, sizeof port);
	}
	h = fnv(h, &c->internal.nnodes, sizeof c->internal.nnodes);
	return h ? h : 1;
}

const bool *nodeview_read(const struct node_view *v, uint64_t gen, size_t nnodes)
{
	if (!v || __atomic_load_n(&v->gen, __ATOMIC_ACQUIRE) != gen || v->nnodes != nnodes)
		return NULL;
	return v->up;
}

bool nodeview_claim(struct node_view *v, uint64_t gen, size_t nnodes, bool keep)
{
	if (keep && __atomic_load_n(&v->gen, __ATOMIC_ACQUIRE) == gen && v->nnodes == nnodes)
		return true;
	__atomic_store_n(&v->gen, 0, __ATOMIC_RELEASE);
	v->nnodes = (uint32_t)nnodes;
	for (size_t i = 0; i < nnodes; i++)
		v->up[i] = true;
	__atomic_store_n(&v->gen, gen, __ATOMIC_RELEASE);
	return false;
}
