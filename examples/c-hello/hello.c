/*
 * c-hello: a wasgi reactor in C, on the raw ABI (abi/include/wasgi.h).
 *
 *   clang --target=wasm32-wasi -mexec-model=reactor -O2 -I ../../abi/include -o hello.wasm hello.c
 */
#include <string.h>

#include "wasgi.h"

static char environ_buf[16384];

/* env_get finds KEY in the encoded environ, or returns "". */
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

static void write_str(const char *s) { wasgi_body_write((const uint8_t *)s, (uint32_t)strlen(s)); }

WASGI_EXPORT("wasgi_handle")
int32_t wasgi_handle(void) {
	int32_t n = wasgi_environ_read((uint8_t *)environ_buf, sizeof environ_buf);
	if (n < 0 || n > (int32_t)sizeof environ_buf) {
		return 1; /* the host answers 500 */
	}
	static const char status[] = "200 OK";
	static const char headers[] = "Content-Type: text/plain; charset=utf-8\r\n";
	if (wasgi_start_response(status, sizeof status - 1, headers, sizeof headers - 1) != 0) {
		return 1;
	}
	write_str("Hello from C! You asked for ");
	write_str(env_get(environ_buf, n, "SCRIPT_NAME"));
	write_str(env_get(environ_buf, n, "PATH_INFO"));
	write_str("\n");
	return 0;
}
