/*
 * wasgi_sqlite.c — SQLite's file locks through the host.
 *
 * WASI preview 1 has no file locks: SQLite built for it defaults to
 * "unix-dotfile" locking (a lock directory beside the database), which a
 * native sqlite3 never looks at and which an instance that traps leaves
 * behind. Instead the runtime keeps SQLite's own POSIX locking, the "unix"
 * VFS, and gives it real locks: the VFS makes its system calls through a
 * table that sqlite3_vfs.xSetSystemCall can change, so its fcntl(F_SETLK)
 * and fcntl(F_GETLK) come here and become the host's file_lock (ABI.md
 * 4.9), an open-file-description lock on the real file behind the guest
 * path. open and close come here too, to know each descriptor's path.
 *
 * Everything above the system calls is SQLite's: the PENDING, RESERVED
 * and SHARED bytes, and the table of open inodes through which the
 * connections of one process, here one instance, share their locks. An
 * instance is to the host what a process is to the kernel, so instances
 * of an app exclude each other as processes do, and a native process's
 * fcntl locks (python3 manage.py, the sqlite3 shell) conflict with them
 * both ways. RATIONALE.md ("SQLite locks through the host") says why
 * this is correct.
 *
 * The default VFS is "wasgi": "unix" with two changes. PRAGMA
 * journal_mode=WAL is refused with an error that says why (WAL needs
 * shared memory between processes, the -shm file mapped by all, which
 * WASI cannot give; SQLite would otherwise stay in rollback mode without
 * a word), and randomness comes from the host (getentropy), as the guest
 * has no /dev/urandom.
 *
 * Instances started from a snapshot (see wasgi_sqlite_restored) reopen
 * the files SQLite had open at the end of the import, so that a
 * connection made at import time works in every copy.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wasi/api.h>

#include <sqlite3.h>

#include "wasgi.h"

/* The lock commands and types as SQLite's os_unix.c defines them under
 * SQLITE_WASI (wasi-libc has struct flock but none of these). A mismatch
 * would not go unnoticed: the commands would reach wasi-libc's fcntl,
 * which refuses them, and every lock would fail with an I/O error. */
#ifndef F_RDLCK
#define F_RDLCK 0
#define F_WRLCK 1
#define F_UNLCK 2
#if __LONG_MAX == 0x7fffffffL
#define F_GETLK 12
#define F_SETLK 13
#define F_SETLKW 14
#else
#define F_GETLK 5
#define F_SETLK 6
#define F_SETLKW 7
#endif
#endif

/* A descriptor SQLite opened: its path, how it was opened, whether the
 * instance holds a host lock on the path, and whether it is a copy's
 * placeholder for a file that could not be reopened. */
struct file {
	char *path;
	int flags;
	unsigned char held, stale;
};

static struct file *files; /* indexed by descriptor */
static int nfiles;

static int (*real_open)(const char *, int, int);
static int (*real_close)(int);
static int (*real_fcntl)(int, int, ...);

static struct file *file_of(int fd) {
	return fd >= 0 && fd < nfiles && files[fd].path != NULL ? &files[fd] : NULL;
}

static void forget(int fd) {
	if (fd >= 0 && fd < nfiles) {
		free(files[fd].path);
		memset(&files[fd], 0, sizeof files[fd]);
	}
}

static int remember(int fd, const char *path, int flags) {
	if (fd >= nfiles) {
		int n = fd + 16;
		struct file *f = realloc(files, n * sizeof *f);
		if (f == NULL) {
			return -1;
		}
		memset(f + nfiles, 0, (n - nfiles) * sizeof *f);
		files = f, nfiles = n;
	}
	forget(fd);
	files[fd].path = strdup(path);
	files[fd].flags = flags;
	return files[fd].path != NULL ? 0 : -1;
}

/* set_held records whether the instance holds a lock on path, for all
 * its descriptors: the host's lock is the path's, as a process's POSIX
 * lock is the file's. */
static void set_held(const char *path, int held) {
	for (int i = 0; i < nfiles; i++) {
		if (files[i].path != NULL && strcmp(files[i].path, path) == 0) {
			files[i].held = held;
		}
	}
}

/* lock_open is SQLite's open: the real one, remembering the path. */
static int lock_open(const char *path, int flags, int mode) {
	int fd = real_open(path, flags, mode);
	if (fd >= 0 && remember(fd, path, flags) < 0) {
		real_close(fd);
		errno = ENOMEM;
		return -1;
	}
	return fd;
}

static int lock_close(int fd) {
	forget(fd);
	return real_close(fd);
}

