/* securenet - v0.1.0 - MIT license (see the end of this file)

   A secure web server for microcontrollers and Linux gateways, in one header,
   on top of mbedTLS. An event-driven, non-blocking core drives TLS and plain
   TCP connections through a handful of port hooks (sockets, entropy, clocks);
   on top of it sits an HTTP/1.1 server with a small request router. Nothing in
   securenet ever blocks: all progress happens in sn_poll().

   Do this:
       #define SECURENET_IMPLEMENTATION
   before you include this file (and your port header) in *one* C file to
   create the implementation. Every other file includes it without the define.

QUICK START (POSIX; see examples/posix/sn_demo.c for the whole program)

       #define SECURENET_IMPLEMENTATION
       #include "securenet.h"
       #include "securenet_port_posix.h"

       static void hello(sn_conn *c, const sn_request *req, void *user) {
         sn_http_printf(c, 200, "Content-Type: text/plain\r\n", "hello, %.*s",
                        (int) sn_http_param(req, "name").len, sn_http_param(req, "name").ptr);
       }
       int main(void) {
         sn_mgr *mgr; sn_router router; sn_mgr_opts mo = {0}; sn_http_opts ho = {0}; sn_tls_opts tls = {0};
         mo.port = sn_posix_port();
         if (sn_mgr_create(&mgr, &mo) != SN_OK) return 1;
         sn_router_init(&router);
         sn_router_add(&router, "GET", "/hello/:name", hello, NULL);
         tls.cert_file = "server.pem"; tls.key_file = "server.key";
         ho.port = 8443; ho.router = &router; ho.tls = &tls;
         if (sn_http_listen(mgr, &ho) != SN_OK) return 1;
         for (;;) sn_poll(mgr, 1000);
       }

   Build: cc -std=c99 app.c -lmbedtls -lmbedx509 -lmbedcrypto

OPTIONS (compile-time limits and features; behaviour is chosen at run time
through the *_opts structs, where zero always means the secure default)

   macro                   default  what it does
   SNDEF                   extern   decoration of every public function (e.g. static)
   SN_MAX_CONNS            16       connections per manager (LRU idle eviction beyond)
   SN_MAX_LISTENERS        4        listening sockets per manager
   SN_MAX_ROUTES           32       routes per sn_router
   SN_MAX_HEADERS          32       request header fields (more: 431)
   SN_MAX_PARAMS           4        :name parameters per route pattern
   SN_RX_INIT              2048     initial receive buffer per connection (bytes)
   SN_TX_INIT              2048     initial send buffer per connection (bytes)
   SN_CONN_SCRATCH         32       per-connection scratch bytes for handlers
   SN_SUBJECT_MAX          160      bytes kept of a client certificate's subject
   SN_MALLOC(n) / SN_FREE(p)  malloc/free  allocator (override both or neither)
   SN_NO_FILES             off      leave out cert_file/key_file (no file system)
   SN_LOG_MAX              192      longest log line (bytes, on the stack)

PORTING
   A port is one sn_port table of ten functions (see "Port contract" below):
   listen, accept, connect, send, recv, close, wait, entropy, now_ms, wall_s.
   securenet_port_posix.h is the reference port (BSD sockets and poll()).
   To write one for a new MCU, implement the hooks in that order, then run the
   test checklist written under "Port contract". mbedTLS itself needs its own
   platform set-up on bare metal (MBEDTLS_PLATFORM_*, no MBEDTLS_NET_C needed).

MEMORY
   Every allocation of securenet goes through SN_MALLOC/SN_FREE; mbedTLS
   allocates its record buffers (MBEDTLS_SSL_IN/OUT_CONTENT_LEN each, plus
   overhead) through its own calloc. Per connection securenet holds the
   sn_conn struct (see sn_conn_size()), a receive buffer that starts at
   SN_RX_INIT and grows up to the header limit plus max_body, and a send
   buffer that starts at SN_TX_INIT and grows up to max_reply. Buffers that
   grew for a large request shrink back when the connection goes idle; a
   keep-alive connection serving small requests allocates nothing per request.
   Allocation failure closes the one connection concerned (or makes the
   reply call return SN_ERR_NOMEM); the server goes on serving the others.

ERRORS
   Every function that can fail returns an sn_err: SN_OK (0) or a negative
   SN_ERR_* code; sn_strerror() turns each into words. mbedTLS's own code of
   the last TLS failure is kept (sn_conn_tls_error(), sn_mgr_tls_error()) and
   logged, as "-0xXXXX", through the log hook set in sn_mgr_opts.

SECURITY
   - TLS 1.2 and 1.3 only (1.3 where the mbedTLS build has it); the default
     suites are forward-secret AEAD ones only (ECDHE with AES-GCM, ChaCha20-
     Poly1305 or AES-CCM; the TLS 1.3 suites).
   - Session resumption by tickets (keys from the DRBG, rotated with the
     ticket lifetime) and by a bounded session cache.
   - Mutual TLS: give client_ca and clients must present a certificate that
     chains to it; its subject reaches handlers (sn_conn_peer_subject()).
     Validity dates are checked against the port's wall clock.
   - The DRBG is seeded from the port's entropy hook only; if it fails,
     sn_mgr_create() fails. There is no fallback.
   - Request paths are percent-decoded once, in place; a decoded NUL, a bad
     escape or a dot segment ("/../", "/./") is answered with 400.
   - Request smuggling: Content-Length together with Transfer-Encoding,
     differing Content-Lengths, obs-fold, bare CR or LF and whitespace before
     a colon are all answered with 400 and the connection is closed.

LIMITS
   - HTTP/1.1 and 1.0 only (no HTTP/2, no upgrades); 505 for other versions.
   - Transfer codings: only "chunked" (501 for others). Trailers are read
     and dropped.
   - Request bodies are buffered whole (up to max_body, 413 beyond) and
     handed to the handler at once. Responses are buffered up to max_reply;
     larger ones are streamed with the chunked API and sn_http_on_writable().
   - One request per connection is served at a time; pipelined requests wait
     in the receive buffer and are answered in order.
   - A route's handler must answer during its call (no deferred replies); a
     handler that does not answer makes the server reply 500.
*/
#ifndef SECURENET_H
#define SECURENET_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef SNDEF
#define SNDEF extern
#endif

