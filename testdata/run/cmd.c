/* run.c built as a WASI command. */
#define COMMAND
#include "run.c"