/* lock_fcntl is SQLite's fcntl: F_SETLK (and F_SETLKW, which SQLite uses
 * only when built with SQLITE_ENABLE_SETLK_TIMEOUT; it does not wait
 * here) and F_GETLK go to the host, the other commands to wasi-libc.
 * Errors are those SQLite expects of fcntl: EAGAIN for a conflicting lock
 * (SQLITE_BUSY, so the busy timeout applies), EPERM for a file outside the
 * app's dirs (SQLITE_PERM), EIO otherwise (SQLITE_IOERR). */
static int lock_fcntl(int fd, int cmd, ...) {
	va_list ap;
	va_start(ap, cmd);
	if (cmd != F_SETLK && cmd != F_SETLKW && cmd != F_GETLK) {
		int r;
		if (cmd == F_GETFD || cmd == F_GETFL) {
			r = real_fcntl(fd, cmd);
		} else {
			r = real_fcntl(fd, cmd, va_arg(ap, int));
		}
		va_end(ap);
		return r;
	}
	struct flock *l = va_arg(ap, struct flock *);
	va_end(ap);
	struct file *f = file_of(fd);
	if (f == NULL || f->stale) {
		errno = EIO;
		return -1;
	}
	if (l->l_whence != SEEK_SET || l->l_start < 0 || l->l_start > INT32_MAX || l->l_len < 0 ||
	    l->l_len > INT32_MAX) {
		errno = EINVAL;
		return -1;
	}
	int type = l->l_type == F_RDLCK ? WASGI_LOCK_READ : l->l_type == F_WRLCK ? WASGI_LOCK_WRITE : WASGI_LOCK_UNLOCK;
	int32_t r = wasgi_file_lock(f->path, (uint32_t)strlen(f->path), cmd == F_GETLK ? WASGI_LOCK_TEST : WASGI_LOCK_SET,
	                            type, (int32_t)l->l_start, (int32_t)l->l_len);
	if (r < 0) {
		errno = r == WASGI_ERR_LOCKED ? EAGAIN : r == WASGI_ERR_DENIED ? EPERM : EIO;
		return -1;
	}
	if (cmd == F_GETLK) {
		l->l_type = r == WASGI_LOCK_READ ? F_RDLCK : r == WASGI_LOCK_WRITE ? F_WRLCK : F_UNLCK;
		l->l_pid = 0;
	} else if (type != WASGI_LOCK_UNLOCK) {
		set_held(f->path, 1);
	} else if (l->l_start == 0 && l->l_len == 0) {
		set_held(f->path, 0); /* SQLite's way back to no lock: the whole file */
	}
	return 0;
}

/* The "wasgi" VFS: "unix" with its own xOpen, which gives main database
 * files methods of their own (unix's, but for xFileControl), and
 * xRandomness. */
static sqlite3_vfs *unix_vfs;
static sqlite3_vfs wasgi_vfs;

/* Main database files get a copy of unix's methods with wasgi's
 * xFileControl; unix has a few sets of methods (posix, nolock...), each
 * copied once. */
#define MAX_METHODS 4
static const sqlite3_io_methods *orig_methods[MAX_METHODS];
static sqlite3_io_methods our_methods[MAX_METHODS];
static int nmethods;

static const char wal_refused[] =
	"WAL is not supported in wasgi: it needs memory shared between processes (the -shm file), "
	"which WebAssembly instances do not have; use the default rollback journal (journal_mode=DELETE)";

static int wasgi_file_control(sqlite3_file *file, int op, void *arg) {
	const sqlite3_io_methods *orig = NULL;
	for (int i = 0; i < nmethods; i++) {
		if (file->pMethods == &our_methods[i]) {
			orig = orig_methods[i];
		}
	}
	if (orig == NULL) {
		return SQLITE_NOTFOUND; /* not a file of ours: cannot happen */
	}
	if (op == SQLITE_FCNTL_PRAGMA) {
		char **a = arg;
		if (a[1] != NULL && a[2] != NULL && sqlite3_stricmp(a[1], "journal_mode") == 0 &&
		    sqlite3_stricmp(a[2], "wal") == 0) {
			a[0] = sqlite3_mprintf("%s", wal_refused);
			return SQLITE_ERROR;
		}
	}
	return orig->xFileControl(file, op, arg);
}

static int wasgi_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags, int *out_flags) {
	int rc = unix_vfs->xOpen(unix_vfs, name, file, flags, out_flags);
	if (rc != SQLITE_OK || file->pMethods == NULL || !(flags & SQLITE_OPEN_MAIN_DB)) {
		return rc;
	}
	/* A database a native process put in WAL mode: SQLite will say no
	 * more than "unable to open database file" when it reads the header
	 * (under its lock); the log says why. */
	unsigned char version[2];
	if (name != NULL && file->pMethods->xRead(file, version, 2, 18) == SQLITE_OK && (version[0] == 2 || version[1] == 2)) {
		fprintf(stderr,
		        "wasgi python runtime: %s is in WAL mode, which wasgi cannot share (no shared memory between "
		        "instances): SQLite will refuse to open it; set it back natively with PRAGMA journal_mode=DELETE\n",
		        name);
	}
	int i = 0;
	while (i < nmethods && orig_methods[i] != file->pMethods) {
		i++;
	}
	if (i == nmethods) {
		if (nmethods == MAX_METHODS) {
			file->pMethods->xClose(file);
			file->pMethods = NULL;
			return SQLITE_CANTOPEN;
		}
		orig_methods[i] = file->pMethods;
		our_methods[i] = *file->pMethods;
		our_methods[i].xFileControl = wasgi_file_control;
		nmethods++;
	}
	file->pMethods = &our_methods[i];
	return SQLITE_OK;
}

