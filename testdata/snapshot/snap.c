/*
 * A reactor that shows whether its instance started from a snapshot:
 * its constructor counts runs and stamps a random token, each request
 * counts calls, and wasgi_snapshot_restored records that it ran. Its
 * data_marker starts in a data segment, which instantiation writes again
 * over a restored memory: restore must undo that.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasgi.h"

static int ctor_runs;     /* constructors run in this instance's memory */
static int calls;         /* requests this instance served */
static int restored;      /* wasgi_snapshot_restored calls */
static unsigned token;    /* random, set by the constructor */
static char *heap_marker; /* heap state made during _initialize */
static char data_marker[] = "as in the data segment";

__attribute__((constructor)) static void init(void) {
	ctor_runs++;
	token = (unsigned)arc4random();
	heap_marker = malloc(1 << 20); /* grows memory past its initial size */
	strcpy(heap_marker, "made in _initialize");
	strcpy(data_marker, "set by _initialize");
}

WASGI_EXPORT("wasgi_snapshot_restored") int32_t snapshot_restored(void) {
	restored++;
	return 0;
}

WASGI_EXPORT("wasgi_handle") int32_t handle(void) {
	char body[256];
	calls++;
	int n = snprintf(body, sizeof body, "ctor=%d calls=%d restored=%d token=%u data=%s heap=%s\n", ctor_runs,
	                 calls, restored, token, data_marker, heap_marker);
	static const char hdr[] = "Content-Type: text/plain\r\n";
	if (wasgi_start_response("200 OK", 6, hdr, sizeof hdr - 1) < 0) {
		return 1;
	}
	wasgi_body_write((const uint8_t *)body, (uint32_t)n);
	return 0;
}
