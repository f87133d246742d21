/* secret.c - reading edge.secret_file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "daemon/secret.h"

bool secret_load(const char *path, unsigned char key[32], char *err, size_t errlen)
{
	if (errlen)
		err[0] = '\0';
	if (!path || !*path) {
		if (RAND_bytes(key, 32) == 1)
			return true;
		snprintf(err, errlen, "no random bytes for a key");
		return false;
	}
	/* O_NONBLOCK: a FIFO named here must not hang the start. */
	int fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		return false;
	}
	struct stat st;
	unsigned char buf[SECRET_MAX + 1];
	size_t len = 0;
	bool ok = false;
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "'%s' is not a regular file", path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof buf - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == sizeof buf)
			break;
	}
	if (len < SECRET_MIN) {
		snprintf(err, errlen, "'%s' has %zu bytes, at least %d are needed "
			 "(head -c 32 /dev/urandom > %s)", path, len, SECRET_MIN, path);
		goto out;
	}
	if (len > SECRET_MAX) {
		snprintf(err, errlen, "'%s' is longer than %d bytes", path, SECRET_MAX);
		goto out;
	}
	unsigned int klen = 32;
	if (EVP_Digest(buf, len, key, &klen, EVP_sha256(), NULL) != 1 || klen != 32) {
		snprintf(err, errlen, "cannot hash '%s'", path);
		goto out;
	}
	ok = true;
out:
	OPENSSL_cleanse(buf, sizeof buf);
	close(fd);
	return ok;
}

int64_t secret_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool secret_load_previous(const char *path, struct mask_prev *p, char *err, size_t errlen)
{
	struct mask_prev np = { .loaded = false };
	if (path && *path) {
		if (!secret_load(path, np.key, err, errlen)) {
			OPENSSL_cleanse(&np, sizeof np);
			return false;
		}
		np.loaded = true;
		np.at_ms = secret_now_ms();
	} else if (errlen) {
		err[0] = '\0';
	}
	OPENSSL_cleanse(p, sizeof *p);
	*p = np;
	OPENSSL_cleanse(&np, sizeof np);
	return true;
}