#define SN_VERSION "0.1.0"

/* ---- limits (see OPTIONS) --------------------------------------------- */
#ifndef SN_MAX_CONNS
#define SN_MAX_CONNS 16
#endif
#ifndef SN_MAX_LISTENERS
#define SN_MAX_LISTENERS 4
#endif
#ifndef SN_MAX_ROUTES
#define SN_MAX_ROUTES 32
#endif
#ifndef SN_MAX_HEADERS
#define SN_MAX_HEADERS 32
#endif
#ifndef SN_MAX_PARAMS
#define SN_MAX_PARAMS 4
#endif
#ifndef SN_RX_INIT
#define SN_RX_INIT 2048
#endif
#ifndef SN_TX_INIT
#define SN_TX_INIT 2048
#endif
#ifndef SN_CONN_SCRATCH
#define SN_CONN_SCRATCH 32
#endif
#ifndef SN_SUBJECT_MAX
#define SN_SUBJECT_MAX 160
#endif
#ifndef SN_LOG_MAX
#define SN_LOG_MAX 192
#endif
/* Sockets handed to the port's wait hook at most: one per listener and connection. */
#define SN_MAX_SOCKETS (SN_MAX_CONNS + SN_MAX_LISTENERS)

/* ---- errors ------------------------------------------------------------- */
/* One list keeps names, numbers and words in step (sn_strerror()). */
#define SN_ERROR_LIST(X)                                                        \
  X(SN_OK,              0,  "success")                                          \
  X(SN_WANT_READ,      -1,  "would block: waiting for data to read")            \
  X(SN_WANT_WRITE,     -2,  "would block: waiting for room to write")           \
  X(SN_ERR_INVALID,    -3,  "invalid argument")                                 \
  X(SN_ERR_NOMEM,      -4,  "out of memory")                                    \
  X(SN_ERR_FULL,       -5,  "limit reached (connections, listeners or routes)") \
  X(SN_ERR_IO,         -6,  "network I/O error")                                \
  X(SN_ERR_CLOSED,     -7,  "connection closed by the peer")                    \
  X(SN_ERR_ADDR,       -8,  "cannot resolve, bind or listen on the address")    \
  X(SN_ERR_ENTROPY,    -9,  "entropy source failed")                            \
  X(SN_ERR_TLS,        -10, "TLS error (the mbedTLS code is kept)")             \
  X(SN_ERR_CERT,       -11, "cannot parse certificate")                         \
  X(SN_ERR_KEY,        -12, "cannot parse private key or it does not match")    \
  X(SN_ERR_FILE,       -13, "cannot read file")                                 \
  X(SN_ERR_TIMEOUT,    -14, "timed out")                                        \
  X(SN_ERR_PROTO,      -15, "protocol violation by the peer")                   \
  X(SN_ERR_STATE,      -16, "call not allowed in this state")                   \
  X(SN_ERR_VERIFY,     -17, "peer certificate verification failed")             \
  X(SN_ERR_UNSUPPORTED,-18, "not supported by this build")                      \
  X(SN_ERR_TOO_BIG,    -19, "larger than the configured limit")                 \
  X(SN_ERR_NOT_FOUND,  -20, "not found")                                        \
  X(SN_ERR_PORT,       -21, "port hook missing or failed")

