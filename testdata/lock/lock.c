/*
 * The test guest of file_lock: GET /?path=/data/f&cmd=0&type=2&start=0&len=1
 * calls wasgi_file_lock with those arguments and answers its result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasgi.h"

static char env[16384];

static const char *get(const char *qs, const char *key, char *out, size_t size) {
	size_t k = strlen(key);
	for (const char *p = qs; p && *p;) {
		if (strncmp(p, key, k) == 0 && p[k] == '=') {
			const char *v = p + k + 1;
			size_t n = strcspn(v, "&");
			if (n >= size) n = size - 1;
			memcpy(out, v, n);
			out[n] = 0;
			return out;
		}
		p = strchr(p, '&');
		if (p) p++;
	}
	out[0] = 0;
	return out;
}

WASGI_EXPORT("wasgi_handle") int32_t handle(void) {
	int32_t n = wasgi_environ_read((uint8_t *)env, sizeof env);
	const char *qs = "";
	for (int32_t i = 0; i < n; i += (int32_t)strlen(env + i) + 1) {
		if (strncmp(env + i, "QUERY_STRING=", 13) == 0) qs = env + i + 13;
	}
	char path[512], v[32];
	get(qs, "path", path, sizeof path);
	int32_t r = wasgi_file_lock(path, (uint32_t)strlen(path), atoi(get(qs, "cmd", v, sizeof v)), atoi(get(qs, "type", v, sizeof v)),
	                            atoi(get(qs, "start", v, sizeof v)), atoi(get(qs, "len", v, sizeof v)));
	char out[32];
	int len = snprintf(out, sizeof out, "%d", (int)r);
	static const char hdr[] = "Content-Type: text/plain\r\n";
	wasgi_start_response("200 OK", 6, hdr, sizeof hdr - 1);
	wasgi_body_write((const uint8_t *)out, (uint32_t)len);
	return 0;
}
