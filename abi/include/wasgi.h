/*
 * wasgi.h — the wasgi guest ABI, version 1, for C (see abi/ABI.md).
 *
 * Build a reactor with Debian's clang and wasi-libc:
 *
 *   clang --target=wasm32-wasi -mexec-model=reactor -O2 -I abi/include -o app.wasm app.c
 *
 * The host calls wasgi_handle() once per request. Read-style imports take a
 * buffer (ptr, len), write nothing when it is too small and always return
 * the full length needed. Any (ptr, len) outside the module's memory traps:
 * the request fails with 500 and the instance is discarded.
 */
#ifndef WASGI_H
#define WASGI_H

#include <stdint.h>

#define WASGI_IMPORT(name) __attribute__((import_module("wasgi"), import_name(name)))
#define WASGI_EXPORT(name) __attribute__((export_name(name)))

/* Negative results of the imports. */
#define WASGI_ERR_NOT_ALLOWED     (-1) /* not available in this export */
#define WASGI_ERR_ALREADY_STARTED (-2) /* start_response called twice */
#define WASGI_ERR_NOT_STARTED     (-3) /* body_write before start_response */
#define WASGI_ERR_INVALID_STATUS  (-4)
#define WASGI_ERR_INVALID_HEADER  (-5)
#define WASGI_ERR_IO              (-6) /* the client is gone */
#define WASGI_ERR_BODY_TOO_LARGE  (-7) /* over the server's max_body */
#define WASGI_ERR_DENIED          (-8)  /* not in the app's outbound list, or a refused address */
#define WASGI_ERR_TIMEOUT         (-9)  /* a net_ call's timeout or the call's deadline passed */
#define WASGI_ERR_CONNECT         (-10) /* allowed, but unreachable or the TLS handshake failed */
#define WASGI_ERR_TOO_MANY_CONNS  (-11) /* outbound_limit or outbound_app_limit reached */
#define WASGI_ERR_BAD_HANDLE      (-12) /* not an open connection of this instance */
#define WASGI_ERR_LOCKED          (-13) /* file_lock: a conflicting lock is held elsewhere */

/* wasgi_file_lock commands and lock types. */
#define WASGI_LOCK_SET    0 /* take, change or drop, without waiting (F_SETLK) */
#define WASGI_LOCK_TEST   1 /* which lock would conflict (F_GETLK) */
#define WASGI_LOCK_UNLOCK 0
#define WASGI_LOCK_READ   1
#define WASGI_LOCK_WRITE  2

/* Timeouts of wasgi_net_read and wasgi_net_write, besides milliseconds > 0. */
#define WASGI_NET_WAIT_DEADLINE (-1) /* as long as the call's deadline allows */
#define WASGI_NET_POLL          0    /* do not wait */

/* Flags wasgi_net_connect writes at info. */
#define WASGI_NET_TLS 1u /* a tls:// entry: the host did TLS, the guest sees plaintext */

/* Results of wasgi_check_password. */
#define WASGI_AUTH_OK           1
#define WASGI_AUTH_DENIED       0
#define WASGI_AUTH_UNKNOWN_USER (-1)

/* Levels of wasgi_log. */
#define WASGI_LOG_DEBUG 0
#define WASGI_LOG_INFO  1
#define WASGI_LOG_WARN  2
#define WASGI_LOG_ERROR 3

/* Size of the encoded environ: KEY=VALUE\0 entries. */
WASGI_IMPORT("environ_len") int32_t wasgi_environ_len(void);
/* Copies the environ into buf when it fits; returns its full length. */
WASGI_IMPORT("environ_read") int32_t wasgi_environ_read(uint8_t *buf, uint32_t len);
/* Reads request body bytes: > 0 read, 0 at the end, < 0 an error. */
WASGI_IMPORT("body_read") int32_t wasgi_body_read(uint8_t *buf, uint32_t len);
/* "200 OK" and "Name: value\r\n" lines; once per request. */
WASGI_IMPORT("start_response") int32_t wasgi_start_response(const char *status, uint32_t status_len,
                                                            const char *headers, uint32_t headers_len);
/* Sends response bytes; len 0 flushes. Returns len or an error. */
WASGI_IMPORT("body_write") int32_t wasgi_body_write(const uint8_t *buf, uint32_t len);
/* During wasgi_check_password / wasgi_groups_for_user only. */
WASGI_IMPORT("auth_user") int32_t wasgi_auth_user(uint8_t *buf, uint32_t len);
WASGI_IMPORT("auth_password") int32_t wasgi_auth_password(uint8_t *buf, uint32_t len);
/* During wasgi_groups_for_user: newline-separated group names. */
WASGI_IMPORT("auth_groups") int32_t wasgi_auth_groups(const char *buf, uint32_t len);
/* Into the host's log, tagged with the site and app. */
WASGI_IMPORT("log") void wasgi_log(int32_t level, const char *buf, uint32_t len);

/* Outbound connections to the app's `outbound` entries ("host:port"):
 * a handle > 0 or an error; *info gets WASGI_NET_TLS for a tls:// entry. */
WASGI_IMPORT("net_connect") int32_t wasgi_net_connect(const char *addr, uint32_t len, uint32_t *info);
/* > 0 bytes read, 0 at the end of the stream, < 0 an error. */
WASGI_IMPORT("net_read") int32_t wasgi_net_read(int32_t handle, uint8_t *buf, uint32_t len, int32_t timeout_ms);
/* The bytes sent (len unless the timeout passed), or an error. */
WASGI_IMPORT("net_write") int32_t wasgi_net_write(int32_t handle, const uint8_t *buf, uint32_t len, int32_t timeout_ms);
/* Closes the write side: the peer reads the end of the stream. */
WASGI_IMPORT("net_shutdown") int32_t wasgi_net_shutdown(int32_t handle);
WASGI_IMPORT("net_close") int32_t wasgi_net_close(int32_t handle);

/* PBKDF2-HMAC of hash ("sha256"...) into out[0:out_len], computed by the host:
 * 0, WASGI_ERR_IO (unknown hash, bad sizes) or WASGI_ERR_TIMEOUT. */
WASGI_IMPORT("pbkdf2_hmac") int32_t wasgi_pbkdf2_hmac(const char *hash, uint32_t hash_len, const uint8_t *password,
                                                      uint32_t password_len, const uint8_t *salt, uint32_t salt_len,
                                                      int32_t iterations, uint8_t *out, uint32_t out_len);

/* A byte-range lock on the real file behind a guest path (under one of the
 * app's dirs), held by this instance: 0, WASGI_ERR_LOCKED, or for
 * WASGI_LOCK_TEST the conflicting type (0 none). len 0: to the end. */
WASGI_IMPORT("file_lock") int32_t wasgi_file_lock(const char *path, uint32_t path_len, int32_t cmd, int32_t type,
                                                  int32_t start, int32_t len);

/*
 * Exports an app defines (the first is required):
 *
 *   WASGI_EXPORT("wasgi_handle") int32_t wasgi_handle(void);
 *   WASGI_EXPORT("wasgi_check_password") int32_t wasgi_check_password(void);
 *   WASGI_EXPORT("wasgi_groups_for_user") int32_t wasgi_groups_for_user(void);
 */

#endif /* WASGI_H */
