/*
 * A CGI program in C (abi = "cgi"): a plain WASI command, as for WAGI.
 *
 *   clang --target=wasm32-wasi -O2 -o hello-cgi.wasm cgi.c
 */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
	const char *path = getenv("PATH_INFO");
	printf("Content-Type: text/plain; charset=utf-8\n\n");
	printf("Hello from a C CGI program! You asked for %s\n", path ? path : "");
	return 0;
}
