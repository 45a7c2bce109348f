/*
 * One module for the one-shot run tests (Runtime.Run, wasgi manage): as a
 * reactor it serves requests and exports wasgi_run; built as a command
 * (-DCOMMAND) its main does the same work. Both print their arguments,
 * copy stdin to stdout, and exit with the status named by their last
 * argument; "spin" loops forever, "env NAME" prints a variable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasgi.h"

#ifndef COMMAND
/* WASI args of a reactor: wasi-libc passes them to main only. */
#include <wasi/api.h>
#endif

static int work(int argc, char **argv) {
	for (int i = 0; i < argc; i++) {
		printf("arg[%d]=%s\n", i, argv[i]);
	}
	if (argc > 1 && strcmp(argv[1], "spin") == 0) {
		for (volatile int i = 0;; i++) {
		}
	}
	if (argc > 2 && strcmp(argv[1], "env") == 0) {
		const char *v = getenv(argv[2]);
		printf("%s=%s\n", argv[2], v ? v : "(unset)");
	}
	if (argc > 1 && strcmp(argv[1], "stdin") == 0) {
		char buf[256];
		size_t n;
		while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
			fwrite(buf, 1, n, stdout);
		}
	}
	if (argc > 1 && strcmp(argv[1], "environ") == 0) {
		printf("environ_len=%d\n", (int)wasgi_environ_len());
	}
	fprintf(stderr, "to stderr\n");
	fflush(stdout);
	return argc > 1 ? atoi(argv[argc - 1]) : 0;
}

#ifdef COMMAND
int main(int argc, char **argv) { return work(argc, argv); }
#else
WASGI_EXPORT("wasgi_handle") int32_t handle(void) {
	static const char status[] = "200 OK";
	static const char hdr[] = "Content-Type: text/plain\r\n";
	wasgi_start_response(status, sizeof status - 1, hdr, sizeof hdr - 1);
	wasgi_body_write((const uint8_t *)"served\n", 7);
	return 0;
}

WASGI_EXPORT("wasgi_run") int32_t run(void) {
	size_t argc, size;
	if (__wasi_args_sizes_get(&argc, &size) != 0) {
		return 70;
	}
	char **argv = calloc(argc + 1, sizeof *argv);
	char *buf = malloc(size);
	if (__wasi_args_get((uint8_t **)argv, (uint8_t *)buf) != 0) {
		return 70;
	}
	return work((int)argc, argv);
}
#endif
