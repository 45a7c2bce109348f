/*
 * The conformance guest (abi/abitest) as a C CGI program (abi = "cgi").
 *
 *   clang --target=wasm32-wasi -O2 -o cgi.wasm cgi.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static const char *env(const char *k) {
	const char *v = getenv(k);
	return v ? v : "";
}

int main(void) {
	const char *path = env("PATH_INFO");
	if (strcmp(path, "/info") == 0 || strncmp(path, "/info/", 6) == 0) {
		printf("Content-Type: text/plain\r\n\r\nmethod=%s path=%s query=%s user=%s\n", env("REQUEST_METHOD"), path,
		       env("QUERY_STRING"), env("REMOTE_USER"));
	} else if (strcmp(path, "/echo") == 0) {
		printf("Content-Type: application/octet-stream\r\n\r\n");
		fflush(stdout);
		static char buf[65536];
		size_t n;
		while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
			fwrite(buf, 1, n, stdout);
		}
	} else if (strcmp(path, "/headers") == 0) {
		int count = 0;
		for (char **e = environ; *e; e++) {
			if (strncmp(*e, "HTTP_X_TEST_", 12) == 0) {
				count++;
			}
		}
		printf("Content-Type: text/plain\r\n\r\nheaders=%d\n", count);
	} else if (strcmp(path, "/redirect") == 0) {
		printf("Location: %s/info\r\n\r\n", env("SCRIPT_NAME"));
	} else if (strcmp(path, "/stream") == 0) {
		printf("Content-Type: text/plain\r\n\r\n");
		for (int i = 1; i <= 3; i++) {
			printf("chunk %d\n", i);
			fflush(stdout);
		}
	} else {
		printf("Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnot found\n");
	}
	return 0;
}
