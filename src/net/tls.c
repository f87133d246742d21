/* tls.c - SSL_CTX per zone and direction. Mutual TLS everywhere the
 * configuration asks for it; chain and dates are checked by OpenSSL, names
 * by certname.c after the handshake (RFC 5922 is not X509_check_host). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "util/log.h"
#include "net/tls.h"

static int version_of(const char *v)
{
	if (!v || !strcmp(v, "TLSv1.2")) return TLS1_2_VERSION;
	if (!strcmp(v, "TLSv1")) return TLS1_VERSION;
	if (!strcmp(v, "TLSv1.1")) return TLS1_1_VERSION;
	if (!strcmp(v, "TLSv1.3")) return TLS1_3_VERSION;
	return TLS1_2_VERSION;
}

static void log_ssl_error(const char *what, const char *file)
{
	unsigned long e = ERR_get_error();
	char buf[256];
	ERR_error_string_n(e, buf, sizeof buf);
	log_msg(LOG_ERR, "%s: %s: %s", file ? file : "tls", what, buf);
	ERR_clear_error();
}

static SSL_CTX *make_ctx(const struct conf_tls *t, bool server, bool external)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!ctx) {
		log_ssl_error("cannot create context", NULL);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, version_of(t->min_version));
	if (version_of(t->min_version) < TLS1_2_VERSION) {
		/* Debian's default security level 2 forbids TLS 1.0/1.1 even
		 * when asked for: the legacy opt-in needs level 0 (risk in
		 * edge.conf(5)). */
		SSL_CTX_set_security_level(ctx, 0);
		log_msg(LOG_WARNING, "tls: min_version %s: TLS below 1.2 allowed, security level 0",
			t->min_version);
	}
	/* Idle federation connections live for hours: keep them small. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
			    SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (t->ciphers && *t->ciphers && !SSL_CTX_set_cipher_list(ctx, t->ciphers))
		goto fail_msg;
	if (t->ciphersuites && *t->ciphersuites &&
	    !SSL_CTX_set_ciphersuites(ctx, t->ciphersuites))
		goto fail_msg;
	if (SSL_CTX_use_certificate_chain_file(ctx, t->certificate) != 1) {
		log_ssl_error("cannot load certificate", t->certificate);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, t->private_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		log_ssl_error("cannot load private key", t->private_key);
		goto fail;
	}
	if (SSL_CTX_load_verify_locations(ctx, t->ca_file, NULL) != 1) {
		log_ssl_error("cannot load CA file", t->ca_file);
		goto fail;
	}
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	if (external && t->crl_file && *t->crl_file) {
		if (X509_STORE_load_file(store, t->crl_file) != 1) {
			log_ssl_error("cannot load CRL file", t->crl_file);
			goto fail;
		}
		X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	}
	/* The peer's certificate must be usable for its role: a client
	 * certificate needs clientAuth, a server certificate serverAuth. */
	X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_purpose(param, server ? X509_PURPOSE_SSL_CLIENT
						    : X509_PURPOSE_SSL_SERVER);
	int mode = SSL_VERIFY_PEER;
	if (server && t->require_client_certificate)
		mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	if (server && !t->require_client_certificate)
		mode = SSL_VERIFY_PEER; /* verify one if offered */
	SSL_CTX_set_verify(ctx, mode, NULL);
	SSL_CTX_set_verify_depth(ctx, t->verify_depth);
	if (server)
		SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"sipedge", 7);
	return ctx;
fail_msg:
	log_ssl_error("invalid cipher configuration", NULL);
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

struct tls_ctxs *tls_ctxs_new(const struct conf *c)
{
	struct tls_ctxs *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->ext_server = make_ctx(&c->tls.external, true, true);
	t->ext_client = make_ctx(&c->tls.external, false, true);
	if (!t->ext_server || !t->ext_client)
		goto fail;
	if (conf_internal_tls_used(c)) {
		t->int_server = make_ctx(&c->tls.internal, true, false);
		t->int_client = make_ctx(&c->tls.internal, false, false);
		if (!t->int_server || !t->int_client)
			goto fail;
	}
	return t;
fail:
	tls_ctxs_free(t);
	return NULL;
}

void tls_ctxs_free(struct tls_ctxs *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ext_server);
	SSL_CTX_free(t->ext_client);
	SSL_CTX_free(t->int_server);
	SSL_CTX_free(t->int_client);
	free(t);
}

void tls_failure_reason(SSL *ssl, unsigned long err, char *reason, size_t rlen,
			char *hint, size_t hlen)
{
	long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	hint[0] = '\0';
	if (vr != X509_V_OK) {
		snprintf(reason, rlen, "certificate verify failed: %s",
			 X509_verify_cert_error_string(vr));
		if (vr == X509_V_ERR_CERT_HAS_EXPIRED ||
		    vr == X509_V_ERR_CERT_NOT_YET_VALID ||
		    vr == X509_V_ERR_CRL_HAS_EXPIRED ||
		    vr == X509_V_ERR_CRL_NOT_YET_VALID)
			snprintf(hint, hlen, "check the clock of both sides (NTP) and the certificate validity dates");
		return;
	}
	if (err) {
		const char *r = ERR_reason_error_string(err);
		snprintf(reason, rlen, "%s", r ? r : "TLS error");
		if (ERR_GET_REASON(err) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
			snprintf(hint, hlen, "the peer sent no client certificate; federation requires mutual TLS");
		return;
	}
	snprintf(reason, rlen, "connection closed during handshake");
}

const char *tls_failure_slug(SSL *ssl, unsigned long err)
{
	long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	switch (vr) {
	case X509_V_OK:
		break;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return "certificate_expired";
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "certificate_not_yet_valid";
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		return "unknown_ca";
	case X509_V_ERR_INVALID_PURPOSE:
		return "certificate_purpose";
	case X509_V_ERR_CERT_REVOKED:
		return "certificate_revoked";
	default:
		return "certificate_invalid";
	}
	if (!err)
		return "closed";
	int r = ERR_GET_REASON(err);
	/* The peer closed the TCP connection before or during the
	 * handshake (a scanner, a load balancer's check): not a TLS fault. */
	if (r == SSL_R_UNEXPECTED_EOF_WHILE_READING)
		return "closed";
	if (r == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
		return "no_client_certificate";
	if (r == SSL_R_UNSUPPORTED_PROTOCOL || r == SSL_R_WRONG_VERSION_NUMBER ||
	    r == SSL_R_VERSION_TOO_LOW)
		return "protocol_version";
	if (r == SSL_R_NO_SHARED_CIPHER)
		return "no_shared_cipher";
	if (r >= SSL_AD_REASON_OFFSET)    /* the peer sent an alert */
		return "alert_received";
	return "protocol_error";
}