typedef enum sn_err {
#define SN__ERR_ENUM(name, num, text) name = num,
  SN_ERROR_LIST(SN__ERR_ENUM)
#undef SN__ERR_ENUM
  SN__ERR_LAST = -22
} sn_err;

/* Words for an sn_err (never NULL; unknown codes give "unknown error"). */
SNDEF const char *sn_strerror(int err);

/* ---- config and types ---------------------------------------------------- */
/* A borrowed view of bytes: not NUL-terminated, valid as documented where
   it is handed out (for requests: for the duration of the handler call). */
typedef struct sn_str {
  const char *ptr;
  size_t len;
} sn_str;

typedef struct sn_header {
  sn_str name, value;
} sn_header;

typedef struct sn_mgr sn_mgr;   /* opaque: the event manager */
typedef struct sn_conn sn_conn; /* opaque: one connection */
typedef struct sn_port sn_port; /* the port hooks, see "Port contract" */

enum sn_log_level { SN_LOG_NONE = 0, SN_LOG_ERROR = 1, SN_LOG_WARN = 2, SN_LOG_INFO = 3, SN_LOG_DEBUG = 4 };

/* Log hook: one line (no newline) per call; msg is valid during the call. */
typedef void (*sn_log_fn)(void *user, int level, const char *msg);

/* ---- manager -------------------------------------------------------------- */
typedef struct sn_mgr_opts {
  const sn_port *port;  /* required: the port hooks (e.g. sn_posix_port()) */
  sn_log_fn log;        /* NULL: no logging */
  void *log_user;       /* passed to log */
  int log_level;        /* 0: SN_LOG_WARN */
  int max_conns;        /* 0 or > SN_MAX_CONNS: SN_MAX_CONNS */
} sn_mgr_opts;

typedef struct sn_mgr_stats {
  unsigned connections;          /* open now */
  unsigned long accepted;        /* since creation */
  unsigned long requests;        /* HTTP requests answered */
  unsigned long handshake_fails; /* TLS handshakes that failed or timed out */
  unsigned long evicted;         /* idle keep-alive connections closed to admit new ones */
  unsigned long timeouts;        /* connections closed by a timer */
  unsigned long nomem;           /* connections refused or closed for lack of memory */
} sn_mgr_stats;

/* Creates a manager: allocates it, seeds the DRBG from the port's entropy
   hook (SN_ERR_ENTROPY if that fails) and, on mbedTLS 3, initialises PSA.
   *out is set on success only. Allocates. */
SNDEF int sn_mgr_create(sn_mgr **out, const sn_mgr_opts *opts);

/* Runs one round: waits for socket readiness or a timer for at most
   timeout_ms (0: do not wait, negative: until something happens), then
   accepts, handshakes, reads, runs handlers, writes and expires timers.
   Never waits while mbedTLS holds decrypted or pending bytes. Returns SN_OK
   or an error of the port's wait hook. Call it from one thread only. */
SNDEF int sn_poll(sn_mgr *mgr, int timeout_ms);

/* Closes every connection (with close_notify where it can without waiting)
   and listener, frees everything. mgr may be NULL. */
