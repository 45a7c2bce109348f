/*
 * The conformance guest (abi/abitest) as a C reactor on the raw ABI.
 *
 *   clang --target=wasm32-wasi -mexec-model=reactor -O2 -I abi/include -o reactor.wasm reactor.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasgi.h"

static char *env;
static int32_t env_n;

static const char *env_get(const char *key) {
	size_t klen = strlen(key);
	for (int32_t i = 0; i < env_n;) {
		const char *entry = env + i;
		size_t elen = strlen(entry);
		if (elen > klen && entry[klen] == '=' && memcmp(entry, key, klen) == 0) {
			return entry + klen + 1;
		}
		i += (int32_t)elen + 1;
	}
	return "";
}

static int start(const char *status, const char *headers) {
	return wasgi_start_response(status, strlen(status), headers, strlen(headers));
}

static void write_str(const char *s) { wasgi_body_write((const uint8_t *)s, strlen(s)); }

WASGI_EXPORT("wasgi_handle")
int32_t wasgi_handle(void) {
	env_n = wasgi_environ_len();
	free(env);
	env = malloc(env_n + 1);
	if (env == NULL || wasgi_environ_read((uint8_t *)env, env_n) != env_n) {
		return 1;
	}
	const char *path = env_get("PATH_INFO");
	const char *method = env_get("REQUEST_METHOD");
	char line[8192];
	if (strcmp(path, "/info") == 0 || strncmp(path, "/info/", 6) == 0) {
		start("200 OK", "Content-Type: text/plain\r\n");
		snprintf(line, sizeof line, "method=%s path=%s query=%s user=%s\n", method, path, env_get("QUERY_STRING"),
		         env_get("REMOTE_USER"));
		write_str(line);
	} else if (strcmp(path, "/echo") == 0) {
		start("200 OK", "Content-Type: application/octet-stream\r\n");
		static uint8_t buf[65536];
		int32_t n;
		while ((n = wasgi_body_read(buf, sizeof buf)) > 0) {
			wasgi_body_write(buf, n);
		}
		if (n < 0) {
			return 1;
		}
	} else if (strcmp(path, "/headers") == 0) {
		int count = 0;
		for (int32_t i = 0; i < env_n; i += strlen(env + i) + 1) {
			if (strncmp(env + i, "HTTP_X_TEST_", 12) == 0) {
				count++;
			}
		}
		start("200 OK", "Content-Type: text/plain\r\n");
		snprintf(line, sizeof line, "headers=%d\n", count);
		write_str(line);
	} else if (strcmp(path, "/redirect") == 0) {
		snprintf(line, sizeof line, "Location: %s/info\r\n", env_get("SCRIPT_NAME"));
		start("302 Found", line);
	} else if (strcmp(path, "/stream") == 0) {
		start("200 OK", "Content-Type: text/plain\r\n");
		for (int i = 1; i <= 3; i++) {
			snprintf(line, sizeof line, "chunk %d\n", i);
			write_str(line);
			wasgi_body_write(NULL, 0); /* flush */
		}
	} else {
		start("404 Not Found", "Content-Type: text/plain\r\n");
		write_str("not found\n");
	}
	return 0;
}

/* A user database of one, for the auth exports. */
WASGI_EXPORT("wasgi_check_password")
int32_t wasgi_check_password(void) {
	char user[256], password[256];
	int32_t un = wasgi_auth_user((uint8_t *)user, sizeof user - 1);
	int32_t pn = wasgi_auth_password((uint8_t *)password, sizeof password - 1);
	if (un < 0 || un >= (int32_t)sizeof user || pn < 0 || pn >= (int32_t)sizeof password) {
		return WASGI_AUTH_UNKNOWN_USER;
	}
	user[un] = password[pn] = 0;
	if (strcmp(user, "conform") != 0) {
		return WASGI_AUTH_UNKNOWN_USER;
	}
	return strcmp(password, "secret") == 0 ? WASGI_AUTH_OK : WASGI_AUTH_DENIED;
}

WASGI_EXPORT("wasgi_groups_for_user")
int32_t wasgi_groups_for_user(void) {
	static const char groups[] = "staff\nusers\n";
	return wasgi_auth_groups(groups, sizeof groups - 1) == 0 ? 0 : 1;
}
