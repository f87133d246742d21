/* The shared node health header: a reader uses the prober's array only
 * when it describes the reader's own node list. */
#include <check.h>
#include "unit.h"
#include <stdlib.h>
#include <string.h>

#include "core/nodeview.h"

static struct conf_portmap p5062 = { 5062, 5061 };
static struct conf_node nodes[3] = {
	{ .name = "imp1", .address = "10.0.0.11", .ports = &p5062, .nports = 1 },
	{ .name = "imp2", .address = "10.0.0.12", .ports = &p5062, .nports = 1 },
	{ .name = "imp3", .address = "10.0.0.13", .ports = &p5062, .nports = 1 },
};

static uint64_t gen_of(struct conf_node *list, size_t n)
{
	struct conf c;
	memset(&c, 0, sizeof c);
	c.internal.nodes = list;
	c.internal.nnodes = n;
	return nodeview_gen(&c);
}

START_TEST(gen_depends_on_list_and_order)
{
	struct conf_node swapped[2] = { nodes[1], nodes[0] };
	uint64_t g2 = gen_of(nodes, 2), g3 = gen_of(nodes, 3);
	ck_assert(g2 != 0 && g3 != 0 && g2 != g3);
	ck_assert(gen_of(swapped, 2) != g2);          /* same nodes, other order */
	ck_assert(gen_of(nodes, 2) == g2);            /* stable */
	ck_assert(gen_of(nodes, 0) != 0);
}
END_TEST

START_TEST(reader_ignores_another_list)
{
	struct node_view *v = calloc(1, nodeview_bytes(8));
	uint64_t g2 = gen_of(nodes, 2), g3 = gen_of(nodes, 3);
	ck_assert_ptr_null(nodeview_read(v, g3, 3));     /* nothing written yet */
	ck_assert(!nodeview_claim(v, g3, 3, true));      /* fresh: reset, all up */
	ck_assert(v->up[0] && v->up[1] && v->up[2]);
	v->up[1] = false;                                 /* imp2 down */
	ck_assert_ptr_eq(nodeview_read(v, g3, 3), v->up);
	ck_assert_ptr_null(nodeview_read(v, g2, 2));     /* a reader on another list */
	ck_assert_ptr_null(nodeview_read(v, g3, 2));
	/* A restarted prober on the same list keeps the state. */
	ck_assert(nodeview_claim(v, g3, 3, true));
	ck_assert(!v->up[1]);
	/* A prober that does not probe (health off) resets, even on the same
	 * list: a "down" kept would never be corrected. */
	ck_assert(!nodeview_claim(v, g3, 3, false));
	ck_assert(v->up[0] && v->up[1] && v->up[2]);
	ck_assert_ptr_eq(nodeview_read(v, g3, 3), v->up);
	v->up[1] = false;
	/* On another list it resets. */
	ck_assert(!nodeview_claim(v, g2, 2, true));
	ck_assert(v->up[0] && v->up[1]);
	ck_assert_ptr_null(nodeview_read(v, g3, 3));
	free(v);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("nodeview");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, gen_depends_on_list_and_order);
	tcase_add_test(tc, reader_ignores_another_list);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
