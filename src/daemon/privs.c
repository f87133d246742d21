/* privs.c - least privilege: a root start binds its ports and reads its
 * keys as root, then runs as admin.user for good.
 *
 * The daemon never needs root again: reloads re-read certificates and keys
 * as admin.user, so they must be readable by it (sipedge(8), SECURITY).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "util/log.h"
#include "daemon/privs.h"

static bool fail(const char *reason, const char *detail)
{
	log_event(LOG_ERR, "startup_failed",
		  LOG_STR("reason", reason),
		  LOG_STR("detail", detail));
	return false;
}

bool privs_drop(const struct conf *c)
{
	const char *user = c->admin.user && *c->admin.user ? c->admin.user : NULL;
	const char *group = c->admin.group && *c->admin.group ? c->admin.group : NULL;
	char detail[256];

	if (geteuid() != 0 && getuid() != 0) {
		if (user) {
			struct passwd *me = getpwuid(geteuid());
			if (!me || strcmp(me->pw_name, user) != 0)
				log_event(LOG_NOTICE, "privileges_kept",
					  LOG_STR("reason", "not_root"),
					  LOG_STR("user", me ? me->pw_name : "?"),
					  LOG_STR("wanted", user));
		}
		return true;
	}
	if (!user)
		return fail("root_without_user",
			    "started as root with admin.user empty: set admin.user "
			    "(and admin.group) to the account to run as");
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		snprintf(detail, sizeof detail, "no such user '%s'", user);
		return fail("no_such_user", detail);
	}
	if (pw->pw_uid == 0)
		return fail("user_is_root", "admin.user names a root account: "
					    "the edge must not run as root");
	gid_t gid = pw->pw_gid;
	if (group) {
		struct group *gr = getgrnam(group);
		if (!gr) {
			snprintf(detail, sizeof detail, "no such group '%s'", group);
			return fail("no_such_group", detail);
		}
		gid = gr->gr_gid;
	}
	uid_t uid = pw->pw_uid;
	char *name = pw->pw_name;
	/* Supplementary groups first (root's would stay otherwise), then the
	 * group, then the user: after setuid() the rest is not allowed. */
	if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
		snprintf(detail, sizeof detail, "cannot switch to %s: %s", user,
			 strerror(errno));
		return fail("privilege_drop_failed", detail);
	}
	if (setuid(0) == 0 || geteuid() == 0 || (gid != 0 && getegid() == 0))
		return fail("privilege_drop_failed", "root could be regained");
	char sg[16];       /* a group without a name is shown by number */
	snprintf(sg, sizeof sg, "%u", (unsigned)gid);
	struct group *gr = getgrgid(gid);
	log_event(LOG_NOTICE, "privileges_dropped", LOG_STR("user", name),
		  LOG_INT("uid", uid), LOG_STR("group", gr ? gr->gr_name : sg),
		  LOG_INT("gid", gid));
	return true;
}
