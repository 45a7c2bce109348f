// A WASI command that tries to get past its rw dir's quota (sandbox
// quota_test.go): argv[1] names the trick, /data is the dir. Prints what
// it managed and the errno that stopped it.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char buf[4096];

int main(int argc, char **argv) {
	const char *op = argc > 1 ? argv[1] : "";
	if (!strcmp(op, "fill")) { // write 4 KiB blocks until refused
		int fd = open("/data/big", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) { printf("open errno=%d\n", errno); return 1; }
		long total = 0;
		memset(buf, 'x', sizeof buf);
		for (;;) {
			ssize_t n = write(fd, buf, sizeof buf);
			if (n < 0) { printf("wrote=%ld errno=%d\n", total, errno); break; }
			total += n;
			if (total > (64L << 20)) { printf("wrote=%ld errno=0\n", total); break; }
		}
		close(fd);
	} else if (!strcmp(op, "files")) { // empty files, then dirs, until refused
		char name[64];
		int i;
		for (i = 0;; i++) {
			snprintf(name, sizeof name, "/data/f%d", i);
			int fd = open(name, O_WRONLY | O_CREAT, 0644);
			if (fd < 0) break;
			close(fd);
		}
		printf("files=%d errno=%d", i, errno);
		int e = mkdir("/data/d", 0755) < 0 ? errno : 0;
		int l = symlink("f0", "/data/l") < 0 ? errno : 0;
		int h = link("/data/f0", "/data/h") < 0 ? errno : 0;
		printf(" mkdir=%d symlink=%d link=%d\n", e, l, h);
	} else if (!strcmp(op, "sparse")) { // one byte 1 GiB in
		int fd = open("/data/sparse", O_WRONLY | O_CREAT, 0644);
		ssize_t n = pwrite(fd, "x", 1, 1L << 30);
		printf("pwrite=%zd errno=%d\n", n, n < 0 ? errno : 0);
	} else if (!strcmp(op, "setsize")) { // grow without writing
		int fd = open("/data/grown", O_WRONLY | O_CREAT, 0644);
		int r = ftruncate(fd, 1L << 30);
		printf("ftruncate=%d errno=%d", r, r < 0 ? errno : 0);
		r = posix_fallocate(fd, 0, 1L << 30);
		printf(" fallocate=%d\n", r);
	} else if (!strcmp(op, "rm")) { // remove argv[2]
		printf("unlink=%d\n", unlink(argv[2]));
	} else if (!strcmp(op, "rename")) {
		printf("rename=%d\n", rename(argv[2], argv[3]));
	}
	return 0;
}