SNDEF void sn_mgr_destroy(sn_mgr *mgr);

SNDEF void sn_mgr_stats_get(const sn_mgr *mgr, sn_mgr_stats *out);
/* The manager's DRBG in mbedTLS f_rng shape (for the application's own use). */
SNDEF int sn_mgr_random(void *mgr, unsigned char *buf, size_t len);
/* Milliseconds from the port's monotonic clock. */
SNDEF uint64_t sn_mgr_now_ms(const sn_mgr *mgr);
/* The last mbedTLS error code seen by the manager (0 if none). */
SNDEF int sn_mgr_tls_error(const sn_mgr *mgr);
/* Bytes of one sn_conn struct (buffers and mbedTLS state not included). */
SNDEF size_t sn_conn_size(void);

/* ---- HTTP server and router ------------------------------------------------- */
typedef struct sn_request {
  sn_str method;   /* "GET", ... as sent */
  sn_str path;     /* percent-decoded, starts with '/' */
  sn_str query;    /* raw, after '?', without it; len 0 if none */
  int version;     /* 10 for HTTP/1.0, 11 for HTTP/1.1 */
  sn_header headers[SN_MAX_HEADERS];
  int header_count;
  sn_str body;     /* whole body, de-chunked */
  sn_str param_names[SN_MAX_PARAMS]; /* from the matched pattern */
  sn_str params[SN_MAX_PARAMS];      /* percent-decoded segment values */
  int param_count;
  sn_str wildcard; /* what a trailing '*' matched (percent-decoded) */
} sn_request;

typedef void (*sn_handler)(sn_conn *c, const sn_request *req, void *user);

typedef struct sn_route {
  const char *method;  /* "GET", "POST", ...; "*" or NULL: any method */
  const char *pattern; /* segments: literal, ":name", and a last "*" */
  sn_handler fn;
  void *user;
} sn_route;

/* A router is plain memory the user owns (static, global or on the stack of
   main); patterns and method strings are borrowed and must outlive it.
   One router may serve several listeners. */
typedef struct sn_router {
  sn_route routes[SN_MAX_ROUTES];
  int count;
} sn_router;

SNDEF void sn_router_init(sn_router *r);

/* Adds a route. Pattern segments: literal ("api"), a parameter (":name",
   a whole segment, matching one non-empty segment) or, as the last segment
   only, "*" (matching the rest of the path, possibly empty, slashes included).
   A GET route also answers HEAD. Returns SN_ERR_INVALID for a malformed
   pattern, SN_ERR_FULL beyond SN_MAX_ROUTES.
   Precedence does not depend on the order routes are added: paths are
   compared segment by segment and at the first segment where two matching
   routes differ, a literal beats a parameter and a parameter beats a
   wildcard; between identical patterns the one added first wins. */
SNDEF int sn_router_add(sn_router *r, const char *method, const char *pattern, sn_handler fn, void *user);

/* Finds the route for req->method and req->path; fills req->params and
   req->wildcard (decoding parameter values in place in req's buffer). Returns
   the route index, -404 when no pattern matches the path, or -405 when some
   do but not for this method; then `allow` (if not NULL) receives a
   comma-separated method list for the Allow header (NUL-terminated). */
SNDEF int sn_router_match(const sn_router *r, sn_request *req, char *allow, size_t allow_len);

typedef struct sn_tls_opts {
  /* Server certificate: PEM (one or several, leaf first: a chain) or one
     DER certificate, in memory; PEM need not be NUL-terminated. Or a file. */
  const void *cert;
  size_t cert_len;
  const void *key; /* private key, RSA or EC, PEM or DER */
  size_t key_len;
  const char *key_password; /* for an encrypted key, else NULL */
  const char *cert_file;    /* used when cert is NULL (not with SN_NO_FILES) */
  const char *key_file;     /* used when key is NULL */
  /* Mutual TLS: trusted CAs for client certificates (PEM, several allowed,
     or DER). When set, every client must present a certificate chaining to
     one of them, or the handshake fails. */
  const void *client_ca;
  size_t client_ca_len;
  const char *client_ca_file;
  const int *ciphersuites;   /* 0-terminated IANA ids; NULL: FS AEAD suites */
  int disable_tickets;       /* 1: no session tickets */
  int session_cache_size;    /* 0: 32 entries; negative: no session cache */
  uint32_t session_lifetime_s; /* tickets and cache; 0: 86400 */
} sn_tls_opts;

