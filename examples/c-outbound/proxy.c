/*
 * c-outbound: a wasgi reactor in C that calls a backend through the
 * host's outbound connections (abi/ABI.md section 4.8): each request is
 * passed on as an HTTP/1.0 GET of the same path to BACKEND (host:port,
 * from the app's env, listed in its `outbound`), and the backend's answer
 * streamed back as the body. With a tls:// entry the host does TLS: this
 * code is the same for an HTTPS backend.
 *
 *   clang --target=wasm32-wasi -mexec-model=reactor -O2 -I ../../abi/include -o proxy.wasm proxy.c
 *
 *   [[site.app]]
 *   name = "proxy"
 *   mount = "/"
 *   module = "proxy.wasm"
 *   env = { BACKEND = "api.example.com:443" }
 *   outbound = ["tls://api.example.com:443"]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasgi.h"

static char environ_buf[16384];
static uint8_t buf[16384];

static const char *env_get(const char *env, int32_t n, const char *key) {
	size_t klen = strlen(key);
	for (int32_t i = 0; i < n;) {
		const char *entry = env + i;
		size_t elen = strlen(entry);
		if (elen > klen && entry[klen] == '=' && memcmp(entry, key, klen) == 0) {
			return entry + klen + 1;
		}
		i += (int32_t)elen + 1;
	}
	return "";
}

static int32_t answer(const char *status, const char *msg) {
	static const char headers[] = "Content-Type: text/plain; charset=utf-8\r\n";
	wasgi_start_response(status, (uint32_t)strlen(status), headers, sizeof headers - 1);
	wasgi_body_write((const uint8_t *)msg, (uint32_t)strlen(msg));
	return 0;
}

/* send_all writes all of p, or returns an error code. */
static int32_t send_all(int32_t h, const uint8_t *p, size_t len) {
	while (len > 0) {
		int32_t n = wasgi_net_write(h, p, (uint32_t)len, WASGI_NET_WAIT_DEADLINE);
		if (n < 0) {
			return n;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

WASGI_EXPORT("wasgi_handle")
int32_t wasgi_handle(void) {
	int32_t n = wasgi_environ_read((uint8_t *)environ_buf, sizeof environ_buf);
	if (n < 0 || n > (int32_t)sizeof environ_buf) {
		return 1;
	}
	const char *backend = env_get(environ_buf, n, "BACKEND");
	uint32_t info = 0;
	int32_t h = wasgi_net_connect(backend, (uint32_t)strlen(backend), &info);
	if (h == WASGI_ERR_DENIED) {
		return answer("502 Bad Gateway", "the backend is not in this app's outbound list\n");
	}
	if (h < 0) {
		char msg[64];
		snprintf(msg, sizeof msg, "cannot reach the backend (error %d)\n", (int)h);
		return answer("502 Bad Gateway", msg);
	}
	int len = snprintf((char *)buf, sizeof buf, "GET %s%s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n",
	                   env_get(environ_buf, n, "SCRIPT_NAME"), env_get(environ_buf, n, "PATH_INFO"), backend);
	if (len < 0 || len >= (int)sizeof buf || send_all(h, buf, (size_t)len) < 0) {
		wasgi_net_close(h);
		return answer("502 Bad Gateway", "cannot send the request\n");
	}
	static const char headers[] = "Content-Type: text/plain; charset=utf-8\r\n";
	wasgi_start_response("200 OK", 6, headers, sizeof headers - 1);
	if (info & WASGI_NET_TLS) {
		static const char note[] = "(over TLS, done by the host)\n";
		wasgi_body_write((const uint8_t *)note, sizeof note - 1);
	}
	for (;;) { /* the backend's whole answer, status line and headers included */
		int32_t got = wasgi_net_read(h, buf, sizeof buf, WASGI_NET_WAIT_DEADLINE);
		if (got <= 0) {
			break;
		}
		wasgi_body_write(buf, (uint32_t)got);
	}
	wasgi_net_close(h);
	return 0;
}
