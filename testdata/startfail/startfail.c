/*
 * A reactor whose start fails while the file /data/fail exists: its
 * constructor (run by _initialize) says so on stderr and traps. Once the
 * file is gone, instances start and each request answers "started".
 * While /data/hold exists, the constructor waits: an instance stays
 * starting for as long as a test needs to see it so.
 * For host/start_test.go: an app that fails to start is backed off;
 * host/status_test.go: the instances starting.
 */
#include <stdio.h>
#include <unistd.h>

#include "wasgi.h"

__attribute__((constructor)) static void init(void) {
	while (access("/data/hold", F_OK) == 0) {
		usleep(1000);
	}
	if (access("/data/fail", F_OK) == 0) {
		fputs("startfail: /data/fail exists, refusing to start\n", stderr);
		fflush(stderr);
		__builtin_trap();
	}
}

WASGI_EXPORT("wasgi_handle") int32_t handle(void) {
	static const char hdr[] = "Content-Type: text/plain\r\n";
	static const char body[] = "started\n";
	if (wasgi_start_response("200 OK", 6, hdr, sizeof hdr - 1) < 0) {
		return 1;
	}
	wasgi_body_write((const uint8_t *)body, sizeof body - 1);
	return 0;
}