typedef struct sn_http_opts {
  const char *addr;             /* numeric bind address; NULL: every interface */
  uint16_t port;                /* required */
  const sn_router *router;      /* required, borrowed */
  const sn_tls_opts *tls;       /* NULL: plain HTTP. Copied at listen time. */
  uint16_t redirect_to_https;   /* plain HTTP only: answer every request with
                                   301 to https://<host>:<this port><target> */
  size_t max_header_bytes;      /* request line + headers; 0: 8192 (431 beyond) */
  size_t max_uri_bytes;         /* request target; 0: 2048 (414 beyond) */
  size_t max_body;              /* 0: 65536 (413 beyond) */
  size_t max_reply;             /* buffered response bytes; 0: 65536 */
  uint32_t handshake_timeout_ms;/* 0: 10000 */
  uint32_t request_timeout_ms;  /* first byte to whole request; 0: 10000 (408) */
  uint32_t idle_timeout_ms;     /* keep-alive idle; 0: 30000 */
  void *user;                   /* available to handlers: sn_conn_listener_user() */
} sn_http_opts;

/* Starts an HTTP (opts->tls NULL) or HTTPS listener. Parses and checks the
   certificate and key now (SN_ERR_CERT, SN_ERR_KEY, SN_ERR_FILE) and binds
   (SN_ERR_ADDR). Allocates the TLS configuration. */
SNDEF int sn_http_listen(sn_mgr *mgr, const sn_http_opts *opts);

/* Replies. Call from a handler (or an on_writable callback), once per request.
   `headers` is NULL or extra header lines, each ending in "\r\n"
   ("Content-Type: text/plain\r\n"). securenet adds the status line,
   Content-Length or Transfer-Encoding, and Connection when needed. For HEAD
   the body is left out. The body is copied (up to max_reply: SN_ERR_TOO_BIG).
   Return SN_OK, SN_ERR_STATE (already answered), SN_ERR_TOO_BIG, SN_ERR_NOMEM. */
