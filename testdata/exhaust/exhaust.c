/*
 * A hostile guest that exhausts what memory_limit does not count:
 *
 *   GET /?open=N     opens /data/hello.txt N times and never closes it; the
 *                    descriptors stay open across requests (a warm
 *                    instance). Answers "held=H errno=E": the files this
 *                    instance holds, and the errno of the open that failed
 *                    (0: none did).
 *   GET /?recurse=N  recurses N calls deep with its values in wasm locals,
 *                    none in linear memory: only the engine's native stack
 *                    grows. Answers the sum.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasgi.h"

static char env[16384];
static int held;

static long query(const char *qs, const char *key) {
	size_t k = strlen(key);
	for (const char *p = qs; p && *p;) {
		if (strncmp(p, key, k) == 0 && p[k] == '=') return atol(p + k + 1);
		p = strchr(p, '&');
		if (p) p++;
	}
	return -1;
}

/* Eight values live across the call: they stay in wasm locals, so the
 * frame lives on the engine's stack, not in linear memory. */
__attribute__((noinline)) static long deep(long n, long a, long b, long c, long d) {
	if (n <= 0) return a ^ b ^ c ^ d;
	long e = a * 3 + n, f = b * 5 - n, g = c ^ n, h = d + (n << 1);
	long r = deep(n - 1, e, f, g, h);
	return r + (e ^ f) + (g ^ h) + a + b + c + d;
}

static void answer(const char *body) {
	static const char hdr[] = "Content-Type: text/plain\r\n";
	wasgi_start_response("200 OK", 6, hdr, sizeof hdr - 1);
	wasgi_body_write((const uint8_t *)body, (uint32_t)strlen(body));
}

WASGI_EXPORT("wasgi_handle") int32_t handle(void) {
	int32_t n = wasgi_environ_read((uint8_t *)env, sizeof env);
	const char *qs = "";
	for (int32_t i = 0; i < n; i += (int32_t)strlen(env + i) + 1) {
		if (strncmp(env + i, "QUERY_STRING=", 13) == 0) qs = env + i + 13;
	}
	char out[64];
	long k;
	if ((k = query(qs, "open")) >= 0) {
		int err = 0;
		for (long i = 0; i < k; i++) {
			if (open("/data/hello.txt", O_RDONLY) < 0) {
				err = errno;
				break;
			}
			held++;
		}
		snprintf(out, sizeof out, "held=%d errno=%d", held, err);
	} else if ((k = query(qs, "recurse")) >= 0) {
		snprintf(out, sizeof out, "%ld", deep(k, 1, 2, 3, 4));
	} else {
		snprintf(out, sizeof out, "EMFILE=%d ENFILE=%d", EMFILE, ENFILE);
	}
	answer(out);
	return 0;
}