static int wasgi_randomness(sqlite3_vfs *vfs, int n, char *out) {
	for (int done = 0; done < n;) {
		int chunk = n - done > 256 ? 256 : n - done; /* getentropy's limit */
		if (getentropy(out + done, chunk) != 0) {
			return done;
		}
		done += chunk;
	}
	return n;
}

/* wasgi_sqlite_init installs the system calls and the "wasgi" VFS, before
 * anything opens a database: 0, or -1 if SQLite would not have them. */
int wasgi_sqlite_init(void) {
	if (sqlite3_initialize() != SQLITE_OK || (unix_vfs = sqlite3_vfs_find("unix")) == NULL) {
		return -1;
	}
	real_open = (int (*)(const char *, int, int))unix_vfs->xGetSystemCall(unix_vfs, "open");
	real_close = (int (*)(int))unix_vfs->xGetSystemCall(unix_vfs, "close");
	real_fcntl = (int (*)(int, int, ...))unix_vfs->xGetSystemCall(unix_vfs, "fcntl");
	if (real_open == NULL || real_close == NULL || real_fcntl == NULL ||
	    unix_vfs->xSetSystemCall(unix_vfs, "open", (sqlite3_syscall_ptr)lock_open) != SQLITE_OK ||
	    unix_vfs->xSetSystemCall(unix_vfs, "close", (sqlite3_syscall_ptr)lock_close) != SQLITE_OK ||
	    unix_vfs->xSetSystemCall(unix_vfs, "fcntl", (sqlite3_syscall_ptr)lock_fcntl) != SQLITE_OK) {
		return -1;
	}
	wasgi_vfs = *unix_vfs;
	wasgi_vfs.zName = "wasgi";
	wasgi_vfs.pNext = NULL;
	wasgi_vfs.xOpen = wasgi_open;
	wasgi_vfs.xRandomness = wasgi_randomness;
	return sqlite3_vfs_register(&wasgi_vfs, 1) == SQLITE_OK ? 0 : -1;
}

/* wasgi_sqlite_started runs at the end of _initialize, where the host may
 * take its snapshot: it warns if a connection holds a lock there. */
void wasgi_sqlite_started(void) {
	for (int i = 0; i < nfiles; i++) {
		if (files[i].path != NULL && files[i].held) {
			fprintf(stderr,
			        "wasgi python runtime: a SQLite transaction on %s is still open at the end of the import: "
			        "in the instances started from this one, its connection fails with a disk I/O error; "
			        "finish it during the import (commit, close the cursor) or connect on the first request\n",
			        files[i].path);
			return;
		}
	}
}

/* placeholder puts a descriptor on "/" (a directory: reads fail) at fd,
 * so that no file opened later gets the number a connection from the
 * snapshot still uses. */
static void placeholder(int fd) {
	files[fd].stale = 1;
	int p = open("/", O_RDONLY | O_DIRECTORY);
	if (p >= 0 && p != fd && __wasi_fd_renumber(p, fd) != 0) {
		close(p);
	}
}

/* wasgi_sqlite_restored runs first in an instance started from a
 * snapshot, where only the preopens are open: the files SQLite had open
 * at the end of the import are opened again under the same numbers, so
 * connections made at import time go on working. A file the source
 * instance held a lock on is not: the copy does not hold that lock, and
 * its connection believes it does, so it gets a placeholder and fails
 * with an I/O error instead of reading or writing unprotected. */
void wasgi_sqlite_restored(void) {
	sqlite3_randomness(0, NULL); /* reseed: the copies must not share a sequence */
	for (int fd = 0; fd < nfiles; fd++) {
		struct file *f = file_of(fd);
		if (f == NULL) {
			continue;
		}
		if (f->held || f->stale) {
			placeholder(fd);
			continue;
		}
		int nfd = real_open(f->path, f->flags & ~(O_CREAT | O_EXCL | O_TRUNC), 0);
		if (nfd < 0) {
			placeholder(fd);
		} else if (nfd != fd && __wasi_fd_renumber(nfd, fd) != 0) {
			real_close(nfd);
			placeholder(fd);
		}
	}
}