SNDEF int sn_http_reply(sn_conn *c, int status, const char *headers, const void *body, size_t len);
SNDEF int sn_http_printf(sn_conn *c, int status, const char *headers, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
SNDEF int sn_http_vprintf(sn_conn *c, int status, const char *headers, const char *fmt, va_list ap);
/* printf-style body with "Content-Type: application/json". */
SNDEF int sn_http_json(sn_conn *c, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* A short text/plain reply with the status's reason phrase as body. */
SNDEF int sn_http_error(sn_conn *c, int status);

/* Chunked streaming: begin, then any number of chunks (empty ones are
   skipped), then end. For long bodies, produce chunks from an on_writable
   callback: it is called whenever the send buffer has drained, until the
   response is ended. */
SNDEF int sn_http_chunked_begin(sn_conn *c, int status, const char *headers);
SNDEF int sn_http_chunk(sn_conn *c, const void *data, size_t len);
SNDEF int sn_http_chunkf(sn_conn *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
SNDEF int sn_http_chunked_end(sn_conn *c);
typedef void (*sn_writable_fn)(sn_conn *c, void *arg);
SNDEF void sn_http_on_writable(sn_conn *c, sn_writable_fn fn, void *arg);

/* Static files from a const in-memory table (tools/sn-embed makes one). */
typedef struct sn_static_file {
  const char *path;          /* URL path, "/index.html" */
  const unsigned char *data; /* identity body */
  size_t len;
  const unsigned char *gzip; /* pre-gzipped body, or NULL */
  size_t gzip_len;
  const char *etag;          /* quoted strong ETag, or NULL */
} sn_static_file;

SNDEF const sn_static_file *sn_static_find(const sn_static_file *table, size_t count, sn_str path);
/* Serves one file: Content-Type from the extension, the gzip variant when the
   request accepts gzip (with Vary), ETag and 304 for a matching
   If-None-Match. The body is sent from the table without a copy. */
SNDEF int sn_http_static(sn_conn *c, const sn_request *req, const sn_static_file *f);
SNDEF const char *sn_mime_type(sn_str path);

/* Request helpers. */
/* A header's value by case-insensitive name; {NULL, 0} when absent. */
SNDEF sn_str sn_http_header(const sn_request *req, const char *name);
/* A route parameter by name; {NULL, 0} when absent. */
SNDEF sn_str sn_http_param(const sn_request *req, const char *name);
/* Looks `name` up in the query string and percent-decodes its value ('+' is
   a space) into out (NUL-terminated). Returns the decoded length,
   SN_ERR_NOT_FOUND, SN_ERR_TOO_BIG (out too small) or SN_ERR_PROTO. */
SNDEF int sn_http_query(const sn_request *req, const char *name, char *out, size_t out_len);
/* Percent-decodes src into dst (may equal src). Returns the decoded length or
   SN_ERR_PROTO for a malformed escape, SN_ERR_TOO_BIG if dst is too small. */
SNDEF int sn_url_decode(const char *src, size_t len, char *dst, size_t dst_len, int plus_is_space);

/* Connection information for handlers. */
SNDEF sn_mgr *sn_conn_mgr(const sn_conn *c);
SNDEF int sn_conn_is_tls(const sn_conn *c);
SNDEF const char *sn_conn_tls_version(const sn_conn *c); /* "TLSv1.3"; NULL on plain */
SNDEF const char *sn_conn_tls_suite(const sn_conn *c);   /* mbedTLS suite name; NULL on plain */
/* The verified client certificate's subject ("CN=..., O=..."), or NULL. */
SNDEF const char *sn_conn_peer_subject(const sn_conn *c);
SNDEF const char *sn_conn_peer_addr(const sn_conn *c); /* as the port gave it */
SNDEF int sn_conn_tls_error(const sn_conn *c);
SNDEF void *sn_conn_listener_user(const sn_conn *c);
/* SN_CONN_SCRATCH bytes, aligned for any scalar, owned by the handler of the
   current request (zeroed before each request). */
SNDEF void *sn_conn_scratch(sn_conn *c);

/* ---- parsers (used by the server; public so they can be tested alone) ------ */
typedef struct sn_http_limits {
  size_t max_header_bytes, max_uri_bytes;
} sn_http_limits;

/* Parses a request head in place in buf[0..len). Returns the head's length
   (through the empty line) when complete, 0 when more bytes are needed, or
   minus an HTTP status: -400, -414, -431, -501, -505. Percent-decodes the
   path in buf. `scan` (start at 0) remembers how far a previous call looked. */
SNDEF int sn_http_parse(char *buf, size_t len, sn_request *req, const sn_http_limits *lim, size_t *scan);

/* Chunked transfer coding decoder (RFC 9112 7.1), in place friendly: dst may
   equal src or lie before it. Feed it bytes as they arrive. */
typedef struct sn_chunked {
  int state;
  uint64_t remaining; /* data bytes left in the current chunk */
  size_t line;        /* bytes of the current size/trailer line */
  uint64_t total;     /* decoded bytes so far */
} sn_chunked;
/* Consumes up to n bytes of src, writes decoded data to dst. Sets *consumed
   and *produced. Returns 1 when the last chunk and trailers are complete,
   0 when more input is needed, SN_ERR_PROTO for malformed input and
   SN_ERR_TOO_BIG when the body would exceed max_body. */
SNDEF int sn_chunked_decode(sn_chunked *st, const char *src, size_t n, char *dst, size_t *consumed,
                            size_t *produced, uint64_t max_body);

/* Writes a quoted, escaped JSON string of src[0..len) into dst
   (NUL-terminated). Returns its length, or SN_ERR_TOO_BIG. */
SNDEF int sn_json_str(char *dst, size_t dst_len, const char *src, size_t len);
SNDEF const char *sn_http_reason(int status);

/* ---- port contract ------------------------------------------------------------
   A port gives securenet sockets, entropy and clocks. Every hook gets the
   port's ctx first. No hook may block: "not now" is SN_WANT_READ or
   SN_WANT_WRITE and securenet tries again after the next wait.

   sn_sock: the port's handle of a socket, an integer wide enough for a
   pointer (a file descriptor, an index, or a pointer cast to intptr_t).
   SN_INVALID_SOCK (-1) is never a valid handle.

   listen(ctx, addr, port, &s)    Opens a listening TCP socket. addr is a
       numeric IPv4/IPv6 address or NULL for every interface. Returns SN_OK
       with *s set, or SN_ERR_ADDR.
   accept(ctx, listener, &s, peer, peer_len)  Takes one pending connection:
       SN_OK with *s set and the peer's address written into peer
       (NUL-terminated, may be truncated), SN_WANT_READ when none is pending,
       or a negative error (the listener stays usable). The new socket must
       be non-blocking with Nagle's algorithm off (TCP_NODELAY).
   connect(ctx, host, port, &s)   Starts an outgoing connection to a host
       name or numeric address: SN_OK with *s set (the connection may still
       be in progress: it becomes writable when established, and a failure
       shows at the first send or recv), SN_WANT_READ when name resolution is
       under way (securenet calls again with the same arguments), or
       SN_ERR_ADDR / SN_ERR_IO. (Used by clients; a server-only port may
       return SN_ERR_UNSUPPORTED.)
   send(ctx, s, buf, len)  Queues up to len (> 0) bytes: returns how many
       were taken (> 0, may be fewer than len), SN_WANT_WRITE when none can
       be now, or SN_ERR_CLOSED / SN_ERR_IO. buf is only borrowed for the call.
   recv(ctx, s, buf, len)  Reads up to len bytes into buf: returns the count
       (> 0), 0 for an orderly end of stream, SN_WANT_READ when nothing is
       there now, or SN_ERR_CLOSED / SN_ERR_IO.
   close(ctx, s)   Closes the socket and frees its resources; never fails,
       never blocks. s is not used again.
   wait(ctx, items, n, timeout_ms)  Blocks until one of the n items is ready
       (for each, set item.ready to a subset of item.want, plus SN_ERROR on a
       socket error or hang-up), or timeout_ms passes (0: just look,
       negative: no limit). Returns the number of ready items (>= 0) or a
       negative error. A single-threaded bare-metal port returns at once
       with what its callbacks recorded (it may ignore timeout_ms);
       reporting an item ready when it is not is harmless, missing one that
       is ready stalls that connection until the next timer.
   entropy(ctx, buf, len)  Fills buf with len bytes from a real entropy
       source (a TRNG, getrandom()); returns 0 on success, non-zero on
       failure. Same shape as an mbedTLS f_entropy. Never a clock or a counter.
   now_ms(ctx)     Monotonic milliseconds (wrapping is not allowed: 64 bits).
   wall_s(ctx)     Seconds since 1970-01-01 UTC from a real-time clock, or -1
       when the device does not know the time. Used to check certificate
       validity dates; with -1 the dates are not checked (logged as a warning).

   Testing a new port: run the project's port checklist (tests/README):
   listen on a port, accept a connection from a PC, echo bytes in both
   directions with large buffers (partial sends), see recv return 0 when the
   PC closes, see wait return within its timeout with nothing ready, and see
   entropy return different bytes twice. */
typedef intptr_t sn_sock;
#define SN_INVALID_SOCK ((sn_sock) -1)

enum { SN_READABLE = 1, SN_WRITABLE = 2, SN_ERROR = 4 };

typedef struct sn_wait_item {
  sn_sock sock;
  uint8_t want;  /* SN_READABLE | SN_WRITABLE */
  uint8_t ready; /* set by the port */
} sn_wait_item;

struct sn_port {
  void *ctx;
  int (*listen)(void *ctx, const char *addr, uint16_t port, sn_sock *out);
  int (*accept)(void *ctx, sn_sock listener, sn_sock *out, char *peer, size_t peer_len);
  int (*connect)(void *ctx, const char *host, uint16_t port, sn_sock *out);
  int (*send)(void *ctx, sn_sock s, const void *buf, size_t len);
  int (*recv)(void *ctx, sn_sock s, void *buf, size_t len);
  void (*close)(void *ctx, sn_sock s);
  int (*wait)(void *ctx, sn_wait_item *items, int n, int timeout_ms);
  int (*entropy)(void *ctx, unsigned char *buf, size_t len);
  uint64_t (*now_ms)(void *ctx);
  int64_t (*wall_s)(void *ctx);
};

#ifdef __cplusplus
}
#endif
#endif /* SECURENET_H */
