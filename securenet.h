/* securenet - v0.1.0 - MIT license (see the end of this file)

   A secure web server and mail sender for microcontrollers and Linux
   gateways, in one header, on top of mbedTLS. An event-driven, non-blocking
   core drives TLS and plain TCP connections through a handful of port hooks
   (sockets, entropy, clocks); on top of it sit an HTTP/1.1 server with a
   small request router, and an SMTP client that sends mail over implicit TLS
   or STARTTLS. Nothing in securenet ever blocks: all progress happens in
   sn_poll() (sn_mail_send_blocking() is a loop around it).

   Do this:
       #define SECURENET_IMPLEMENTATION
   before you include this file (and your port header) in *one* C file to
   create the implementation. Every other file includes it without the define.
   In that file, include securenet.h before any system header: it asks glibc
   for POSIX.1-2008 first (the POSIX port needs it; with -std=c99 and
   <stdio.h> first, securenet_port_posix.h stops with an #error that says
   so), or compile that file with -D_POSIX_C_SOURCE=200809L. A file of its
   own for the implementation (securenet_impl.c) avoids the question.

QUICK START (POSIX; see examples/posix/sn_demo.c for the whole program)

       #define SECURENET_IMPLEMENTATION
       #include "securenet.h"
       #include "securenet_port_posix.h"

       static void hello(sn_conn *c, const sn_request *req, void *user) {
         sn_str name = sn_http_param(req, "name");
         sn_http_printf(c, 200, "Content-Type: text/plain\r\n", "hello, %.*s\n",
                        (int) name.len, name.ptr);
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
   SN_MAX_LISTENERS        4        listening sockets per manager (each also a socket slot of
                                    the port: a small device with one listener sets 1)
   SN_MAX_ROUTES           32       routes per sn_router
   SN_MAX_HEADERS          32       request header fields (more: 431); each is 16 bytes of
                                    every sn_conn on 32 bits (sn_conn 1320 B with 32, 1064 B
                                    with 16; browsers send 10 to 20)
   SN_MAX_PARAMS           4        :name parameters per route pattern
   SN_MAX_MAIL_JOBS        8        mails queued per manager (SN_ERR_FULL beyond)
   SN_MAX_CLIENTS          4        outgoing connections (sn_connect) at once
   SN_HTTP_IDLE            2        HTTP client connections kept open for reuse
   SN_TLS_CLIENT_SESSIONS  4        outgoing TLS sessions kept for resumption
   SN_ENABLE_SMTP          1        0 leaves the mail sender out
   SN_ENABLE_CLIENT        1        0 leaves sn_connect (and the HTTP client) out
   SN_ENABLE_HTTP_CLIENT   =CLIENT  0 leaves sn_http_request out
   SN_ENABLE_PLAIN_HTTP    1        0: listeners need TLS (sn_http_listen without tls
                                    returns SN_ERR_UNSUPPORTED)
   SN_ENABLE_LOG           1        0 drops every log line and its text (errors are still
                                    returned, and mbedTLS codes kept)
   SN_ENABLE_MULTIPART     1        0 leaves the multipart/form-data parser out (the
                                    update route then takes raw bodies only)
   SN_ENABLE_OTA           1        0 leaves the signed-update verifier and its route out
   SN_ENABLE_AUTH          1        0 leaves users, sessions, guards and throttling out
   SN_ENABLE_WEBSOCKET     1        0 leaves WebSocket (server and client) out
   SN_ENABLE_SSE           1        0 leaves server-sent events out
   SN_WS_PIECE             2048     receive buffer of a streaming WebSocket (bytes)
   SN_AUTH_SESSIONS        8        login sessions at once (least recently used dropped)
   SN_AUTH_CLIENTS         16       client addresses whose failed logins are counted
   SN_AUTH_ITERATIONS      6000     PBKDF2 iterations of sn-passwd's verifiers (and of the
                                    dummy verifier's floor)
   SN_AUTH_PENDING         4        logins held for their turn at once (429 beyond)
   SN_AUTH_BASIC_CACHE     4        Basic credentials remembered after a good check
   SN_AUTH_MAX_WAIT_MS     8000     longest a login waits for its turn (429 beyond)
   SN_MULTIPART_HEAD       512      longest part head in a multipart body (bytes)
   SN_MULTIPART_PARTS      16       default most parts in a multipart body
   SN_TLS_VERIFY_NONE      off      INSECURE: servers' certificates are not verified on
                                    outgoing TLS (logged as a warning at every connection);
                                    SN_SMTP_VERIFY_NONE is an alias
   SN_RX_INIT              1024     receive buffer per connection while requests fit (bytes)
   SN_TX_INIT              1024     send buffer per connection while responses fit (bytes)
   SN_IDLE_RELEASE_MS      1000     an idle keep-alive connection frees its buffers after
                                    this long (0: keeps them)
   SN_CONN_SCRATCH         32       per-connection scratch bytes for handlers
   SN_BODY_PIECE           4096     receive buffer of a streamed request body: its
                                    pieces are at most this long (bytes)
   SN_WAKE_QUEUE           16       wakeups (sn_mgr_wakeup) queued at once (SN_ERR_FULL beyond)
   SN_SUBJECT_MAX          160      bytes kept of a client certificate's subject
   SN_MALLOC(n) / SN_FREE(p)  malloc/free  allocator (override both or neither)
   SN_NO_FILES             off      leave out cert_file/key_file (no file system)
   SN_LOG_MAX              192      longest log line (bytes, on the stack)

PORTING
   A port is one sn_port table of functions (see "Port contract" below):
   listen, accept, connect, send, recv, close, shutdown (optional), wait,
   entropy, now_ms, wall_s.
   securenet_port_posix.h is the reference port (BSD sockets and poll());
   securenet_port_lwip.h is the port for lwIP's raw API (bare metal or an
   RTOS), where a new MCU needs only its board: Ethernet driver, TRNG,
   SysTick, RTC (README: "Porting to a new MCU").
   To write one for a new MCU, implement the hooks in that order, then run the
   test checklist written under "Port contract". mbedTLS itself needs its own
   platform set-up on bare metal (MBEDTLS_PLATFORM_*, no MBEDTLS_NET_C needed).
   securenet_port_mem.h tests an application, or a port's user, without a
   network, the way littlefs ships its RAM block device: a port whose sockets
   are buffers in memory and whose peer is the test. The test connects to the
   application's listeners (sn_mem_peer_connect), prepares the peer an
   outgoing connect reaches (sn_mem_peer_expect; a scripted SMTP server with
   sn_mem_peer_smtp), writes what the peer says, reads what the application
   sent and moves a fake clock. Faults on demand: at most N bytes per recv or
   send (1 splits at every byte), scripts of piece lengths, every other call
   "not now", a refused or reset connection, the N-th send or recv failing,
   failing entropy and, with sn_mem_malloc / sn_mem_free as SN_MALLOC /
   SN_FREE, the N-th allocation failing. A hook called with SN_INVALID_SOCK
   or a closed socket, a second shutdown or a send of 0 bytes is counted in
   sn_mem.misuse. Its entropy is a fixed stream: tests only, never a product.
   securenet's own unit, fault and fuzz tests run on it (tests/test_faults.c);
   the header's first comment has a ten-line example.

MEMORY
   Every allocation of securenet goes through SN_MALLOC/SN_FREE; mbedTLS
   allocates its record buffers (MBEDTLS_SSL_IN/OUT_CONTENT_LEN each, plus
   overhead) through its own calloc. Per connection securenet holds the
   sn_conn struct (see sn_conn_size()), a receive buffer of SN_RX_INIT that
   grows (doubling) as bytes arrive, up to the header limit plus max_body,
   never ahead of them (a head announcing a large Content-Length allocates
   nothing until its body comes; a streamed body, of any length, holds
   the head plus SN_BODY_PIECE), and a send buffer of
   SN_TX_INIT that grows up to max_reply. Timers are the application's
   memory and the wakeup queue is in the manager: neither allocates. The buffers are allocated at the
   first request, not during the TLS handshake; buffers that grew for a
   large request shrink back after it; a connection idle for
   SN_IDLE_RELEASE_MS frees both, so an idle keep-alive connection costs the
   sn_conn struct and mbedTLS's state only. A connection serving small
   requests back to back allocates nothing per request.
   Allocation failure closes the one connection concerned (or makes the
   reply call return SN_ERR_NOMEM); the server goes on serving the others.
   mbedTLS's TLS session cache (sn_tls_opts.session_cache_size, 32 entries
   by default) grows as clients come and resume by id: 170 to 330 bytes
   per TLS 1.2 session on 32 bits (measured: 170 with examples/qemu-lm3s'
   configuration, 330 with a porter's), up to 10.5 KiB; a
   small-RAM build sets 4, or -1 for tickets only (they hold no server
   memory).
   The mail sender holds one session at a time (about 2 KiB, a 1 KiB reply
   buffer, a send buffer that starts at 1 KiB, and mbedTLS's client state); queued jobs are
   slots in the manager (SN_MAX_MAIL_JOBS) and allocate nothing. Measured
   peak heap of a whole sn_sendmail run (massif, implicit TLS, ECDSA P-256,
   Debian's 16 KiB records): 52 KB on mbedTLS 2.28, 67 KB on 3.6; the
   records are most of it, so an MCU configuration with smaller
   MBEDTLS_SSL_OUT_CONTENT_LEN gains most.
   A firmware update (sn_ota) holds its public key while idle (mbedTLS's
   P-256 key, a few hundred bytes, and the sn_ota struct); while an update
   runs, its state (two SHA-256 contexts, the header and signature: about
   400 bytes on 32 bits) and, through the HTTP route, the request's (about
   650 bytes with the multipart parser), freed when the update ends; the
   body itself streams through the connection's receive buffer. Measured
   on the QEMU Cortex-M4 board: the verifier's state with mbedTLS's ECDSA
   check at the end is 1536 bytes of heap; a 1 MiB signed upload peaks
   within a small request's peak + 4 KiB + that (36713 B against 35037 B
   in one run; tests/qemu_integration.sh asserts the bound).
   A WebSocket is its connection and nothing more: what an idle keep-alive
   one holds (the receive and send buffers given back after
   SN_IDLE_RELEASE_MS idle), its state (sn_ws_size() bytes) in the memory
   the connection keeps for a request, which is over (a one-off allocation
   of that size from sn_ws_upgrade until the handler returns; sn_conn grows
   to hold it only when SN_MAX_HEADERS is small: under 14 on 32 bits); a reassembled message grows the receive buffer up
   to max_message + 256, a streaming socket holds SN_WS_PIECE; the send
   queue holds up to max_queued. Messages back and forth in buffers of
   that size allocate nothing. An event stream is a chunked response:
   its queue is bounded by max_reply.
   Login (sn_auth) is one allocation at sn_auth_create, sn_auth_size()
   bytes: 3168 on 32 bits with the defaults (`make heap`: 8 sessions 352,
   16 client addresses 1344, 4 pending logins 1056, the Basic cache and
   keys the rest; 3568 on x86-64); the user
   table is the application's (sizeof(sn_user) each, const: flash). A
   request it decides allocates nothing; a held login is a pending entry,
   its connection's buffers as they were.

ERRORS
   Every function that can fail returns an sn_err: SN_OK (0) or a negative
   SN_ERR_* code; sn_strerror() turns each into words. mbedTLS's own code of
   the last TLS failure is kept (sn_conn_tls_error(), sn_mgr_tls_error()) and
   logged, as "-0xXXXX", through the log hook set in sn_mgr_opts.

SECURITY
   - TLS 1.2 and 1.3 only (1.3 where the mbedTLS build has it); the default
     suites are forward-secret AEAD ones only (ECDHE with AES-GCM, ChaCha20-
     Poly1305 or AES-CCM; the TLS 1.3 suites); key exchange over X25519,
     P-256 or P-384, in that order.
   - Every response carries SN_HTTP_DEFAULT_HEADERS (nosniff, X-Frame-Options
     SAMEORIGIN, Referrer-Policy same-origin) unless sn_http_opts.headers
     says otherwise; HSTS is opt-in there.
   - Session resumption by tickets (keys from the DRBG, rotated with the
     ticket lifetime) and by a bounded session cache.
   - Mutual TLS: give client_ca and clients must present a certificate that
     chains to it; its subject reaches handlers (sn_conn_peer_subject()).
     A refusal is logged with its reason in words (no certificate, the
     verification flags) and ends with a fatal alert where mbedTLS allows
     (see LIMITS).
     Validity dates are checked against the port's wall clock.
   - The DRBG is seeded from the port's entropy hook only; if it fails,
     sn_mgr_create() fails. There is no fallback.
   - Login (SN_ENABLE_AUTH): passwords are PBKDF2-HMAC-SHA256 verifiers
     (salt per user), checked in constant time, unknown names against a
     dummy verifier; credentials only over TLS (plain HTTP: 403, never a
     prompt); session ids are 128 bits from the DRBG in a __Host- cookie
     (Secure, HttpOnly, SameSite=Strict), new at every login, bounded
     table, idle and absolute lifetimes, per listener; state-changing
     requests from another origin (Sec-Fetch-Site, Origin) are refused
     whatever authenticated them; failed checks slow down per address,
     then lock it out, under a global cap (see "logging in" below).
   - WebSocket: the opening is checked as RFC 6455 4.2.1 says (426 for a
     version but 13); a route's guard runs before the upgrade, so log in
     first (a browser sends the session cookie with it). Frames are held
     to RFC 6455 with no leniency (masking, reserved bits and opcodes,
     control frame rules, minimal lengths, UTF-8 across fragments, close
     codes), a message over max_message is refused at its header, the send
     queue is bounded (SN_ERR_FULL, never buffering without bound) and the
     reader stops while it is full, so a peer that does not read cannot
     grow the server's memory. A client's frames are masked with keys from
     the DRBG; its server is verified as for sn_connect.
   - Request paths are percent-decoded once, in place; a decoded NUL, a bad
     escape or a dot segment ("/../", "/./") is answered with 400.
   - Mail: the server's certificate is verified against the CAs given (no
     CA, no mail) and its name (also sent as SNI); STARTTLS is required in
     the default mode (no silent downgrade) and bytes received before the TLS
     handshake are dropped; AUTH happens only over TLS; CR or LF in an
     address, display name or subject is refused before anything is sent.
     A connection lost after the end of a message is SN_ERR_UNCONFIRMED
     (the mail may have been delivered), never success or a plain failure.
     SN_SMTP_VERIFY_NONE turns verification off, loudly, at compile time.
   - Outgoing TLS (mail, sn_connect, sn_http_request) has one code path:
     chain, dates and name are verified by default (no roots and no pin: the
     call fails). A host given as an IP literal (IPv4, or IPv6 in brackets
     in a URL) is sent as no SNI (RFC 6066 3) and is verified by securenet
     against the certificate's iPAddress SANs only, never a DNS SAN or the
     CN, on mbedTLS 2.28 and 3.6 alike. A pin is checked on the server's
     key after the handshake, resumed sessions included. Sessions are resumed only for the same
     options object, server name and port; change the roots or the pin in a
     new sn_tls_client_opts, not in place. SN_TLS_VERIFY_NONE turns
     verification off, loudly, at compile time.
   - The HTTP client treats a response cut short (before its length, its
     last chunk or TLS's close_notify) as an error, follows redirects only
     when asked and never from https to http, and refuses URLs with user
     info. Redirects follow RFC 9110 15.4 as curl does (303, and 301/302
     after POST, become GET without the body; 307/308 keep both, and fail
     with a streamed body, which cannot be sent twice); Authorization, Cookie
     and Proxy-Authorization stay with their origin (redirect_keep_credentials
     opts out), and a pin, client certificate or tls_name refuses a redirect
     to another https origin. All Transfer-Encoding fields are one list: only
     "chunked", last, is decoded; any other coding is an error.
   - A plain-HTTP listener with redirect_to_https answers every request with
     a redirect (301 for GET/HEAD, 308 otherwise, so a POST is not turned
     into a GET) to the same target; its host is checked (400 if malformed),
     never copied blindly into Location.
   - Request smuggling: Content-Length together with Transfer-Encoding,
     differing Content-Lengths, a Content-Length no integer holds, "chunked"
     not last among the transfer codings, malformed chunk extensions,
     obs-fold, bare CR or LF, whitespace before a colon, and a missing,
     repeated or malformed Host (HTTP/1.1) are all answered with 400 and the
     connection is closed.

LIMITS
   - HTTP/1.1 and 1.0 only (no HTTP/2; the one upgrade is to WebSocket);
     505 for other versions.
   - WebSocket (RFC 6455, version 13 only): no extension is negotiated, so
     no permessage-deflate (browsers offer it and go on without it); a
     message is reassembled whole up to max_message (1009 beyond) unless
     the socket streams; sn_ws_send sends a message as one frame (no
     fragmented sends; a message larger than max_queued cannot be sent);
     a ping is answered automatically and pongs are not shown; no HTTP/2
     WebSocket (RFC 8441). A client's handshake accepts no redirect and no
     proxy. Server-sent events: text only, one stream per connection (a
     browser's HTTP/1.1 limit of 6 connections per host counts them).
   - Transfer codings: only "chunked" (400 when it is not the last coding,
     501 for an unknown coding before it). Trailers are read and dropped.
   - A request body is buffered whole (up to max_body, 413 beyond) and
     handed to the handler at once, unless its route streams it
     (sn_route_opts.on_body: pieces of at most SN_BODY_PIECE bytes, any
     total up to the route's max_body). max_body and request_timeout_ms are
     the listener's unless a route sets its own. Responses are buffered up to max_reply; larger ones are
     streamed with the chunked API and sn_http_on_writable().
   - One request per connection is served at a time; pipelined requests wait
     in the receive buffer and are answered in order.
   - A handler answers during its call or defers (sn_http_defer) and
     answers later from any callback on the manager's thread; a handler that
     does neither makes the server reply 500. A deferred request still ends
     at its request timeout: 503 (and on_abort with SN_ERR_TIMEOUT).
   - Paths are percent-decoded before routing, so "%2F" acts as '/'.
   - A request that ends with the client's half-close (FIN, or a TLS 1.3
     close_notify) is still answered; then the connection closes. Not a
     deferred request or a streamed body being read: then the client is
     taken as gone (on_abort with SN_ERR_CLOSED). A deferred request reads
     on only into the room its receive buffer has: a client that pipelines
     more and then resets is seen at the reply or the request timeout.
   - Firmware updates: one at a time per sn_ota (409 for another); the
     slot's hooks are synchronous and block the manager while they run (a
     flash that erases slowly should erase a sector per write); images up
     to 4 GiB - 129 bytes of payload; one signature scheme (ECDSA P-256,
     SHA-256) and one key per verifier; no rollback check (the version text
     is the application's to compare, in on_accept). Multipart: parts'
     heads up to SN_MULTIPART_HEAD, boundaries up to 70 bytes (RFC 2046),
     name and filename as sent (no name* decoding, no nested multipart).
   - Login: one password check (PBKDF2, iterations HMACs) runs on the
     manager's thread and blocks it for its duration, as a TLS handshake's
     arithmetic does; the global cap (checks_per_s) bounds how much of the
     CPU checks can take. HTTP Basic is the only scheme (no Digest); the
     failed form login's 401 names a "Form" scheme so that browsers show
     the page, not a prompt. Sessions live in RAM (a reboot ends them) and
     there is no "next" page after a login (no open redirect): it goes to
     after_login. Failures are counted per address: clients behind one NAT
     share a count, and an attacker with many addresses is held by the
     global cap, not the lock-out.
   - Timers fire from sn_poll, at most one round late; wakeups run at the
     start of the next round. sn_mgr_wakeup is the only call safe from
     another thread.
   - Idle connections beyond max_conns evict the least recently used idle
     one; when every connection is busy, new ones wait in the listen backlog.
   - Mail: one session at a time per manager; up to SN_MAIL_MAX_RCPT
     recipients and 16 attachments per mail; bodies are sent as
     quoted-printable (always valid, 8BITMIME not needed), attachments as
     base64; a transaction error ends the session (the next mail reconnects).
   - mbedTLS's own limits (TLS is mbedTLS's; an independent TLS conformance
     suite found securenet behaving like mbedTLS's ssl_server2, and these;
     issue numbers are github.com/Mbed-TLS/mbedtls's):
     - 3.6, TLS 1.3: an alert sent after the server's Finished is protected
       with the handshake keys (#10877), so the client reports "bad record
       MAC" instead of the alert; the common case is a mutual-TLS client
       without a certificate (whose alert is the legacy no_certificate,
       #10720) or with a refused one. The server's log says why in words
       ("client certificate from ... refused: ...").
     - TLS 1.3 KeyUpdate is not supported (#10881): a peer that rekeys a
       long-lived connection (a WebSocket, an event stream: OpenSSL and
       browsers rekey after a volume of data, or on demand) is dropped.
       securenet says so (logged at WARN; a WebSocket's on_close gets
       SN_ERR_TLS with "KeyUpdate" in why) and a client reconnects with
       a resumed session (sn_ws_connect again: the session is cached).
     - Many fatal handshake errors close the connection without an alert
       (e.g. no common TLS 1.3 group, #10892). For a TLS 1.2 client without
       a required certificate, which mbedTLS ends silently on 2.28 and 3.6,
       securenet sends the handshake_failure alert itself.
     - A record larger than MBEDTLS_SSL_IN_CONTENT_LEN (curl, OpenSSL and
       browsers send 16 KiB records, and none of them offered
       record_size_limit or max_fragment_length when measured) cannot be
       taken: a server cannot make a client send smaller records. mbedTLS
       stops without an alert; securenet logs the reason at WARN and sends
       the record_overflow alert itself. A build for a small device with a
       4 KiB MBEDTLS_SSL_IN_CONTENT_LEN therefore serves clients whose
       requests fit 4 KiB records: curl's small requests do, a large POST
       does not. A ClientHello larger than one record is refused the same
       way (#1840 for 2.x's missing handshake reassembly).
*/
#ifndef SECURENET_H
#define SECURENET_H

/* The implementation uses POSIX interfaces on Unix-like hosts (the POSIX
   port); glibc must see the request before its first header (it decides
   once, at that header, what it declares; securenet_port_posix.h stops with
   an #error when a system header came first in strict ISO C mode). */
#if defined(SECURENET_IMPLEMENTATION) && !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE) && \
    (defined(__unix__) || defined(__unix))
#define _POSIX_C_SOURCE 200809L
#endif

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
#define SN_RX_INIT 1024
#endif
#ifndef SN_TX_INIT
#define SN_TX_INIT 1024
#endif
#ifndef SN_IDLE_RELEASE_MS
#define SN_IDLE_RELEASE_MS 1000
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
#ifndef SN_MAX_MAIL_JOBS
#define SN_MAX_MAIL_JOBS 8
#endif
#ifndef SN_MAX_CLIENTS
#define SN_MAX_CLIENTS 4 /* outgoing connections (sn_connect) at once */
#endif
#ifndef SN_BODY_PIECE
#define SN_BODY_PIECE 4096
#endif
#ifndef SN_WAKE_QUEUE
#define SN_WAKE_QUEUE 16
#endif

/* ---- features (see OPTIONS): 0 compiles one out; `make size` shows what
   each costs in flash. A function of a feature compiled out is declared but
   not defined, so calling it fails at link time. */
#ifndef SN_ENABLE_SMTP
#define SN_ENABLE_SMTP 1
#endif
#ifndef SN_ENABLE_CLIENT
#define SN_ENABLE_CLIENT 1
#endif
#ifndef SN_ENABLE_HTTP_CLIENT
#define SN_ENABLE_HTTP_CLIENT SN_ENABLE_CLIENT
#endif
#ifndef SN_ENABLE_PLAIN_HTTP
#define SN_ENABLE_PLAIN_HTTP 1
#endif
#ifndef SN_ENABLE_LOG
#define SN_ENABLE_LOG 1
#endif
#ifndef SN_ENABLE_MULTIPART
#define SN_ENABLE_MULTIPART 1
#endif
#ifndef SN_ENABLE_OTA
#define SN_ENABLE_OTA 1
#endif
#ifndef SN_ENABLE_AUTH
#define SN_ENABLE_AUTH 1
#endif
#ifndef SN_ENABLE_WEBSOCKET
#define SN_ENABLE_WEBSOCKET 1
#endif
#ifndef SN_ENABLE_SSE
#define SN_ENABLE_SSE 1
#endif
#if SN_ENABLE_HTTP_CLIENT && !SN_ENABLE_CLIENT
#error "SN_ENABLE_HTTP_CLIENT needs SN_ENABLE_CLIENT: the HTTP client runs on sn_connect's connections"
#endif
#define SN__TLS_CLIENT (SN_ENABLE_SMTP || SN_ENABLE_CLIENT) /* one outgoing TLS path for both */

/* Streams at most: server connections, client connections and the mail
   sender's session. Sockets handed to the port's wait hook at most: one per
   stream and one per listener. */
#define SN__MAX_STREAMS (SN_MAX_CONNS + SN_ENABLE_SMTP + SN_ENABLE_CLIENT * SN_MAX_CLIENTS)
#define SN_MAX_SOCKETS (SN__MAX_STREAMS + SN_MAX_LISTENERS)

/* ---- errors ------------------------------------------------------------- */
/* One list keeps names, numbers and words in step (sn_strerror()). */
#define SN_ERROR_LIST(X)                                                        \
  X(SN_OK,              0,  "success")                                          \
  X(SN_WANT_READ,      -1,  "would block: waiting for data to read")            \
  X(SN_WANT_WRITE,     -2,  "would block: waiting for room to write")           \
  X(SN_ERR_INVALID,    -3,  "invalid argument")                                 \
  X(SN_ERR_NOMEM,      -4,  "out of memory")                                    \
  X(SN_ERR_FULL,       -5,  "limit reached (connections, listeners, routes or queued bytes)") \
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
  X(SN_ERR_PORT,       -21, "port hook missing or failed")                      \
  X(SN_ERR_REFUSED,    -22, "refused by the mail server (see its reply)")       \
  X(SN_ERR_AUTH,       -23, "authentication failed or no usable method")         \
  X(SN_ERR_UNCONFIRMED,-24, "the message was sent but not confirmed: it may have been accepted") \
  X(SN_ERR_DESTROYED,  -25, "ended by sn_mgr_destroy")                        \
  X(SN_ERR_SIGNATURE,  -26, "signature missing, invalid or by another key")    \
  X(SN_ERR_IMAGE,      -27, "not a valid image (header, format or length)")

typedef enum sn_err {
#define SN__ERR_ENUM(name, num, text) name = num,
  SN_ERROR_LIST(SN__ERR_ENUM)
#undef SN__ERR_ENUM
  SN__ERR_LAST = -28
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
  int tls_debug;        /* 1-4: mbedTLS's own debug messages at that verbosity go to log
                           (at SN_LOG_DEBUG; needs MBEDTLS_DEBUG_C; the threshold is
                           mbedTLS's, so it is global); 0: none */
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

/* ---- timers ----------------------------------------------------------------------
   A timer is memory the application owns (static, or inside its own state),
   linked into the manager while it is armed: nothing is allocated, ever.
   Timers run from sn_poll (the manager's thread), at the start of the
   first round at or after their time (by the port's whole-millisecond
   clock: up to 1 ms of real time before delay_ms have passed), and bound how long sn_poll sleeps, so
   one fires at most one poll round late. The fields are the manager's. */
typedef void (*sn_timer_fn)(void *arg);
typedef struct sn_timer {
  struct sn_timer *next;
  uint64_t due;       /* the port's now_ms when it fires */
  uint32_t period_ms; /* 0: one-shot */
  uint8_t armed;
  sn_timer_fn fn;
  void *arg;
} sn_timer;

/* Arms t to call fn(arg) after delay_ms, then every period_ms (0: once).
   Re-arms a timer that is armed already. t must stay valid until it has
   fired (one-shot) or is cancelled. fn may add and cancel timers, itself
   included. SN_ERR_INVALID without t or fn; SN_ERR_STATE in
   sn_mgr_destroy. */
SNDEF int sn_timer_add(sn_mgr *mgr, sn_timer *t, uint32_t delay_ms, uint32_t period_ms, sn_timer_fn fn, void *arg);
/* Disarms t (nothing happens if it is not armed). After the call fn will
   not run for it. sn_mgr_destroy disarms every timer without calling it. */
SNDEF void sn_timer_cancel(sn_mgr *mgr, sn_timer *t);

/* ---- wakeups from other threads ----------------------------------------------------
   The one call that is safe from any thread, and from an interrupt on bare
   metal: queues fn(arg) to run on the manager's thread at the start of its
   next sn_poll round, and wakes an sn_poll that sleeps (the port's wake
   hook). Calls from one thread run in the order they were made. Returns
   SN_OK, or SN_ERR_FULL when SN_WAKE_QUEUE wakeups wait already (never
   blocks, never allocates: try again later, or keep the result until the
   queue drains). Without the port's lock hooks it is safe on the manager's
   thread only; without its wake hook the queue runs at the next round, up
   to sn_poll's timeout later (see "Port contract"). sn_mgr_destroy runs
   the wakeups still queued (so their arguments can be freed) after every
   connection has ended; sn_mgr_wakeup from one of those is SN_ERR_STATE
   (nothing would run it). mgr must outlive every call. */
typedef void (*sn_wake_fn)(void *arg);
SNDEF int sn_mgr_wakeup(sn_mgr *mgr, sn_wake_fn fn, void *arg);

/* ---- HTTP server and router ------------------------------------------------- */
typedef struct sn_request {
  sn_str method;   /* "GET", ... as sent */
  sn_str path;     /* percent-decoded, starts with '/' */
  sn_str query;    /* raw, after '?', without it; len 0 if none */
  int version;     /* 10 for HTTP/1.0, 11 for HTTP/1.1 */
  sn_header headers[SN_MAX_HEADERS];
  int header_count;
  sn_str body;     /* whole body, de-chunked; empty for a streamed body */
  sn_str param_names[SN_MAX_PARAMS]; /* from the matched pattern */
  sn_str params[SN_MAX_PARAMS];      /* percent-decoded segment values */
  int param_count;
  sn_str wildcard; /* what a trailing '*' matched (percent-decoded) */
} sn_request;

typedef void (*sn_handler)(sn_conn *c, const sn_request *req, void *user);

/* What a route does beyond a handler (sn_router_add_opts): a decision
   before the body, a streamed body, its own limits, and being told when a
   request it took ends unanswered. Zero fields: as sn_router_add.

   A request's life on such a route:
     head parsed -> on_head (optional: may refuse) -> [100 Continue] ->
     body: buffered whole, or on_body per piece (may pause) ->
     handler (req->body empty when streamed): replies now, or defers and
     replies later -> the reply is sent.
   on_abort is called once if the request ends before the application has
   begun its reply (after on_head accepted it, during a streamed body, or
   while deferred): err is SN_ERR_CLOSED (the client went away),
   SN_ERR_TIMEOUT (request_timeout_ms; a deferred request is answered 503),
   SN_ERR_PROTO (a malformed body: 400), SN_ERR_TOO_BIG (over max_body:
   413), SN_ERR_NOMEM, SN_ERR_IO / SN_ERR_TLS, or SN_ERR_DESTROYED. The
   connection is valid during the call, not after; no reply is possible
   then. */
typedef struct sn_route_opts {
  sn_handler handler;   /* required: the request, once its body is complete */
  /* Called when the head has arrived, before any body byte is read. A reply
     here refuses the request (401, 403, 413, 415, ...): its body is not
     read and, if one was announced, the connection closes after the reply;
     an "Expect: 100-continue" client gets the final status instead of
     100 Continue. Returning without a reply accepts (and only then is
     100 Continue sent). It may not defer. */
  sn_handler on_head;
  /* Streams the body: called with each piece as it is decrypted and
     decoded (chunk framing removed), data borrowed for the call, in order,
     then the handler once at the end. Return SN_OK for more, or
     SN_WANT_READ to pause after this piece (sn_http_pause_body). A reply
     here ends the request: the rest of the body is not read and the
     connection closes after the reply. Any other return answers 500 and
     closes. The body's bytes are never held: memory stays at the
     connection's receive buffer (SN_BODY_PIECE), whatever the length. */
  int (*on_body)(sn_conn *c, const void *data, size_t len, void *user);
  void (*on_abort)(sn_conn *c, int err, void *user);
  uint64_t max_body;           /* 0: the listener's max_body (413 beyond). Buffered bodies
                                  are held whole, so this is RAM; streamed ones are not */
  uint32_t request_timeout_ms; /* 0: the listener's. From the head's first byte to the end
                                  of the body (streamed: to each next piece or resume),
                                  then again from the handler's deferral to the reply */
  void *user;                  /* passed to every callback */
} sn_route_opts;

typedef struct sn_route {
  const char *method;  /* "GET", "POST", ...; "*" or NULL: any method */
  const char *pattern; /* segments: literal, ":name", and a last "*" */
  sn_handler fn;
  void *user;
  const sn_route_opts *opts; /* sn_router_add_opts's, borrowed; NULL for sn_router_add */
  const struct sn_guard *guard; /* sn_route_guard's, borrowed; NULL: the router's */
} sn_route;

/* A router is plain memory the user owns (static, global or on the stack of
   main); patterns and method strings are borrowed and must outlive it.
   One router may serve several listeners. */
typedef struct sn_router {
  sn_route routes[SN_MAX_ROUTES];
  int count;
  const struct sn_guard *guard; /* sn_router_guard's: routes without their own */
} sn_router;

SNDEF void sn_router_init(sn_router *r);

/* Adds a route. Pattern segments: literal ("api"), a parameter (":name",
   a whole segment, matching one non-empty segment) or, as the last segment
   only, "*" (matching the rest of the path, possibly empty, slashes included).
   A GET route also answers HEAD. A route for OPTIONS (or for any method)
   answers OPTIONS itself; otherwise the server answers OPTIONS on a path
   some route matches with 200 and an Allow of the path's methods and
   OPTIONS, and "OPTIONS *" with the methods of every route (those the
   server implements: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS) and
   OPTIONS (RFC 9110 9.3.7). Returns SN_ERR_INVALID for a malformed
   pattern or a method that is not a token ("" included), SN_ERR_FULL beyond
   SN_MAX_ROUTES.
   Precedence does not depend on the order routes are added: paths are
   compared segment by segment and at the first segment where two matching
   routes differ, a literal beats a parameter and a parameter beats a
   wildcard; between identical patterns the one added first wins. */
SNDEF int sn_router_add(sn_router *r, const char *method, const char *pattern, sn_handler fn, void *user);
/* Adds a route with sn_route_opts (borrowed: it must outlive the router),
   otherwise as sn_router_add. SN_ERR_INVALID also without o->handler. */
SNDEF int sn_router_add_opts(sn_router *r, const char *method, const char *pattern, const sn_route_opts *o);

/* Finds the route for req->method and req->path; fills req->params,
   req->param_names and req->wildcard (slices of the already decoded path;
   a "%2F" in a request path therefore acts as a '/'). Returns
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
  int session_cache_size;    /* 0: 32 entries (170-330 B each on 32 bits, as clients
                                come); negative: no session cache (tickets only) */
  uint32_t session_lifetime_s; /* tickets and cache; 0: 86400 */
} sn_tls_opts;

typedef struct sn_http_opts {
  const char *addr;             /* numeric bind address; NULL: every interface */
  uint16_t port;                /* required */
  const sn_router *router;      /* required (except with redirect_to_https), borrowed */
  const sn_tls_opts *tls;       /* NULL: plain HTTP. Copied at listen time. */
  uint16_t redirect_to_https;   /* plain HTTP only: answer every request with a
                                   redirect to https://<host>:<this port><target>
                                   (301 for GET and HEAD, 308 for other methods,
                                   which keep method and body); host from an
                                   absolute-form target, else Host; 400 for a
                                   malformed host and "OPTIONS *". router may
                                   be NULL: it is not used */
  size_t max_header_bytes;      /* request line + headers; 0: 8192 (431 beyond) */
  size_t max_uri_bytes;         /* request target; 0: 8000 (RFC 9112 3; 414 beyond;
                                   the head must still fit max_header_bytes) */
  size_t max_body;              /* 0: 65536 (413 beyond); per listener: the same
                                   for every route. The buffer grows as the body
                                   arrives, not to the Content-Length announced */
  size_t max_reply;             /* buffered response bytes; 0: 65536 */
  uint32_t handshake_timeout_ms;/* 0: 10000 */
  uint32_t request_timeout_ms;  /* first byte to whole request; 0: 10000 (408) */
  uint32_t idle_timeout_ms;     /* keep-alive idle; 0: 30000 */
  const char *headers;          /* header lines (each ending in CRLF) added to every
                                   response, borrowed for the listener's life;
                                   NULL: SN_HTTP_DEFAULT_HEADERS, "": none. E.g. add
                                   "Strict-Transport-Security: max-age=31536000\r\n"
                                   once the device's certificate is trusted */
  void *user;                   /* available to handlers: sn_conn_listener_user() */
} sn_http_opts;

/* Sent with every response unless sn_http_opts.headers says otherwise: no
   MIME sniffing, no framing by other sites (clickjacking of a device's admin
   pages), no Referer to other sites. Not HSTS: it would make a certificate
   error on the device impossible to click through for a year. */
#define SN_HTTP_DEFAULT_HEADERS                                                           \
  "X-Content-Type-Options: nosniff\r\nX-Frame-Options: SAMEORIGIN\r\n"                     \
  "Referrer-Policy: same-origin\r\n"

/* Starts an HTTP (opts->tls NULL) or HTTPS listener. Parses and checks the
   certificate and key now (SN_ERR_CERT, SN_ERR_KEY, SN_ERR_FILE) and binds
   (SN_ERR_ADDR). Allocates the TLS configuration. */
SNDEF int sn_http_listen(sn_mgr *mgr, const sn_http_opts *opts);

/* Replies. Call from a handler (or an on_writable callback), once per request.
   `headers` is NULL or extra header lines, each ending in "\r\n"
   ("Content-Type: text/plain\r\n"), copied as they are: it is not a format
   string, in sn_http_printf / sn_http_vprintf / sn_http_chunked_begin too
   (only fmt is; a '%' in headers is sent as a '%'; build dynamic header
   lines with snprintf first). securenet adds the status line,
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
/* fn is called with the connection each time its send buffer has drained,
   until the response is ended. Each call must make progress: send a chunk
   (sn_http_chunk, sn_http_chunkf with a non-empty body), end the response,
   or take itself off (sn_http_on_writable(c, NULL, NULL)) to write later
   from a timer or a wakeup (through sn_http_ref's handle and sn_req_conn).
   A call that does none of these (a chunk refused as SN_ERR_TOO_BIG, say,
   retried forever) ends the response as failed: logged at WARN, the
   connection closed without the last chunk, so the client sees the body
   cut short. Reset for every request. */
typedef void (*sn_writable_fn)(sn_conn *c, void *arg);
SNDEF void sn_http_on_writable(sn_conn *c, sn_writable_fn fn, void *arg);

/* Static files from a const in-memory table (tools/sn-embed makes one). */
typedef struct sn_static_file {
  const char *path;          /* URL path, "/index.html" */
  const unsigned char *data; /* identity body */
  size_t len;
  const unsigned char *gzip; /* pre-gzipped body, or NULL */
  size_t gzip_len;
  const char *etag;          /* quoted strong ETag of the identity body (at most 90
                                bytes), or NULL; the gzip variant is served with
                                this ETag plus "-gzip" inside the quotes */
} sn_static_file;

SNDEF const sn_static_file *sn_static_find(const sn_static_file *table, size_t count, sn_str path);
/* Serves one file: Content-Type from the extension, the gzip variant when the
   request accepts gzip (with Vary), ETag and 304 for an If-None-Match that
   matches the variant chosen (each variant has its own ETag, RFC 9110 8.8.3).
   The body is sent from the table without a copy. SN_ERR_INVALID for an etag
   that is not quoted or longer than 90 bytes. */
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

/* ---- requests that outlive a handler call ---------------------------------------
   A handle on a request, kept by the application (a value: copy it
   anywhere). It stays safe after the request or its connection is gone:
   sn_req_conn then says so instead of handing out a freed connection. Only
   the manager's thread may use it, and not after sn_mgr_destroy. */
typedef struct sn_req_ref {
  sn_mgr *mgr;
  sn_conn *c;  /* compared, never dereferenced, until found among the manager's */
  uint32_t id; /* the request's number on its manager */
} sn_req_ref;

/* In a handler: the reply will come later, from any callback on the
   manager's thread (a timer, a mail's done, an HTTP client's on_done, a
   wakeup). Returns the request's handle. The request's timeout runs again
   from now (route or listener request_timeout_ms): unanswered by then, it
   is answered 503 and on_abort(SN_ERR_TIMEOUT) is called. */
SNDEF sn_req_ref sn_http_defer(sn_conn *c);
/* A handle on the current request, from on_head, on_body or the handler,
   without deferring (to resume a paused body from a timer, say). */
SNDEF sn_req_ref sn_http_ref(sn_conn *c);
/* The connection of a request the application still holds: SN_OK with *out
   set while the request waits for its reply or its body (then reply with the
   usual calls, or resume), SN_ERR_CLOSED once it has ended (answered, client
   gone, timed out, aborted) with *out NULL. */
SNDEF int sn_req_conn(sn_req_ref ref, sn_conn **out);

/* Stop reading a streamed body (from on_body, or later through a handle):
   the port stops reading the socket, so a slow consumer (a flash write)
   pushes back on the sender (TCP's window closes) instead of filling RAM.
   sn_http_resume_body goes on. SN_ERR_STATE when no streamed body is being
   read. The request timeout keeps running while paused. */
SNDEF int sn_http_pause_body(sn_conn *c);
SNDEF int sn_http_resume_body(sn_conn *c);

/* The application's own state, with a function called exactly once when it
   ends, with why: SN_OK (a request: its reply went out whole; a connection:
   it closed in order), SN_ERR_CLOSED (the client closed or reset),
   SN_ERR_TIMEOUT, an error (SN_ERR_PROTO, SN_ERR_IO, SN_ERR_TLS,
   SN_ERR_NOMEM, SN_ERR_TOO_BIG) or SN_ERR_DESTROYED (sn_mgr_destroy).
   sn_http_attach ties it to the current request, sn_conn_attach to the
   connection (its keep-alive requests included). One each: SN_ERR_STATE
   when one is attached already, SN_ERR_INVALID for no request. end may be
   NULL. The connection is not usable from end. */
typedef void (*sn_end_fn)(void *state, int why);
SNDEF int sn_http_attach(sn_conn *c, void *state, sn_end_fn end);
SNDEF void *sn_http_state(const sn_conn *c);
SNDEF int sn_conn_attach(sn_conn *c, void *state, sn_end_fn end);
SNDEF void *sn_conn_state(const sn_conn *c);

/* ---- multipart/form-data (RFC 7578, RFC 2046 5.1) --------------------------------
   A streaming parser for form uploads: feed it a body in pieces of any size
   (an on_body route's pieces, split anywhere, a boundary included) and it
   calls back with each part's head, then the part's data in pieces, then
   its end. Nothing is buffered but one part's head (SN_MULTIPART_HEAD), so a
   file of any size costs the same memory. The struct is plain memory the
   application owns (about 600 bytes): on the stack of a short parse, or
   allocated per request with sn_http_attach to free it.

   The grammar it takes (stricter than RFC 2046 where browsers never need the
   rest):
     body      = preamble delimiter padding CRLF part-head CRLF data
                 *( CRLF delimiter padding CRLF part-head CRLF data )
                 CRLF delimiter "--" epilogue
     delimiter = "--" boundary, the first one at the body's start or after
                 a CRLF in the preamble; padding = *( SP / HTAB )
     part-head = *( field-name ":" OWS value OWS CRLF ), names matched without
                 case; Content-Disposition and Content-Type are read, other
                 fields skipped
   The preamble and the epilogue are ignored; a body whose first delimiter
   is the closing one has no parts (and is valid). A delimiter followed by
   anything but padding CRLF or "--" is an error (the boundary must not
   occur in the data). In Content-Disposition, parameter values are tokens
   or quoted strings (RFC 9110 5.6.4: a backslash escapes the next byte);
   filename* (RFC 5987/8187: UTF-8 or ISO-8859-1, percent-encoded) is
   decoded to UTF-8 and wins over filename. A parameter given twice, a line
   without a colon, a folded line (obs-fold), a bare CR or LF in a head, or
   a bad filename* is an error. The filename is the client's: never use it
   as a path unchecked. Browsers and curl do not escape a backslash in a
   quoted filename (they send '"' as %22), so a name with a backslash
   reaches the application without it, and one ending in a backslash is
   refused as malformed. */
#ifndef SN_MULTIPART_HEAD
#define SN_MULTIPART_HEAD 512 /* longest part head, its fields and CRLFs (bytes) */
#endif
#ifndef SN_MULTIPART_PARTS
#define SN_MULTIPART_PARTS 16 /* default most parts in one body */
#endif
#if SN_MULTIPART_HEAD > 65535
#error "SN_MULTIPART_HEAD: at most 65535 (a part head's length is counted in 16 bits)"
#endif

typedef struct sn_part {
  int index;           /* 0 for the first part */
  sn_str name;         /* Content-Disposition's name, unquoted; ptr NULL if none */
  sn_str filename;     /* filename* decoded, else filename unquoted; ptr NULL if none */
  sn_str content_type; /* the part's Content-Type as sent; ptr NULL if none */
} sn_part;

/* Callbacks return SN_OK to go on; anything else stops the parse and is
   returned by sn_multipart_feed (and by every later call). Strings and data
   are borrowed for the call. */
typedef struct sn_multipart_cb {
  int (*on_part)(void *user, const sn_part *part);          /* a part's head is complete */
  int (*on_data)(void *user, const void *data, size_t len); /* the part's bytes, in order */
  int (*on_part_end)(void *user);                          /* the part's last byte was given */
} sn_multipart_cb;

typedef struct sn_multipart {
  sn_multipart_cb cb; /* any may be NULL */
  void *user;
  int max_parts;      /* sn_multipart_init sets SN_MULTIPART_PARTS; change it after */
  int parts;          /* parts begun so far */
  int err;            /* SN_OK, or the error every call returns now */
  const char *why;    /* words for err ("no closing delimiter", ...); never NULL */
  /* internal */
  unsigned char state, match, dlen, flags;
  uint16_t hlen;
  char delim[4 + 70]; /* CRLF "--" boundary (RFC 2046: at most 70 bytes) */
  char head[SN_MULTIPART_HEAD];
} sn_multipart;

/* Starts a parse for a body of this Content-Type (the request's header
   value): SN_OK, or SN_ERR_PROTO (mp->why says which) when it is not
   multipart/... or has no valid boundary parameter (1 to 70 bytes of the
   RFC 2046 bchars, quoted or not). cb may be NULL (a syntax check). */
SNDEF int sn_multipart_init(sn_multipart *mp, sn_str content_type, const sn_multipart_cb *cb, void *user);
/* Feeds the next bytes of the body. SN_OK, or: SN_ERR_PROTO for a malformed
   body, SN_ERR_TOO_BIG for a part head over SN_MULTIPART_HEAD or more than
   max_parts parts, or a callback's own return. Bytes after the closing
   delimiter (the epilogue) are taken and ignored. */
SNDEF int sn_multipart_feed(sn_multipart *mp, const void *data, size_t len);
/* The body has ended: SN_OK if the closing delimiter came, else
   SN_ERR_PROTO ("no closing delimiter"), or the error already met. */
SNDEF int sn_multipart_finish(sn_multipart *mp);

/* ---- signed firmware updates ----------------------------------------------------
   An update is a signed image streamed into a flash slot through a
   verifier. Nothing is finished in the slot unless the whole image arrived,
   its length is the one its header states, and its signature checks
   against the public key compiled into the firmware; anything else aborts
   the slot, and the running image and one accepted before stay as they
   were (the slot contract below says how). One update at a time.

   The image (version 1; numbers big-endian; tools/sn-sign makes it, the
   README shows how to make it in any language):
     offset  bytes  field
     0       4      magic "SNFW"
     4       2      format version: 1
     6       2      header length: 64
     8       4      payload length N (bytes)
     12      4      flags: 0
     16      32     version text: 1 to 32 printable ASCII bytes (0x20-0x7E),
                    NUL-padded
     48      16     reserved: zero
     64      N      payload (the firmware, as the slot's reader wants it)
     64+N    64     signature: r then s (32 bytes each) of ECDSA P-256 with
                    SHA-256 over M = header (64 bytes) || SHA-256(payload)
   The whole image is N + 128 bytes. A header that breaks any rule above is
   refused before the slot is opened.

   The slot contract: the application's table of hooks for its flash, as a
   port is for the network. Every hook runs on the manager's thread and
   returns an sn_err; a hook that fails aborts the update (SN_ERR_IO is the
   usual code). */
typedef struct sn_slot_ops {
  /* Prepares the slot for an image of `size` bytes: SN_ERR_TOO_BIG if it
     cannot hold it. It must leave the running image and an accepted one
     alone (write to the other bank, a temporary file, ...). On flash, erase
     sector by sector as writes reach them rather than all here: every hook
     blocks the manager for as long as it takes. */
  int (*open)(void *slot, uint64_t size);
  /* Bytes at `off`: in order, without gaps or overlaps, never beyond size.
     Each byte is written once (on flash: programmed once after its erase). */
  int (*write)(void *slot, uint64_t off, const void *data, size_t len);
  /* The whole image is written and verified: make it the accepted one
     (flush, rename, mark the bank). A failure here ends the update too:
     then finish drops what it wrote itself (abort is not called after). */
  int (*finish)(void *slot);
  /* Drops what this update wrote (optional): the slot is as before open. */
  void (*abort)(void *slot);
} sn_slot_ops;

#define SN_IMAGE_HEAD 64 /* header bytes */
#define SN_IMAGE_SIG 64  /* signature bytes, at the end */
#define SN_IMAGE_VERSION_MAX 32

/* What an image says of itself (its header), with its size and hash. */
typedef struct sn_image_info {
  char version[SN_IMAGE_VERSION_MAX + 1]; /* NUL-terminated */
  uint32_t payload_bytes;
  uint64_t bytes;             /* the whole image: payload_bytes + 128 */
  unsigned char sha256[32];   /* of the whole image, as uploaded */
} sn_image_info;

enum sn_ota_state {
  SN_OTA_IDLE = 0,      /* no update under way, none accepted since sn_ota_create */
  SN_OTA_RECEIVING = 1, /* an update is under way */
  SN_OTA_ACCEPTED = 2   /* an image was verified and finished in the slot */
};

typedef struct sn_ota_opts {
  const sn_slot_ops *slot; /* required, borrowed */
  void *slot_ctx;          /* passed to every slot hook */
  uint64_t capacity;       /* required: the largest whole image the slot holds (bytes) */
  /* Required: the ECDSA P-256 public key images are signed for: DER
     (SubjectPublicKeyInfo, as tools/sn-sign keygen writes in sign_pub.h) or
     PEM (with its terminating NUL counted in pub_key_len). Copied. */
  const unsigned char *pub_key;
  size_t pub_key_len;
  const char *field;       /* multipart uploads: the form field of the image; NULL: "image" */
  /* Called when an image has been accepted (e.g. to schedule the reboot
     into it); the HTTP reply follows. Optional. */
  void (*on_accept)(void *user, const sn_image_info *img);
  void *user;
  sn_mgr *mgr;             /* optional: its log hook hears why an update was refused */
} sn_ota_opts;

typedef struct sn_ota sn_ota; /* opaque: the verifier and its key */

/* Creates a verifier: SN_OK, SN_ERR_INVALID (a required field missing),
   SN_ERR_KEY (not a P-256 public key), SN_ERR_NOMEM. The per-update state
   (two SHA-256 contexts, the header, and for the HTTP route a multipart
   parser) is allocated when an update begins and freed when it ends, so an
   idle verifier holds its key only. */
SNDEF int sn_ota_create(sn_ota **out, const sn_ota_opts *opts);
/* Aborts an update under way (slot abort) and frees the verifier. */
SNDEF void sn_ota_destroy(sn_ota *o);

/* The verifier alone, for an image from any source (an HTTP client
   download, a UART): begin, write the image's bytes in pieces of any size,
   end. begin: SN_OK, SN_ERR_STATE while an update is under way, or
   SN_ERR_NOMEM. write: SN_OK, or the update is aborted with SN_ERR_IMAGE
   (a bad header, or bytes beyond the length it states), SN_ERR_TOO_BIG (the
   slot's open refused the size, or over capacity) or a slot hook's error.
   end: checks the length and the signature and finishes the slot: SN_OK
   (accepted), or aborted with SN_ERR_IMAGE (shorter than stated) or
   SN_ERR_SIGNATURE. abort: drops the update, with why for the log. After a
   refusal sn_ota_why says it in words ("bad signature", "image longer than
   its header states", ...). */
SNDEF int sn_ota_begin(sn_ota *o);
SNDEF int sn_ota_write(sn_ota *o, const void *data, size_t len);
SNDEF int sn_ota_end(sn_ota *o);
SNDEF void sn_ota_abort(sn_ota *o, int why);
/* The state (enum sn_ota_state); *img (if not NULL) gets the image
   accepted last (all zero if none has been since sn_ota_create). */
SNDEF int sn_ota_state(const sn_ota *o, sn_image_info *img);
SNDEF const char *sn_ota_why(const sn_ota *o); /* the last refusal, "" if none */

/* A route that takes updates over HTTP(S), streamed (sn_route_opts with
   on_body inside the verifier). The body is the image itself (PUT, curl
   -T, any Content-Type but multipart) or a multipart/form-data form whose
   field opts->field holds it (an HTML <input type=file>); other fields are
   ignored. Answers, as JSON:
     200 {"version":"1.2.0","bytes":1048704,"sha256":"<hex of the image>",
          "state":"accepted"}
     400 malformed body (multipart syntax, no image field, two of them),
     409 another update is under way, 413 larger than the slot,
     422 not a valid signed image (format, length, signature),
     500 a slot hook failed, 503 no memory for the update's state; each as
     {"error":"<why in words>","state":"..."}.
   An image that is refused before the end is answered at once and the rest
   of the body is not read (the connection then closes). A client that goes
   away, or the request timeout, aborts the slot. The route's max_body is
   the slot's capacity (plus 64 KiB for a form's other fields); its
   request timeout is the listener's (it runs from piece to piece). */
SNDEF int sn_router_add_ota(sn_router *r, const char *method, const char *pattern, sn_ota *o);

/* ---- logging in: users, sessions, CSRF defence, throttling (SN_ENABLE_AUTH) ----------
   Routes say who may use them (a guard); the library does the rest: it
   checks passwords against PBKDF2 verifiers, keeps sessions for browsers,
   takes HTTP Basic from scripts over TLS only, maps a verified client
   certificate to a user, refuses cross-site requests that change state,
   and slows down and locks out failed logins, in bounded memory.

   A user is a name, a role and a password verifier: PBKDF2-HMAC-SHA256 with
   a per-user random salt and the iteration count stored beside it (no
   password is ever stored). tools/sn-passwd NAME PASSWORD [ROLE] prints one
   user line, its --header mode a C initializer for firmware:
     NAME:ROLE:pbkdf2-sha256:ITERATIONS:SALT:HASH
   NAME 1-32 bytes (UTF-8, no ':', no control character, no space at either
   end), ROLE 1-16 of
   [A-Za-z0-9_.-], ITERATIONS decimal (1000 to 10000000), SALT 16 and HASH 32
   bytes in lowercase hex. A check compares in constant time, and a name no
   user has costs one check too (against a dummy verifier of the table's
   highest iteration count), so a name cannot be told from a wrong password
   by time.

   Each request to a guarded route is decided before its body is read (an
   upload is never received for nobody), in this order:
     1. SN_GUARD_OPEN: no decision. A plain-HTTP listener: 403 ("needs
        HTTPS"), never a request for credentials there.
     2. CSRF: a method other than GET, HEAD and OPTIONS with Sec-Fetch-Site
        other than "same-origin" or "none", or with an Origin other than the
        request's own (the listener's scheme, the Host it was sent to, with
        its port; "null" included): 403, whatever authenticates it (browsers
        replay cached Basic credentials and certificates as well as cookies).
     3. Who: a verified client certificate that opts->cert_user maps to a
        user; else the session cookie; else Authorization: Basic (RFC 7617,
        UTF-8). A cookie that names no live session on this listener counts
        as none; a malformed Authorization, or another scheme, as a failure.
     4. A session-authenticated request that changes state and carries
        neither Sec-Fetch-Site nor Origin: 403 (every browser that keeps the
        cookie sends one; a script using Basic, like curl, sends none and is
        let through).
     5. Nobody: SN_GUARD_API answers 401 with
        WWW-Authenticate: Basic realm="<realm>", charset="UTF-8" (a page's
        script, Sec-Fetch-Mode other than navigate, gets a "Form" challenge
        instead, so that the browser shows no credentials dialog and the
        page can go to its login); SN_GUARD_PAGE a 303 to opts->login_path. Someone whose role the
        guard's list does not hold: 403.
   Refusals come with a short text/plain reason (a 401 with JSON-free words,
   so a script's log says what happened).

   Sessions: sn_router_add_login adds POST <login_path> (a form post of
   fields "user" and "password", application/x-www-form-urlencoded, over
   TLS) and POST <logout_path>. A good login starts a new session (a new
   id every time: no fixation), drops the least recently used one when the
   table is full, and answers 303 to opts->after_login with
     Set-Cookie: __Host-sn=<32 hex digits: 128 bits from the DRBG>; Secure;
                 HttpOnly; SameSite=Strict; Path=/
   A failed one answers 401 with opts->login_page (or a short text), a
   locked-out address 429 with Retry-After. Logout ends the session on the
   server, clears the cookie and answers 303 to login_path. A session ends
   after idle_s without a request or lifetime_s after the login, whichever
   comes first, and belongs to the listener it was made on. The server
   trusts nothing of a session but its id: user, role and times are its own.

   Throttling: failed checks (form or Basic) are counted per client address
   (the port's peer address without its port) in a fixed table of
   SN_AUTH_CLIENTS. After n failures the address's next check waits
   delay_ms << (n - 1), up to delay_max_ms; the wait is a held request
   (a deferred reply, or a request held before its body), never a sleep
   of the manager. lockout_failures failures within lockout_window_s lock
   the address out for lockout_s: its logins are answered 429 at once,
   without a check. A global cap (checks_per_s, for every address together)
   bounds the CPU that checks can take; a login that would wait longer than
   SN_AUTH_MAX_WAIT_MS, or finds SN_AUTH_PENDING logins waiting already, is
   answered 429 (Retry-After) at once. A success clears its address. Each
   failure and each lock-out is logged at WARN with the address, never the
   password.

   Basic credentials that passed are remembered (SN_AUTH_BASIC_CACHE
   entries, a keyed SHA-256 of the header, idle_s long), so a script's next
   requests do not pay a PBKDF2 check each.

   Memory: the sn_auth struct holds the session table (SN_AUTH_SESSIONS),
   the address table, the Basic cache and the pending logins, allocated
   once by sn_auth_create (sn_auth_size() says how much); the user table
   is the application's, borrowed. Nothing is allocated per request. */
#ifndef SN_AUTH_SESSIONS
#define SN_AUTH_SESSIONS 8 /* sessions at once (least recently used dropped beyond) */
#endif
#ifndef SN_AUTH_CLIENTS
#define SN_AUTH_CLIENTS 16 /* client addresses whose failures are counted */
#endif
#ifndef SN_AUTH_PENDING
#define SN_AUTH_PENDING 4 /* logins waiting for their check at once (429 beyond) */
#endif
#ifndef SN_AUTH_BASIC_CACHE
#define SN_AUTH_BASIC_CACHE 4 /* Basic credentials remembered after a good check */
#endif
#ifndef SN_AUTH_ITERATIONS
#define SN_AUTH_ITERATIONS 6000 /* sn-passwd's default PBKDF2 iterations: about one TLS handshake's
                                   arithmetic on a Cortex-M4 (README "Logging in") */
#endif
#ifndef SN_AUTH_MAX_WAIT_MS
#define SN_AUTH_MAX_WAIT_MS 8000 /* longest a login is held for its turn (429 beyond) */
#endif
#define SN_USER_NAME_MAX 32
#define SN_USER_ROLE_MAX 16
#define SN_AUTH_PASSWORD_MAX 128 /* longer passwords fail (they are refused by sn-passwd) */

typedef struct sn_user {
  char name[SN_USER_NAME_MAX + 1]; /* NUL-terminated */
  char role[SN_USER_ROLE_MAX + 1];
  uint32_t iterations;        /* PBKDF2-HMAC-SHA256; 0: no password (a certificate's user) */
  unsigned char salt[16];
  unsigned char hash[32];
} sn_user;

/* Parses one sn-passwd line (len bytes; a trailing CR or LF is allowed)
   into *u. SN_OK, or SN_ERR_INVALID for anything but the exact format. */
SNDEF int sn_user_parse(sn_user *u, const char *line, size_t len);
/* Checks a password against u's verifier (constant time in the password's
   bytes and the verifier; about iterations HMACs). 1: it matches, 0: not
   (u NULL, iterations 0, a password over SN_AUTH_PASSWORD_MAX included).
   A PBKDF2 check blocks for its duration, as a TLS handshake's arithmetic
   does: README "Logging in" gives its cost per board. */
SNDEF int sn_user_check(const sn_user *u, const char *password, size_t len);
/* PBKDF2-HMAC-SHA256 (RFC 8018), for tools and tests: out_len bytes. */
SNDEF int sn_pbkdf2_sha256(const void *pw, size_t pw_len, const unsigned char *salt, size_t salt_len,
                           uint32_t iterations, unsigned char *out, size_t out_len);

typedef struct sn_auth sn_auth; /* opaque: users, sessions, throttle */

typedef struct sn_auth_opts {
  const sn_user *users;     /* borrowed for the sn_auth's life */
  size_t user_count;
  const char *realm;        /* WWW-Authenticate realm; NULL: "securenet" */
  const char *login_path;   /* the login form's POST route and SN_GUARD_PAGE's redirect; NULL: "/login" */
  const char *logout_path;  /* NULL: "/logout" */
  const char *after_login;  /* where a good login goes (303); NULL: "/" */
  const sn_static_file *login_page; /* the page sent with a failed login's 401; NULL: text */
  uint32_t idle_s;          /* a session ends this long after its last request; 0: 900 */
  uint32_t lifetime_s;      /* and this long after its login at the latest; 0: 28800 */
  uint32_t delay_ms;        /* wait after the first failure, doubling per failure; 0: 250 */
  uint32_t delay_max_ms;    /* 0: 4000 */
  int lockout_failures;     /* failures in the window that lock an address out; 0: 8 */
  uint32_t lockout_window_s;/* 0: 900 */
  uint32_t lockout_s;       /* 0: 900 */
  uint32_t checks_per_s;    /* password checks per second, every address together; 0: 8 */
  /* Mutual TLS: the user a verified client certificate stands for (its
     subject as sn_conn_peer_subject gives it), or NULL for none. The user
     is the application's and must outlive the sn_auth. NULL: certificates
     authenticate nobody. */
  const sn_user *(*cert_user)(void *arg, const char *subject);
  void *cert_arg;
} sn_auth_opts;

/* Creates the users' guard-keeper on mgr: checks the user table (SN_ERR_INVALID
   for an empty name, a name twice, a role that is not one), allocates the
   tables and draws its keys from the manager's DRBG. Allocates. */
SNDEF int sn_auth_create(sn_auth **out, sn_mgr *mgr, const sn_auth_opts *opts);
/* Ends every session, answers the logins it holds 503 and frees it. Call it
   before sn_mgr_destroy, after the routes that use it are no longer served
   (or with the manager's last sn_poll done). a may be NULL. */
SNDEF void sn_auth_destroy(sn_auth *a);
SNDEF size_t sn_auth_size(void);
/* Sessions alive now (for the application's status page and tests). */
SNDEF int sn_auth_sessions(const sn_auth *a);
/* Ends every session of the user named (after a password change): the
   count ended. */
SNDEF int sn_auth_logout_user(sn_auth *a, const char *name);

/* What a guarded route asks of a request. */
enum sn_guard_mode {
  SN_GUARD_API = 0,  /* unauthenticated: 401 with WWW-Authenticate: Basic */
  SN_GUARD_PAGE = 1, /* unauthenticated: 303 to the login page */
  SN_GUARD_OPEN = 2  /* no authentication (to open one route under a guarded router) */
};
typedef struct sn_guard {
  sn_auth *auth;     /* required unless SN_GUARD_OPEN */
  const char *roles; /* comma-separated roles allowed ("admin,operator"); NULL or "": any user */
  int mode;          /* enum sn_guard_mode */
} sn_guard;

/* The guard of every route of r that has none of its own, whenever it was
   added (g borrowed; NULL: those routes are open, as without auth). A
   router's automatic answers (404, 405, OPTIONS) are not guarded. */
SNDEF void sn_router_guard(sn_router *r, const sn_guard *g);
/* The guard of the route added with exactly this method and pattern (each
   one, if added twice). SN_ERR_NOT_FOUND if none is. */
SNDEF int sn_route_guard(sn_router *r, const char *method, const char *pattern, const sn_guard *g);
/* Adds POST login_path and POST logout_path (see above) for a. */
SNDEF int sn_router_add_login(sn_router *r, sn_auth *a);

/* How the current request's user was authenticated. */
enum sn_auth_how { SN_AUTH_NONE = 0, SN_AUTH_SESSION = 1, SN_AUTH_BASIC = 2, SN_AUTH_CERT = 3 };
/* The user of the current request (from on_head, on_body, the handler, or
   a deferred reply's callback through sn_req_conn), or NULL on an open
   route; *how (if not NULL) gets enum sn_auth_how. */
SNDEF const sn_user *sn_http_user(const sn_conn *c, int *how);

/* Looks `name` up in an application/x-www-form-urlencoded body (a form
   post), as sn_http_query does in the query. */
SNDEF int sn_http_form(const sn_request *req, const char *name, char *out, size_t out_len);

/* ---- outgoing TLS ------------------------------------------------------------------
   One TLS client path serves every outgoing connection (the mail sender and
   client connections): the server's chain is verified against the given
   roots, its validity dates against the port's wall clock and its name
   against tls_name (also sent as SNI). A name that is an IP literal
   (IPv4, IPv6) is not sent as SNI (RFC 6066 3) and matches an iPAddress
   subjectAltName only, never a DNS name or the CN, with mbedTLS 2.28 and
   3.x alike. Turning verification off takes the
   compile-time SN_TLS_VERIFY_NONE (SN_SMTP_VERIFY_NONE is an alias), and
   logs a warning at every connection. */
typedef struct sn_tls_client_opts {
  const void *ca;        /* trusted roots: PEM (several concatenated) or one DER */
  size_t ca_len;
  const char *ca_file;   /* or a PEM/DER file (not with SN_NO_FILES) */
  const char *tls_name;  /* name verified in the certificate and sent as SNI; NULL: the host
                            (an IP literal: no SNI, an iPAddress SAN must match) */
  const void *cert;      /* client identity for servers that want one (mutual TLS): */
  size_t cert_len;       /*   its certificate chain, PEM or DER ... */
  const char *cert_file;
  const void *key;       /*   ... and its private key, PEM or DER */
  size_t key_len;
  const char *key_file;
  const char *key_password;
  const unsigned char *pin_sha256; /* 32 bytes: SHA-256 of the server's SubjectPublicKeyInfo.
                                      With roots, both must hold; without, the pin stands in
                                      for them (dates and name are still checked). */
} sn_tls_client_opts;

/* ---- client connections ------------------------------------------------------------
   An outgoing byte stream, TLS or plain TCP, driven by sn_poll like the
   server's connections: sn_connect resolves the name through the port,
   connects, runs the TLS handshake (verified as above), then calls on_connect;
   data arrives through on_data; sn_client_send queues within a bound. Every
   client ends with exactly one on_close, after which it is freed. */
typedef struct sn_client sn_client;

typedef struct sn_client_callbacks {
  /* connected and, with TLS, the server verified; sending may start */
  void (*on_connect)(sn_client *c, void *user);
  /* bytes received; data is borrowed for the call */
  void (*on_data)(sn_client *c, const void *data, size_t len, void *user);
  /* everything queued has been handed to the port: room for more */
  void (*on_sent)(sn_client *c, void *user);
  /* the end, once: err SN_OK for an orderly end (the server's close_notify
     with TLS, its FIN on plain TCP, or sn_client_close), else why it ended,
     with why in words (a verification failure names its reason; a TLS
     stream cut without close_notify is SN_ERR_CLOSED, a possible
     truncation). c is freed when on_close returns. */
  void (*on_close)(sn_client *c, int err, const char *why, void *user);
  void *user;
} sn_client_callbacks;

typedef struct sn_client_opts {
  const sn_tls_client_opts *tls; /* NULL: plain TCP. Borrowed until on_close. */
  uint32_t connect_timeout_ms;   /* name, TCP and TLS handshake; 0: 30 s */
  uint32_t idle_timeout_ms;      /* nothing sent or received for this long ends it; 0: never */
  uint32_t total_timeout_ms;     /* the whole connection, from sn_connect; 0: no limit */
  size_t max_queued;             /* bytes sn_client_send may hold unsent; 0: 16 KiB */
} sn_client_opts;

/* Starts a connection to host (a name or a numeric address) and port. host
   is copied (at most 253 characters); opts and cb are copied, opts->tls is
   borrowed. SN_ERR_FULL when SN_MAX_CLIENTS are open (connections the HTTP
   client keeps alive count too), SN_ERR_INVALID for bad
   arguments or TLS options that cannot verify (no roots and no pin); every
   later failure (name, connect, TLS, verification, timeout) comes through
   on_close. *out (may be NULL) is valid until on_close returns. Allocates. */
SNDEF int sn_connect(sn_mgr *mgr, const char *host, uint16_t port, const sn_client_opts *opts,
                     const sn_client_callbacks *cb, sn_client **out);
/* Queues len bytes, all or none: SN_OK, SN_ERR_FULL when they do not fit in
   max_queued (wait for on_sent), SN_ERR_CLOSED after sn_client_close or
   once the connection is ending. May be called before on_connect. */
SNDEF int sn_client_send(sn_client *c, const void *data, size_t len);
/* Ends the connection after what is queued has gone (with close_notify on
   TLS); on_close(SN_OK) follows from sn_poll. */
SNDEF void sn_client_close(sn_client *c);
/* "TLSv1.3" and the suite's name; "" before the handshake or on plain TCP. */
SNDEF const char *sn_client_tls_version(const sn_client *c);
SNDEF const char *sn_client_tls_suite(const sn_client *c);
/* Bytes queued and not yet handed to the port. */
SNDEF size_t sn_client_queued(const sn_client *c);

/* ---- HTTP client ---------------------------------------------------------------------
   One HTTP/1.1 request, verified TLS for https://. After a complete response
   the connection is kept (at most SN_HTTP_IDLE, for 30 s) for the next
   request to the same server with the same TLS options; a kept connection
   the server closed meanwhile is replaced once. The response reaches the
   caller as it arrives: on_head with the status and headers, on_body in
   pieces, on_done once. A
   body cut short (before its Content-Length, its last chunk, or, when it ends
   with the connection, before TLS's close_notify) ends with SN_ERR_CLOSED,
   never as a success. Transfer codings: only chunked is decoded; a response
   with any other (gzip, in any number of Transfer-Encoding fields) ends with
   SN_ERR_PROTO rather than handing over a body still coded; one with both
   Transfer-Encoding and Content-Length is read as chunked and its
   connection is not kept. A bare CR or LF in a response head is
   SN_ERR_PROTO.
   Redirects (max_redirects > 0; 301, 302, 303, 307, 308 with a Location),
   as RFC 9110 15.4 and curl: a 303 turns any method but HEAD into a GET
   without the body, a 301 or 302 turns a POST into one; 307 and 308 keep the
   method and the body. A body from body_source cannot be sent twice: a
   redirect that needs it again ends with SN_ERR_UNSUPPORTED. The Content-*
   lines of headers go with a body that is dropped. On a redirect to another
   origin (scheme, host, case-insensitive, or port, default ports counted,
   differ from those of url) the Authorization, Cookie and
   Proxy-Authorization lines of headers are left out unless
   redirect_keep_credentials (a redirect back to url's origin sends them
   again, as curl does); and a redirect to another https origin is
   refused (SN_ERR_VERIFY) when tls carries a pin_sha256, a client
   certificate or a tls_name: those are for the first server only. An
   https URL never leads to http (SN_ERR_VERIFY). */
typedef struct sn_http_response {
  int status;      /* e.g. 200 */
  sn_str reason;   /* "OK" */
  int version;     /* 10 or 11 */
  sn_header headers[SN_MAX_HEADERS];
  int header_count;
  int64_t content_length; /* -1 when not given */
} sn_http_response;

typedef struct sn_http_request_opts {
  const char *method;    /* NULL: GET, or POST when there is a body */
  const char *url;       /* http:// or https://, host (name, IPv4, [IPv6]), port, path, query */
  const char *headers;   /* extra header lines, each ending in CRLF; NULL: none */
  const void *body;      /* a body from memory ... */
  size_t body_len;
  /* ... or produced piece by piece (sent chunked): fill buf with up to len
     bytes, return the count, 0 at the end, or a negative sn_err to abort */
  int (*body_source)(void *arg, void *buf, size_t len);
  void *body_source_arg;
  const sn_tls_client_opts *tls; /* for https: required (roots or a pin) */
  uint32_t timeout_ms;   /* the whole exchange; 0: 60 s */
  size_t max_header_bytes; /* response head; 0: 16 KiB (SN_ERR_TOO_BIG beyond) */
  uint64_t max_body;     /* response body; 0: no limit (SN_ERR_TOO_BIG beyond) */
  int max_redirects;     /* 0: a 3xx goes to the caller; else followed at most this often,
                            never from https to http (see "Redirects" above) */
  int redirect_keep_credentials; /* 1: Authorization, Cookie and Proxy-Authorization in headers
                            go to other origins too (curl's --location-trusted); 0: dropped */
  /* status and headers (borrowed for the call); called again after a redirect is not */
  void (*on_head)(void *user, const sn_http_response *r);
  void (*on_body)(void *user, const void *data, size_t len); /* decoded body bytes */
  /* once, last: SN_OK when the whole response arrived (whatever its status),
     else the error with why in words */
  void (*on_done)(void *user, int err, const char *why);
  void *user;
} sn_http_request_opts;

/* Starts the request; everything after comes through the callbacks from
   sn_poll. SN_ERR_INVALID for a bad URL or options, SN_ERR_FULL when
   SN_MAX_CLIENTS connections are open. o is copied; o->url, o->headers,
   o->body and o->tls are borrowed until on_done. Allocates. */
SNDEF int sn_http_request(sn_mgr *mgr, const sn_http_request_opts *o);

/* ---- WebSocket (RFC 6455), server and client (SN_ENABLE_WEBSOCKET) -----------------
   A WebSocket is the HTTP connection's stream after an upgrade (server), or
   an sn_connect stream after its handshake (client): the same socket, TLS
   context and buffers, now carrying frames. Both sides have one message API.

   Server: a route's handler calls sn_ws_upgrade. It checks the request as
   RFC 6455 4.2.1 asks (GET, HTTP/1.1, Upgrade: websocket, Connection:
   upgrade, Sec-WebSocket-Version: 13, a Sec-WebSocket-Key of 16 bytes in
   base64, no body) and answers a bad one itself (400, or 426 with
   Sec-WebSocket-Version: 13 for another version); a good one gets 101 with
   Sec-WebSocket-Accept. A guard (sn_router_guard) runs before the handler,
   as for any route: log in first, then upgrade.
   Client (needs SN_ENABLE_CLIENT too): sn_ws_connect("wss://host[:port]/path?query") on sn_connect's
   verified TLS (the same sn_tls_client_opts), then the request with a key
   from the DRBG; the answer must be 101 with the right Sec-WebSocket-Accept,
   Upgrade and Connection, no extension and, if one came, a subprotocol the
   client offered; anything else ends it (on_close with SN_ERR_PROTO and
   the reason in words).

   Frames, as RFC 6455 5 says and no looser: a client's frames are masked
   and a server's never (either wrong: close 1002); reserved bits and
   unknown opcodes close 1002 (no extension is negotiated); a control frame
   (close, ping, pong) has at most 125 bytes and is never fragmented (else
   1002); a continuation without a message, or a new message inside one, is
   1002; a 64-bit length with its top bit set is 1002. A text message is
   checked as UTF-8 as its bytes arrive, across fragments (1007 at the first
   bad byte, or at the end of a message cut inside a character). A message
   longer than max_message is refused at the frame header that would exceed
   it (1009), before its bytes are held. A ping is answered with a pong by
   securenet (the application sees neither). A close frame's code must be
   one RFC 6455 7.4 allows (1000-1003, 1007-1014, 3000-4999; else 1002) and
   its reason UTF-8 (else 1007); it is answered with the same code, then
   the server closes the TCP connection (TLS close_notify first). A peer
   that sends nothing for idle_timeout_ms is closed with 1001; with pings
   on, it is pinged first (a pong, or any frame, counts).

   Sending: sn_ws_send queues one whole message as one frame, all or
   nothing: SN_ERR_FULL when it would take the bytes queued beyond
   max_queued (nothing is buffered without bound; on_writable says when the
   queue has drained). Any callback on the manager's thread may send: a
   timer, a wakeup, a client's callback, another socket's message.

   The life of an sn_ws:
     OPEN     after sn_ws_upgrade (server; on_open follows when the
              handler has returned) or the client's checked 101 (on_open).
              Messages flow both ways.
     CLOSING  a close frame was sent (sn_ws_close, a protocol error, the
              idle timeout, sn_mgr_destroy: 1001), waiting up to
              close_timeout_ms for the peer's; messages that still arrive
              (the peer sent them before it saw our close) are delivered;
              sends are SN_ERR_STATE.
     ENDED    on_close(err, code, why) once: err SN_OK when the close
              handshake completed (code: the one both sides sent; the
              first close frame's), else why
              it did not: SN_ERR_CLOSED (the connection ended without a
              close frame: code 1006), SN_ERR_PROTO (the peer broke the
              protocol: code is the one sent: 1002, 1007, 1009), SN_ERR_TIMEOUT,
              SN_ERR_TLS (why names a TLS 1.3 KeyUpdate, see LIMITS),
              SN_ERR_VERIFY, SN_ERR_IO, SN_ERR_NOMEM, SN_ERR_DESTROYED. The
              sn_ws is gone when on_close returns (its connection closes):
              the application forgets its pointer there. During on_close
              sends are SN_ERR_STATE.

   Memory: an open sn_ws costs what an idle keep-alive connection costs:
   its state (sn_ws_size()) lives in its connection's request memory, the
   request being over (a server's, from sn_ws_upgrade until its handler
   has returned, is one allocation of that size; a client's always is); a
   reassembled message is held in the receive buffer, which grows as its
   bytes arrive up to max_message plus one frame header; a streaming socket
   holds SN_WS_PIECE. Buffers idle for SN_IDLE_RELEASE_MS are given back, as
   an idle keep-alive connection's are. Messages back and forth within the
   buffers' sizes allocate nothing. */
typedef struct sn_ws sn_ws; /* opaque: one WebSocket, either side */

enum sn_ws_type { SN_WS_TEXT = 1, SN_WS_BINARY = 2 };
/* Close codes (RFC 6455 7.4.1) securenet sends or names. */
enum sn_ws_code {
  SN_WS_NORMAL = 1000,       /* done */
  SN_WS_GOING_AWAY = 1001,   /* the server shuts down (sn_mgr_destroy), or an idle timeout */
  SN_WS_PROTOCOL = 1002,     /* a frame RFC 6455 forbids */
  SN_WS_UNSUPPORTED = 1003,  /* a message type the application does not take */
  SN_WS_NO_CLOSE = 1006,     /* never sent: the connection ended without a close frame */
  SN_WS_INVALID_DATA = 1007, /* text that is not UTF-8 */
  SN_WS_POLICY = 1008,       /* the application's refusal */
  SN_WS_TOO_BIG = 1009,      /* a message over max_message */
  SN_WS_INTERNAL = 1011      /* the server cannot go on (out of memory) */
};

typedef struct sn_ws_callbacks {
  /* The socket is open: sending may start (a server may also send from the
     handler, right after sn_ws_upgrade). */
  void (*on_open)(sn_ws *ws, void *user);
  /* A message (type SN_WS_TEXT, UTF-8 checked, or SN_WS_BINARY), data
     borrowed for the call. Whole, final 1; with opts.streaming, in pieces
     as its frames arrive, final 1 on the last one (which may be empty). */
  void (*on_message)(sn_ws *ws, int type, const void *data, size_t len, int final, void *user);
  /* Everything queued has been handed to the port: room for max_queued again. */
  void (*on_writable)(sn_ws *ws, void *user);
  /* The end, exactly once (see above). ws is freed when it returns. */
  void (*on_close)(sn_ws *ws, int err, int code, const char *why, void *user);
  void *user;
} sn_ws_callbacks;

#ifndef SN_WS_PIECE
#define SN_WS_PIECE 2048 /* receive buffer of a streaming socket: its pieces (bytes) */
#endif
#define SN_WS_NO_PING 0xFFFFFFFFu

typedef struct sn_ws_opts {
  size_t max_message;         /* longest message taken; 0: 65536. Over it: close 1009.
                                 Reassembled messages are held whole: this is RAM */
  int streaming;              /* 1: on_message gets pieces as they arrive (the limit stays) */
  size_t max_queued;          /* bytes sn_ws_send may hold unsent (frame headers
                                 included); 0: 65536. Beyond: SN_ERR_FULL */
  uint32_t idle_timeout_ms;   /* nothing received for this long: close 1001; 0: 60000 */
  uint32_t ping_ms;           /* a ping after this long without receiving; 0: half the
                                 idle timeout; SN_WS_NO_PING: none */
  uint32_t close_timeout_ms;  /* the wait for the peer's close frame; 0: 5000 */
  const char *protocol;       /* server: the subprotocol chosen, one the request offers
                                 (sn_ws_offers), copied; NULL: none */
} sn_ws_opts;

/* In a GET handler: turns the request into a WebSocket. SN_OK with *out
   set (valid until on_close returns): the 101 is queued, and sn_ws_send
   may be called at once. A request that is no valid WebSocket opening is
   answered here (400, or 426) and SN_ERR_PROTO returned; a protocol not
   among those offered, or o or cb NULL, is SN_ERR_INVALID with no reply
   (the handler answers); SN_ERR_STATE when the request was answered
   already; SN_ERR_NOMEM (answered 503). After it the request is over (its
   sn_http_attach state ends with SN_OK); the connection's sn_conn_attach
   state stays until the socket ends. o and cb are copied. Allocates. */
SNDEF int sn_ws_upgrade(sn_conn *c, const sn_request *req, const sn_ws_opts *o, const sn_ws_callbacks *cb,
                        sn_ws **out);
/* 1 if the request offers the subprotocol (Sec-WebSocket-Protocol, names
   compared exactly, RFC 6455 4.1), else 0. */
SNDEF int sn_ws_offers(const sn_request *req, const char *protocol);

typedef struct sn_ws_client_opts {
  const sn_tls_client_opts *tls; /* required for wss:// (verified as sn_connect); NULL with ws:// */
  const char *protocols;         /* offered, comma-separated; NULL: none */
  const char *headers;           /* extra request lines, each ending in CRLF (Authorization) */
  uint32_t connect_timeout_ms;   /* name, TCP, TLS and the 101; 0: 30 s */
  sn_ws_opts ws;                 /* the socket's own options (ws.protocol unused) */
} sn_ws_client_opts;

/* Opens a WebSocket to url ("wss://host[:port]/path?query", or "ws://..."
   without TLS). SN_OK with *out (may be NULL) valid until on_close returns;
   SN_ERR_INVALID for a bad URL (user info, a fragment, no host), wss://
   without o->tls or ws:// with it, header lines that are not CRLF-ended;
   SN_ERR_FULL as sn_connect. Everything later comes through the callbacks:
   on_open, or on_close with why. o and cb are copied; o->tls and o->headers
   are borrowed until on_close. A TLS session is kept and resumed for the
   next connection with the same o->tls, host and port (sn_connect's
   cache): to reconnect, call it again from on_close. Allocates. */
SNDEF int sn_ws_connect(sn_mgr *mgr, const char *url, const sn_ws_client_opts *o, const sn_ws_callbacks *cb,
                        sn_ws **out);

/* Queues a message of type SN_WS_TEXT (must be UTF-8: SN_ERR_INVALID
   otherwise) or SN_WS_BINARY, as one frame (masked by a client with a key
   from the DRBG). All or nothing: SN_ERR_FULL beyond max_queued (nothing
   queued; wait for on_writable), SN_ERR_STATE once closing, SN_ERR_NOMEM. */
SNDEF int sn_ws_send(sn_ws *ws, int type, const void *data, size_t len);
/* A text message from a format (at most 1024 bytes formatted). */
SNDEF int sn_ws_printf(sn_ws *ws, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Begins the close handshake with code (1000-1003, 1007-1014, 3000-4999:
   else SN_ERR_INVALID) and a reason (UTF-8, at most 123 bytes, may be
   NULL). What was queued goes first. SN_ERR_STATE when closing already. */
SNDEF int sn_ws_close(sn_ws *ws, int code, const char *reason);
/* Stops (and resumes) delivering messages: the socket is not read, so a
   sender the application cannot keep up with is pushed back by TCP. Pings
   and the idle timeout wait too. */
SNDEF void sn_ws_pause(sn_ws *ws);
SNDEF void sn_ws_resume(sn_ws *ws);
SNDEF size_t sn_ws_queued(const sn_ws *ws); /* bytes queued, not yet handed to the port */
SNDEF sn_mgr *sn_ws_mgr(const sn_ws *ws);
SNDEF void sn_ws_set_user(sn_ws *ws, void *user); /* the user argument of later callbacks */
SNDEF const char *sn_ws_protocol(const sn_ws *ws); /* the subprotocol agreed, "" if none */
SNDEF size_t sn_ws_size(void);                    /* bytes of one sn_ws's state */

/* ---- server-sent events (SN_ENABLE_SSE) ---------------------------------------------
   An event stream (text/event-stream, the HTML standard's EventSource) is a
   response that does not end: a handler begins it, and events go out from
   any callback on the manager's thread through a handle (sn_http_ref,
   sn_req_conn). Last-Event-ID from a reconnecting browser is the request's
   header (sn_http_header(req, "last-event-id")). While nothing is sent for
   keepalive_ms a comment line goes out, so proxies and the idle timeout
   see a live stream. The same backpressure rule as WebSocket: an event
   that would take the queue beyond the listener's max_reply is refused
   whole with SN_ERR_FULL; sn_http_on_writable says when the queue has
   drained (take it off again once written). The stream ends when the
   client goes (the request's on_abort or attached state: SN_ERR_CLOSED) or
   with sn_sse_end. */
/* In a GET handler: 200 with text/event-stream, no caching, and headers
   (NULL or CRLF-ended lines). keepalive_ms 0: 15000. */
SNDEF int sn_sse_begin(sn_conn *c, const char *headers, uint32_t keepalive_ms);
/* One event: "event:" if event is not NULL, "id:" if id is not NULL (the
   browser's Last-Event-ID), then data split at each CR, LF or CRLF into
   "data:" lines. event and id must hold no CR, LF (nor NUL in id):
   SN_ERR_INVALID. SN_ERR_FULL, SN_ERR_STATE when no stream is open. */
SNDEF int sn_sse_send(sn_conn *c, const char *event, const char *id, const void *data, size_t len);
/* The browser's reconnection delay ("retry:"). */
SNDEF int sn_sse_retry(sn_conn *c, uint32_t ms);
/* Ends the stream (the browser reconnects unless told otherwise by the page). */
SNDEF int sn_sse_end(sn_conn *c);

/* ---- mail sender (SMTP client) --------------------------------------------------
   Sends mail through a submission server: implicit TLS (465) or STARTTLS
   (587), the server verified against the given CAs and its name, AUTH PLAIN,
   LOGIN or XOAUTH2 once TLS is up. sn_mail_send() queues a job and returns;
   the job runs from sn_poll() and ends with one call of `done`. Jobs that
   name the same sn_smtp_server (pointer) share one session, with RSET between
   mails. Everything passed in is borrowed until `done` is called. */
enum sn_smtp_mode {
  SN_SMTP_STARTTLS = 0,      /* default: plain connect, STARTTLS required */
  SN_SMTP_TLS = 1,           /* implicit TLS from the first byte (port 465) */
  SN_SMTP_PLAIN_INSECURE = 2 /* no TLS at all, no AUTH: only for a local test relay */
};
enum sn_smtp_auth { SN_AUTH_PLAIN = 1, SN_AUTH_LOGIN = 2, SN_AUTH_XOAUTH2 = 4 };

typedef struct sn_smtp_server {
  const char *host;     /* required: name or address to connect to */
  uint16_t port;        /* 0: 587 (STARTTLS), 465 (TLS), 25 (plain) */
  int mode;             /* enum sn_smtp_mode */
  const char *tls_name; /* name verified in the certificate and sent as SNI; NULL: host */
  const void *ca;       /* trusted roots: PEM (several concatenated) or one DER */
  size_t ca_len;
  const char *ca_file;  /* or a PEM/DER file (not with SN_NO_FILES) */
  const char *user;     /* AUTH user; NULL: no AUTH */
  const char *password; /* for PLAIN and LOGIN */
  const char *oauth_token; /* bearer token for XOAUTH2 */
  unsigned auth_methods;   /* allowed SN_AUTH_* ; 0: every method the credentials allow */
  const char *ehlo_name;   /* 0: "securenet.invalid" */
  uint32_t timeout_ms;     /* per stage; 0: RFC 5321 4.5.3.2 (5 min, DATA end 10 min) */
} sn_smtp_server;

typedef struct sn_mail_addr {
  const char *name; /* display name, UTF-8, or NULL */
  const char *addr; /* "user@example.com" */
} sn_mail_addr;

/* A body or attachment produced piece by piece: fill buf with up to len
   bytes; return the count, 0 at the end, or a negative sn_err to abort. */
typedef int (*sn_mail_source_fn)(void *arg, void *buf, size_t len);

typedef struct sn_mail_attachment {
  const char *filename;     /* shown to the recipient (UTF-8) */
  const char *content_type; /* NULL: application/octet-stream */
  const void *data;         /* in memory, or NULL and a source */
  size_t len;
  sn_mail_source_fn source;
  void *source_arg;
} sn_mail_attachment;

typedef struct sn_mail {
  sn_mail_addr from;
  const sn_mail_addr *to, *cc, *bcc; /* arrays; Bcc never appears in the message */
  int to_count, cc_count, bcc_count;
  const char *subject;           /* UTF-8 */
  const char *text;              /* UTF-8 body, any line ends; or text_source */
  size_t text_len;               /* 0 with text set: strlen(text) */
  sn_mail_source_fn text_source;
  void *text_source_arg;
  const char *html;              /* optional HTML alternative (NUL-terminated) */
  const sn_mail_attachment *attachments;
  int attachment_count;
} sn_mail;

#define SN_MAIL_MAX_RCPT 32 /* To + Cc + Bcc of one mail */

typedef struct sn_mail_result {
  int err;             /* SN_OK: the server accepted the mail for every recipient.
                          SN_ERR_REFUSED at "RCPT TO" with refused_count > 0: accepted
                          for the others (refused[] says who was refused); any later
                          failure replaces this. SN_ERR_UNCONFIRMED: the connection
                          ended (or the server went silent) after the whole message
                          was sent and before the server's answer; the mail may or
                          may not have been taken, so a retry may deliver it twice.
                          Anything else: the mail was not sent. sn_mgr_destroy() ends
                          the mail in session at its stage (SN_ERR_UNCONFIRMED after
                          its final dot went out, else SN_ERR_CLOSED) and the queued
                          ones with SN_ERR_CLOSED at "queued", reply_code 0 and the
                          reply saying so. */
  const char *stage;   /* where it ended: "queued" (never started), "connect", "TLS",
                          "greeting", "EHLO", "HELO", "STARTTLS", "AUTH", "MAIL FROM",
                          "RCPT TO", "DATA", "message", "RSET", "QUIT" */
  int reply_code;      /* the server's reply that ended it (e.g. 550); 0 when no reply
                          did (a broken connection, a timeout, a TLS failure) */
  char reply[160];     /* that reply's text (first line), or the failure in words (TLS,
                          verification, connect, timeout), or ""; NUL-terminated */
  int tls_error;       /* mbedTLS code when err is SN_ERR_TLS / SN_ERR_VERIFY */
  uint32_t verify_flags; /* mbedTLS certificate verification flags */
  int refused_count;   /* recipients the server refused */
  unsigned char refused[SN_MAIL_MAX_RCPT]; /* 1 per refused recipient, in To, Cc, Bcc order */
} sn_mail_result;

typedef void (*sn_mail_done_fn)(void *user, const sn_mail *mail, const sn_mail_result *result);

/* Queues a mail. Checks it first: SN_ERR_INVALID for a missing sender or
   recipient, more than SN_MAIL_MAX_RCPT recipients, a CR or LF in a display
   name, subject or file name (header injection), an address with white
   space, control or 8-bit characters (no SMTPUTF8), or a content type that
   is not printable ASCII, before anything is sent. SN_ERR_FULL when SN_MAX_MAIL_JOBS are queued. On SN_OK, `done` is
   called exactly once, from sn_poll() (or sn_mgr_destroy()). */
SNDEF int sn_mail_send(sn_mgr *mgr, const sn_smtp_server *srv, const sn_mail *mail, sn_mail_done_fn done,
                       void *user);
/* Blocking wrapper for POSIX or RTOS threads that own the manager: queues
   the mail and runs sn_poll() until it is done. Returns result->err. */
SNDEF int sn_mail_send_blocking(sn_mgr *mgr, const sn_smtp_server *srv, const sn_mail *mail,
                                sn_mail_result *result);

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
       under way (securenet calls again with the same arguments at each
       round; the port calls wake when the answer is there), or
       SN_ERR_ADDR / SN_ERR_IO. It must never wait for a name server: a
       resolver that blocks runs on a thread of the port's (the POSIX port),
       or the stack's resolver is asynchronous (lwIP's dns_gethostbyname).
       (Used by clients; a server-only port may return SN_ERR_UNSUPPORTED.)
   send(ctx, s, buf, len)  Queues up to len (> 0) bytes: returns how many
       were taken (> 0, may be fewer than len), SN_WANT_WRITE when none can
       be now, or SN_ERR_CLOSED / SN_ERR_IO. buf is only borrowed for the call.
   recv(ctx, s, buf, len)  Reads up to len bytes into buf: returns the count
       (> 0), 0 for an orderly end of stream, SN_WANT_READ when nothing is
       there now, or SN_ERR_CLOSED / SN_ERR_IO.
   close(ctx, s)   Closes the socket and frees its resources; never fails,
       never blocks. s is not used again.
   shutdown(ctx, s)  Optional (may be NULL). Ends the sending direction (a
       TCP FIN) while receiving goes on. securenet calls it after a
       connection's last response, then reads and drops what the peer still
       sends until it closes (at most 2 s), so the response is never lost
       to a TCP reset for unread input. Without it the peer sees the end of
       the stream only when securenet closes the socket.
   wait(ctx, items, n, timeout_ms)  Blocks until one of the n items is ready
       (for each, set item.ready to a subset of item.want, plus SN_ERROR on a
       socket error or hang-up; readiness is a level, like poll()'s: readable
       while unread bytes or the end of the stream wait), or timeout_ms passes (0: just look,
       negative: no limit). Returns the number of ready items (>= 0) or a
       negative error. A single-threaded bare-metal port returns at once
       with what its callbacks recorded (it may ignore timeout_ms);
       reporting an item ready when it is not is harmless, missing one that
       is ready stalls that connection until the next timer.
   entropy(ctx, buf, len)  Fills buf with len bytes from a real entropy
       source (a TRNG, getrandom()); returns 0 on success, non-zero on
       failure. Same shape as an mbedTLS f_entropy. Never a clock or a counter.
   now_ms(ctx)     Monotonic milliseconds (wrapping is not allowed: 64 bits).
   wake(ctx)       Optional. Safe from any thread (and an interrupt): makes a
       wait in progress, or the next one, return at once (POSIX: a write to
       an eventfd or a self-pipe that wait also polls; RTOS: signal the
       semaphore wait sleeps on; bare metal: nothing, wait never sleeps).
   lock(ctx), unlock(ctx)  Optional. A short critical section around the
       wakeup queue, safe from any thread (and an interrupt) that calls
       sn_mgr_wakeup: a mutex, or interrupts disabled on bare metal (one
       lock at a time, so lock may keep the interrupt state in ctx).
       Without them sn_mgr_wakeup is for the manager's thread only.
   wall_s(ctx)     Seconds since 1970-01-01 UTC from a real-time clock, or -1
       when the device does not know the time. Used to check certificate
       validity dates and for the Date of HTTP responses and mails; with -1
       the dates are not checked (logged as a warning) and no Date is sent.

   Testing a new port: run the project's port checklist (tests/README):
   listen on a port, accept a connection from a PC, echo bytes in both
   directions with large buffers (partial sends), see recv return 0 when the
   PC closes, see wait return within its timeout with nothing ready, and see
   entropy return different bytes twice. With wake: a thread that calls
   sn_mgr_wakeup while sn_poll(mgr, -1) sleeps ends that sleep at once
   (tests/test_wakeup.c does this for the POSIX port). */
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
  void (*shutdown)(void *ctx, sn_sock s);
  int (*wait)(void *ctx, sn_wait_item *items, int n, int timeout_ms);
  int (*entropy)(void *ctx, unsigned char *buf, size_t len);
  uint64_t (*now_ms)(void *ctx);
  int64_t (*wall_s)(void *ctx);
  void (*wake)(void *ctx);   /* optional: see above */
  void (*lock)(void *ctx);   /* optional, with unlock */
  void (*unlock)(void *ctx);
};

#ifdef __cplusplus
}
#endif
#endif /* SECURENET_H */

/* ============================================================================
   IMPLEMENTATION
   ========================================================================== */
#if defined(SECURENET_IMPLEMENTATION) && !defined(SECURENET_IMPLEMENTATION_DONE)
#define SECURENET_IMPLEMENTATION_DONE

#include <string.h>
#include <stdio.h>
#include <stdlib.h>

// >>compat
/* Everything that differs between mbedTLS 2.28, 3.6 (and, later, 4.x) lives
   here, so the rest of the file reads the same on every version. */
#include "mbedtls/version.h"
#include "mbedtls/ssl.h"
#include "mbedtls/ctr_drbg.h"
#include "mbedtls/x509_crt.h"
#include "mbedtls/pk.h"
#include "mbedtls/ssl_ciphersuites.h"
#include "mbedtls/sha256.h"
#include "mbedtls/platform_util.h"
#if defined(MBEDTLS_DEBUG_C)
#include "mbedtls/debug.h"
#endif
#if defined(MBEDTLS_ERROR_C)
#include "mbedtls/error.h"
#endif
#if defined(MBEDTLS_SSL_TICKET_C) && defined(MBEDTLS_SSL_SESSION_TICKETS)
#include "mbedtls/ssl_ticket.h"
#define SN__HAVE_TICKETS 1
#endif
#if defined(MBEDTLS_SSL_CACHE_C)
#include "mbedtls/ssl_cache.h"
#define SN__HAVE_CACHE 1
#endif
#if MBEDTLS_VERSION_MAJOR >= 3 && defined(MBEDTLS_PSA_CRYPTO_C)
#include "psa/crypto.h"
#define SN__HAVE_PSA 1
#endif

/* Transport errors reported to mbedTLS by our BIO callbacks (the values of
   mbedTLS's own MBEDTLS_ERR_NET_SEND_FAILED / RECV_FAILED). */
#define SN__BIO_SEND_FAILED (-0x004E)
#define SN__BIO_RECV_FAILED (-0x004C)

#ifndef SN_MALLOC
#define SN_MALLOC(n) malloc(n)
#define SN_FREE(p) free(p)
#endif

static int sn__pk_parse(mbedtls_pk_context *pk, const unsigned char *key, size_t len, const char *pw,
                        mbedtls_ctr_drbg_context *drbg) {
  size_t pwlen = pw ? strlen(pw) : 0;
#if MBEDTLS_VERSION_MAJOR >= 3
  return mbedtls_pk_parse_key(pk, key, len, (const unsigned char *) pw, pwlen, mbedtls_ctr_drbg_random, drbg);
#else
  (void) drbg;
  return mbedtls_pk_parse_key(pk, key, len, (const unsigned char *) pw, pwlen);
#endif
}

#if !defined(SN_NO_FILES) && defined(MBEDTLS_FS_IO)
static int sn__pk_parse_file(mbedtls_pk_context *pk, const char *path, const char *pw,
                             mbedtls_ctr_drbg_context *drbg) {
#if MBEDTLS_VERSION_MAJOR >= 3
  return mbedtls_pk_parse_keyfile(pk, path, pw, mbedtls_ctr_drbg_random, drbg);
#else
  (void) drbg;
  return mbedtls_pk_parse_keyfile(pk, path, pw);
#endif
}
#endif

static int sn__pk_check_pair(mbedtls_pk_context *pub, mbedtls_pk_context *prv, mbedtls_ctr_drbg_context *drbg) {
#if MBEDTLS_VERSION_MAJOR >= 3
  return mbedtls_pk_check_pair(pub, prv, mbedtls_ctr_drbg_random, drbg);
#else
  (void) drbg;
  return mbedtls_pk_check_pair(pub, prv);
#endif
}

#if MBEDTLS_VERSION_MAJOR >= 3
#define sn__sha_starts(x) mbedtls_sha256_starts(x, 0)
#define sn__sha_update mbedtls_sha256_update
#define sn__sha_finish mbedtls_sha256_finish
#else
#define sn__sha_starts(x) mbedtls_sha256_starts_ret(x, 0)
#define sn__sha_update mbedtls_sha256_update_ret
#define sn__sha_finish mbedtls_sha256_finish_ret
#endif
#if SN__TLS_CLIENT || SN_ENABLE_OTA || SN_ENABLE_AUTH
static int sn__sha256(const unsigned char *in, size_t len, unsigned char out[32]) {
#if MBEDTLS_VERSION_MAJOR >= 3
  return mbedtls_sha256(in, len, out, 0);
#else
  return mbedtls_sha256_ret(in, len, out, 0);
#endif
}
#endif

/* Key exchange groups, fastest first: X25519, then P-256 and P-384 (what
   browsers and mail servers offer). mbedTLS's own default order puts P-521
   and the Brainpool curves first, which makes every handshake with a client
   that offers them several times slower, for no security a device needs. */
#if MBEDTLS_VERSION_MAJOR >= 3
static const uint16_t sn__groups[] = {
#if defined(MBEDTLS_ECP_DP_CURVE25519_ENABLED) || defined(PSA_WANT_ECC_MONTGOMERY_255)
    MBEDTLS_SSL_IANA_TLS_GROUP_X25519,
#endif
#if defined(MBEDTLS_ECP_DP_SECP256R1_ENABLED) || defined(PSA_WANT_ECC_SECP_R1_256)
    MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1,
#endif
#if defined(MBEDTLS_ECP_DP_SECP384R1_ENABLED) || defined(PSA_WANT_ECC_SECP_R1_384)
    MBEDTLS_SSL_IANA_TLS_GROUP_SECP384R1,
#endif
    MBEDTLS_SSL_IANA_TLS_GROUP_NONE};
#else
static const mbedtls_ecp_group_id sn__groups[] = {
#if defined(MBEDTLS_ECP_DP_CURVE25519_ENABLED)
    MBEDTLS_ECP_DP_CURVE25519,
#endif
#if defined(MBEDTLS_ECP_DP_SECP256R1_ENABLED)
    MBEDTLS_ECP_DP_SECP256R1,
#endif
#if defined(MBEDTLS_ECP_DP_SECP384R1_ENABLED)
    MBEDTLS_ECP_DP_SECP384R1,
#endif
    MBEDTLS_ECP_DP_NONE};
#endif

/* TLS 1.2 at least, and our groups. */
static void sn__conf_min_tls12(mbedtls_ssl_config *conf) {
#if MBEDTLS_VERSION_MAJOR >= 3
  mbedtls_ssl_conf_min_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
  if (sn__groups[0] != MBEDTLS_SSL_IANA_TLS_GROUP_NONE) mbedtls_ssl_conf_groups(conf, sn__groups);
#else
  mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  if (sn__groups[0] != MBEDTLS_ECP_DP_NONE) mbedtls_ssl_conf_curves(conf, sn__groups);
#endif
}

static void sn__tls_strerror(int ret, char *buf, size_t len) {
#if defined(MBEDTLS_ERROR_C)
  mbedtls_strerror(ret, buf, len);
#else
  (void) ret;
  snprintf(buf, len, "mbedTLS error");
#endif
}

/* Forward-secret AEAD suites, strongest-first within each family. Ids the
   build does not know are dropped when a listener is set up (mbedTLS 2.28
   fails a handshake on an unknown id in its list). */
static const int sn__default_suites[] = {
    0x1301, 0x1302, 0x1303, /* TLS 1.3: AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305 */
    0xC02B, 0xC02C, 0xCCA9, /* ECDHE-ECDSA: AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305 */
    0xC02F, 0xC030, 0xCCA8, /* ECDHE-RSA: the same */
    0xC0AC, 0xC0AD,         /* ECDHE-ECDSA: AES-128-CCM, AES-256-CCM */
    0};

// >>util
/* Errors, logging, small string helpers shared by every layer. */
SNDEF const char *sn_strerror(int err) {
  switch (err) {
#define SN__ERR_CASE(name, num, text) \
  case num: return text;
    SN_ERROR_LIST(SN__ERR_CASE)
#undef SN__ERR_CASE
    default: return "unknown error";
  }
}

static int sn__lower(int ch) { return (ch >= 'A' && ch <= 'Z') ? ch + 32 : ch; }

static int sn__ieq(const char *a, size_t alen, const char *b) {
  size_t i;
  for (i = 0; i < alen; i++)
    if (b[i] == '\0' || sn__lower((unsigned char) a[i]) != sn__lower((unsigned char) b[i])) return 0;
  return b[i] == '\0';
}

static int sn__eq(sn_str s, const char *lit) {
  size_t n = strlen(lit);
  return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

static sn_str sn__trim(sn_str s) {
  while (s.len && (s.ptr[0] == ' ' || s.ptr[0] == '\t')) s.ptr++, s.len--;
  while (s.len && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t')) s.len--;
  return s;
}

/* Iterates a comma-separated list (RFC 9110 5.6.1): returns 1 and the next
   trimmed, non-empty element in *item. */
static int sn__next_item(sn_str *list, sn_str *item) {
  while (list->len) {
    const char *comma = (const char *) memchr(list->ptr, ',', list->len);
    size_t n = comma ? (size_t) (comma - list->ptr) : list->len;
    item->ptr = list->ptr;
    item->len = n;
    list->ptr += comma ? n + 1 : n;
    list->len -= comma ? n + 1 : n;
    *item = sn__trim(*item);
    if (item->len) return 1;
  }
  return 0;
}

static int sn__has_token(sn_str list, const char *token) {
  sn_str item;
  while (sn__next_item(&list, &item))
    if (sn__ieq(item.ptr, item.len, token)) return 1;
  return 0;
}

static int sn__hexval(int ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  ch = sn__lower(ch);
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  return -1;
}

/* Days since 1970-01-01 to the civil (proleptic Gregorian) date, counted in
   400-year eras from 0000-03-01. The HTTP server's and the mail's Date. */
static void sn__civil_from_days(int64_t z, int *y, int *m, int *d) {
  int64_t era, doe, yoe, doy, mp;
  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  *d = (int) (doy - (153 * mp + 2) / 5 + 1);
  *m = (int) (mp < 10 ? mp + 3 : mp - 9);
  *y = (int) (yoe + era * 400 + (*m <= 2));
}

/* IMF-fixdate (RFC 9110 5.6.7) of t seconds since 1970 UTC into out
   ("Sun, 06 Nov 1994 08:49:37 GMT", 29 characters and a NUL). Returns 29,
   or 0 for a time before 1970 or after 9999. The HTTP server's Date. */
static size_t sn__imf_date(int64_t t, char out[30]) {
  static const char wdays[] = "ThuFriSatSunMonTueWed", months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  int64_t days;
  int sec, mon, mday, y;
  if (t < 0 || t > 253402300799LL) return 0;
  days = t / 86400;
  sec = (int) (t % 86400);
  sn__civil_from_days(days, &y, &mon, &mday);
  memcpy(out, wdays + 3 * (days % 7), 3);
  memcpy(out + 3, ", 00 Mon 0000 00:00:00 GMT", 27);
  out[5] = (char) ('0' + mday / 10), out[6] = (char) ('0' + mday % 10);
  memcpy(out + 8, months + 3 * (mon - 1), 3);
  out[12] = (char) ('0' + y / 1000), out[13] = (char) ('0' + y / 100 % 10);
  out[14] = (char) ('0' + y / 10 % 10), out[15] = (char) ('0' + y % 10);
  out[17] = (char) ('0' + sec / 36000), out[18] = (char) ('0' + sec / 3600 % 10);
  out[20] = (char) ('0' + sec / 600 % 6), out[21] = (char) ('0' + sec / 60 % 10);
  out[23] = (char) ('0' + sec % 60 / 10), out[24] = (char) ('0' + sec % 10);
  return 29;
}

/* p[0..n) as an IPv4 address into out[0..4): 1, or 0 when it is not one. */
static int sn__ip4_parse(const char *p, size_t n, unsigned char *out) {
  size_t i = 0;
  int part;
  for (part = 0; part < 4; part++) {
    unsigned v = 0, digits = 0;
    if (part > 0 && (i >= n || p[i++] != '.')) return 0;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++)
      if (++digits > 3 || (digits == 2 && v == 0)) return 0;
      else v = v * 10 + (unsigned) (p[i] - '0');
    if (digits == 0 || v > 255) return 0;
    out[part] = (unsigned char) v;
  }
  return i == n;
}

/* p[0..n) as an IP address: IPv4 (RFC 3986 3.2.2: four decimal octets
   0-255, no leading zero, which inet_aton would read as octal) into 4 bytes,
   or IPv6 (RFC 4291 2.2: eight groups of 1-4 hex digits, or fewer around one
   "::", the last 32 bits maybe a dotted quad) into 16. Returns 4, 16, or 0
   when it is neither; out may be NULL. The HTTP parser's Host check and the
   TLS client's IP literals. */
static size_t sn__ip_parse_n(const char *p, size_t n, unsigned char *out) {
  unsigned char a[16];
  size_t i = 0, k = 0, gap = 99;
  if (memchr(p, ':', n) == NULL) {
    if (!sn__ip4_parse(p, n, a)) return 0;
    if (out != NULL) memcpy(out, a, 4);
    return 4;
  }
  if (n >= 2 && p[0] == ':' && p[1] == ':') gap = 0, i = 2;
  while (i < n) {
    unsigned v = 0, digits = 0;
    int h;
    if (memchr(p + i, ':', n - i) == NULL && memchr(p + i, '.', n - i) != NULL) { /* the dotted tail */
      if (k > 12 || !sn__ip4_parse(p + i, n - i, a + k)) return 0;
      k += 4;
      break;
    }
    for (; i < n && (h = sn__hexval((unsigned char) p[i])) >= 0; i++)
      if (++digits > 4) return 0;
      else v = v * 16 + (unsigned) h;
    if (digits == 0 || k > 14) return 0;
    a[k++] = (unsigned char) (v >> 8), a[k++] = (unsigned char) v;
    if (i == n) break;
    if (p[i++] != ':' || i == n) return 0;
    if (p[i] == ':') {
      if (gap != 99) return 0;
      gap = k, i++;
    }
  }
  if (gap == 99 ? k != 16 : k > 14) return 0;
  if (out != NULL) {
    if (gap == 99) gap = k;
    memset(out, 0, 16);
    memcpy(out, a, gap);
    memcpy(out + 16 - (k - gap), a + gap, k - gap);
  }
  return 16;
}
#if SN_ENABLE_SMTP || SN_ENABLE_HTTP_CLIENT
/* Where a formatted line goes: the mail session's send queue, an HTTP
   client's connection. */
typedef int (*sn__sink_fn)(void *to, const void *data, size_t n);

/* A command or head line formatted on the stack (at most max bytes, never
   cut short: SN_ERR_TOO_BIG), then handed to sink. */
static int sn__sinkf(sn__sink_fn sink, void *to, size_t max, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static int sn__sinkf(sn__sink_fn sink, void *to, size_t max, const char *fmt, ...) {
  char line[1100];
  va_list ap;
  int n;
  if (max > sizeof line) max = sizeof line;
  va_start(ap, fmt);
  n = vsnprintf(line, max, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t) n >= max) return SN_ERR_TOO_BIG;
  return sink(to, line, (size_t) n);
}
#endif

SNDEF int sn_url_decode(const char *src, size_t len, char *dst, size_t dst_len, int plus_is_space) {
  size_t i, o = 0;
  if (len > 0x7fffffff) return SN_ERR_TOO_BIG;
  for (i = 0; i < len; i++) {
    int ch = (unsigned char) src[i];
    if (ch == '%') {
      int hi, lo;
      if (len - i < 3) return SN_ERR_PROTO;
      hi = sn__hexval((unsigned char) src[i + 1]);
      lo = sn__hexval((unsigned char) src[i + 2]);
      if (hi < 0 || lo < 0) return SN_ERR_PROTO;
      ch = hi * 16 + lo;
      i += 2;
    } else if (ch == '+' && plus_is_space) {
      ch = ' ';
    }
    if (o >= dst_len) return SN_ERR_TOO_BIG;
    dst[o++] = (char) ch;
  }
  return (int) o;
}

SNDEF int sn_json_str(char *dst, size_t dst_len, const char *src, size_t len) {
  static const char hex[] = "0123456789abcdef";
  size_t i, o = 0;
#define SN__PUT(ch)                             \
  do {                                          \
    if (o + 1 >= dst_len) return SN_ERR_TOO_BIG; \
    dst[o++] = (char) (ch);                     \
  } while (0)
  SN__PUT('"');
  for (i = 0; i < len; i++) {
    unsigned char ch = (unsigned char) src[i];
    if (ch == '"' || ch == '\\') {
      SN__PUT('\\');
      SN__PUT(ch);
    } else if (ch < 0x20 || ch == 0x7f) {
      SN__PUT('\\');
      SN__PUT('u');
      SN__PUT('0');
      SN__PUT('0');
      SN__PUT(hex[ch >> 4]);
      SN__PUT(hex[ch & 15]);
    } else {
      SN__PUT(ch);
    }
  }
  SN__PUT('"');
#undef SN__PUT
  dst[o] = '\0';
  return (int) o;
}

// >>mgr
/* The event manager: its listeners, the one list of streams (of every
   protocol), the DRBG, the clock and the log hook; sn_poll() drives
   everything from here. The types every part shares: the BIO, the byte
   queue, the stream and the protocol table. */
typedef struct sn__listener {
  sn_sock sock;
  int is_tls;
  sn_http_opts opts; /* copied, defaults filled in; opts.tls is not kept */
  size_t headers_len; /* of opts.headers */
  sn_http_limits limits;
  int has_client_ca;
  mbedtls_ssl_config conf;
  mbedtls_x509_crt cert, client_ca;
  mbedtls_pk_context key;
  int *suites;
#if defined(SN__HAVE_TICKETS)
  int has_tickets;
  mbedtls_ssl_ticket_context tickets;
#endif
#if defined(SN__HAVE_CACHE)
  int has_cache;
  mbedtls_ssl_cache_context cache;
#endif
} sn__listener;

/* What mbedTLS's BIO callbacks need to reach the port. */
typedef struct sn__bio {
  sn_mgr *mgr;
  sn_sock sock;
  int err; /* the port's error behind a failed send or recv */
  /* drained: the socket was read empty (a short read or "would block"), so
     a recv before the port's wait reports it readable again would only say
     "would block": skipped (half the recv calls of a keep-alive request,
     make bench found). */
  uint8_t drained;
} sn__bio;

/* What was received and not yet consumed: its owner's parser reads it in
   place. */
typedef struct sn__rxq {
  char *buf;
  size_t len, cap;
} sn__rxq;

/* A byte queue: what waits to be sent. */
typedef struct sn__txq {
  unsigned char *buf;
  size_t len, off, cap;
  size_t inflight; /* a TLS write that wanted to be retried with the same bytes */
} sn__txq;

typedef struct sn__stream sn__stream;
typedef struct sn__tlsc sn__tlsc;

/* A protocol on a stream: what the manager calls, from sn_poll and
   sn_mgr_destroy only. The manager knows streams, never protocols: a new
   protocol is a new table, and no manager code changes. A protocol hands
   its stream to another by pointing st->proto at the other's table: the
   socket, the TLS context and the queue stay where they are (and the new
   protocol finds its state through the stream's owner), as an HTTP request
   becomes a WebSocket; TLS begins on an open stream with sn__st_tls, as the
   mail session's STARTTLS does. */
typedef struct sn__proto {
  /* Before the port's wait: what to wait for (SN_READABLE | SN_WRITABLE, or
     0), plus SN__PENDING for work that no socket event will announce
     (decrypted bytes mbedTLS holds, a callback due: sn_poll then does not
     sleep and calls io); its next timer lowers *next. May do work that
     waits for no socket (asking again for a name being resolved). */
  uint8_t (*poll)(sn__stream *st, uint64_t *next);
  void (*io)(sn__stream *st, uint8_t ready); /* the port's readiness, 0 for pending work */
  void (*timer)(sn__stream *st);             /* every round after io: what is due by the clock */
  void (*reap)(sn__stream *st);              /* dead: report the end once, free it all */
  void (*destroy)(sn__stream *st);           /* sn_mgr_destroy: end now, report, free */
} sn__proto;

enum { SN__ROLE_NONE, SN__ROLE_SERVER, SN__ROLE_CLIENT };
#define SN__PENDING 0x80 /* sn__proto.poll: work is due without a socket event */

static void sn__next(uint64_t *next, uint64_t t) {
  if (t < *next) *next = t;
}

/* One stream: a socket, its TLS when it has one (server or client role,
   from the start or begun later on the open stream, as STARTTLS does), the
   receive queue (what its protocol has not consumed yet: it stays with the
   stream when another protocol takes it over), the send queue with an
   optional zero-copy tail, what the last blocked read or
   write waits for, and the last errors. The HTTP server's connections, the
   outgoing connections (sn_connect, and the HTTP client on them) and the mail
   session each begin with one; the manager keeps one list of them. */
struct sn__stream {
  const sn__proto *proto;
  mbedtls_ssl_context *ssl; /* its owner's (a server connection's, a client role's sn__tlsc) */
  sn__bio io;               /* io.mgr: the manager */
  sn__rxq rx;
  sn__txq tx;
  const unsigned char *ext; /* after tx: a zero-copy tail (static files) */
  size_t ext_len;
  int tls_err;              /* the last mbedTLS error */
  uint8_t rd_want, wr_want; /* what the last blocked read / write waits for */
  uint8_t tls;              /* SN__ROLE_*: ssl is set up (and freed with the stream) */
  uint8_t tls_up;           /* the handshake is done: reads and writes go through ssl */
  uint8_t notify;           /* close_notify: 1 sent, 2 received */
  uint8_t dead;             /* ended: the manager reaps it after this round */
  uint8_t lingering;        /* a graceful close is reading what the peer still sends */
  uint8_t pending;          /* its poll said SN__PENDING this round */
#if SN_ENABLE_WEBSOCKET
  struct sn__ws *ws;        /* a WebSocket's state while the stream is (or is becoming) one */
#endif
};

typedef struct sn__mail_job {
  const sn_smtp_server *srv;
  const sn_mail *mail;
  sn_mail_done_fn done;
  void *user;
} sn__mail_job;

/* A TLS session kept for resuming outgoing connections: per options object,
   server name and port. */
typedef struct sn__tls_sess {
  const void *key;
  uint16_t port;
  char name[254];
  mbedtls_ssl_session *s; /* NULL until a session (or ticket) arrives */
  uint64_t used;
} sn__tls_sess;

#ifndef SN_TLS_CLIENT_SESSIONS
#define SN_TLS_CLIENT_SESSIONS 4
#endif

/* An HTTP client connection kept open after its response, for the next
   request to the same server (scheme, host, port and TLS options). */
#ifndef SN_HTTP_IDLE
#define SN_HTTP_IDLE 2
#endif
#define SN__HTTP_IDLE_MS 30000u
typedef struct sn__http_idle {
  sn_client *c; /* NULL: free */
  const void *tls;
  uint16_t port;
  uint8_t https;
  char host[254];
} sn__http_idle;

struct sn_mgr {
  sn_port port;
  sn_log_fn log;
  void *log_user;
  int log_level;
  int max_conns;
  int tls_debug;
  int tls_err;
  uint64_t now;
  mbedtls_ctr_drbg_context drbg;
  sn__listener *listeners[SN_MAX_LISTENERS];
  int nlisteners;
  sn__stream *streams[SN__MAX_STREAMS]; /* every stream of every protocol */
  uint16_t nstreams;
  uint16_t nconns;   /* of them server connections (max_conns), */
  uint16_t nclients; /* outgoing connections (SN_MAX_CLIENTS) */
  uint8_t destroying; /* sn_mgr_destroy is ending everything (2: running the last wakeups) */
  uint8_t warned_no_clock;
  /* Called at the start of every sn_poll round when set: work that no stream
     carries yet (the mail queue opens its session). Returns 1 when the round
     must not sleep. */
  int (*service)(sn_mgr *m);
  sn_timer *timers;  /* armed, soonest first (equal times: in the order added) */
  sn_timer *firing;  /* detached from timers: due this round, being run */
  uint32_t req_seq;  /* the last request's number (sn_req_ref.id; never 0) */
  /* sn_mgr_wakeup's queue (a ring), under the port's lock */
  struct {
    sn_wake_fn fn;
    void *arg;
  } wake_q[SN_WAKE_QUEUE];
  uint16_t wake_head, wake_count;
  sn_mgr_stats stats;
  sn_wait_item items[SN_MAX_SOCKETS];
  sn__stream *item_st[SN_MAX_SOCKETS];
#if SN__TLS_CLIENT
  sn__tls_sess sessions[SN_TLS_CLIENT_SESSIONS]; /* for resuming outgoing TLS */
#endif
#if SN_ENABLE_HTTP_CLIENT
  sn__http_idle http_idle[SN_HTTP_IDLE]; /* keep-alive connections of the HTTP client */
#endif
#if SN_ENABLE_SMTP
  struct sn__smtp *smtp;               /* the mail session, when one is open */
  sn__mail_job jobs[SN_MAX_MAIL_JOBS]; /* queued mails, oldest first */
  int njobs;
#endif
};

#define SN__LINGER_MS 2000u
#define SN__WRITE_MAX 16384u
#define SN__TX_SLACK 1024u /* room for a reply's head beyond max_reply */

static void sn__log(sn_mgr *m, int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
#if SN_ENABLE_LOG
static void sn__log(sn_mgr *m, int level, const char *fmt, ...) {
  char buf[SN_LOG_MAX];
  va_list ap;
  if (m->log == NULL || level > m->log_level) return;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  m->log(m->log_user, level, buf);
}
#else
/* Empty, so the compiler drops the calls and their strings. */
static void sn__log(sn_mgr *m, int level, const char *fmt, ...) { (void) m, (void) level, (void) fmt; }
#endif

#if defined(MBEDTLS_DEBUG_C)
/* mbedTLS's debug lines, through the log hook ("file:line: message"). */
static void sn__tls_dbg(void *ctx, int level, const char *file, int line, const char *str) {
  const char *base = strrchr(file, '/');
  size_t n = strlen(str);
  (void) level;
  while (n > 0 && (str[n - 1] == '\n' || str[n - 1] == '\r')) n--;
  sn__log((sn_mgr *) ctx, SN_LOG_DEBUG, "mbedtls %s:%d: %.*s", base ? base + 1 : file, line, (int) n, str);
}
#endif

/* Routes a TLS configuration's debug output to the log when asked for. */
static void sn__conf_debug(sn_mgr *m, mbedtls_ssl_config *conf) {
#if defined(MBEDTLS_DEBUG_C)
  if (m->tls_debug > 0) mbedtls_ssl_conf_dbg(conf, sn__tls_dbg, m);
#else
  (void) m, (void) conf;
#endif
}

static void sn__log_tls(sn_mgr *m, int level, const char *what, int ret) {
  char err[96];
  m->tls_err = ret;
  if (!SN_ENABLE_LOG || m->log == NULL || level > m->log_level) return;
  sn__tls_strerror(ret, err, sizeof err);
  sn__log(m, level, "%s: -0x%04x %s", what, (unsigned) -ret, err);
}

static int sn__entropy(void *arg, unsigned char *buf, size_t len) {
  sn_mgr *m = (sn_mgr *) arg;
  return m->port.entropy(m->port.ctx, buf, len) == 0 ? 0 : MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
}

SNDEF int sn_mgr_random(void *mgr, unsigned char *buf, size_t len) {
  return mbedtls_ctr_drbg_random(&((sn_mgr *) mgr)->drbg, buf, len);
}

SNDEF int sn_mgr_create(sn_mgr **out, const sn_mgr_opts *opts) {
  sn_mgr *m;
  const sn_port *p;
  int ret;
  if (out == NULL || opts == NULL || opts->port == NULL) return SN_ERR_INVALID;
  p = opts->port;
  if (!p->listen || !p->accept || !p->send || !p->recv || !p->close || !p->wait || !p->entropy || !p->now_ms ||
      !p->wall_s)
    return SN_ERR_PORT;
  m = (sn_mgr *) SN_MALLOC(sizeof *m);
  if (m == NULL) return SN_ERR_NOMEM;
  memset(m, 0, sizeof *m);
  m->port = *p;
  m->log = opts->log;
  m->log_user = opts->log_user;
  m->log_level = opts->log_level ? opts->log_level : SN_LOG_WARN;
  m->max_conns = (opts->max_conns > 0 && opts->max_conns < SN_MAX_CONNS) ? opts->max_conns : SN_MAX_CONNS;
  m->tls_debug = opts->tls_debug;
#if defined(MBEDTLS_DEBUG_C)
  if (m->tls_debug > 0) mbedtls_debug_set_threshold(m->tls_debug);
#endif
  m->now = p->now_ms(p->ctx);
#if defined(SN__HAVE_PSA)
  /* mbedTLS 3 runs TLS 1.3 and parts of TLS 1.2 through PSA, which has its
     own RNG (MBEDTLS_ENTROPY_C, or MBEDTLS_PSA_CRYPTO_EXTERNAL_RNG on MCUs). */
  if (psa_crypto_init() != PSA_SUCCESS) {
    sn__log(m, SN_LOG_ERROR, "psa_crypto_init failed: no entropy for PSA");
    SN_FREE(m);
    return SN_ERR_ENTROPY;
  }
#endif
  mbedtls_ctr_drbg_init(&m->drbg);
  ret = mbedtls_ctr_drbg_seed(&m->drbg, sn__entropy, m, (const unsigned char *) "securenet", 9);
  if (ret != 0) {
    sn__log_tls(m, SN_LOG_ERROR, "cannot seed the DRBG from the port's entropy hook", ret);
    mbedtls_ctr_drbg_free(&m->drbg);
    SN_FREE(m);
    return SN_ERR_ENTROPY;
  }
  *out = m;
  return SN_OK;
}

SNDEF void sn_mgr_stats_get(const sn_mgr *m, sn_mgr_stats *out) {
  *out = m->stats;
  out->connections = (unsigned) m->nconns;
}
SNDEF uint64_t sn_mgr_now_ms(const sn_mgr *m) { return m->port.now_ms(m->port.ctx); }
SNDEF int sn_mgr_tls_error(const sn_mgr *m) { return m->tls_err; }

/* Moves a buffer to a new block of cap bytes, keeping its first `used`
   bytes (SN_MALLOC has no realloc). Returns the new block, or NULL with the
   old one untouched. */
static void *sn__resize(void *old, size_t used, size_t cap) {
  void *p = SN_MALLOC(cap);
  if (p == NULL) return NULL;
  if (used > 0) memcpy(p, old, used);
  SN_FREE(old);
  return p;
}

/* Timers: a list of the application's sn_timer structs, soonest first. The
   ones due are cut off the front into m->firing and run from there, so a
   callback that adds a timer due now (itself again, say) runs it at the next
   round, not in a loop; sn_timer_cancel looks in both lists. */
static int sn__timer_unlink(sn_timer **head, sn_timer *t) {
  for (; *head != NULL; head = &(*head)->next)
    if (*head == t) {
      *head = t->next;
      t->next = NULL;
      return 1;
    }
  return 0;
}

static void sn__timer_insert(sn_mgr *m, sn_timer *t) {
  sn_timer **at = &m->timers;
  while (*at != NULL && (*at)->due <= t->due) at = &(*at)->next;
  t->next = *at;
  *at = t;
}

SNDEF int sn_timer_add(sn_mgr *m, sn_timer *t, uint32_t delay_ms, uint32_t period_ms, sn_timer_fn fn, void *arg) {
  if (m == NULL || t == NULL || fn == NULL) return SN_ERR_INVALID;
  if (m->destroying) return SN_ERR_STATE;
  sn_timer_cancel(m, t);
  t->due = m->port.now_ms(m->port.ctx) + delay_ms;
  t->period_ms = period_ms;
  t->fn = fn;
  t->arg = arg;
  t->armed = 1;
  sn__timer_insert(m, t);
  return SN_OK;
}

SNDEF void sn_timer_cancel(sn_mgr *m, sn_timer *t) {
  if (m == NULL || t == NULL || !t->armed) return;
  if (!sn__timer_unlink(&m->timers, t)) (void) sn__timer_unlink(&m->firing, t);
  t->armed = 0;
}

/* Runs the timers due by m->now. A repeating timer is re-armed before its
   call (so the call may cancel it), at its next multiple of the period, or
   a period from now when it is late by more than one. */
static void sn__timers_run(sn_mgr *m) {
  sn_timer *t, *last;
  if (m->timers == NULL || m->timers->due > m->now) return;
  for (last = m->timers; last->next != NULL && last->next->due <= m->now;) last = last->next;
  m->firing = m->timers;
  m->timers = last->next;
  last->next = NULL;
  while ((t = m->firing) != NULL) {
    m->firing = t->next;
    t->next = NULL;
    if (t->period_ms != 0) {
      t->due += t->period_ms;
      if (t->due <= m->now) t->due = m->now + t->period_ms;
      sn__timer_insert(m, t);
    } else {
      t->armed = 0;
    }
    t->fn(t->arg);
  }
}

/* The wakeup queue, under the port's lock (none: the manager's thread only). */
static void sn__wq_lock(sn_mgr *m) {
  if (m->port.lock != NULL) m->port.lock(m->port.ctx);
}
static void sn__wq_unlock(sn_mgr *m) {
  if (m->port.unlock != NULL) m->port.unlock(m->port.ctx);
}

SNDEF int sn_mgr_wakeup(sn_mgr *m, sn_wake_fn fn, void *arg) {
  int r = SN_OK;
  if (m == NULL || fn == NULL) return SN_ERR_INVALID;
  sn__wq_lock(m);
  if (m->destroying == 2) {
    r = SN_ERR_STATE; /* sn_mgr_destroy runs the last ones: this one would be lost */
  } else if (m->wake_count >= SN_WAKE_QUEUE) {
    r = SN_ERR_FULL;
  } else {
    unsigned k = (unsigned) (m->wake_head + m->wake_count) % SN_WAKE_QUEUE;
    m->wake_q[k].fn = fn;
    m->wake_q[k].arg = arg;
    m->wake_count++;
  }
  sn__wq_unlock(m);
  if (r == SN_OK && m->port.wake != NULL) m->port.wake(m->port.ctx);
  return r;
}

static unsigned sn__wakeups_queued(sn_mgr *m) {
  unsigned n;
  sn__wq_lock(m);
  n = m->wake_count;
  sn__wq_unlock(m);
  return n;
}

/* Runs what was queued when it began (what its calls queue waits for the
   next round), one entry per lock, each call outside it. */
static void sn__wakeups_run(sn_mgr *m) {
  unsigned k, n = sn__wakeups_queued(m);
  for (k = 0; k < n; k++) {
    sn_wake_fn fn;
    void *arg;
    sn__wq_lock(m);
    fn = m->wake_q[m->wake_head].fn;
    arg = m->wake_q[m->wake_head].arg;
    m->wake_head = (uint16_t) ((m->wake_head + 1u) % SN_WAKE_QUEUE);
    m->wake_count--;
    sn__wq_unlock(m);
    fn(arg);
  }
}

// >>tls
/* TLS configurations: loading certificates and keys, suites, a listener's
   set-up (resumption by tickets and cache), the BIO callbacks through which
   mbedTLS reaches the port, certificate dates against the port's clock. */
static int sn__is_pem(const void *data, size_t len) {
  const char *p = (const char *) data;
  size_t i = 0;
  while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n')) i++;
  return len - i >= 10 && memcmp(p + i, "-----BEGIN", 10) == 0;
}

/* mbedTLS wants PEM NUL-terminated with the NUL counted; firmware often
   embeds it without. Returns the buffer to parse (maybe a copy) in *out. */
static int sn__pem_terminated(const void *data, size_t len, unsigned char **copy, const unsigned char **out,
                              size_t *out_len) {
  const unsigned char *d = (const unsigned char *) data;
  *copy = NULL;
  *out = d;
  *out_len = len;
  if (len == 0 || !sn__is_pem(data, len) || d[len - 1] == '\0') return SN_OK;
  *copy = (unsigned char *) SN_MALLOC(len + 1);
  if (*copy == NULL) return SN_ERR_NOMEM;
  memcpy(*copy, d, len);
  (*copy)[len] = '\0';
  *out = *copy;
  *out_len = len + 1;
  return SN_OK;
}

static int sn__load_crt(sn_mgr *m, mbedtls_x509_crt *crt, const void *data, size_t len, const char *file,
                        const char *what) {
  int ret;
  if (data != NULL) {
    unsigned char *copy;
    const unsigned char *buf;
    size_t n;
    if ((ret = sn__pem_terminated(data, len, &copy, &buf, &n)) != SN_OK) return ret;
    ret = mbedtls_x509_crt_parse(crt, buf, n);
    SN_FREE(copy);
  } else if (file != NULL) {
#if !defined(SN_NO_FILES) && defined(MBEDTLS_FS_IO)
    ret = mbedtls_x509_crt_parse_file(crt, file);
    if (ret == MBEDTLS_ERR_PK_FILE_IO_ERROR || ret == MBEDTLS_ERR_X509_FILE_IO_ERROR) {
      sn__log(m, SN_LOG_ERROR, "%s: cannot read %s", what, file);
      return SN_ERR_FILE;
    }
#else
    sn__log(m, SN_LOG_ERROR, "%s: files are not supported in this build", what);
    return SN_ERR_UNSUPPORTED;
#endif
  } else {
    return SN_ERR_INVALID;
  }
  if (ret != 0) {
    if (ret > 0) sn__log(m, SN_LOG_ERROR, "%s: %d certificate(s) could not be parsed", what, ret);
    else sn__log_tls(m, SN_LOG_ERROR, what, ret);
    return SN_ERR_CERT;
  }
  return SN_OK;
}

/* A private key from memory (PEM or DER) or a file, checked against the
   certificate it goes with. */
static int sn__load_key(sn_mgr *m, mbedtls_pk_context *pk, mbedtls_x509_crt *crt, const void *key, size_t key_len,
                        const char *key_file, const char *pw) {
  int ret;
  if (key != NULL) {
    unsigned char *copy;
    const unsigned char *buf;
    size_t n;
    if ((ret = sn__pem_terminated(key, key_len, &copy, &buf, &n)) != SN_OK) return ret;
    ret = sn__pk_parse(pk, buf, n, pw, &m->drbg);
    if (copy) {
      memset(copy, 0, n);
      SN_FREE(copy);
    }
  } else if (key_file != NULL) {
#if !defined(SN_NO_FILES) && defined(MBEDTLS_FS_IO)
    ret = sn__pk_parse_file(pk, key_file, pw, &m->drbg);
    if (ret == MBEDTLS_ERR_PK_FILE_IO_ERROR) {
      sn__log(m, SN_LOG_ERROR, "private key: cannot read %s", key_file);
      return SN_ERR_FILE;
    }
#else
    return SN_ERR_UNSUPPORTED;
#endif
  } else {
    sn__log(m, SN_LOG_ERROR, "a certificate without its private key");
    return SN_ERR_INVALID;
  }
  if (ret != 0) {
    sn__log_tls(m, SN_LOG_ERROR, "private key", ret);
    return SN_ERR_KEY;
  }
  if ((ret = sn__pk_check_pair(&crt->pk, pk, &m->drbg)) != 0) {
    sn__log_tls(m, SN_LOG_ERROR, "private key does not match the certificate", ret);
    return SN_ERR_KEY;
  }
  return SN_OK;
}

/* The 0-terminated suite list (a new allocation) of the ids in `want` that
   this mbedTLS build knows; SN_ERR_UNSUPPORTED when none. */
static int sn__suites(sn_mgr *m, const int *want, int **out) {
  size_t i, n = 0;
  if (want == NULL) want = sn__default_suites;
  for (i = 0; want[i] != 0; i++) n++;
  *out = (int *) SN_MALLOC((n + 1) * sizeof(int));
  if (*out == NULL) return SN_ERR_NOMEM;
  for (i = 0, n = 0; want[i] != 0; i++)
    if (mbedtls_ssl_ciphersuite_from_id(want[i]) != NULL) (*out)[n++] = want[i];
  (*out)[n] = 0;
  if (n == 0) {
    sn__log(m, SN_LOG_ERROR, "none of the requested cipher suites is in this mbedTLS build");
    return SN_ERR_UNSUPPORTED;
  }
  return SN_OK;
}

static int sn__tls_setup(sn_mgr *m, sn__listener *l, const sn_tls_opts *t) {
  int ret;
  uint32_t lifetime = t->session_lifetime_s ? t->session_lifetime_s : 86400;
  l->is_tls = 1;
  if (t->cert == NULL && t->cert_file == NULL) {
    sn__log(m, SN_LOG_ERROR, "TLS listener without a certificate");
    return SN_ERR_INVALID;
  }
  if ((ret = sn__load_crt(m, &l->cert, t->cert, t->cert_len, t->cert_file, "certificate")) != SN_OK) return ret;
  if ((ret = sn__load_key(m, &l->key, &l->cert, t->key, t->key_len, t->key_file, t->key_password)) != SN_OK) return ret;
  if (t->client_ca != NULL || t->client_ca_file != NULL) {
    ret = sn__load_crt(m, &l->client_ca, t->client_ca, t->client_ca_len, t->client_ca_file, "client CA");
    if (ret != SN_OK) return ret;
    l->has_client_ca = 1;
  }
  if ((ret = sn__suites(m, t->ciphersuites, &l->suites)) != SN_OK) return ret;
  ret = mbedtls_ssl_config_defaults(&l->conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT);
  if (ret != 0) {
    sn__log_tls(m, SN_LOG_ERROR, "mbedtls_ssl_config_defaults", ret);
    return SN_ERR_TLS;
  }
  mbedtls_ssl_conf_rng(&l->conf, mbedtls_ctr_drbg_random, &m->drbg);
  sn__conf_debug(m, &l->conf);
  sn__conf_min_tls12(&l->conf);
  mbedtls_ssl_conf_ciphersuites(&l->conf, l->suites);
  if ((ret = mbedtls_ssl_conf_own_cert(&l->conf, &l->cert, &l->key)) != 0) {
    sn__log_tls(m, SN_LOG_ERROR, "mbedtls_ssl_conf_own_cert", ret);
    return SN_ERR_TLS;
  }
  if (l->has_client_ca) {
    mbedtls_ssl_conf_ca_chain(&l->conf, &l->client_ca, NULL);
    mbedtls_ssl_conf_authmode(&l->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
  } else {
    mbedtls_ssl_conf_authmode(&l->conf, MBEDTLS_SSL_VERIFY_NONE);
  }
#if defined(SN__HAVE_TICKETS)
  if (!t->disable_tickets) {
    mbedtls_ssl_ticket_init(&l->tickets);
    l->has_tickets = 1;
    ret = mbedtls_ssl_ticket_setup(&l->tickets, mbedtls_ctr_drbg_random, &m->drbg, MBEDTLS_CIPHER_AES_256_GCM,
                                   lifetime);
    if (ret != 0) {
      sn__log_tls(m, SN_LOG_ERROR, "mbedtls_ssl_ticket_setup", ret);
      return SN_ERR_TLS;
    }
    mbedtls_ssl_conf_session_tickets_cb(&l->conf, mbedtls_ssl_ticket_write, mbedtls_ssl_ticket_parse, &l->tickets);
  }
#endif
#if defined(SN__HAVE_CACHE)
  if (t->session_cache_size >= 0) {
    mbedtls_ssl_cache_init(&l->cache);
    l->has_cache = 1;
    mbedtls_ssl_cache_set_max_entries(&l->cache, t->session_cache_size ? t->session_cache_size : 32);
#if defined(MBEDTLS_HAVE_TIME)
    mbedtls_ssl_cache_set_timeout(&l->cache, (int) lifetime);
#endif
    mbedtls_ssl_conf_session_cache(&l->conf, &l->cache, mbedtls_ssl_cache_get, mbedtls_ssl_cache_set);
  }
#endif
  (void) lifetime;
  return SN_OK;
}

static void sn__listener_free(sn_mgr *m, sn__listener *l) {
  if (l->sock != SN_INVALID_SOCK) m->port.close(m->port.ctx, l->sock);
  mbedtls_ssl_config_free(&l->conf);
  mbedtls_x509_crt_free(&l->cert);
  mbedtls_x509_crt_free(&l->client_ca);
  mbedtls_pk_free(&l->key);
#if defined(SN__HAVE_TICKETS)
  if (l->has_tickets) mbedtls_ssl_ticket_free(&l->tickets);
#endif
#if defined(SN__HAVE_CACHE)
  if (l->has_cache) mbedtls_ssl_cache_free(&l->cache);
#endif
  SN_FREE(l->suites);
  SN_FREE(l);
}

static int sn__bio_send(void *ctx, const unsigned char *buf, size_t len) {
  sn__bio *io = (sn__bio *) ctx;
  int n = io->mgr->port.send(io->mgr->port.ctx, io->sock, buf, len > 0x40000000 ? 0x40000000 : len);
  if (n > 0) return n;
  if (n == SN_WANT_WRITE) return MBEDTLS_ERR_SSL_WANT_WRITE;
  io->err = n ? n : SN_ERR_IO;
  return SN__BIO_SEND_FAILED;
}

static int sn__bio_recv(void *ctx, unsigned char *buf, size_t len) {
  sn__bio *io = (sn__bio *) ctx;
  int n;
  if (io->drained) return MBEDTLS_ERR_SSL_WANT_READ;
  n = io->mgr->port.recv(io->mgr->port.ctx, io->sock, buf, len > 0x40000000 ? 0x40000000 : len);
  if (n > 0 && (size_t) n < len) io->drained = 1;
  if (n >= 0) return n;
  if (n == SN_WANT_READ) return io->drained = 1, MBEDTLS_ERR_SSL_WANT_READ;
  io->err = n;
  return SN__BIO_RECV_FAILED;
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t sn__days_from_civil(int y, int mo, int d) {
  int64_t era, yoe, doy, doe;
  y -= mo <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int64_t sn__x509_seconds(const mbedtls_x509_time *t) {
  return sn__days_from_civil(t->year, t->mon, t->day) * 86400 + t->hour * 3600 + t->min * 60 + t->sec;
}

/* Validity dates against the port's wall clock, for the verification hooks
   of both roles (mbedTLS's own check needs a platform time() that an MCU
   may lack). */
static void sn__check_dates(sn_mgr *m, const mbedtls_x509_crt *crt, uint32_t *flags) {
  int64_t now = m->port.wall_s(m->port.ctx);
  if (now < 0) {
    if (!m->warned_no_clock) sn__log(m, SN_LOG_WARN, "no wall clock: certificate dates are not checked");
    m->warned_no_clock = 1;
  } else {
    if (now < sn__x509_seconds(&crt->valid_from)) *flags |= MBEDTLS_X509_BADCERT_FUTURE;
    if (now > sn__x509_seconds(&crt->valid_to)) *flags |= MBEDTLS_X509_BADCERT_EXPIRED;
  }
}


// >>stream
/* The one transport under every protocol: TLS set-up in either role, the
   read path, the write path with its send queue, the handshake driver,
   connect (with name resolution, through the port), close_notify, the
   graceful close, and the manager's list of streams. */
#if SN__TLS_CLIENT
static void sn__st_save_session(sn__stream *st);
#endif

static void sn__st_init(sn__stream *st, sn_mgr *m, const sn__proto *proto, sn_sock sock) {
  st->io.mgr = m;
  st->proto = proto;
  st->io.sock = sock;
  st->rd_want = SN_READABLE;
  st->wr_want = SN_WRITABLE;
}

/* Sets TLS up on the stream, in a role, with a configuration that outlives
   it; reads and writes go through it once sn__st_handshake is done. On an
   open stream this is STARTTLS. */
static int sn__st_tls(sn__stream *st, int role, const mbedtls_ssl_config *conf) {
  int r;
  mbedtls_ssl_init(st->ssl);
  st->tls = (uint8_t) role;
  if ((r = mbedtls_ssl_setup(st->ssl, conf)) != 0) {
    st->tls_err = r;
    sn__log_tls(st->io.mgr, SN_LOG_WARN, "mbedtls_ssl_setup (out of memory?)", r);
    return SN_ERR_NOMEM;
  }
  mbedtls_ssl_set_bio(st->ssl, &st->io, sn__bio_send, sn__bio_recv, NULL);
  return SN_OK;
}

/* A record larger than mbedTLS's receive buffer: mbedTLS stops with
   BAD_INPUT_DATA ("requesting more data than fits") and no alert, which a
   client shows as an empty reply. Said in words, and answered with the
   record_overflow alert (RFC 8446 6.2) before the connection closes. A
   server cannot make a client send smaller records: only a client that
   offers record_size_limit or max_fragment_length would. */
static void sn__st_overflow(sn__stream *st, int r) {
  if (r != MBEDTLS_ERR_SSL_BAD_INPUT_DATA || st->ssl == NULL) return;
  sn__log(st->io.mgr, SN_LOG_WARN,
          "a TLS record larger than this build takes (MBEDTLS_SSL_IN_CONTENT_LEN %d): record_overflow sent, connection closed",
          (int) MBEDTLS_SSL_IN_CONTENT_LEN);
  (void) mbedtls_ssl_send_alert_message(st->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL, MBEDTLS_SSL_ALERT_MSG_RECORD_OVERFLOW);
}

/* Drives the handshake: SN_OK when done, SN_WANT_READ to come back when
   rd_want says, or SN_ERR_VERIFY (the certificate) / SN_ERR_TLS with tls_err
   set. */
static int sn__st_handshake(sn__stream *st) {
  int r = mbedtls_ssl_handshake(st->ssl);
  if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) {
    st->rd_want = r == MBEDTLS_ERR_SSL_WANT_READ ? SN_READABLE : SN_WRITABLE;
    return SN_WANT_READ;
  }
  if (r != 0) {
    sn__st_overflow(st, r);
    st->tls_err = r;
    return r == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED ? SN_ERR_VERIFY : SN_ERR_TLS;
  }
  st->tls_up = 1;
  st->rd_want = SN_READABLE;
  return SN_OK;
}

/* A TLS 1.3 session ticket arrived during a read or a write (a client):
   kept for the next connection, and the call is made again. */
static int sn__st_ticket(sn__stream *st, int r) {
#if defined(MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) && SN__TLS_CLIENT
  if (r == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) return sn__st_save_session(st), 1;
#endif
  (void) st, (void) r;
  return 0;
}

/* A TLS 1.3 post-handshake message mbedTLS 3.6 does not take (a client
   never asks for post-handshake authentication here, so it is a KeyUpdate):
   said as such, not as a generic error. */
static int sn__st_keyupdate(const sn__stream *st) {
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
  return st->tls_err == MBEDTLS_ERR_SSL_UNEXPECTED_MESSAGE && st->tls_up &&
         strcmp(mbedtls_ssl_get_version(st->ssl), "TLSv1.3") == 0;
#else
  (void) st;
  return 0;
#endif
}

/* Reads decrypted (or plain) bytes: > 0 their count; 0 the end of the
   stream (a FIN, or close_notify: then notify & 2); SN_WANT_READ when it
   would block (rd_want says for what); or an error: SN_ERR_TLS (tls_err
   set) or the port's. TLS 1.3 session tickets that arrive are kept. */
static int sn__st_read(sn__stream *st, void *buf, size_t len) {
  int n;
  if (!st->tls_up) {
    if (st->io.drained) return st->rd_want = SN_READABLE, SN_WANT_READ;
    if (len > 0x40000000) len = 0x40000000;
    n = st->io.mgr->port.recv(st->io.mgr->port.ctx, st->io.sock, buf, len);
    if (n > 0 && (size_t) n < len) st->io.drained = 1;
    if (n == SN_WANT_READ) st->rd_want = SN_READABLE, st->io.drained = 1;
    else if (n < 0) st->io.err = n; /* as the BIO keeps it: an error is not an end */
    return n;
  }
  do n = mbedtls_ssl_read(st->ssl, (unsigned char *) buf, len);
  while (sn__st_ticket(st, n));
  if (n > 0) return n;
  if (n == 0 || n == MBEDTLS_ERR_SSL_CONN_EOF) return 0;
  if (n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) return st->notify |= 2, 0;
  if (n == MBEDTLS_ERR_SSL_WANT_READ) return st->rd_want = SN_READABLE, SN_WANT_READ;
  if (n == MBEDTLS_ERR_SSL_WANT_WRITE) return st->rd_want = SN_WRITABLE, SN_WANT_READ;
  if (n == SN__BIO_RECV_FAILED) return st->io.err ? st->io.err : SN_ERR_IO;
  sn__st_overflow(st, n);
  st->tls_err = n;
  if (sn__st_keyupdate(st)) {
    sn__log(st->io.mgr, SN_LOG_WARN,
            "the peer sent a TLS 1.3 post-handshake message (KeyUpdate) mbedTLS does not implement: connection dropped");
    /* mbedTLS ends without an alert: the peer would see a bare EOF */
    (void) mbedtls_ssl_send_alert_message(st->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL, MBEDTLS_SSL_ALERT_MSG_UNEXPECTED_MESSAGE);
  } else
    sn__log_tls(st->io.mgr, SN_LOG_INFO, "TLS read", n);
  return SN_ERR_TLS;
}

/* Writes what the port takes of buf: the count, SN_WANT_WRITE (wr_want says
   for what), or an error. */
static int sn__st_write(sn__stream *st, const void *buf, size_t len) {
  int n;
  if (!st->tls_up) {
    if (len > 0x40000000) len = 0x40000000;
    n = st->io.mgr->port.send(st->io.mgr->port.ctx, st->io.sock, buf, len);
    if (n == SN_WANT_WRITE) st->wr_want = SN_WRITABLE;
    else if (n <= 0) n = st->io.err = n == 0 ? SN_ERR_IO : n;
    return n;
  }
  do n = mbedtls_ssl_write(st->ssl, (const unsigned char *) buf, len);
  while (sn__st_ticket(st, n));
  if (n > 0) return n;
  if (n == MBEDTLS_ERR_SSL_WANT_WRITE) return st->wr_want = SN_WRITABLE, SN_WANT_WRITE;
  if (n == MBEDTLS_ERR_SSL_WANT_READ) return st->wr_want = SN_READABLE, SN_WANT_WRITE;
  if (n == SN__BIO_SEND_FAILED) return st->io.err ? st->io.err : SN_ERR_IO;
  st->tls_err = n;
  sn__log_tls(st->io.mgr, SN_LOG_INFO, "TLS write", n);
  return n == 0 ? SN_ERR_IO : SN_ERR_TLS;
}

/* mbedTLS holds decrypted bytes, or more records, already read. */
static int sn__st_has_pending(sn__stream *st) {
  return st->tls_up && (mbedtls_ssl_get_bytes_avail(st->ssl) > 0 || mbedtls_ssl_check_pending(st->ssl));
}

static int sn__st_out_pending(const sn__stream *st) { return st->tx.off < st->tx.len || st->ext_len > 0; }

/* Makes room for n more bytes in the queue: compacts (unless a TLS write is
   to be retried with the same bytes), then grows geometrically up to limit
   bytes. SN_ERR_TOO_BIG beyond it, SN_ERR_NOMEM. */
static int sn__txq_reserve(sn__txq *q, size_t n, size_t limit) {
  size_t need, cap;
  unsigned char *p;
  if (q->off > 0 && q->inflight == 0) {
    memmove(q->buf, q->buf + q->off, q->len - q->off);
    q->len -= q->off;
    q->off = 0;
  }
  if (q->cap - q->len >= n) return SN_OK;
  need = q->len + n;
  if (need > limit || need < n) return SN_ERR_TOO_BIG;
  cap = q->cap * 2 > need ? q->cap * 2 : need;
  if (cap < SN_TX_INIT) cap = SN_TX_INIT;
  if (cap > limit) cap = limit;
  p = (unsigned char *) sn__resize(q->buf, q->len, cap);
  if (p == NULL) return SN_ERR_NOMEM;
  q->buf = p;
  q->cap = cap;
  return SN_OK;
}

#if SN__TLS_CLIENT /* the queue as the mail session and the clients use it */
static size_t sn__txq_pending(const sn__txq *q) { return q->len - q->off; }

static int sn__txq_put(sn__txq *q, const void *data, size_t n, size_t limit) {
  int r;
  if (n == 0) return SN_OK;
  if ((r = sn__txq_reserve(q, n, limit)) != SN_OK) return r;
  memcpy(q->buf + q->len, data, n);
  q->len += n;
  return SN_OK;
}
#endif

/* Sends what the queue holds, then the zero-copy tail. Returns 1 if it sent
   anything, 0 if nothing (all sent, or the port is full: wr_want says what
   to wait for), or an error. A TLS write that would block is retried with
   the same length, as mbedTLS requires. */
static int sn__st_flush(sn__stream *st) {
  int progress = 0;
  while (sn__st_out_pending(st)) {
    int from_q = st->tx.off < st->tx.len;
    const unsigned char *p = from_q ? st->tx.buf + st->tx.off : st->ext;
    size_t n = from_q ? st->tx.len - st->tx.off : st->ext_len;
    int r;
    if (st->tx.inflight) n = st->tx.inflight;
    else if (n > SN__WRITE_MAX) n = SN__WRITE_MAX;
    r = sn__st_write(st, p, n);
    if (r == SN_WANT_WRITE) {
      st->tx.inflight = n;
      return progress;
    }
    if (r < 0) return r;
    st->tx.inflight = 0;
    if (from_q) st->tx.off += (size_t) r;
    else st->ext += r, st->ext_len -= (size_t) r;
    progress = 1;
  }
  st->tx.off = st->tx.len = 0;
  st->ext = NULL;
  return progress;
}

/* Asks the port for a connection to host:port: SN_OK (connecting: writable
   says connected, or an error), SN_WANT_READ (the name is being resolved:
   ask again next round), or the port's error. The stream has no socket
   unless SN_OK. */
#if SN__TLS_CLIENT
static int sn__st_connect(sn__stream *st, const char *host, uint16_t port) {
  sn_mgr *m = st->io.mgr;
  int r = m->port.connect ? m->port.connect(m->port.ctx, host, port, &st->io.sock) : SN_ERR_UNSUPPORTED;
  if (r != SN_OK) st->io.sock = SN_INVALID_SOCK;
  return r;
}
#endif

/* Says close_notify once: SN_OK when it went (or there is no TLS to close),
   SN_WANT_WRITE when it waits for wr_want, else the error. A caller that
   cannot wait calls it once, as a best effort. */
static int sn__st_notify(sn__stream *st) {
  int r;
  if (!st->tls_up || (st->notify & 1)) return SN_OK;
  r = mbedtls_ssl_close_notify(st->ssl);
  if (r == MBEDTLS_ERR_SSL_WANT_WRITE || r == MBEDTLS_ERR_SSL_WANT_READ) {
    st->wr_want = r == MBEDTLS_ERR_SSL_WANT_WRITE ? SN_WRITABLE : SN_READABLE;
    return SN_WANT_WRITE;
  }
  st->notify |= 1;
  return r == 0 ? SN_OK : SN_ERR_TLS;
}

/* One step of a graceful close: the queue drains, close_notify goes out,
   the write side is shut, then what the peer still sends is read and
   dropped until it closes (so that a final reply is not destroyed by a TCP
   reset for unread input). Returns 0 while it goes on, 1 when it is over
   (the peer closed, or an error). The caller bounds it in time. */
static int sn__st_close_step(sn__stream *st) {
  sn_mgr *m = st->io.mgr;
  int r, i;
  if (!st->lingering) {
    if (sn__st_flush(st) < 0) return 1;
    if (sn__st_out_pending(st)) return 0;
    if ((r = sn__st_notify(st)) == SN_WANT_WRITE) return 0;
    if (r != SN_OK) return 1;
    st->lingering = 1;
    if (m->port.shutdown != NULL) m->port.shutdown(m->port.ctx, st->io.sock);
  }
  for (i = 0; i < 128; i++) {
    unsigned char buf[256];
    r = m->port.recv(m->port.ctx, st->io.sock, buf, sizeof buf);
    if (r == SN_WANT_READ) return 0;
    if (r <= 0) return 1;
  }
  return 0;
}

/* What a graceful close waits for. */
static uint8_t sn__st_close_want(const sn__stream *st) {
  if (st->lingering) return SN_READABLE;
  return sn__st_out_pending(st) ? st->wr_want : (uint8_t) SN_WRITABLE;
}

/* Gives both queues back (an idle stream: its next bytes allocate them
   again). */
static void sn__st_release(sn__stream *st) {
  SN_FREE(st->rx.buf);
  SN_FREE(st->tx.buf);
  st->rx.buf = NULL;
  st->tx.buf = NULL;
  st->rx.cap = st->rx.len = st->tx.cap = st->tx.len = st->tx.off = st->tx.inflight = 0;
}

/* Gives the socket, the TLS context and the queues back; the stream itself
   is its owner's. */
static void sn__st_free(sn__stream *st) {
  sn_mgr *m = st->io.mgr;
  if (st->io.sock != SN_INVALID_SOCK) m->port.close(m->port.ctx, st->io.sock);
  st->io.sock = SN_INVALID_SOCK;
  if (st->tls) mbedtls_ssl_free(st->ssl);
  st->tls = st->tls_up = 0;
  sn__st_release(st);
}

/* The manager's one list: a stream joins at the end; the last one takes
   the place of one that leaves (sn_poll reaps from the end, so it has seen
   the one that moves). */
static void sn__st_add(sn_mgr *m, sn__stream *st) { m->streams[m->nstreams++] = st; }

static void sn__st_remove(sn_mgr *m, sn__stream *st) {
  int i;
  for (i = 0; i < m->nstreams; i++)
    if (m->streams[i] == st) {
      m->streams[i] = m->streams[--m->nstreams];
      return;
    }
}

// >>tlsc
/* The client role of a stream's TLS (the mail sender, sn_connect): its
   configuration, IP literals, the name or pin verification, sessions kept
   for resumption. */
#if SN__TLS_CLIENT
#if !defined(MBEDTLS_SSL_CLI_C)
#error "securenet: the mail sender and sn_connect need mbedTLS's TLS client (MBEDTLS_SSL_CLI_C); for a server alone set SN_ENABLE_SMTP 0 and SN_ENABLE_CLIENT 0"
#endif
#if defined(SN_SMTP_VERIFY_NONE) && !defined(SN_TLS_VERIFY_NONE)
#define SN_TLS_VERIFY_NONE 1
#endif

/* The client role of a stream's TLS: its configuration, what to verify
   and where the server's session is kept. The mbedTLS context is the
   stream's. */
struct sn__tlsc {
  sn_mgr *mgr;
  mbedtls_ssl_context ssl; /* the stream's (st->ssl) */
  mbedtls_ssl_config conf;
  mbedtls_x509_crt ca, own;
  mbedtls_pk_context key;
  int *suites;
  const unsigned char *pin; /* 32 bytes, or NULL */
  uint8_t ip_name;          /* the name to verify is an IP literal: no SNI, an iPAddress SAN must match */
  uint8_t ip_len;           /* 4 or 16: ip holds it; 0: a literal that does not parse (never matches) */
  unsigned char ip[16];
  sn__tls_sess *sess;       /* where this server's session is kept */
};

/* A NUL-terminated IP literal (sn__ip_parse_n). */
static size_t sn__ip_parse(const char *s, unsigned char *out) { return sn__ip_parse_n(s, strlen(s), out); }

static void sn__tls_sess_drop(sn__tls_sess *e) {
  if (e->s != NULL) {
    mbedtls_ssl_session_free(e->s);
    SN_FREE(e->s);
    e->s = NULL;
  }
}

/* The slot for (key, name, port): the matching one, else an empty or the
   least recently used one, emptied. */
static sn__tls_sess *sn__tls_sess_find(sn_mgr *m, const void *key, const char *name, uint16_t port) {
  sn__tls_sess *best = &m->sessions[0];
  int i;
  if (strlen(name) >= sizeof best->name) return NULL;
  for (i = 0; i < SN_TLS_CLIENT_SESSIONS; i++) {
    sn__tls_sess *e = &m->sessions[i];
    if (e->key == key && e->port == port && strcmp(e->name, name) == 0) return e;
    if (e->used < best->used) best = e;
  }
  sn__tls_sess_drop(best);
  best->key = key, best->port = port, best->used = 0;
  strcpy(best->name, name);
  return best;
}

/* Keeps a client stream's session (TLS 1.2 after the handshake, TLS 1.3
   when a ticket arrives) for the next connection to the same server. */
/* The client role of a stream: the sn__tlsc around its TLS context. */
static sn__tlsc *sn__st_tlsc(sn__stream *st) {
  return (sn__tlsc *) (void *) ((char *) st->ssl - offsetof(sn__tlsc, ssl));
}

static void sn__st_save_session(sn__stream *st) {
  sn__tls_sess *e = st->tls == SN__ROLE_CLIENT ? sn__st_tlsc(st)->sess : NULL;
  if (e == NULL) return;
  sn__tls_sess_drop(e);
  e->s = (mbedtls_ssl_session *) SN_MALLOC(sizeof *e->s);
  if (e->s == NULL) return;
  mbedtls_ssl_session_init(e->s);
  if (mbedtls_ssl_get_session(st->ssl, e->s) != 0) sn__tls_sess_drop(e);
  else e->used = st->io.mgr->now + 1;
}

static void sn__tlsc_init(sn__tlsc *t, sn_mgr *m) {
  memset(t, 0, sizeof *t);
  t->mgr = m;
  mbedtls_ssl_config_init(&t->conf);
  mbedtls_x509_crt_init(&t->ca);
  mbedtls_x509_crt_init(&t->own);
  mbedtls_pk_init(&t->key);
}

static void sn__tlsc_free(sn__tlsc *t) {
  mbedtls_ssl_config_free(&t->conf);
  mbedtls_x509_crt_free(&t->ca);
  mbedtls_x509_crt_free(&t->own);
  mbedtls_pk_free(&t->key);
  SN_FREE(t->suites);
  t->suites = NULL;
}

/* An IP literal is matched against the server certificate's iPAddress
   SANs here, by securenet, on every mbedTLS version: never against a DNS SAN
   or the CN (mbedTLS 2.28 matches DNS names only, 3.6 also lets a dNSName
   or CN spelling the address match). */
static int sn__tlsc_verify_cb(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags) {
  sn__tlsc *t = (sn__tlsc *) arg;
  sn__check_dates(t->mgr, crt, flags);
  if (depth == 0 && t->ip_name) {
    const mbedtls_x509_sequence *san;
    int match = 0;
    for (san = &crt->subject_alt_names; san != NULL && !match; san = san->next)
      match = t->ip_len > 0 && san->buf.p != NULL && san->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) && /* iPAddress */
              san->buf.len == t->ip_len && memcmp(san->buf.p, t->ip, t->ip_len) == 0;
    if (!match) *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
  }
  return 0;
}

/* Sets up the client role of st's TLS: a handshake with host (or
   o->tls_name), offering the session kept for (key, name, port) if there is
   one. t holds the stream's TLS context (st->ssl) until the stream is freed. what names the
   peer in logs ("mail server"). SN_ERR_INVALID without roots or a pin
   (unless SN_TLS_VERIFY_NONE), SN_ERR_CERT/KEY/FILE for what does not load. */
static int sn__tlsc_start(sn__stream *st, sn__tlsc *t, const sn_tls_client_opts *o, const void *key, const char *host,
                          uint16_t port, const char *what, int *tls_error) {
  sn_mgr *m = t->mgr;
  const char *name = o->tls_name ? o->tls_name : host;
  int r, has_ca = o->ca != NULL || o->ca_file != NULL;
  if ((r = sn__suites(m, NULL, &t->suites)) != SN_OK) return r;
  if ((r = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                       MBEDTLS_SSL_PRESET_DEFAULT)) != 0)
    return *tls_error = r, SN_ERR_TLS;
  mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &m->drbg);
  sn__conf_debug(m, &t->conf);
  sn__conf_min_tls12(&t->conf);
  mbedtls_ssl_conf_ciphersuites(&t->conf, t->suites);
#if defined(MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED) && defined(MBEDTLS_SSL_SESSION_TICKETS) && \
    defined(MBEDTLS_SSL_PROTO_TLS1_3)
  /* TLS 1.3 tickets come after the handshake: have mbedTLS say so, to keep them */
  mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(&t->conf, MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED);
#endif
  if (has_ca) {
    if ((r = sn__load_crt(m, &t->ca, o->ca, o->ca_len, o->ca_file, "trusted roots")) != SN_OK) return r;
    mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
  }
  if (o->cert != NULL || o->cert_file != NULL) {
    if ((r = sn__load_crt(m, &t->own, o->cert, o->cert_len, o->cert_file, "client certificate")) != SN_OK) return r;
    if ((r = sn__load_key(m, &t->key, &t->own, o->key, o->key_len, o->key_file, o->key_password)) != SN_OK) return r;
    if ((r = mbedtls_ssl_conf_own_cert(&t->conf, &t->own, &t->key)) != 0) return *tls_error = r, SN_ERR_TLS;
  }
  t->pin = o->pin_sha256;
#if defined(SN_TLS_VERIFY_NONE)
  sn__log(m, SN_LOG_WARN, "INSECURE: SN_TLS_VERIFY_NONE: the certificate of %s %s is not verified", what, name);
  mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_OPTIONAL);
  t->pin = NULL;
#else
  if (!has_ca && t->pin == NULL) {
    sn__log(m, SN_LOG_ERROR, "%s %s: no trusted roots and no pin, nothing to verify against", what, name);
    return SN_ERR_INVALID;
  }
  /* pinned without roots: the chain cannot be trusted, the pin decides (after the handshake) */
  mbedtls_ssl_conf_authmode(&t->conf, has_ca ? MBEDTLS_SSL_VERIFY_REQUIRED : MBEDTLS_SSL_VERIFY_OPTIONAL);
#endif
  st->ssl = &t->ssl;
  if ((r = sn__st_tls(st, SN__ROLE_CLIENT, &t->conf)) != SN_OK) return *tls_error = st->tls_err, r;
  /* RFC 6066 3: no SNI for an IP literal; its check is sn__tlsc_verify_cb's (NULL says so to 3.6) */
  t->ip_name = (uint8_t) (strchr(name, ':') != NULL || strspn(name, "0123456789.") == strlen(name));
  if (t->ip_name) t->ip_len = (uint8_t) sn__ip_parse(name, t->ip); /* 0 for "010.1.1.1" & co: never verifies */
  if ((r = mbedtls_ssl_set_hostname(st->ssl, t->ip_name ? NULL : name)) != 0) return *tls_error = r, SN_ERR_INVALID;
  mbedtls_ssl_set_verify(st->ssl, sn__tlsc_verify_cb, t);
  t->sess = sn__tls_sess_find(m, key, name, port);
  if (t->sess != NULL && t->sess->s != NULL && mbedtls_ssl_set_session(st->ssl, t->sess->s) == 0)
    t->sess->used = m->now + 1;
  return SN_OK;
}

/* The pin against the server's key, and, when the pin stands in for roots,
   every other verification result (dates, name) except "not trusted". */
static int sn__tlsc_check_pin(sn__stream *st, uint32_t *flags, char *why, size_t why_len) {
  const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(st->ssl);
  unsigned char der[1200], hash[32];
  int n;
  uint32_t f = mbedtls_ssl_get_verify_result(st->ssl);
  if (peer == NULL) return snprintf(why, why_len, "no server certificate to check the pin against"), SN_ERR_VERIFY;
  if ((f & ~(uint32_t) MBEDTLS_X509_BADCERT_NOT_TRUSTED) != 0) {
    *flags = f;
    mbedtls_x509_crt_verify_info(why, why_len, "", f);
    why[strcspn(why, "\n")] = '\0';
    return SN_ERR_VERIFY;
  }
  n = mbedtls_pk_write_pubkey_der((mbedtls_pk_context *) &peer->pk, der, sizeof der);
  if (n <= 0 || sn__sha256(der + sizeof der - n, (size_t) n, hash) != 0 || memcmp(hash, sn__st_tlsc(st)->pin, 32) != 0) {
    snprintf(why, why_len, "the server's public key does not match the pin");
    return SN_ERR_VERIFY;
  }
  return SN_OK;
}

/* The client side of sn__st_handshake: SN_OK when done and verified (the
   pin checked, a TLS 1.2 session kept), SN_WANT_READ to come back later, or
   SN_ERR_VERIFY / SN_ERR_TLS with the reason in words in why and the
   verification result in *flags. */
static int sn__tlsc_handshake(sn__stream *st, uint32_t *flags, char *why, size_t why_len) {
  int r = sn__st_handshake(st);
  if (r == SN_WANT_READ) return r;
  if (r != SN_OK) {
    *flags = mbedtls_ssl_get_verify_result(st->ssl);
    if (r == SN_ERR_VERIFY) {
      mbedtls_x509_crt_verify_info(why, why_len, "", *flags);
      why[strcspn(why, "\n")] = '\0';
    } else {
      sn__tls_strerror(st->tls_err, why, why_len);
    }
    return r;
  }
  if (sn__st_tlsc(st)->pin != NULL && (r = sn__tlsc_check_pin(st, flags, why, why_len)) != SN_OK) return r;
  if (strcmp(mbedtls_ssl_get_version(st->ssl), "TLSv1.3") != 0) sn__st_save_session(st); /* 1.3: when the ticket comes */
  return SN_OK;
}
#endif /* SN__TLS_CLIENT */

// >>http
/* HTTP/1.1 messages (RFC 9112): the request parser (in place), the field
   lines and the framing rule it shares with the HTTP client, the chunked
   decoder. */
static int sn__is_tchar(int ch) {
  /* RFC 9110 5.6.2 token characters */
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* The methods the server implements (others: 501); the longest is 7 bytes. */
static const char *const sn__methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
#define SN__METHOD_MAX 7

static int sn__known_method(sn_str m) {
  size_t i;
  for (i = 0; i < sizeof sn__methods / sizeof sn__methods[0]; i++)
    if (sn__eq(m, sn__methods[i])) return 1;
  return 0;
}

/* The method, decided from its first bytes p[0..n) (at most SN__METHOD_MAX
   + 1 looked at), before the line is whole: 501 for one longer than any we
   implement (RFC 9112 3: never 414, which is about the target), 400 for a
   byte that is no token character, 0 while undecided. `skipping`: a CR at
   p[0] may still begin an empty line before the request line. */
static int sn__method_verdict(const char *p, size_t n, int skipping) {
  size_t i;
  for (i = 0; i < n && i <= SN__METHOD_MAX; i++) {
    if (p[i] == ' ') return 0;
    if (!sn__is_tchar((unsigned char) p[i])) return i == 0 && p[0] == '\r' && skipping && n == 1 ? 0 : 400;
  }
  return i > SN__METHOD_MAX ? 501 : 0;
}

/* RFC 3986 unreserved and sub-delims, without ',' (a list of hosts is no
   host), plus ':' where allowed. */
static int sn__host_char(int ch, int colon_ok) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         (ch != 0 && strchr("-._~!$&'()*+;=", ch) != NULL) || (colon_ok && ch == ':');
}

/* RFC 9110 7.2: Host = uri-host [ ":" port ] (RFC 3986 3.2.2, 3.2.3), with
   uri-host an IP-literal ("[" IPv6address / IPvFuture "]") or a reg-name
   (IPv4 addresses are reg-names too). Refused: an empty value, userinfo
   ('@'), a path, a list (','), white space, a port that is not digits. */
static int sn__host_ok(sn_str h) {
  const char *p = h.ptr;
  size_t n = h.len, i = 0;
  if (n == 0) return 0;
  if (p[0] == '[') {
    const char *rb = (const char *) memchr(p, ']', n);
    size_t in;
    if (rb == NULL) return 0;
    in = (size_t) (rb - p) - 1; /* bytes between the brackets */
    if (in >= 4 && (p[1] == 'v' || p[1] == 'V')) { /* IPvFuture: "v" 1*HEXDIG "." 1*(...) */
      size_t k = 2;
      while (k <= in && sn__hexval((unsigned char) p[k]) >= 0) k++;
      if (k == 2 || k > in || p[k] != '.' || k == in) return 0;
      for (k++; k <= in; k++)
        if (!sn__host_char((unsigned char) p[k], 1) && p[k] != ',') return 0;
    } else if (memchr(p + 1, ':', in) == NULL || sn__ip_parse_n(p + 1, in, NULL) != 16) {
      return 0;
    }
    i = in + 2;
  } else {
    for (; i < n && p[i] != ':'; i++) {
      if (p[i] == '%') { /* pct-encoded */
        if (n - i < 3 || sn__hexval((unsigned char) p[i + 1]) < 0 || sn__hexval((unsigned char) p[i + 2]) < 0)
          return 0;
        i += 2;
      } else if (!sn__host_char((unsigned char) p[i], 0)) {
        return 0;
      }
    }
    if (i == 0) return 0; /* ":80": no host */
  }
  if (i == n) return 1;
  if (p[i] != ':') return 0;
  for (i++; i < n; i++)
    if (p[i] < '0' || p[i] > '9') return 0;
  return 1;
}

/* Request-target to path and query (RFC 9112 3.2): origin-form, or
   absolute-form whose authority is skipped. Returns 0 or an HTTP status. */
static int sn__split_target(sn_str t, sn_request *req) {
  const char *q;
  if (t.len >= 7 && (sn__ieq(t.ptr, 7, "http://") || (t.len >= 8 && sn__ieq(t.ptr, 8, "https://")))) {
    size_t skip = t.ptr[4] == ':' ? 7 : 8;
    const char *slash = (const char *) memchr(t.ptr + skip, '/', t.len - skip);
    const char *qm = (const char *) memchr(t.ptr + skip, '?', t.len - skip);
    if (slash == NULL || (qm != NULL && qm < slash)) return 400; /* no path: we do not invent one */
    t.len -= (size_t) (slash - t.ptr);
    t.ptr = slash;
  } else if (t.len == 1 && t.ptr[0] == '*' && sn__eq(req->method, "OPTIONS")) {
    req->path = t;
    return 0;
  } else if (t.len == 0 || t.ptr[0] != '/') {
    return 400;
  }
  if (memchr(t.ptr, '#', t.len) != NULL) return 400;
  q = (const char *) memchr(t.ptr, '?', t.len);
  req->path.ptr = t.ptr;
  req->path.len = q ? (size_t) (q - t.ptr) : t.len;
  req->query.ptr = q ? q + 1 : t.ptr + t.len;
  req->query.len = q ? t.len - req->path.len - 1 : 0;
  return 0;
}

/* Decodes the path in place; refuses what could reach a file or a handler
   in a form other than the one checked: NUL, bad escapes, dot segments. */
static int sn__decode_path(sn_request *req) {
  char *p = (char *) req->path.ptr;
  int n;
  size_t i;
  if (req->path.len == 1 && p[0] == '*') return 0;
  n = sn_url_decode(p, req->path.len, p, req->path.len, 0);
  if (n < 0) return 400;
  req->path.len = (size_t) n;
  for (i = 0; i < (size_t) n; i++) {
    if (p[i] == '\0') return 400;
    if (p[i] == '/' && i + 1 < (size_t) n && p[i + 1] == '.') {
      size_t rest = (size_t) n - i - 1;
      if (rest == 1 || p[i + 2] == '/') return 400;                                   /* "/." */
      if (p[i + 2] == '.' && (rest == 2 || p[i + 3] == '/')) return 400;              /* "/.." */
    }
  }
  return 0;
}

static int sn__parse_version(const char *p, size_t len, int *version) {
  if (len != 8 || memcmp(p, "HTTP/", 5) != 0 || p[6] != '.' || p[5] < '0' || p[5] > '9' || p[7] < '0' ||
      p[7] > '9')
    return 400;
  if (p[5] != '1') return 505;
  *version = p[7] == '0' ? 10 : 11;
  return 0;
}

/* The header fields of a request's or a response's head: buf[i..end),
   end just past the CRLF CRLF that ends the head (RFC 9112 5). Every line
   ends in CRLF; a name is a token right before its ':' (no white space,
   5.1); no obs-fold (5.2); a value holds no control character but HTAB
   (a bare CR, NUL, ...); at most SN_MAX_HEADERS fields. Values are trimmed.
   Returns 0, 400 (a malformed line) or 431 (too many). */
static int sn__parse_fields(const char *buf, size_t i, size_t end, sn_header *hs, int *count) {
  *count = 0;
  while (i < end - 2) {
    size_t eol, k;
    const char *colon;
    sn_header *h;
    const char *nl = (const char *) memchr(buf + i, '\n', end - i);
    eol = (size_t) (nl - buf);
    if (buf[eol - 1] != '\r' || eol - 1 == i) return 400;
    if (buf[i] == ' ' || buf[i] == '\t') return 400; /* obs-fold */
    colon = (const char *) memchr(buf + i, ':', eol - 1 - i);
    if (colon == NULL || colon == buf + i) return 400;
    for (k = i; k < (size_t) (colon - buf); k++)
      if (!sn__is_tchar((unsigned char) buf[k])) return 400;
    for (k = (size_t) (colon - buf) + 1; k < eol - 1; k++) {
      unsigned char ch = (unsigned char) buf[k];
      if ((ch < 0x20 && ch != '\t') || ch == 0x7f) return 400;
    }
    if (*count >= SN_MAX_HEADERS) return 431;
    h = &hs[(*count)++];
    h->name.ptr = buf + i;
    h->name.len = (size_t) (colon - (buf + i));
    h->value.ptr = colon + 1;
    h->value.len = (size_t) (buf + eol - 1 - (colon + 1));
    h->value = sn__trim(h->value);
    i = eol + 1;
  }
  return 0;
}

/* How a message's body is delimited (RFC 9112 6): the one decision, for a
   request the server reads and for a response the HTTP client reads. */
enum { SN__BODY_NONE, SN__BODY_LENGTH, SN__BODY_CHUNKED, SN__BODY_CLOSE };
typedef struct sn__framing {
  int kind;        /* SN__BODY_*: for a request NONE or LENGTH 0 when neither field is there */
  uint64_t length; /* LENGTH */
  int has_length;  /* a Content-Length was given (and is valid) */
  int ambiguous;   /* a response with both fields: chunked decides, the connection is not used again */
  const char *why; /* in words, when a response is refused */
  sn_str item;     /* the transfer coding refused, if that is why */
} sn__framing;

/* Content-Length (decimal, at most max_len; several fields must agree) and
   Transfer-Encoding (all fields one list of codings; chunked, last and
   once, is the only one decoded here). A request (request != 0) is held
   to RFC 9112 6.1-6.3 as a server must: both fields, several
   Transfer-Encoding fields or one in HTTP/1.0 are 400, a coding we do not
   implement before chunked 501. A response with both is decoded by chunked
   (6.3 rule 3), one with no length runs to the end of the connection.
   Returns 0, 400 or 501; for a response f->why says why in words. */
#if SN_ENABLE_HTTP_CLIENT
#define SN__WHY(words) words
#else
#define SN__WHY(words) NULL /* only the HTTP client reports it */
#endif
static int sn__frame_body(const sn_header *hs, int n, int version, int request, uint64_t max_len, sn__framing *f) {
  int i, n_te = 0, codings = 0, n_chunked = 0, chunked_last = 0;
  sn_str cl = {NULL, 0};
  memset(f, 0, sizeof *f);
  for (i = 0; i < n; i++) {
    const sn_header *h = &hs[i];
    if (sn__ieq(h->name.ptr, h->name.len, "content-length")) {
      size_t k;
      uint64_t v = 0;
      if (h->value.len == 0) return f->why = SN__WHY("bad Content-Length"), 400;
      for (k = 0; k < h->value.len; k++) {
        unsigned dig = (unsigned) (h->value.ptr[k] - '0');
        if (h->value.ptr[k] < '0' || h->value.ptr[k] > '9') return f->why = SN__WHY("bad Content-Length"), 400;
        /* a length that no integer holds is not a length (RFC 9112 6.3):
           400, where a valid one over max_body is 413 */
        if (v > (max_len - dig) / 10) return f->why = SN__WHY("bad Content-Length"), 400;
        v = v * 10 + dig;
      }
      /* several fields must be the same text (a leading zero is a second reading) */
      if (cl.ptr != NULL && (cl.len != h->value.len || memcmp(cl.ptr, h->value.ptr, cl.len) != 0))
        return f->why = SN__WHY("differing Content-Length headers"), 400;
      cl = h->value;
      f->length = v;
      f->has_length = 1;
    } else if (sn__ieq(h->name.ptr, h->name.len, "transfer-encoding")) {
      sn_str list = h->value, item;
      n_te++;
      while (sn__next_item(&list, &item)) {
        if (!request && (n_chunked || !sn__ieq(item.ptr, item.len, "chunked"))) {
          f->item = item;
          return f->why = n_chunked ? "a transfer coding after chunked" : "an unsupported transfer coding", 400;
        }
        codings++;
        chunked_last = sn__ieq(item.ptr, item.len, "chunked");
        n_chunked += chunked_last;
      }
    }
  }
  if (n_te == 0) {
    f->kind = f->has_length || request ? SN__BODY_LENGTH : SN__BODY_CLOSE;
    return 0;
  }
  if (!request) {
    if (n_chunked == 0) return f->why = "an empty Transfer-Encoding", 400;
    f->ambiguous = f->has_length;
  } else {
    if (version == 10) return 400;    /* 6.1: faulty framing */
    if (f->has_length) return 400;    /* 6.3: both fields */
    if (n_te > 1) return 400;         /* several Transfer-Encoding fields */
    /* 6.3: chunked not last (or absent) leaves the length unknown; 7.1:
       chunked at most once */
    if (!chunked_last || n_chunked != 1) return 400;
    if (codings != 1) return 501; /* 6.1: a coding we do not implement */
  }
  f->kind = SN__BODY_CHUNKED;
  f->length = 0;
  return 0;
}

/* What must hold of a request's head before anyone trusts it: one valid
   Host (RFC 9112 3.2), then the body's framing. */
static int sn__check_request(const sn_request *req, sn__framing *f) {
  int i, n_host = 0;
  for (i = 0; i < req->header_count; i++) {
    const sn_header *h = &req->headers[i];
    if (sn__ieq(h->name.ptr, h->name.len, "host")) {
      n_host++;
      if (!sn__host_ok(h->value)) return 400; /* RFC 9112 3.2: an invalid Host is 400 */
    }
  }
  if (req->version == 11 && n_host != 1) return 400;
  if (n_host > 1) return 400;
  return sn__frame_body(req->headers, req->header_count, req->version, 1, UINT64_MAX, f);
}

/* sn_http_parse, and the body's framing of a complete head in *f (the
   server's, so that framing is decided once). */
static int sn__http_parse(char *buf, size_t len, sn_request *req, const sn_http_limits *lim, size_t *scan,
                          sn__framing *f) {
  size_t max_head = lim && lim->max_header_bytes ? lim->max_header_bytes : 8192;
  size_t max_uri = lim && lim->max_uri_bytes ? lim->max_uri_bytes : 8000;
  size_t i, start = 0, end = 0, line_end;
  const char *sp1, *sp2;
  int st;
  /* RFC 9112 2.2: empty lines before the request line are ignored. */
  while (start + 1 < len && buf[start] == '\r' && buf[start + 1] == '\n' && start < 8) start += 2;
  i = (scan && *scan > start + 3) ? *scan - 3 : start;
  for (; i + 3 < len; i++) {
    if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
      end = i + 4;
      break;
    }
  }
  if ((st = sn__method_verdict(buf + start, end ? end - start : len - start, start < 8)) != 0) return -st;
  if (end == 0) {
    const char *nl = (const char *) memchr(buf + start, '\n', len - start);
    /* a line ended by a bare LF can never complete the head: refuse it now
       rather than at the request timeout (RFC 9112 2.2 lets us) */
    for (i = (scan && *scan > start) ? *scan : start; i < len; i++)
      if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r')) return -400;
    if (scan) *scan = len;
    if (nl == NULL && len - start > max_uri + 32) return -414;
    if (len >= max_head) return nl == NULL ? -414 : -431;
    return 0;
  }
  memset(req, 0, sizeof *req);
  /* request-line = method SP request-target SP HTTP-version CRLF */
  line_end = (size_t) ((const char *) memchr(buf + start, '\n', end - start) - buf);
  if (line_end == start || buf[line_end - 1] != '\r') return -400;
  sp1 = (const char *) memchr(buf + start, ' ', line_end - start);
  if (sp1 == NULL) return -400;
  sp2 = (const char *) memchr(sp1 + 1, ' ', (size_t) (buf + line_end - 1 - (sp1 + 1)));
  if (sp2 == NULL) return -400;
  req->method.ptr = buf + start;
  req->method.len = (size_t) (sp1 - (buf + start));
  if (req->method.len == 0) return -400;
  for (i = 0; i < req->method.len; i++)
    if (!sn__is_tchar((unsigned char) req->method.ptr[i])) return -400;
  {
    sn_str target;
    target.ptr = sp1 + 1;
    target.len = (size_t) (sp2 - target.ptr);
    if (target.len == 0) return -400;
    if (target.len > max_uri) return -414;
    for (i = 0; i < target.len; i++) {
      unsigned char ch = (unsigned char) target.ptr[i];
      if (ch <= 0x20 || ch >= 0x7f) return -400; /* RFC 3986 2: CTLs, space and non-ASCII bytes */
    }
    if ((st = sn__parse_version(sp2 + 1, (size_t) (buf + line_end - 1 - (sp2 + 1)), &req->version)) != 0)
      return -st;
    if (end > max_head) return -431;
    if (!sn__known_method(req->method)) return -501;
    if ((st = sn__split_target(target, req)) != 0) return -st;
  }
  if ((st = sn__parse_fields(buf, line_end + 1, end, req->headers, &req->header_count)) != 0) return -st;
  if ((st = sn__check_request(req, f)) != 0) return -st;
  if ((st = sn__decode_path(req)) != 0) return -st;
  if (scan) *scan = 0;
  return (int) end;
}

SNDEF int sn_http_parse(char *buf, size_t len, sn_request *req, const sn_http_limits *lim, size_t *scan) {
  sn__framing f;
  return sn__http_parse(buf, len, req, lim, scan, &f);
}

/* Decoder states. The size line, RFC 9112 7.1.1:
     chunk-size *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ) CRLF
   SNC_SIZE      hex digits; ';' -> SNC_EXT, SP/HTAB -> SNC_BWS, CR -> SNC_SIZE_LF
   SNC_BWS       white space after the size or a value: only ';' may follow
   SNC_EXT       after ';' (white space allowed): an ext-name must start
   SNC_EXT_NAME  in a name (token); SP/HTAB -> SNC_NAME_BWS, '=' -> SNC_EXT_EQ
   SNC_NAME_BWS  white space after a name: ';' or '=' may follow
   SNC_EXT_EQ    after '=' (white space allowed): a token or a quoted-string
   SNC_EXT_TOKEN, SNC_EXT_QUOTED, SNC_EXT_QPAIR ('\\' in one), SNC_EXT_QEND
                 the value; after it white space then ';', or ';', or CR
   The size line (extensions included) is bounded to 256 bytes, a trailer
   line to 4096. Anything else (a bare ';', a name that is not
   a token, a control character, white space before CR) is SN_ERR_PROTO. */
enum { SNC_SIZE, SNC_BWS, SNC_EXT, SNC_SIZE_LF, SNC_DATA, SNC_DATA_CR, SNC_DATA_LF, SNC_TRAILER, SNC_TRAILER_LINE,
       SNC_TRAILER_LF, SNC_END_LF, SNC_DONE, SNC_EXT_NAME, SNC_NAME_BWS, SNC_EXT_EQ, SNC_EXT_TOKEN, SNC_EXT_QUOTED,
       SNC_EXT_QPAIR, SNC_EXT_QEND };

SNDEF int sn_chunked_decode(sn_chunked *st, const char *src, size_t n, char *dst, size_t *consumed,
                            size_t *produced, uint64_t max_body) {
  size_t i = 0, o = 0;
  int ret = 0;
  while (i < n && ret == 0) {
    int ch = (unsigned char) src[i];
    switch (st->state) {
      case SNC_SIZE: {
        int v = sn__hexval(ch);
        if (v >= 0) {
          if (st->line >= 15) ret = SN_ERR_PROTO;
          st->remaining = st->remaining * 16 + (uint64_t) v;
          st->line++;
        } else if (st->line == 0) {
          ret = SN_ERR_PROTO;
        } else if (ch == ';') {
          st->state = SNC_EXT;
        } else if (ch == ' ' || ch == '\t') {
          st->state = SNC_BWS;
        } else if (ch == '\r') {
          st->state = SNC_SIZE_LF;
        } else {
          ret = SN_ERR_PROTO;
        }
        i++;
        break;
      }
      /* chunk extensions are checked, then ignored (RFC 9112 7.1.1) */
      case SNC_BWS:
      case SNC_EXT:
      case SNC_EXT_NAME:
      case SNC_NAME_BWS:
      case SNC_EXT_EQ:
      case SNC_EXT_TOKEN:
      case SNC_EXT_QUOTED:
      case SNC_EXT_QPAIR:
      case SNC_EXT_QEND: {
        int ws = ch == ' ' || ch == '\t', tok = sn__is_tchar(ch), s = st->state, next = -1;
        if (s == SNC_BWS || s == SNC_NAME_BWS) {
          if (ws) next = s;
          else if (ch == ';') next = SNC_EXT;
          else if (ch == '=' && s == SNC_NAME_BWS) next = SNC_EXT_EQ;
        } else if (s == SNC_EXT || s == SNC_EXT_EQ) {
          if (ws) next = s;
          else if (tok) next = s == SNC_EXT ? SNC_EXT_NAME : SNC_EXT_TOKEN;
          else if (ch == '"' && s == SNC_EXT_EQ) next = SNC_EXT_QUOTED;
        } else if (s == SNC_EXT_QUOTED) { /* qdtext: HTAB, SP, VCHAR but '"' and '\\', obs-text */
          if (ch == '"') next = SNC_EXT_QEND;
          else if (ch == '\\') next = SNC_EXT_QPAIR;
          else if (ws || (ch >= 0x21 && ch != 0x7f)) next = s;
        } else if (s == SNC_EXT_QPAIR) {
          if (ws || (ch >= 0x21 && ch != 0x7f)) next = SNC_EXT_QUOTED;
        } else { /* the end of a name or a value */
          if (tok && s != SNC_EXT_QEND) next = s;
          else if (ws) next = s == SNC_EXT_NAME ? SNC_NAME_BWS : SNC_BWS;
          else if (ch == ';') next = SNC_EXT;
          else if (ch == '=' && s == SNC_EXT_NAME) next = SNC_EXT_EQ;
          else if (ch == '\r') next = SNC_SIZE_LF;
        }
        if (next < 0 || ++st->line > 256) ret = SN_ERR_PROTO;
        else st->state = next;
        i++;
        break;
      }
      case SNC_SIZE_LF:
        if (ch != '\n') {
          ret = SN_ERR_PROTO;
        } else if (st->remaining == 0) {
          st->state = SNC_TRAILER;
        } else if (st->total + st->remaining > max_body) {
          ret = SN_ERR_TOO_BIG;
        } else {
          st->state = SNC_DATA;
        }
        st->line = 0;
        i++;
        break;
      case SNC_DATA: {
        size_t take = n - i;
        if ((uint64_t) take > st->remaining) take = (size_t) st->remaining;
        memmove(dst + o, src + i, take);
        o += take;
        i += take;
        st->remaining -= take;
        st->total += take;
        if (st->remaining == 0) st->state = SNC_DATA_CR;
        break;
      }
      case SNC_DATA_CR:
        if (ch != '\r') ret = SN_ERR_PROTO;
        st->state = SNC_DATA_LF;
        i++;
        break;
      case SNC_DATA_LF:
        if (ch != '\n') ret = SN_ERR_PROTO;
        st->state = SNC_SIZE;
        st->line = 0;
        i++;
        break;
      case SNC_TRAILER: /* trailer fields are read and dropped (RFC 9112 7.1.2) */
        if (ch == '\r') st->state = SNC_END_LF;
        else if (ch == '\n') ret = SN_ERR_PROTO;
        else st->state = SNC_TRAILER_LINE, st->line = 1;
        i++;
        break;
      case SNC_TRAILER_LINE:
        if (ch == '\r') st->state = SNC_TRAILER_LF;
        else if (ch == '\n' || ++st->line > 4096) ret = SN_ERR_PROTO;
        i++;
        break;
      case SNC_TRAILER_LF:
        if (ch != '\n') ret = SN_ERR_PROTO;
        st->state = SNC_TRAILER;
        i++;
        break;
      case SNC_END_LF:
        if (ch != '\n') ret = SN_ERR_PROTO;
        else st->state = SNC_DONE, ret = 1;
        i++;
        break;
      default:
        ret = 1;
        break;
    }
  }
  if (st->state == SNC_DONE && ret == 0) ret = 1;
  *consumed = i;
  *produced = o;
  return ret;
}

/* The first header field called name (any case) among n, or NULL: requests
   and the HTTP client's responses. */
static const sn_str *sn__header_find(const sn_header *hs, int n, const char *name) {
  int i;
  for (i = 0; i < n; i++)
    if (sn__ieq(hs[i].name.ptr, hs[i].name.len, name)) return &hs[i].value;
  return NULL;
}

SNDEF sn_str sn_http_header(const sn_request *req, const char *name) {
  const sn_str *v = sn__header_find(req->headers, req->header_count, name);
  sn_str none = {NULL, 0};
  return v ? *v : none;
}

SNDEF sn_str sn_http_param(const sn_request *req, const char *name) {
  int i;
  sn_str none = {NULL, 0};
  for (i = 0; i < req->param_count; i++)
    if (sn__eq(req->param_names[i], name)) return req->params[i];
  return none;
}

/* The first `name=value` pair of an urlencoded list (a query, a form body). */
static int sn__urlenc_get(sn_str q, const char *name, char *out, size_t out_len) {
  size_t nlen = strlen(name);
  if (out == NULL || out_len == 0) return SN_ERR_INVALID;
  while (q.len) {
    const char *amp = (const char *) memchr(q.ptr, '&', q.len);
    size_t plen = amp ? (size_t) (amp - q.ptr) : q.len;
    const char *eq = (const char *) memchr(q.ptr, '=', plen);
    size_t klen = eq ? (size_t) (eq - q.ptr) : plen;
    if (klen == nlen && memcmp(q.ptr, name, nlen) == 0) {
      int n = eq ? sn_url_decode(eq + 1, plen - klen - 1, out, out_len - 1, 1) : 0;
      if (n >= 0) out[n] = '\0';
      return n;
    }
    q.ptr += amp ? plen + 1 : plen;
    q.len -= amp ? plen + 1 : plen;
  }
  return SN_ERR_NOT_FOUND;
}

SNDEF int sn_http_query(const sn_request *req, const char *name, char *out, size_t out_len) {
  return sn__urlenc_get(req->query, name, out, out_len);
}

#if SN_ENABLE_AUTH
SNDEF int sn_http_form(const sn_request *req, const char *name, char *out, size_t out_len) {
  return sn__urlenc_get(req->body, name, out, out_len);
}
#endif

/* One string, "<code><reason>\0" after another: a third of the flash a
   switch takes. */
static const char sn__reasons[] =
    "100Continue\0""101Switching Protocols\0""200OK\0""201Created\0""202Accepted\0""204No Content\0""206Partial Content\0"
    "301Moved Permanently\0""302Found\0""303See Other\0""304Not Modified\0""307Temporary Redirect\0"
    "308Permanent Redirect\0""400Bad Request\0""401Unauthorized\0""403Forbidden\0""404Not Found\0"
    "405Method Not Allowed\0""408Request Timeout\0""409Conflict\0""411Length Required\0"
    "413Content Too Large\0""414URI Too Long\0""415Unsupported Media Type\0""417Expectation Failed\0"
    "426Upgrade Required\0""429Too Many Requests\0""431Request Header Fields Too Large\0""500Internal Server Error\0"
    "501Not Implemented\0""503Service Unavailable\0""505HTTP Version Not Supported\0";

SNDEF const char *sn_http_reason(int status) {
  const char *p = sn__reasons;
  while (p < sn__reasons + sizeof sn__reasons - 1) {
    if ((p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0') == status) return p + 3;
    p += strlen(p) + 1;
  }
  return status < 200 ? "Informational" : status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error";
}

// >>router
/* Route patterns, matching and precedence (literal > :param > *). */
#define SN__MAX_SEGMENTS 32

static int sn__pattern_ok(const char *p) {
  int params = 0, segs = 0;
  if (p == NULL || p[0] != '/') return 0;
  while (*p) {
    const char *seg = ++p, *end = strchr(seg, '/');
    size_t len = end ? (size_t) (end - seg) : strlen(seg);
    if (++segs > SN__MAX_SEGMENTS) return 0;
    if (len == 1 && seg[0] == '*' && end != NULL) return 0; /* '*' only last */
    if (len && seg[0] == ':' && (len == 1 || ++params > SN_MAX_PARAMS)) return 0;
    p = seg + len;
  }
  return 1;
}

/* One pattern against one path. On a match fills rank[] (per segment: 3
   literal, 2 parameter, 1 wildcard) and the captures. */
static int sn__route_try(const char *pat, sn_str path, unsigned char *rank, int *nrank, sn_str *names,
                         sn_str *vals, int *np, sn_str *wild) {
  size_t si = 0;
  *nrank = *np = 0;
  wild->ptr = NULL;
  wild->len = 0;
  if (path.len == 0 || path.ptr[0] != '/') return 0;
  while (*pat) {
    const char *seg = pat + 1, *pend = strchr(seg, '/');
    size_t plen = pend ? (size_t) (pend - seg) : strlen(seg);
    size_t sstart, slen;
    const char *send;
    if (si >= path.len || path.ptr[si] != '/') return 0;
    sstart = si + 1;
    send = (const char *) memchr(path.ptr + sstart, '/', path.len - sstart);
    slen = send ? (size_t) (send - (path.ptr + sstart)) : path.len - sstart;
    if (plen == 1 && seg[0] == '*') {
      wild->ptr = path.ptr + sstart;
      wild->len = path.len - sstart;
      rank[(*nrank)++] = 1;
      return 1;
    }
    if (plen > 0 && seg[0] == ':') {
      if (slen == 0) return 0;
      names[*np].ptr = seg + 1;
      names[*np].len = plen - 1;
      vals[*np].ptr = path.ptr + sstart;
      vals[*np].len = slen;
      (*np)++;
      rank[(*nrank)++] = 2;
    } else {
      if (plen != slen || memcmp(seg, path.ptr + sstart, slen) != 0) return 0;
      rank[(*nrank)++] = 3;
    }
    pat = seg + plen;
    si = sstart + slen;
  }
  return si == path.len;
}

static int sn__method_ok(const char *route_method, sn_str method) {
  if (route_method == NULL || strcmp(route_method, "*") == 0) return 1;
  if (sn__eq(method, route_method)) return 1;
  return strcmp(route_method, "GET") == 0 && sn__eq(method, "HEAD");
}

static void sn__allow_add(char *allow, size_t allow_len, const char *method) {
  size_t used = strlen(allow), n = strlen(method);
  const char *p = allow;
  if (n == 0) return; /* (sn_router_add refuses it; strstr would never move on) */
  while ((p = strstr(p, method)) != NULL) { /* already listed? */
    if ((p == allow || (p - allow >= 2 && p[-2] == ',')) && (p[n] == '\0' || p[n] == ',')) return;
    p += n;
  }
  if (used + n + 3 > allow_len) return;
  if (used) memcpy(allow + used, ", ", 2), used += 2;
  memcpy(allow + used, method, n + 1);
}

SNDEF void sn_router_init(sn_router *r) { memset(r, 0, sizeof *r); }

/* A method is an RFC 9110 token ("GET"), or "*" / NULL for any. */
static int sn__method_valid(const char *m) {
  size_t i;
  if (m == NULL) return 1;
  for (i = 0; m[i] != '\0'; i++)
    if (i >= 32 || !sn__is_tchar((unsigned char) m[i])) return 0;
  return i > 0;
}

SNDEF int sn_router_add(sn_router *r, const char *method, const char *pattern, sn_handler fn, void *user) {
  sn_route *rt;
  if (r == NULL || fn == NULL || !sn__method_valid(method) || !sn__pattern_ok(pattern)) return SN_ERR_INVALID;
  if (r->count >= SN_MAX_ROUTES) return SN_ERR_FULL;
  rt = &r->routes[r->count++];
  rt->method = method;
  rt->pattern = pattern;
  rt->fn = fn;
  rt->user = user;
  rt->opts = NULL;
  return SN_OK;
}

SNDEF int sn_router_add_opts(sn_router *r, const char *method, const char *pattern, const sn_route_opts *o) {
  int ret;
  if (o == NULL || o->handler == NULL) return SN_ERR_INVALID;
  if ((ret = sn_router_add(r, method, pattern, o->handler, o->user)) == SN_OK) r->routes[r->count - 1].opts = o;
  return ret;
}

SNDEF int sn_router_match(const sn_router *r, sn_request *req, char *allow, size_t allow_len) {
  unsigned char best_rank[SN__MAX_SEGMENTS], rank[SN__MAX_SEGMENTS];
  sn_str names[SN_MAX_PARAMS], vals[SN_MAX_PARAMS], wild;
  int i, best = -1, best_n = 0, path_matched = 0;
  if (allow && allow_len) allow[0] = '\0';
  for (i = 0; i < r->count; i++) {
    int nrank, np, k, better;
    if (!sn__route_try(r->routes[i].pattern, req->path, rank, &nrank, names, vals, &np, &wild)) continue;
    path_matched = 1;
    if (!sn__method_ok(r->routes[i].method, req->method)) {
      if (allow && allow_len) {
        sn__allow_add(allow, allow_len, r->routes[i].method);
        if (strcmp(r->routes[i].method, "GET") == 0) sn__allow_add(allow, allow_len, "HEAD");
      }
      continue;
    }
    better = best < 0;
    for (k = 0; !better && k < nrank && k < best_n; k++) {
      if (rank[k] != best_rank[k]) {
        better = rank[k] > best_rank[k];
        break;
      }
    }
    if (!better && best >= 0 && k == (nrank < best_n ? nrank : best_n) && nrank > best_n) better = 1;
    if (better) {
      best = i;
      best_n = nrank;
      memcpy(best_rank, rank, (size_t) nrank);
      memcpy(req->param_names, names, sizeof names);
      memcpy(req->params, vals, sizeof vals);
      req->param_count = np;
      req->wildcard = wild;
    }
  }
  if (best >= 0) return best;
  return path_matched ? -405 : -404;
}

/* The Allow list of "OPTIONS *" (RFC 9110 9.3.7): every method some route
   is registered for and the server implements (HEAD beside GET; all of them
   for a route of any method), then OPTIONS, which the server answers itself. */
static void sn__router_allow_all(const sn_router *r, char *allow, size_t allow_len) {
  size_t i;
  int k;
  allow[0] = '\0';
  for (i = 0; i < sizeof sn__methods / sizeof sn__methods[0]; i++) {
    sn_str m;
    m.ptr = sn__methods[i];
    m.len = strlen(m.ptr);
    for (k = 0; k < r->count; k++)
      if (sn__method_ok(r->routes[k].method, m)) {
        sn__allow_add(allow, allow_len, m.ptr);
        break;
      }
  }
  sn__allow_add(allow, allow_len, "OPTIONS");
}

// >>conn
/* A server connection of the HTTP server: its stream, then its request and
   reply state (the HTTP protocol's, kept out of the stream). */
/* A server connection: the states of its stream and of its request.
   SN__C_HANDSHAKE  accepted on a TLS listener; waits for the handshake to
                    complete (handshake_timeout_ms). Left to OPEN, or to
                    LINGER when it fails (mbedTLS sent its alert).
   SN__C_OPEN       requests are read and answered (the SN__R_* states).
                    Left to CLOSING after a reply that closes, the idle
                    timeout or the peer's end; to DEAD on a transport error.
   SN__C_CLOSING    the last reply drains, then close_notify goes out; then
                    LINGER.
   SN__C_LINGER     the write side is shut; what the peer still sends is read
                    and dropped until it closes or SN__LINGER_MS pass, so a
                    final reply is not destroyed by a TCP reset. Then DEAD.
   SN__C_DEAD       reaped by sn_poll at the end of the round.
   A request:
   SN__R_HEAD      reads and parses the head (the listener's request_timeout_ms
                   from its first byte). Then the route is matched, its limits
                   apply and its on_head runs (in SN__R_DISPATCH for the call:
                   a reply refuses, to SN__R_RESPOND); else SN__R_BODY.
   SN__R_BODY      buffered: gathers the body (request timeout from the head's
                   first byte); streamed: hands each piece to on_body (in
                   SN__R_DISPATCH for the call) unless paused (timeout from the
                   last piece or resume). Left to SN__R_DISPATCH at its end.
   SN__R_DISPATCH  runs the handler (a reply can begin in this state only, and
                   in SN__R_DEFERRED); then SN__R_RESPOND, or SN__R_DEFERRED
                   when it deferred without replying.
   SN__R_DEFERRED  waits for a reply from any callback (the request timeout
                   again, from the deferral: 503); the poll hook moves it to
                   SN__R_RESPOND once a reply has begun.
   SN__R_RESPOND   sends the reply (a streamed reply calls on_writable as the
                   queue drains), then back to SN__R_HEAD for the next, maybe
                   pipelined, request (sn__http_request_done).
   sn__req_end reports a request's end once (on_abort, the attached state).
   The reply itself: SN__RESP_NONE, SN__RESP_STREAMING (chunked, begun but not
   ended), SN__RESP_DONE. */
enum { SN__C_HANDSHAKE, SN__C_OPEN, SN__C_CLOSING, SN__C_LINGER, SN__C_DEAD };
enum { SN__R_HEAD, SN__R_BODY, SN__R_DISPATCH, SN__R_DEFERRED, SN__R_RESPOND };
enum { SN__RESP_NONE, SN__RESP_STREAMING, SN__RESP_DONE };

#if SN_ENABLE_WEBSOCKET
/* The receive side's parser. Its buffer holds, in order: the message being
   reassembled (asm_len bytes, unmasked; none when streaming), then the
   bytes not parsed yet, from pos. A data frame's payload is unmasked and
   moved down to the message as it arrives, so only a frame header or a
   control frame (at most 14 + 125 bytes) ever waits whole. */
typedef struct sn__wsr {
  uint64_t left;       /* the current frame's payload bytes still to come */
  uint64_t msg;        /* bytes of the open message so far (headers announced) */
  uint64_t max;        /* longest message */
  size_t asm_len, pos;
  uint32_t utf8;       /* the open text message's UTF-8 state */
  unsigned char key[4];
  uint8_t key_at;      /* which key byte the frame's next payload byte takes */
  uint8_t op, fin, masked, in_frame;
  uint8_t type;        /* of the open message; 0: none */
  uint8_t streaming;
  uint8_t server;      /* frames must come masked (a server's parser); else unmasked */
  uint8_t done;        /* the last event ended a reassembled message: dropped at the next call */
} sn__wsr;

/* One WebSocket's state (its handle, sn_ws, is its stream). A client's is
   allocated; a server's too from sn_ws_upgrade until the handler has
   returned, then it moves into the connection's request memory (the
   request is over), so an open socket costs what its connection costs. */
typedef struct sn__ws sn__ws;
struct sn__ws {
  sn__stream *st; /* its owner's (an sn_conn's, an sn_client's): both begin with it */
  sn_ws_callbacks cb;
  sn_ws_opts o;
  sn__wsr rx;
  uint64_t t_rx, t_ping, t_close, t_io;
  int err;        /* how it ends (for on_close) */
  int code;       /* the first close frame's code */
  uint8_t state, is_client, paused, sent_due, close_sent, more;
  uint8_t inplace; /* in its connection's request memory (sn__ws_take), not allocated */
  char proto[33];
  char why[96];
#if SN_ENABLE_CLIENT
  char accept[29]; /* the Sec-WebSocket-Accept the client expects */
  const char *offered;
#endif
};
#endif

/* A connection's request, and once it has become a WebSocket, the socket's
   state in the same bytes. */
typedef union sn__rq {
  sn_request req;
#if SN_ENABLE_WEBSOCKET
  sn__ws ws;
#endif
} sn__rq;

struct sn_conn {
  sn__stream st; /* first: a connection is its stream */
  sn__listener *lst;
  uint8_t state, rstate, resp;
  unsigned keep_alive : 1, close_after : 1, skip_body : 1, is_head : 1, req_chunked : 1, has_subject : 1,
      chunked_resp : 1, peer_eof : 1, more_work : 1, served : 1, streamed : 1, paused : 1, app_holds : 1,
      deferring : 1, rx_filled : 1, chunk_sent : 1, sse : 1;
  signed char why; /* why the connection ends (SN_OK: in order), for the end callbacks */
  uint64_t t_start, t_active, t_req, t_close;
  size_t scan, head_len, body_len, dec_len, body_end; /* into st.rx */
  sn_chunked chunk;
  const sn_route *route; /* matched at the head; NULL: none (or a redirecting listener) */
  uint64_t max_body;     /* the request's limits: its route's or the listener's */
  uint64_t body_left;    /* a streamed Content-Length body: bytes still to come */
  uint32_t req_timeout;
  uint32_t req_id;       /* the request's number (sn_req_ref) */
  void *req_state, *conn_state; /* sn_http_attach, sn_conn_attach */
  sn_end_fn req_end, conn_end;
  sn__rq rq; /* rq.req: the request; rq.ws: an open WebSocket's state, after it */
  size_t tx_mark; /* where the reply being written began in the send queue */
  sn_writable_fn on_writable;
  void *on_writable_arg;
  mbedtls_ssl_context ssl;
  char peer[48];
  char subject[SN_SUBJECT_MAX];
#if SN_ENABLE_AUTH
  const sn_user *user; /* who the request's guard let in (sn_http_user) */
  uint8_t user_how;    /* enum sn_auth_how */
  uint8_t guarding;    /* held by its guard (SN__R_DEFERRED) until a password check */
#endif
#if SN_ENABLE_SSE
  uint32_t sse_keepalive; /* an event stream: a comment after this long without a write */
#endif
  union {
    void *p;
    uint64_t u;
    double d;
    unsigned char b[SN_CONN_SCRATCH];
  } scratch;
};

#if SN_ENABLE_WEBSOCKET
static void sn__ws_take(sn_conn *c);
static void sn__ws_forget(sn_conn *c);
#endif

// >>reply
/* Writing responses into the connection's send queue: status line and
   headers, bodies, printf, chunked streaming, static files. */
static size_t sn__reply_limit(const sn_conn *c) { return c->lst->opts.max_reply + SN__TX_SLACK; }

/* Makes room for n more bytes in the send queue, up to the reply limit. */
static int sn__tx_reserve(sn_conn *c, size_t n) {
  size_t shift = c->st.tx.inflight == 0 ? c->st.tx.off : 0; /* what compacting moves */
  int r = sn__txq_reserve(&c->st.tx, n, sn__reply_limit(c));
  c->tx_mark = c->tx_mark >= shift ? c->tx_mark - shift : 0;
  return r;
}

static int sn__tx_put(sn_conn *c, const void *data, size_t n) {
  int r;
  if (n == 0) return SN_OK;
  if ((r = sn__tx_reserve(c, n)) != SN_OK) return r;
  memcpy(c->st.tx.buf + c->st.tx.len, data, n);
  c->st.tx.len += n;
  return SN_OK;
}

static int sn__tx_vprintf(sn_conn *c, const char *fmt, va_list ap) {
  va_list ap2;
  int n, r;
  size_t room = c->st.tx.cap - c->st.tx.len;
  va_copy(ap2, ap); /* first straight into the free space: formatted once when it fits */
  n = vsnprintf(room > 0 ? (char *) c->st.tx.buf + c->st.tx.len : NULL, room, fmt, ap2);
  va_end(ap2);
  if (n < 0) return SN_ERR_INVALID;
  if ((size_t) n >= room) {
    if ((r = sn__tx_reserve(c, (size_t) n + 1)) != SN_OK) return r;
    vsnprintf((char *) c->st.tx.buf + c->st.tx.len, (size_t) n + 1, fmt, ap);
  }
  c->st.tx.len += (size_t) n;
  return SN_OK;
}

static int sn__tx_printf(sn_conn *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static int sn__tx_printf(sn_conn *c, const char *fmt, ...) {
  va_list ap;
  int r;
  va_start(ap, fmt);
  r = sn__tx_vprintf(c, fmt, ap);
  va_end(ap);
  return r;
}

static int sn__can_reply(const sn_conn *c) {
  return c->state == SN__C_OPEN && (c->rstate == SN__R_DISPATCH || c->rstate == SN__R_DEFERRED) &&
         c->resp == SN__RESP_NONE;
}

/* Status line and headers. content_length < 0: chunked (or, for HTTP/1.0,
   a body delimited by closing the connection). */
static int sn__reply_head(sn_conn *c, int status, const char *headers, long long content_length) {
  int r, no_body = status < 200 || status == 204 || status == 304;
  if (c == NULL || status < 100 || status > 999) return SN_ERR_INVALID;
  if (!sn__can_reply(c)) return SN_ERR_STATE;
  c->tx_mark = c->st.tx.len;
  c->skip_body = c->is_head || no_body;
  c->chunked_resp = content_length < 0 && !no_body && c->rq.req.version == 11;
  if (content_length < 0 && !no_body && c->rq.req.version == 10) c->close_after = 1;
  { /* the status line and framing, put together by hand: this runs for
       every response, and printf would parse its format twice */
    char line[208], num[24], *d = num + sizeof num;
    const char *reason = sn_http_reason(status);
    size_t n = 0, rl = strlen(reason);
    const sn_port *port = &c->st.io.mgr->port;
    int64_t now = port->wall_s != NULL ? port->wall_s(port->ctx) : -1;
    if (rl > 64) rl = 64;
    memcpy(line, "HTTP/1.1 ", 9), n = 9;
    line[n++] = (char) ('0' + status / 100), line[n++] = (char) ('0' + status / 10 % 10);
    line[n++] = (char) ('0' + status % 10), line[n++] = ' ';
    memcpy(line + n, reason, rl), n += rl;
    line[n++] = '\r', line[n++] = '\n';
    /* RFC 9110 6.6.1: an origin server with a clock sends Date; without one, none */
    if (now >= 0 && sn__imf_date(now, line + n + 6) != 0) {
      memcpy(line + n, "Date: ", 6), n += 6 + 29;
      line[n++] = '\r', line[n++] = '\n';
    }
    if (!no_body && content_length >= 0) {
      unsigned long long v = (unsigned long long) content_length;
      do *--d = (char) ('0' + v % 10); while ((v /= 10) != 0);
      memcpy(line + n, "Content-Length: ", 16), n += 16;
      memcpy(line + n, d, (size_t) (num + sizeof num - d)), n += (size_t) (num + sizeof num - d);
      line[n++] = '\r', line[n++] = '\n';
    } else if (!no_body && c->chunked_resp) {
      memcpy(line + n, "Transfer-Encoding: chunked\r\n", 28), n += 28;
    }
    if (c->close_after) memcpy(line + n, "Connection: close\r\n", 19), n += 19;
    else if (c->rq.req.version == 10) memcpy(line + n, "Connection: keep-alive\r\n", 24), n += 24;
    r = sn__tx_put(c, line, n);
  }
  if (r == SN_OK) r = sn__tx_put(c, c->lst->opts.headers, c->lst->headers_len);
  if (r == SN_OK && headers != NULL) r = sn__tx_put(c, headers, strlen(headers));
  if (r == SN_OK) r = sn__tx_put(c, "\r\n", 2);
  if (r != SN_OK) c->st.tx.len = c->tx_mark;
  return r;
}

static int sn__reply_fail(sn_conn *c, int r) {
  c->st.tx.len = c->tx_mark;
  c->chunked_resp = 0;
  return r;
}

SNDEF int sn_http_reply(sn_conn *c, int status, const char *headers, const void *body, size_t len) {
  int r = sn__reply_head(c, status, headers, (long long) len);
  if (r != SN_OK) return r;
  if (!c->skip_body && (r = sn__tx_put(c, body, len)) != SN_OK) return sn__reply_fail(c, r);
  c->resp = SN__RESP_DONE;
  return SN_OK;
}

SNDEF int sn_http_vprintf(sn_conn *c, int status, const char *headers, const char *fmt, va_list ap) {
  va_list ap2;
  int n, r;
  va_copy(ap2, ap);
  n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return SN_ERR_INVALID;
  if ((r = sn__reply_head(c, status, headers, n)) != SN_OK) return r;
  if (!c->skip_body && (r = sn__tx_vprintf(c, fmt, ap)) != SN_OK) return sn__reply_fail(c, r);
  c->resp = SN__RESP_DONE;
  return SN_OK;
}

SNDEF int sn_http_printf(sn_conn *c, int status, const char *headers, const char *fmt, ...) {
  va_list ap;
  int r;
  va_start(ap, fmt);
  r = sn_http_vprintf(c, status, headers, fmt, ap);
  va_end(ap);
  return r;
}

SNDEF int sn_http_json(sn_conn *c, int status, const char *fmt, ...) {
  va_list ap;
  int r;
  va_start(ap, fmt);
  r = sn_http_vprintf(c, status, "Content-Type: application/json\r\n", fmt, ap);
  va_end(ap);
  return r;
}

SNDEF int sn_http_error(sn_conn *c, int status) {
  return sn_http_printf(c, status, "Content-Type: text/plain; charset=utf-8\r\n", "%d %s\n", status,
                        sn_http_reason(status));
}

SNDEF int sn_http_chunked_begin(sn_conn *c, int status, const char *headers) {
  int r = sn__reply_head(c, status, headers, -1);
  if (r == SN_OK) c->resp = SN__RESP_STREAMING;
  return r;
}

static int sn__chunk_frame(sn_conn *c, size_t len) {
  return c->chunked_resp ? sn__tx_printf(c, "%lx\r\n", (unsigned long) len) : SN_OK;
}

SNDEF int sn_http_chunk(sn_conn *c, const void *data, size_t len) {
  size_t mark;
  int r;
  if (c == NULL || c->resp != SN__RESP_STREAMING) return SN_ERR_STATE;
  if (len == 0) return SN_OK;
  if (c->skip_body) return c->chunk_sent = 1, SN_OK; /* HEAD: written, as far as the writer knows */
  mark = c->st.tx.len;
  if ((r = sn__chunk_frame(c, len)) == SN_OK && (r = sn__tx_put(c, data, len)) == SN_OK && c->chunked_resp)
    r = sn__tx_put(c, "\r\n", 2);
  if (r != SN_OK) c->st.tx.len = mark;
  else c->chunk_sent = 1;
  return r;
}

SNDEF int sn_http_chunkf(sn_conn *c, const char *fmt, ...) {
  va_list ap, ap2;
  int n, r;
  size_t mark;
  if (c == NULL || c->resp != SN__RESP_STREAMING) return SN_ERR_STATE;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  mark = c->st.tx.len;
  r = n < 0 ? SN_ERR_INVALID : SN_OK;
  if (r == SN_OK && n > 0 && !c->skip_body) {
    if ((r = sn__chunk_frame(c, (size_t) n)) == SN_OK && (r = sn__tx_vprintf(c, fmt, ap)) == SN_OK &&
        c->chunked_resp)
      r = sn__tx_put(c, "\r\n", 2);
    if (r != SN_OK) c->st.tx.len = mark;
  }
  if (r == SN_OK && n > 0) c->chunk_sent = 1;
  va_end(ap);
  return r;
}

SNDEF int sn_http_chunked_end(sn_conn *c) {
  int r = SN_OK;
  if (c == NULL || c->resp != SN__RESP_STREAMING) return SN_ERR_STATE;
  if (c->chunked_resp && !c->skip_body) r = sn__tx_put(c, "0\r\n\r\n", 5);
  if (r == SN_OK) {
    c->resp = SN__RESP_DONE;
    c->on_writable = NULL;
  }
  return r;
}

SNDEF void sn_http_on_writable(sn_conn *c, sn_writable_fn fn, void *arg) {
  c->on_writable = fn;
  c->on_writable_arg = arg;
}

#if SN_ENABLE_SSE
/* Server-sent events: a chunked response whose chunks are events. */
SNDEF int sn_sse_begin(sn_conn *c, const char *headers, uint32_t keepalive_ms) {
  static const char base[] = "Content-Type: text/event-stream\r\nCache-Control: no-store\r\n";
  char h[sizeof base + 512];
  size_t n = headers != NULL ? strlen(headers) : 0;
  int r;
  if (c == NULL) return SN_ERR_INVALID;
  if (n > 512) return SN_ERR_TOO_BIG;
  memcpy(h, base, sizeof base - 1);
  memcpy(h + sizeof base - 1, headers != NULL ? headers : "", n);
  h[sizeof base - 1 + n] = '\0';
  if ((r = sn_http_chunked_begin(c, 200, h)) != SN_OK) return r;
  c->sse = 1;
  c->sse_keepalive = keepalive_ms ? keepalive_ms : 15000;
  return SN_OK;
}

static void sn__sse_add(char *out, size_t *n, const void *p, size_t len) {
  if (out != NULL && len > 0) memcpy(out + *n, p, len);
  *n += len;
}

/* Puts one event's text (out NULL: measures it). */
static size_t sn__sse_text(char *out, const char *event, const char *id, const unsigned char *d, size_t len) {
  size_t n = 0, i = 0;
  if (event != NULL) sn__sse_add(out, &n, "event: ", 7), sn__sse_add(out, &n, event, strlen(event)), sn__sse_add(out, &n, "\n", 1);
  if (id != NULL) sn__sse_add(out, &n, "id: ", 4), sn__sse_add(out, &n, id, strlen(id)), sn__sse_add(out, &n, "\n", 1);
  for (;;) { /* each line of data, at CR, LF or CRLF */
    size_t k = i;
    while (k < len && d[k] != '\r' && d[k] != '\n') k++;
    sn__sse_add(out, &n, "data: ", 6), sn__sse_add(out, &n, d + i, k - i), sn__sse_add(out, &n, "\n", 1);
    if (k >= len) break;
    i = k + 1 + (d[k] == '\r' && k + 1 < len && d[k + 1] == '\n');
    if (i >= len) { /* data ending in a line break: its empty last line */
      sn__sse_add(out, &n, "data: \n", 7);
      break;
    }
  }
  sn__sse_add(out, &n, "\n", 1);
  return n;
}

static int sn__sse_field_ok(const char *f) {
  for (; f != NULL && *f; f++)
    if (*f == '\r' || *f == '\n') return 0;
  return 1;
}

/* One chunk of raw event-stream text, all or nothing within max_reply. */
static int sn__sse_put(sn_conn *c, const char *event, const char *id, const void *data, size_t len, const char *raw) {
  size_t n = raw != NULL ? strlen(raw) : sn__sse_text(NULL, event, id, (const unsigned char *) data, len);
  size_t pending, mark;
  int r;
  if (c == NULL) return SN_ERR_INVALID;
  if (!c->sse || c->resp != SN__RESP_STREAMING) return SN_ERR_STATE;
  if (c->skip_body) return SN_OK;
  pending = c->st.tx.len - c->st.tx.off;
  if (n + 24 > c->lst->opts.max_reply || pending > c->lst->opts.max_reply - n - 24) return SN_ERR_FULL;
  if ((r = sn__tx_reserve(c, n + 24)) != SN_OK) return r == SN_ERR_TOO_BIG ? SN_ERR_FULL : r;
  mark = c->st.tx.len;
  if ((r = sn__chunk_frame(c, n)) != SN_OK) return c->st.tx.len = mark, r;
  if (raw != NULL) memcpy(c->st.tx.buf + c->st.tx.len, raw, n);
  else (void) sn__sse_text((char *) c->st.tx.buf + c->st.tx.len, event, id, (const unsigned char *) data, len);
  c->st.tx.len += n;
  if (c->chunked_resp) memcpy(c->st.tx.buf + c->st.tx.len, "\r\n", 2), c->st.tx.len += 2;
  c->chunk_sent = 1;
  return SN_OK;
}

SNDEF int sn_sse_send(sn_conn *c, const char *event, const char *id, const void *data, size_t len) {
  if ((data == NULL && len > 0) || !sn__sse_field_ok(event) || !sn__sse_field_ok(id)) return SN_ERR_INVALID;
  if (event != NULL && event[0] == '\0') event = NULL;
  return sn__sse_put(c, event, id, data != NULL ? data : "", len, NULL);
}

SNDEF int sn_sse_retry(sn_conn *c, uint32_t ms) {
  char line[24];
  snprintf(line, sizeof line, "retry: %lu\n\n", (unsigned long) ms);
  return sn__sse_put(c, NULL, NULL, NULL, 0, line);
}

SNDEF int sn_sse_end(sn_conn *c) {
  int r;
  if (c == NULL || !c->sse) return SN_ERR_STATE;
  if ((r = sn_http_chunked_end(c)) == SN_OK) c->sse = 0;
  return r;
}
#endif

SNDEF const char *sn_mime_type(sn_str path) {
  static const char *const types[] = {
      "html", "text/html; charset=utf-8", "htm",  "text/html; charset=utf-8", "css", "text/css; charset=utf-8",
      "js",   "text/javascript; charset=utf-8", "mjs", "text/javascript; charset=utf-8",
      "json", "application/json",       "txt",  "text/plain; charset=utf-8", "svg", "image/svg+xml",
      "png",  "image/png",              "jpg",  "image/jpeg",                "jpeg", "image/jpeg",
      "gif",  "image/gif",              "ico",  "image/x-icon",              "webp", "image/webp",
      "wasm", "application/wasm",       "woff2", "font/woff2",               "xml", "application/xml",
      "pdf",  "application/pdf",        "bin",  "application/octet-stream"};
  size_t i, dot = path.len;
  while (dot > 0 && path.ptr[dot - 1] != '.' && path.ptr[dot - 1] != '/') dot--;
  if (dot > 0 && path.ptr[dot - 1] == '.') {
    for (i = 0; i < sizeof types / sizeof types[0]; i += 2)
      if (sn__ieq(path.ptr + dot, path.len - dot, types[i])) return types[i + 1];
  }
  return "application/octet-stream";
}

SNDEF const sn_static_file *sn_static_find(const sn_static_file *table, size_t count, sn_str path) {
  size_t i;
  for (i = 0; i < count; i++)
    if (sn__eq(path, table[i].path)) return &table[i];
  return NULL;
}

/* Accept-Encoding names gzip with a non-zero q (RFC 9110 12.5.3). */
static int sn__accepts_gzip(const sn_request *req) {
  sn_str list = sn_http_header(req, "accept-encoding"), item;
  while (sn__next_item(&list, &item)) {
    const char *semi = (const char *) memchr(item.ptr, ';', item.len);
    sn_str name = item, params;
    if (semi) name.len = (size_t) (semi - item.ptr);
    name = sn__trim(name);
    if (!sn__ieq(name.ptr, name.len, "gzip")) continue;
    if (semi == NULL) return 1;
    params.ptr = semi + 1;
    params.len = (size_t) (item.ptr + item.len - params.ptr); /* not from name.len: name is trimmed */
    params = sn__trim(params);
    if (params.len >= 3 && sn__lower((unsigned char) params.ptr[0]) == 'q' && params.ptr[1] == '=') {
      size_t k;
      for (k = 2; k < params.len; k++)
        if (params.ptr[k] != '0' && params.ptr[k] != '.') return 1;
      return 0;
    }
    return 1;
  }
  return 0;
}

static int sn__etag_matches(const sn_request *req, const char *etag) {
  sn_str list = sn_http_header(req, "if-none-match"), item;
  while (sn__next_item(&list, &item)) {
    if (item.len >= 2 && item.ptr[0] == 'W' && item.ptr[1] == '/') item.ptr += 2, item.len -= 2;
    if (sn__eq(item, "*") || sn__eq(item, etag)) return 1;
  }
  return 0;
}

SNDEF int sn_http_static(sn_conn *c, const sn_request *req, const sn_static_file *f) {
  char head[256], etag[96];
  int gz, r;
  const unsigned char *body;
  size_t len;
  if (c == NULL || req == NULL || f == NULL) return SN_ERR_INVALID;
  gz = f->gzip != NULL && sn__accepts_gzip(req);
  body = gz ? f->gzip : f->data;
  len = gz ? f->gzip_len : f->len;
  etag[0] = '\0';
  if (f->etag != NULL) {
    /* RFC 9110 8.8.3: each representation has its own strong validator; the
       gzip variant's is the file's with "-gzip" inside the quotes */
    size_t el = strlen(f->etag);
    if (el + 6 > sizeof etag || el < 2 || f->etag[el - 1] != '"') return SN_ERR_INVALID;
    if (gz) snprintf(etag, sizeof etag, "%.*s-gzip\"", (int) (el - 1), f->etag);
    else memcpy(etag, f->etag, el + 1);
  }
  if (etag[0] != '\0' && sn__etag_matches(req, etag)) {
    /* RFC 9110 15.4.5: a 304 carries the ETag and Vary a 200 would */
    snprintf(head, sizeof head, "ETag: %s\r\n%s", etag, f->gzip ? "Vary: Accept-Encoding\r\n" : "");
    return sn_http_reply(c, 304, head, NULL, 0);
  }
  {
    sn_str p;
    p.ptr = f->path;
    p.len = strlen(f->path);
    r = snprintf(head, sizeof head, "Content-Type: %s\r\n%s%s%s%s%s", sn_mime_type(p), etag[0] ? "ETag: " : "",
                 etag, etag[0] ? "\r\n" : "", f->gzip ? "Vary: Accept-Encoding\r\n" : "",
                 gz ? "Content-Encoding: gzip\r\n" : "");
  }
  if (r < 0 || (size_t) r >= sizeof head) return SN_ERR_TOO_BIG;
  if ((r = sn__reply_head(c, 200, head, (long long) len)) != SN_OK) return r;
  if (!c->skip_body) {
    /* Small bodies join the head in one TLS record; large ones go out
       straight from the table. */
    if (len <= c->st.tx.cap - c->st.tx.len || len <= 1024) {
      if ((r = sn__tx_put(c, body, len)) != SN_OK) return sn__reply_fail(c, r);
    } else {
      c->st.ext = body;
      c->st.ext_len = len;
    }
  }
  c->resp = SN__RESP_DONE;
  return SN_OK;
}

// >>server
/* The HTTP server, a protocol on streams: a connection's life cycle
   (handshake, open, closing, linger), then the request cycle on it: read,
   parse, frame the body, route, run the handler, send, then the next
   (pipelined) request. */
static void sn__conn_drop(sn_conn *c) {
  c->state = SN__C_DEAD;
  c->st.dead = 1;
}

/* Drops the connection for why (kept for the end callbacks). */
static void sn__conn_drop_why(sn_conn *c, int why) {
  if (c->why == SN_OK) c->why = (signed char) why;
  sn__conn_drop(c);
}

/* Why a read or write failed: the port's error, TLS's, or the peer's end. */
static int sn__st_why(const sn__stream *st) {
  return st->io.err != 0 ? st->io.err : st->tls_err != 0 ? SN_ERR_TLS : SN_ERR_CLOSED;
}

static const sn_route_opts *sn__route_opts(const sn_conn *c) { return c->route != NULL ? c->route->opts : NULL; }

/* The request ends (once; later calls find nothing to report): on_abort
   when the application held it and had not begun a reply, then the end of
   the state it attached. The connection must not be reachable through a
   handle meanwhile (sn_req_conn): callers end the request, or drop the
   connection, first. */
static void sn__req_end(sn_conn *c, int why) {
  const sn_route_opts *ro = sn__route_opts(c);
  if (c->app_holds) {
    c->app_holds = 0;
    if (why != SN_OK && c->resp == SN__RESP_NONE && ro != NULL && ro->on_abort != NULL)
      ro->on_abort(c, why, c->route->user);
  }
  if (c->req_end != NULL || c->req_state != NULL) {
    sn_end_fn end = c->req_end;
    void *state = c->req_state;
    c->req_end = NULL;
    c->req_state = NULL;
    if (end != NULL) end(state, why);
  }
}

static uint8_t sn__http_poll_hook(sn__stream *st, uint64_t *next);
static void sn__http_io_hook(sn__stream *st, uint8_t ready);
static void sn__http_timer_hook(sn__stream *st);
static void sn__http_reap_hook(sn__stream *st);
static void sn__http_destroy_hook(sn__stream *st);
static const sn__proto sn__http_proto = {sn__http_poll_hook, sn__http_io_hook, sn__http_timer_hook,
                                         sn__http_reap_hook, sn__http_destroy_hook};

/* A client certificate's dates, and the leaf's subject kept for handlers. */
static int sn__verify_cb(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags) {
  sn_conn *c = (sn_conn *) arg;
  sn__check_dates(c->st.io.mgr, crt, flags);
  if (depth == 0 && mbedtls_x509_dn_gets(c->subject, sizeof c->subject, &crt->subject) > 0) c->has_subject = 1;
  return 0;
}

static sn_conn *sn__conn_new(sn_mgr *m, sn__listener *l, sn_sock s, const char *peer) {
  sn_conn *c = (sn_conn *) SN_MALLOC(sizeof *c);
  if (c == NULL) return NULL;
  memset(c, 0, sizeof *c);
  sn__st_init(&c->st, m, &sn__http_proto, s);
  c->lst = l;
  c->t_start = c->t_active = m->now;
  snprintf(c->peer, sizeof c->peer, "%s", peer);
  /* rx and tx are allocated when the first bytes come and go: a handshake
     does not hold them */
  if (l->is_tls) {
    c->st.ssl = &c->ssl;
    if (sn__st_tls(&c->st, SN__ROLE_SERVER, &l->conf) != SN_OK) {
      mbedtls_ssl_free(&c->ssl);
      SN_FREE(c);
      return NULL;
    }
    if (l->has_client_ca) mbedtls_ssl_set_verify(c->st.ssl, sn__verify_cb, c);
    c->state = SN__C_HANDSHAKE;
  } else {
    c->state = SN__C_OPEN;
  }
  return c;
}

static void sn__conn_close_gracefully(sn_conn *c) {
  if (c->state == SN__C_OPEN || c->state == SN__C_HANDSHAKE) {
    c->state = SN__C_CLOSING;
    c->t_close = c->st.io.mgr->now + SN__LINGER_MS;
  }
}

static void sn__conn_closing(sn_conn *c) {
  if (sn__st_close_step(&c->st)) sn__conn_drop(c);
  else if (c->st.lingering) c->state = SN__C_LINGER;
}

/* Answers an error found before any handler ran, then closes. Whatever the
   send buffer holds (at most a "100 Continue") stays in front of it. */
static void sn__http_fail(sn_conn *c, int status) {
  c->close_after = 1;
  c->rstate = SN__R_DISPATCH;
  c->resp = SN__RESP_NONE;
  c->streamed = c->paused = 0;
  if (sn_http_error(c, status) != SN_OK) sn__conn_drop_why(c, SN_ERR_NOMEM);
  c->rstate = SN__R_RESPOND;
  c->body_end = c->st.rx.len;
}

/* A request the application may hold fails: it is told why, then the
   client gets status. */
static void sn__req_fail(sn_conn *c, int status, int why) {
  c->rstate = SN__R_RESPOND; /* no handle reaches it any more */
  sn__req_end(c, why);
  if (c->state == SN__C_OPEN) sn__http_fail(c, status);
}

static int sn__rx_grow(sn_conn *c, size_t want) {
  char *p;
  if (want <= c->st.rx.cap) return SN_OK;
  p = (char *) SN_MALLOC(want);
  if (p == NULL) return SN_ERR_NOMEM;
  if (c->st.rx.len > 0) memcpy(p, c->st.rx.buf, c->st.rx.len);
  /* a parsed request points into the old buffer: move its views first */
  if (c->head_len > 0) {
    int i;
#define SN__MOVE(s) \
  if ((s).ptr) (s).ptr = p + ((s).ptr - c->st.rx.buf)
    SN__MOVE(c->rq.req.method);
    SN__MOVE(c->rq.req.path);
    SN__MOVE(c->rq.req.query);
    for (i = 0; i < c->rq.req.header_count; i++) {
      SN__MOVE(c->rq.req.headers[i].name);
      SN__MOVE(c->rq.req.headers[i].value);
    }
    for (i = 0; i < c->rq.req.param_count; i++) SN__MOVE(c->rq.req.params[i]);
    SN__MOVE(c->rq.req.wildcard);
#undef SN__MOVE
  }
  SN_FREE(c->st.rx.buf);
  c->st.rx.buf = p;
  c->st.rx.cap = want;
  return SN_OK;
}

/* The host of a Host value or an absolute-form authority (uri-host [":" port],
   RFC 9112 3.2), checked here and not only by the parser since it goes into a
   Location: a reg-name of letters, digits, "-._~", an IPv4 address or an IP
   literal in brackets, then an optional decimal port. Returns the host's
   length (brackets included) or 0 when malformed. */
static size_t sn__redirect_host(sn_str a) {
  size_t i, hl, k;
  if (a.len == 0) return 0;
  if (a.ptr[0] == '[') {
    const char *rb = (const char *) memchr(a.ptr, ']', a.len);
    if (rb == NULL || rb == a.ptr + 1) return 0;
    hl = (size_t) (rb - a.ptr) + 1;
    for (i = 1; i + 1 < hl; i++) {
      char ch = a.ptr[i];
      if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F') || ch == ':' ||
            ch == '.'))
        return 0;
    }
  } else {
    for (hl = 0; hl < a.len && a.ptr[hl] != ':'; hl++) {
      char ch = a.ptr[hl];
      if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || strchr("-._~", ch)))
        return 0;
    }
    if (hl == 0) return 0;
  }
  if (hl == a.len) return hl;
  if (a.ptr[hl] != ':' || a.len - hl - 1 > 5) return 0;
  for (k = hl + 1; k < a.len; k++)
    if (a.ptr[k] < '0' || a.ptr[k] > '9') return 0;
  return hl;
}

/* Redirects a plain HTTP request to the same target on HTTPS: 301 for GET
   and HEAD, 308 for every other method (RFC 9110 15.4.9: a 301 lets clients
   turn a POST into a GET and drop its body). The host is the absolute-form
   target's authority if the request has one (RFC 9112 3.2.2), else Host;
   "OPTIONS *" and a malformed host get 400. */
static void sn__http_redirect(sn_conn *c) {
  static const char hexd[] = "0123456789ABCDEF";
  sn_str host = sn_http_header(&c->rq.req, "host");
  char loc[8 + 255 + 6 + 3 * 256 + 1], *o = loc; /* scheme, host, ":port", escaped path, NUL */
  size_t i, hl;
  int status = sn__eq(c->rq.req.method, "GET") || sn__eq(c->rq.req.method, "HEAD") ? 301 : 308;
  if (c->rq.req.method.ptr != NULL && c->rq.req.path.ptr != NULL) {
    /* absolute-form: the parser skipped the authority; it is still in the
       buffer between "scheme://" and the path (decoded in place after it) */
    const char *t = c->rq.req.method.ptr + c->rq.req.method.len, *end = c->rq.req.path.ptr;
    while (t < end && *t == ' ') t++;
    if ((end - t > 7 && sn__ieq(t, 7, "http://")) || (end - t > 8 && sn__ieq(t, 8, "https://"))) {
      host.ptr = t + (t[4] == ':' ? 7 : 8);
      host.len = (size_t) (end - host.ptr);
    }
  }
  hl = sn__redirect_host(host);
  if (hl == 0 || hl > 255 || c->rq.req.path.len > 256 || c->rq.req.path.len == 0 || c->rq.req.path.ptr[0] != '/') {
    sn__http_fail(c, 400); /* no host to name, or "OPTIONS *": no resource on the other side */
    return;
  }
  o += snprintf(o, 16, "https://");
  memcpy(o, host.ptr, hl);
  o += hl;
  o += snprintf(o, 16, ":%u", (unsigned) c->lst->opts.redirect_to_https);
  for (i = 0; i < c->rq.req.path.len; i++) { /* the path was decoded; encode it again */
    unsigned char ch = (unsigned char) c->rq.req.path.ptr[i];
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || strchr("/-._~", ch)) {
      *o++ = (char) ch;
    } else {
      *o++ = '%';
      *o++ = hexd[ch >> 4];
      *o++ = hexd[ch & 15];
    }
  }
  *o = '\0';
  if (c->rq.req.query.len > 512) {
    sn__http_fail(c, 414);
    return;
  }
  {
    char head[sizeof loc + 512 + 64];
    int q = (int) c->rq.req.query.len, n;
    const char *qm = q ? "?" : "";
    n = snprintf(head, sizeof head, "Location: %s%s%.*s\r\nContent-Type: text/plain\r\n", loc, qm, q,
                 c->rq.req.query.ptr);
    if (n < 0 || (size_t) n >= sizeof head) {
      sn__http_fail(c, 414);
      return;
    }
    sn_http_printf(c, status, head, "moved to %s%s%.*s\n", loc, qm, q, c->rq.req.query.ptr);
  }
}

static void sn__http_dispatch(sn_conn *c) {
  sn__listener *l = c->lst;
  sn_mgr *m = c->st.io.mgr;
  const sn_router *r = l->opts.router;
  int idx;
  char allow[128];
  c->rq.req.body.ptr = c->st.rx.buf + c->head_len;
  c->rq.req.body.len = c->req_chunked ? c->dec_len : c->body_len;
  c->rstate = SN__R_DISPATCH;
  c->resp = SN__RESP_NONE;
  c->deferring = 0;
  m->stats.requests++;
  if (SN_ENABLE_PLAIN_HTTP && l->opts.redirect_to_https) {
    sn__http_redirect(c);
  } else {
    idx = c->route != NULL ? 0 : sn_router_match(r, &c->rq.req, allow, sizeof allow);
    if (c->route != NULL) {
      c->route->fn(c, &c->rq.req, c->route->user);
      if (c->resp == SN__RESP_NONE && c->state == SN__C_OPEN && c->deferring) {
        /* the reply comes later; the request timeout runs again from now */
        c->rstate = SN__R_DEFERRED;
        c->app_holds = 1;
        c->t_req = m->port.now_ms(m->port.ctx);
        return;
      }
      if (c->resp == SN__RESP_NONE && c->state == SN__C_OPEN) {
        sn__log(m, SN_LOG_WARN, "handler for %.*s %.*s sent no reply: 500", (int) c->rq.req.method.len,
                c->rq.req.method.ptr, (int) c->rq.req.path.len, c->rq.req.path.ptr);
        sn_http_error(c, 500);
      }
    } else if (idx == -405 || (idx == -404 && sn__eq(c->rq.req.path, "*"))) {
      /* RFC 9110 9.3.7: OPTIONS on a path that has routes, but none for
         OPTIONS, is answered here with the path's methods, "OPTIONS *"
         with the server's; a 405 lists OPTIONS too, which now works there */
      int is_options = sn__eq(c->rq.req.method, "OPTIONS");
      char head[sizeof allow + 64];
      if (idx == -404) sn__router_allow_all(r, allow, sizeof allow);
      else sn__allow_add(allow, sizeof allow, "OPTIONS");
      snprintf(head, sizeof head, "Allow: %s\r\n%s", allow,
               is_options ? "" : "Content-Type: text/plain; charset=utf-8\r\n");
      if (is_options) sn_http_reply(c, 200, head, NULL, 0);
      else sn_http_printf(c, 405, head, "405 %s\n", sn_http_reason(405));
    } else {
      sn_http_error(c, 404);
    }
  }
  if (c->resp == SN__RESP_NONE && c->state == SN__C_OPEN) { /* not even an error reply fit: out of memory */
    m->stats.nomem++;
    sn__conn_drop(c);
  }
  if (c->rstate == SN__R_DISPATCH) c->rstate = SN__R_RESPOND;
}

/* A head refused before its body (by its guard or on_head): the reply is
   queued, the body, if any, is not read. */
static void sn__http_refused_head(sn_conn *c) {
  c->app_holds = 0;
  c->streamed = 0;
  c->st.io.mgr->stats.requests++;
  c->rstate = SN__R_RESPOND;
  c->body_end = c->head_len;
}

static int sn__http_head_accepted(sn_conn *c);
#if SN_ENABLE_AUTH
/* An sn_auth begins with its guard's function: the server calls it through
   the pointer, so a firmware without sn_auth_create links none of it. */
typedef struct sn__auth_head {
  int (*guard)(sn_conn *c, const sn_guard *g); /* 1: let in, 0: answered, 2: held */
} sn__auth_head;
#endif

/* Called once the head is parsed: body framing, limits, Expect, the
   route's guard. Returns 1. */
static int sn__http_begin_body(sn_conn *c, const sn__framing *f) {
  sn__listener *l = c->lst;
  sn_request *req = &c->rq.req;
  sn_str conn = sn_http_header(req, "connection");
  sn_str expect = sn_http_header(req, "expect");
  sn_mgr *m = c->st.io.mgr;
  const sn_route_opts *ro;
  c->is_head = sn__eq(req->method, "HEAD");
  c->keep_alive = req->version == 11 ? !sn__has_token(conn, "close") : sn__has_token(conn, "keep-alive");
  c->close_after = !c->keep_alive;
  c->body_len = c->dec_len = 0;
  c->body_left = 0;
  c->req_chunked = f->kind == SN__BODY_CHUNKED;
  memset(&c->chunk, 0, sizeof c->chunk);
  memset(&c->scratch, 0, sizeof c->scratch);
  if (++m->req_seq == 0) m->req_seq = 1;
  c->req_id = m->req_seq;
  /* the route decides before the body: its limits, its on_head */
  c->route = NULL;
  if (!(SN_ENABLE_PLAIN_HTTP && l->opts.redirect_to_https)) {
    int idx = sn_router_match(l->opts.router, req, NULL, 0);
    if (idx >= 0) c->route = &l->opts.router->routes[idx];
  }
  ro = sn__route_opts(c);
  c->streamed = ro != NULL && ro->on_body != NULL;
  c->max_body = ro != NULL && ro->max_body != 0 ? ro->max_body : l->opts.max_body;
  if (!c->streamed && c->max_body > (SIZE_MAX >> 2)) c->max_body = SIZE_MAX >> 2; /* held whole: a size_t */
  c->req_timeout = ro != NULL && ro->request_timeout_ms != 0 ? ro->request_timeout_ms : l->opts.request_timeout_ms;
  if (f->has_length) {
    if (f->length > c->max_body) return sn__http_fail(c, 413), 1;
    c->body_left = f->length;
    if (!c->streamed) c->body_len = (size_t) f->length;
  }
  if (expect.ptr != NULL && !sn__ieq(expect.ptr, expect.len, "100-continue")) return sn__http_fail(c, 417), 1;
#if SN_ENABLE_AUTH
  c->user = NULL;
  c->user_how = SN_AUTH_NONE;
  c->guarding = 0;
  if (c->route != NULL) {
    const sn_guard *g = c->route->guard != NULL ? c->route->guard : l->opts.router->guard;
    if (g != NULL && g->mode != SN_GUARD_OPEN) {
      int v;
      c->close_after = c->close_after || c->req_chunked || c->body_left > 0;
      c->rstate = SN__R_DISPATCH;
      c->resp = SN__RESP_NONE;
      v = g->auth != NULL ? ((const sn__auth_head *) (const void *) g->auth)->guard(c, g)
                          : (sn_http_error(c, 500), 0); /* a guard without its sn_auth */
      if (c->state != SN__C_OPEN) return 1;
      if (v == 0) return sn__http_refused_head(c), 1;
      if (v == 2) { /* held for a password check: sn__guard_resume goes on */
        c->rstate = SN__R_DEFERRED;
        c->guarding = 1;
        c->t_req = m->port.now_ms(m->port.ctx);
        return 1;
      }
      c->close_after = !c->keep_alive;
    }
  }
#endif
  return sn__http_head_accepted(c);
}

/* The head is let in (by its guard, if it has one): on_head, 100 Continue,
   then the body. Returns 1. */
static int sn__http_head_accepted(sn_conn *c) {
  sn_request *req = &c->rq.req;
  sn_str expect = sn_http_header(req, "expect");
  sn__listener *l = c->lst;
  const sn_route_opts *ro = sn__route_opts(c);
  int has_body = c->req_chunked || c->body_left > 0;
  /* RFC 9110 10.1.1: ask for the body only when it has not come already */
  int expects = expect.ptr != NULL && has_body && req->version == 11 && c->st.rx.len == c->head_len;
  if (ro != NULL && ro->on_head != NULL) {
    /* a refusal here means the body will not be read: if one comes, the
       connection cannot be used again */
    c->close_after = c->close_after || has_body;
    c->rstate = SN__R_DISPATCH;
    c->resp = SN__RESP_NONE;
    c->app_holds = 1;
    ro->on_head(c, req, c->route->user);
    if (c->state != SN__C_OPEN) return 1;
    if (c->resp != SN__RESP_NONE) return sn__http_refused_head(c), 1;
    c->close_after = !c->keep_alive;
  }
  if (expects && c->route == NULL && !(SN_ENABLE_PLAIN_HTTP && l->opts.redirect_to_https)) {
    /* no route takes it: the final status now, not after a body nobody reads */
    c->close_after = 1;
    c->req_chunked = 0;
    c->body_len = 0;
    c->body_end = c->head_len;
    sn__http_dispatch(c);
    return 1;
  }
  if (expects && sn__tx_put(c, "HTTP/1.1 100 Continue\r\n\r\n", 25) != SN_OK) {
    sn__req_fail(c, 500, SN_ERR_NOMEM);
    return 1;
  }
  /* No buffer for the announced length yet: sn__http_read grows it as the
     body arrives, so memory follows what was received, not what a head
     claimed (a few heads with a large Content-Length would hold max_body
     each until the request timeout). */
  c->rstate = SN__R_BODY;
  if (c->streamed) c->app_holds = 1;
  return 1;
}

/* A streamed body: hands what the buffer holds to on_body as one piece,
   then drops it (what follows the body is the next request: it moves down
   to the head's end). At the body's end, the handler. Returns 1 if it
   changed anything. */
static int sn__http_stream(sn_conn *c) {
  const sn_route_opts *ro = sn__route_opts(c);
  size_t avail = c->st.rx.len - c->head_len, n, used;
  /* a piece is at most SN_BODY_PIECE even when the buffer holds more (it
     grew for an earlier, buffered request on the connection) */
  size_t take = avail < SN_BODY_PIECE ? avail : SN_BODY_PIECE;
  char *p = c->st.rx.buf + c->head_len;
  int done, r = SN_OK;
  if (c->paused) return 0;
  if (c->req_chunked) {
    if (avail == 0) return 0;
    r = sn_chunked_decode(&c->chunk, p, take, p, &used, &n, c->max_body);
    if (r < 0) {
      sn__req_fail(c, r == SN_ERR_TOO_BIG ? 413 : 400, r == SN_ERR_TOO_BIG ? SN_ERR_TOO_BIG : SN_ERR_PROTO);
      return 1;
    }
    done = r == 1;
  } else {
    n = used = take < c->body_left ? take : (size_t) c->body_left;
    c->body_left -= n;
    done = c->body_left == 0;
    if (n == 0 && !done) return 0; /* waits for bytes */
  }
  if (n > 0) {
    /* a reply from on_body ends the request with the rest of the body unread */
    c->close_after = 1;
    c->rstate = SN__R_DISPATCH;
    r = ro->on_body(c, p, n, c->route->user);
    if (c->state != SN__C_OPEN) return 1;
    if (c->resp != SN__RESP_NONE) {
      c->app_holds = c->streamed = c->paused = 0;
      c->rstate = SN__R_RESPOND;
      c->body_end = c->st.rx.len;
      return 1;
    }
    c->close_after = !c->keep_alive;
    c->rstate = SN__R_BODY;
    if (r != SN_OK && r != SN_WANT_READ) {
      sn__log(c->st.io.mgr, SN_LOG_WARN, "on_body for %.*s returned %d: 500", (int) c->rq.req.path.len, c->rq.req.path.ptr, r);
      c->app_holds = 0; /* its own refusal: no on_abort */
      sn__req_fail(c, 500, r);
      return 1;
    }
    if (r == SN_WANT_READ) c->paused = 1;
  }
  if (avail > used) memmove(p, p + used, avail - used);
  c->st.rx.len = c->head_len + (avail - used);
  if (done && c->paused) {
    /* paused on the last piece: the handler waits for the resume (a flash
       write in progress ends before the end of the body is reported); the
       body is then a Content-Length one with nothing left */
    c->req_chunked = 0;
    c->body_left = 0;
    return 1;
  }
  if (done) {
    c->streamed = c->paused = 0;
    c->body_end = c->head_len;
    sn__http_dispatch(c);
  }
  return 1;
}

/* Works on buffered input. Returns 1 if it changed anything. */
static int sn__http_process(sn_conn *c) {
  sn__listener *l = c->lst;
  if (c->rstate == SN__R_HEAD) {
    sn__framing f;
    int r;
    if (c->st.rx.len == 0) return 0;
    r = sn__http_parse(c->st.rx.buf, c->st.rx.len, &c->rq.req, &l->limits, &c->scan, &f);
    if (r == 0) return 0;
    if (r < 0) return sn__http_fail(c, -r), 1;
    c->head_len = (size_t) r;
    return sn__http_begin_body(c, &f);
  }
  if (c->rstate == SN__R_BODY) {
    if (c->streamed) return sn__http_stream(c);
    if (c->req_chunked) {
      size_t start = c->head_len + c->dec_len, consumed, produced;
      int r;
      if (c->st.rx.len == start) return 0;
      r = sn_chunked_decode(&c->chunk, c->st.rx.buf + start, c->st.rx.len - start, c->st.rx.buf + start, &consumed, &produced,
                            c->max_body);
      if (r < 0) {
        sn__req_fail(c, r == SN_ERR_TOO_BIG ? 413 : 400, r == SN_ERR_TOO_BIG ? SN_ERR_TOO_BIG : SN_ERR_PROTO);
        return 1;
      }
      c->dec_len += produced;
      if (r == 0) {
        c->st.rx.len = c->head_len + c->dec_len; /* framing consumed, nothing left over */
        return 0;
      }
      c->body_end = start + consumed;
    } else {
      if (c->st.rx.len < c->head_len + c->body_len) return 0;
      c->body_end = c->head_len + c->body_len;
    }
    sn__http_dispatch(c);
    return 1;
  }
  return 0;
}

/* The response has left: drop the request's bytes, keep what follows (the
   next pipelined request), shrink buffers that grew, close if asked. */
static void sn__http_request_done(sn_conn *c) {
  size_t end = c->body_end < c->st.rx.len ? c->body_end : c->st.rx.len;
  c->rstate = SN__R_HEAD; /* no handle reaches it any more */
  sn__req_end(c, SN_OK);
  if (c->state != SN__C_OPEN) return;
  if (c->st.rx.len > end) memmove(c->st.rx.buf, c->st.rx.buf + end, c->st.rx.len - end);
  c->st.rx.len -= end;
  c->resp = SN__RESP_NONE;
  c->scan = c->head_len = c->body_len = c->dec_len = c->body_end = 0;
  c->req_chunked = c->chunked_resp = c->skip_body = c->is_head = 0;
  c->streamed = c->paused = c->app_holds = c->deferring = c->sse = 0;
  c->route = NULL;
  c->on_writable = NULL;
  c->served = 1;
  /* idle from now: a handler (or a long reply) may have taken long */
  c->st.io.mgr->now = c->st.io.mgr->port.now_ms(c->st.io.mgr->port.ctx);
  c->t_active = c->st.io.mgr->now;
  c->t_req = c->st.rx.len ? c->st.io.mgr->now : 0;
  /* a client waits for its answer before it sends more (unless it pipelines,
     and then the port's wait says so): no read until then, which would
     mostly say "would block" */
  if (c->st.rx.len == 0) c->st.io.drained = 1;
  if (c->close_after) {
    /* what the client sends from now is read and dropped (sn__st_close_step
       reads onto the stack): the receive buffer is not needed any more */
    SN_FREE(c->st.rx.buf);
    c->st.rx.buf = NULL;
    c->st.rx.len = c->st.rx.cap = 0;
    sn__conn_close_gracefully(c);
    return;
  }
  if (c->st.rx.len <= SN_RX_INIT && c->st.rx.cap > SN_RX_INIT) {
    char *p = (char *) sn__resize(c->st.rx.buf, c->st.rx.len, SN_RX_INIT);
    if (p != NULL) c->st.rx.buf = p, c->st.rx.cap = SN_RX_INIT;
  }
  if (c->st.tx.cap > SN_TX_INIT && !sn__st_out_pending(&c->st)) {
    unsigned char *p = (unsigned char *) sn__resize(c->st.tx.buf, 0, SN_TX_INIT);
    if (p != NULL) c->st.tx.buf = p, c->st.tx.cap = SN_TX_INIT, c->st.tx.len = c->st.tx.off = 0;
  }
}

/* Reading goes on in a deferred request too (into the room the buffer has),
   so that a client that goes away meanwhile is seen. */
static int sn__http_wants_input(const sn_conn *c) {
  if (c->state != SN__C_OPEN || c->peer_eof) return 0;
  if (c->rstate == SN__R_BODY) return !c->paused;
  if (c->rstate == SN__R_DEFERRED) return c->resp == SN__RESP_NONE && c->st.rx.len < c->st.rx.cap;
  return c->rstate == SN__R_HEAD;
}

/* Reads what fits into the receive buffer. Returns 1 on data, 0 when it
   would block, -1 when the connection ended. */
static int sn__http_read(sn_conn *c) {
  sn__listener *l = c->lst;
  size_t room;
  int n;
  /* a streamed body's pieces are as long as the buffer's room after the
     head, which each piece empties: after a read that filled it, the
     buffer takes the head plus SN_BODY_PIECE at once (so memory follows what
     arrives, and is bounded by a constant, never by a Content-Length) */
  int streaming = c->rstate == SN__R_BODY && c->streamed && c->rx_filled;
  c->rx_filled = 0;
  if (c->st.rx.len == c->st.rx.cap || streaming) {
    /* geometric growth, as bytes arrive; a body with a Content-Length needs
       exactly head + body (what follows is the next request, read later) */
    size_t limit = c->rstate == SN__R_HEAD ? l->opts.max_header_bytes + 1
                   : c->rstate != SN__R_BODY ? c->st.rx.cap
                   : c->streamed           ? c->head_len + SN_BODY_PIECE
                   : c->req_chunked        ? c->head_len + (size_t) c->max_body + 4096
                                           : c->head_len + c->body_len;
    size_t want = streaming ? limit : c->st.rx.cap > 0 ? c->st.rx.cap * 2 : SN_RX_INIT;
    if (want > limit) want = limit;
    if (want <= c->st.rx.cap) return 0; /* full: the parser answers 431 / 413 */
    if (sn__rx_grow(c, want) != SN_OK) {
      c->st.io.mgr->stats.nomem++;
      sn__req_fail(c, 503, SN_ERR_NOMEM);
      return 1;
    }
  }
  room = c->st.rx.cap - c->st.rx.len;
  n = sn__st_read(&c->st, c->st.rx.buf + c->st.rx.len, room);
  if (n > 0) {
    c->rx_filled = (size_t) n == room;
    if (c->st.rx.len == 0 && c->rstate == SN__R_HEAD) c->t_req = c->st.io.mgr->now;
    c->st.rx.len += (size_t) n;
    c->t_active = c->st.io.mgr->now;
    return 1;
  }
  if (n == SN_WANT_READ || n == SN_WANT_WRITE) return 0;
  return -1;
}

/* Bounded per call so one busy connection cannot starve the others; what
   is left is picked up at the next sn_poll round, which then does not sleep. */
/* A deferred request whose reply has begun (from some callback) is sent. */
static void sn__http_deferred_check(sn_conn *c) {
  if (c->rstate == SN__R_DEFERRED && c->resp != SN__RESP_NONE) {
    c->rstate = SN__R_RESPOND;
    c->app_holds = 0;
  }
}

static void sn__http_io(sn_conn *c) {
  int round;
  c->more_work = 0;
  sn__http_deferred_check(c);
  for (round = 0; c->state == SN__C_OPEN; round++) {
    if (round == 64) {
      c->more_work = 1;
      return;
    }
#if SN_ENABLE_WEBSOCKET
    if (c->st.ws != NULL && c->rstate != SN__R_DISPATCH) { /* upgraded: the stream changes hands */
      sn__ws_take(c);
      return;
    }
#endif
    int progress = 0, r = sn__st_flush(&c->st);
    if (r < 0) {
      sn__conn_drop_why(c, sn__st_why(&c->st));
      return;
    }
    if (r > 0) progress = 1, c->t_active = c->st.io.mgr->now;
    if (!sn__st_out_pending(&c->st)) {
      if (c->rstate == SN__R_RESPOND && c->resp == SN__RESP_STREAMING && c->on_writable != NULL) {
        size_t before = c->st.tx.len;
        sn_writable_fn fn = c->on_writable;
        c->rstate = SN__R_DISPATCH;
        c->chunk_sent = 0;
        fn(c, c->on_writable_arg);
        if (c->state != SN__C_OPEN) return;
        c->rstate = SN__R_RESPOND;
        if (c->resp == SN__RESP_STREAMING && !c->chunk_sent && c->on_writable == fn) {
          /* neither written, nor ended, nor taken off: it would be called again forever */
          sn__log(c->st.io.mgr, SN_LOG_WARN, "%s: the writer of %.*s %.*s wrote nothing: response cut short", c->peer,
                  (int) c->rq.req.method.len, c->rq.req.method.ptr, (int) c->rq.req.path.len, c->rq.req.path.ptr);
          sn__conn_drop_why(c, SN_ERR_STATE);
          return;
        }
        if (c->st.tx.len != before || c->resp != SN__RESP_STREAMING || c->chunk_sent) progress = 1;
        if (c->st.tx.len != before) continue;
      }
      if (c->rstate == SN__R_RESPOND && c->resp == SN__RESP_DONE) {
        sn__http_request_done(c);
        progress = 1;
        if (c->state != SN__C_OPEN) break;
      }
    }
    /* head, then body, then dispatch, as far as the buffered bytes go
       before reading more (a request without a body is answered without a
       read that would only say "would block") */
    while ((c->rstate == SN__R_HEAD || c->rstate == SN__R_BODY) && c->state == SN__C_OPEN && sn__http_process(c))
      progress = 1;
    if (sn__http_wants_input(c)) {
      r = sn__http_read(c);
      if (r < 0) {
        if (c->st.io.err != 0 || c->st.tls_err != 0) {
          sn__conn_drop_why(c, sn__st_why(&c->st));
          return;
        }
        /* An orderly end (FIN or close_notify) may be a half-close after the
           last request: answer what is buffered, then close. Not while the
           application holds a request that waits for the client (a streamed
           body) or for a reply that comes later: the client is taken as gone. */
        if (c->rstate == SN__R_DEFERRED || (c->rstate == SN__R_BODY && c->app_holds)) {
          sn__conn_drop_why(c, SN_ERR_CLOSED);
          return;
        }
        c->peer_eof = 1;
        r = 1;
      }
      progress |= r;
    }
    if (!progress) break;
  }
  if (c->state == SN__C_OPEN && c->peer_eof && c->resp == SN__RESP_NONE && !sn__st_out_pending(&c->st) &&
      (c->rstate == SN__R_HEAD || c->rstate == SN__R_BODY)) {
    /* nothing more can arrive: an unfinished request is dropped */
    if (c->st.rx.len == 0) sn__conn_close_gracefully(c);
    else sn__conn_drop_why(c, SN_ERR_CLOSED);
  }
}

static void sn__conn_io(sn_conn *c) {
  sn_mgr *m = c->st.io.mgr;
  if (c->state == SN__C_HANDSHAKE) {
    int r = sn__st_handshake(&c->st);
    if (r == SN_WANT_READ) return;
    if (r != SN_OK) {
      r = c->st.tls_err;
      m->stats.handshake_fails++;
      if (r == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE) {
        sn__log(m, SN_LOG_WARN, "client %s refused: it sent no certificate (this listener requires one)", c->peer);
        /* mbedTLS (2.28 and 3.6) ends a TLS 1.2 handshake without a client
           certificate silently ("the client should know"): clients then
           report an unexpected EOF. RFC 5246 7.4.6: a fatal handshake_failure.
           TLS 1.3 is left alone: mbedTLS sends certificate_required itself. */
        if (strcmp(mbedtls_ssl_get_version(c->st.ssl), "TLSv1.2") == 0)
          (void) mbedtls_ssl_send_alert_message(c->st.ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                                MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE);
      } else if (c->lst->has_client_ca) {
        /* the real reason, in words: mbedTLS's alert (unknown_ca, bad_certificate,
           certificate_expired, ...; on 3.6 TLS 1.3 a "bad record MAC") says less */
        uint32_t flags = mbedtls_ssl_get_verify_result(c->st.ssl);
        if (flags != 0 && flags != (uint32_t) -1) {
          char info[160], *p;
          mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
          for (p = info; (p = strchr(p, '\n')) != NULL;) *p = ';'; /* one line per flag: join them */
          if (strlen(info) > 0 && info[strlen(info) - 1] == ';') info[strlen(info) - 1] = '\0';
          sn__log(m, SN_LOG_WARN, "client certificate from %s refused: %s", c->peer, info);
        }
      }
      sn__log_tls(m, SN_LOG_INFO, "TLS handshake failed", r);
      /* mbedTLS has sent its alert; read what the client still sends before
         closing, so the alert is not lost to a TCP reset */
      c->st.lingering = 1;
      c->state = SN__C_LINGER;
      c->t_close = m->now + SN__LINGER_MS;
      if (m->port.shutdown != NULL) m->port.shutdown(m->port.ctx, c->st.io.sock);
      sn__conn_closing(c);
      return;
    }
    /* the handshake's last step may have taken long (a small CPU, valgrind):
       the idle time counts from now, not from when the round began */
    m->now = m->port.now_ms(m->port.ctx);
    c->state = SN__C_OPEN;
    c->t_active = m->now;
#if defined(MBEDTLS_SSL_KEEP_PEER_CERTIFICATE)
    /* a resumed session skips verification: its certificate is in the session */
    if (c->lst->has_client_ca && !c->has_subject && mbedtls_ssl_get_peer_cert(c->st.ssl) != NULL &&
        mbedtls_x509_dn_gets(c->subject, sizeof c->subject, &mbedtls_ssl_get_peer_cert(c->st.ssl)->subject) > 0)
      c->has_subject = 1;
#endif
    sn__log(m, SN_LOG_DEBUG, "%s: %s %s", c->peer, mbedtls_ssl_get_version(c->st.ssl),
            mbedtls_ssl_get_ciphersuite(c->st.ssl));
  }
  if (c->state == SN__C_OPEN) sn__http_io(c);
  if (c->state == SN__C_CLOSING || c->state == SN__C_LINGER) sn__conn_closing(c);
}

/* What the connection waits for, in port terms. */
static uint8_t sn__conn_want(const sn_conn *c) {
  uint8_t w = 0;
  switch (c->state) {
    case SN__C_HANDSHAKE: return c->st.rd_want;
    case SN__C_OPEN:
      if (sn__st_out_pending(&c->st) || (c->resp == SN__RESP_STREAMING && c->on_writable != NULL)) w |= c->st.wr_want;
      if (sn__http_wants_input(c)) w |= c->st.rd_want;
      return w;
    case SN__C_CLOSING:
    case SN__C_LINGER: return sn__st_close_want(&c->st);
    default: return 0;
  }
}

/* mbedTLS may hold a decrypted record, or more records, already read; a
   deferred reply may have begun, a paused body resumed. */
static int sn__conn_has_pending(sn_conn *c) {
  if (c->state == SN__C_OPEN && c->more_work) return 1;
  if (c->state == SN__C_OPEN && c->rstate == SN__R_DEFERRED && c->resp != SN__RESP_NONE) return 1;
  return c->state == SN__C_OPEN && sn__http_wants_input(c) && sn__st_has_pending(&c->st);
}

static uint64_t sn__conn_deadline(const sn_conn *c) {
  const sn_http_opts *o = &c->lst->opts;
  switch (c->state) {
    case SN__C_HANDSHAKE: return c->t_start + o->handshake_timeout_ms;
    case SN__C_OPEN:
      if (c->rstate == SN__R_HEAD && c->st.rx.len == 0 && !sn__st_out_pending(&c->st))
        return c->t_active + (c->served ? o->idle_timeout_ms : o->request_timeout_ms);
      if (c->rstate == SN__R_HEAD) return c->t_req + o->request_timeout_ms;
      /* a streamed body: from its last piece (or resume) */
      if (c->rstate == SN__R_BODY) return (c->streamed ? c->t_active : c->t_req) + c->req_timeout;
      if (c->rstate == SN__R_DEFERRED && c->resp == SN__RESP_NONE) return c->t_req + c->req_timeout;
#if SN_ENABLE_SSE
      /* an event stream with nothing queued: its keep-alive comment is due */
      if (c->sse && c->resp == SN__RESP_STREAMING && !sn__st_out_pending(&c->st) && c->sse_keepalive < o->idle_timeout_ms)
        return c->t_active + c->sse_keepalive;
#endif
      return c->t_active + o->idle_timeout_ms; /* a response that does not move */
    case SN__C_CLOSING:
    case SN__C_LINGER: return c->t_close;
    default: return 0;
  }
}

/* An idle keep-alive connection gives its receive and send buffers back
   once it has been idle SN_IDLE_RELEASE_MS; its next request allocates them
   again. A connection that keeps working keeps them, so a steady stream of
   requests allocates nothing. sn__conn_release_at() says when (0: nothing
   to give back); sn_poll waits for it and calls sn__conn_release(). */
static uint64_t sn__conn_release_at(const sn_conn *c) {
  if (SN_IDLE_RELEASE_MS <= 0 || c->st.rx.cap + c->st.tx.cap == 0 || c->state != SN__C_OPEN || c->rstate != SN__R_HEAD ||
      c->st.rx.len > 0 || sn__st_out_pending(&c->st) || c->st.tx.inflight > 0)
    return 0;
  return c->t_active + (uint64_t) SN_IDLE_RELEASE_MS;
}

static void sn__conn_release(sn_conn *c) {
  sn__st_release(&c->st);
  c->tx_mark = 0;
}

/* Reports the ends (a request still in flight, the attached state), then
   leaves the manager's list and frees everything. */
static void sn__conn_free(sn_conn *c) {
  sn_mgr *m = c->st.io.mgr;
  sn__conn_drop(c); /* no handle reaches it from the callbacks */
  sn__req_end(c, c->why != SN_OK ? (int) c->why : (int) SN_ERR_CLOSED);
  if (c->conn_end != NULL || c->conn_state != NULL) {
    sn_end_fn end = c->conn_end;
    c->conn_end = NULL;
    if (end != NULL) end(c->conn_state, c->why);
    c->conn_state = NULL;
  }
#if SN_ENABLE_WEBSOCKET
  sn__ws_forget(c); /* upgraded, but its handler never returned to the loop */
#endif
  sn__st_remove(m, &c->st);
  m->nconns--;
  sn__st_free(&c->st);
  SN_FREE(c);
}

static void sn__conn_expire(sn_conn *c) {
  sn_mgr *m = c->st.io.mgr;
  if (c->state == SN__C_CLOSING || c->state == SN__C_LINGER) { /* the linger time is over */
    sn__conn_drop(c);
    return;
  }
  m->stats.timeouts++;
  if (c->state == SN__C_HANDSHAKE) {
    m->stats.handshake_fails++;
    sn__log(m, SN_LOG_INFO, "%s: TLS handshake timed out", c->peer);
    sn__conn_drop_why(c, SN_ERR_TIMEOUT);
    return;
  }
  if (c->state == SN__C_OPEN && c->rstate == SN__R_HEAD && c->st.rx.len == 0 && !sn__st_out_pending(&c->st)) {
    sn__log(m, SN_LOG_DEBUG, "%s: idle keep-alive connection closed", c->peer);
    sn__conn_close_gracefully(c);
  } else if (c->state == SN__C_OPEN && (c->rstate == SN__R_HEAD || c->rstate == SN__R_BODY)) {
    sn__log(m, SN_LOG_INFO, "%s: request timed out: 408", c->peer);
    sn__req_fail(c, 408, SN_ERR_TIMEOUT);
  } else if (c->state == SN__C_OPEN && c->rstate == SN__R_DEFERRED) {
    sn__log(m, SN_LOG_INFO, "%s: deferred %.*s not answered in time: 503", c->peer, (int) c->rq.req.path.len,
            c->rq.req.path.ptr);
    sn__req_fail(c, 503, SN_ERR_TIMEOUT);
  } else {
    sn__log(m, SN_LOG_INFO, "%s: connection stalled, closed", c->peer);
    sn__conn_drop_why(c, SN_ERR_TIMEOUT);
    return;
  }
  sn__conn_io(c);
}

/* The HTTP server's hooks for the manager. */
static uint8_t sn__http_poll_hook(sn__stream *st, uint64_t *next) {
  sn_conn *c = (sn_conn *) st;
  uint64_t rel = sn__conn_release_at(c);
  sn__next(next, sn__conn_deadline(c));
  if (rel != 0) sn__next(next, rel);
  return (uint8_t) (sn__conn_want(c) | (sn__conn_has_pending(c) ? SN__PENDING : 0));
}
static void sn__http_io_hook(sn__stream *st, uint8_t ready) {
  (void) ready;
  sn__conn_io((sn_conn *) st);
}
static void sn__http_timer_hook(sn__stream *st) {
  sn_conn *c = (sn_conn *) st;
  uint64_t rel;
#if SN_ENABLE_SSE
  if (c->sse && c->state == SN__C_OPEN && c->resp == SN__RESP_STREAMING && !sn__st_out_pending(&c->st) &&
      st->io.mgr->now >= c->t_active + c->sse_keepalive && sn__sse_put(c, NULL, NULL, NULL, 0, ": keep-alive\n\n") == SN_OK)
    c->t_active = st->io.mgr->now;
#endif
  if (st->io.mgr->now >= sn__conn_deadline(c)) sn__conn_expire(c);
  if (c->state != SN__C_DEAD && (rel = sn__conn_release_at(c)) != 0 && st->io.mgr->now >= rel) sn__conn_release(c);
}
static void sn__http_reap_hook(sn__stream *st) { sn__conn_free((sn_conn *) st); }
static void sn__http_destroy_hook(sn__stream *st) {
  sn_conn *c = (sn_conn *) st;
  if (c->state == SN__C_OPEN) (void) sn__st_notify(st); /* best effort, never waits */
  if (c->why == SN_OK) c->why = SN_ERR_DESTROYED;
  sn__conn_free(c);
}
/* Accepting, with LRU eviction of idle keep-alive connections. */
static sn_conn *sn__find_victim(sn_mgr *m) {
  sn_conn *best = NULL;
  int i;
  for (i = 0; i < m->nstreams; i++) {
    sn_conn *c = (sn_conn *) m->streams[i];
    int idle;
    if (c->st.proto != &sn__http_proto) continue;
    /* idle keep-alive: served once, nothing pending. A new connection that
       has not sent its first request is not idle: it is bounded by the
       request timeout instead. */
    idle = c->state == SN__C_OPEN && c->served && c->rstate == SN__R_HEAD && c->st.rx.len == 0 &&
           !sn__st_out_pending(&c->st);
    if (c->state == SN__C_LINGER || c->state == SN__C_DEAD) return c;
    if (idle && (best == NULL || c->t_active < best->t_active)) best = c;
  }
  return best;
}

static int sn__can_admit(sn_mgr *m) { return m->nconns < m->max_conns || sn__find_victim(m) != NULL; }

static void sn__accept(sn_mgr *m, sn__listener *l) {
  int k;
  for (k = 0; k < m->max_conns; k++) {
    sn_sock s;
    char peer[48];
    sn_conn *c;
    int r;
    if (!sn__can_admit(m)) return; /* the rest wait in the listen backlog */
    r = m->port.accept(m->port.ctx, l->sock, &s, peer, sizeof peer);
    if (r == SN_WANT_READ) return;
    if (r != SN_OK) {
      sn__log(m, SN_LOG_WARN, "accept failed: %s", sn_strerror(r));
      return;
    }
    if (m->nconns >= m->max_conns) {
      sn_conn *victim = sn__find_victim(m);
      if (victim == NULL) {
        m->port.close(m->port.ctx, s);
        sn__log(m, SN_LOG_WARN, "connection from %s refused: %d connections busy", peer, m->nconns);
        return;
      }
      if (victim->state == SN__C_OPEN) {
        m->stats.evicted++;
        sn__log(m, SN_LOG_DEBUG, "%s: idle connection evicted for %s", victim->peer, peer);
        (void) sn__st_notify(&victim->st); /* best effort, never waits */
      }
      sn__conn_free(victim);
    }
    m->now = m->port.now_ms(m->port.ctx);
    c = sn__conn_new(m, l, s, peer);
    if (c == NULL) {
      m->stats.nomem++;
      m->port.close(m->port.ctx, s);
      sn__log(m, SN_LOG_WARN, "connection from %s refused: out of memory", peer);
      return;
    }
    sn__st_add(m, &c->st);
    m->nconns++;
    m->stats.accepted++;
    sn__conn_io(c);
  }
}

SNDEF int sn_http_listen(sn_mgr *m, const sn_http_opts *o) {
  sn__listener *l;
  int r;
  if (m == NULL || o == NULL || o->port == 0) return SN_ERR_INVALID;
  /* a redirecting listener answers every request itself */
  if (o->router == NULL && !(SN_ENABLE_PLAIN_HTTP && o->tls == NULL && o->redirect_to_https)) return SN_ERR_INVALID;
  if (o->tls != NULL && o->redirect_to_https) return SN_ERR_INVALID;
  if (o->tls == NULL && !SN_ENABLE_PLAIN_HTTP) return SN_ERR_UNSUPPORTED; /* compiled out */
  if (m->nlisteners >= SN_MAX_LISTENERS) return SN_ERR_FULL;
  l = (sn__listener *) SN_MALLOC(sizeof *l);
  if (l == NULL) return SN_ERR_NOMEM;
  memset(l, 0, sizeof *l);
  l->sock = SN_INVALID_SOCK;
  mbedtls_ssl_config_init(&l->conf);
  mbedtls_x509_crt_init(&l->cert);
  mbedtls_x509_crt_init(&l->client_ca);
  mbedtls_pk_init(&l->key);
  l->opts = *o;
  l->opts.tls = NULL;
  if (!l->opts.max_header_bytes) l->opts.max_header_bytes = 8192;
  if (!l->opts.max_uri_bytes) l->opts.max_uri_bytes = 8000;
  if (!l->opts.max_body) l->opts.max_body = 65536;
  if (!l->opts.max_reply) l->opts.max_reply = 65536;
  if (!l->opts.handshake_timeout_ms) l->opts.handshake_timeout_ms = 10000;
  if (!l->opts.request_timeout_ms) l->opts.request_timeout_ms = 10000;
  if (!l->opts.idle_timeout_ms) l->opts.idle_timeout_ms = 30000;
  if (l->opts.headers == NULL) l->opts.headers = SN_HTTP_DEFAULT_HEADERS;
  l->headers_len = strlen(l->opts.headers);
  l->limits.max_header_bytes = l->opts.max_header_bytes;
  l->limits.max_uri_bytes = l->opts.max_uri_bytes;
  if (o->tls != NULL && (r = sn__tls_setup(m, l, o->tls)) != SN_OK) {
    sn__listener_free(m, l);
    return r;
  }
  r = m->port.listen(m->port.ctx, o->addr, o->port, &l->sock);
  if (r != SN_OK) {
    l->sock = SN_INVALID_SOCK;
    sn__log(m, SN_LOG_ERROR, "cannot listen on %s port %u: %s", o->addr ? o->addr : "*", (unsigned) o->port,
            sn_strerror(r));
    sn__listener_free(m, l);
    return r == SN_ERR_UNSUPPORTED ? r : SN_ERR_ADDR;
  }
  m->listeners[m->nlisteners++] = l;
  sn__log(m, SN_LOG_INFO, "listening on %s port %u (%s)", o->addr ? o->addr : "*", (unsigned) o->port,
          o->tls ? "HTTPS" : o->redirect_to_https ? "HTTP, redirecting to HTTPS" : "HTTP");
  return SN_OK;
}

/* The connection accessors of the public API. */
SNDEF size_t sn_conn_size(void) { return sizeof(sn_conn); }
SNDEF sn_mgr *sn_conn_mgr(const sn_conn *c) { return c->st.io.mgr; }
SNDEF int sn_conn_is_tls(const sn_conn *c) { return c->st.tls; }
SNDEF const char *sn_conn_tls_version(const sn_conn *c) {
  return c->st.tls ? mbedtls_ssl_get_version(c->st.ssl) : NULL;
}
SNDEF const char *sn_conn_tls_suite(const sn_conn *c) {
  return c->st.tls ? mbedtls_ssl_get_ciphersuite(c->st.ssl) : NULL;
}
SNDEF const char *sn_conn_peer_subject(const sn_conn *c) {
  return c->st.tls && c->has_subject && c->state != SN__C_HANDSHAKE ? c->subject : NULL;
}
SNDEF const char *sn_conn_peer_addr(const sn_conn *c) { return c->peer; }
SNDEF int sn_conn_tls_error(const sn_conn *c) { return c->st.tls_err; }
SNDEF void *sn_conn_listener_user(const sn_conn *c) { return c->lst->opts.user; }
SNDEF void *sn_conn_scratch(sn_conn *c) { return c->scratch.b; }

/* Requests that outlive a handler call: handles, deferral, pause, state. */
SNDEF sn_req_ref sn_http_ref(sn_conn *c) {
  sn_req_ref ref;
  ref.mgr = c != NULL ? c->st.io.mgr : NULL;
  ref.c = c;
  ref.id = c != NULL ? c->req_id : 0;
  return ref;
}

SNDEF sn_req_ref sn_http_defer(sn_conn *c) {
  if (c != NULL && c->rstate == SN__R_DISPATCH) c->deferring = 1; /* seen when the handler returns */
  return sn_http_ref(c);
}

SNDEF int sn_req_conn(sn_req_ref ref, sn_conn **out) {
  int i;
  if (out == NULL) return SN_ERR_INVALID;
  *out = NULL;
  if (ref.mgr == NULL || ref.c == NULL) return SN_ERR_INVALID;
  /* found by address among the manager's streams before it is read: a
     freed connection is never touched */
  for (i = 0; i < ref.mgr->nstreams; i++) {
    sn__stream *st = ref.mgr->streams[i];
    if ((void *) st != (void *) ref.c) continue;
    /* waiting for its body or its reply, or writing a reply it streams; not
       once answered, nor while a failure's status goes out (sn__req_fail
       moves to SN__R_RESPOND before on_abort) */
    if (st->proto == &sn__http_proto && ref.c->state == SN__C_OPEN && ref.c->req_id == ref.id &&
        ref.c->rstate != SN__R_HEAD &&
        (ref.c->resp == SN__RESP_NONE ? ref.c->rstate != SN__R_RESPOND : ref.c->resp == SN__RESP_STREAMING)) {
      *out = ref.c;
      return SN_OK;
    }
    break;
  }
  return SN_ERR_CLOSED;
}

static int sn__reading_body(const sn_conn *c) {
  return c != NULL && c->state == SN__C_OPEN && c->streamed && c->resp == SN__RESP_NONE &&
         (c->rstate == SN__R_BODY || c->rstate == SN__R_DISPATCH);
}

SNDEF int sn_http_pause_body(sn_conn *c) {
  if (!sn__reading_body(c)) return SN_ERR_STATE;
  c->paused = 1;
  return SN_OK;
}

SNDEF int sn_http_resume_body(sn_conn *c) {
  if (!sn__reading_body(c)) return SN_ERR_STATE;
  if (c->paused) {
    c->paused = 0;
    c->more_work = 1; /* what the buffer or mbedTLS holds goes on at this round */
    c->t_active = c->st.io.mgr->port.now_ms(c->st.io.mgr->port.ctx);
  }
  return SN_OK;
}

SNDEF int sn_http_attach(sn_conn *c, void *state, sn_end_fn end) {
  if (c == NULL || c->state != SN__C_OPEN || c->rstate == SN__R_HEAD) return SN_ERR_INVALID;
  if (c->req_state != NULL || c->req_end != NULL) return SN_ERR_STATE;
  c->req_state = state;
  c->req_end = end;
  return SN_OK;
}
SNDEF void *sn_http_state(const sn_conn *c) { return c->req_state; }

SNDEF int sn_conn_attach(sn_conn *c, void *state, sn_end_fn end) {
  if (c == NULL || c->state == SN__C_DEAD) return SN_ERR_INVALID;
  if (c->conn_state != NULL || c->conn_end != NULL) return SN_ERR_STATE;
  c->conn_state = state;
  c->conn_end = end;
  return SN_OK;
}
SNDEF void *sn_conn_state(const sn_conn *c) { return c->conn_state; }

// >>mime
/* The message writer: headers (RFC 5322, RFC 2047 encoded words), MIME
   structure (RFC 2045/2046), quoted-printable and base64 encoders working on
   streams, dot-stuffing (RFC 5321 4.5.2) applied to everything it emits, all
   into a byte queue a piece at a time (sn__mime_write); address and header
   checks for sn_mail_send. */
#if SN_ENABLE_SMTP

#define SN__MAIL_MAX_ATTACH 16

/* The writer's steps, planned per mail (sn__mime_plan) and run in order by
   sn__mime_write, each producing one piece: the header, multipart/mixed
   (with attachments) and multipart/alternative (with HTML) openings, the
   text part's head and body (quoted-printable, pulled from memory or a
   source a chunk per call), the HTML part, each attachment's head and body
   (base64), the closing delimiters, then END: the final dot. */
enum { SN__P_HEAD, SN__P_MIXED_OPEN, SN__P_ALT_OPEN, SN__P_TEXT_HEAD, SN__P_TEXT, SN__P_HTML_HEAD, SN__P_HTML,
       SN__P_ALT_CLOSE, SN__P_ATT_HEAD, SN__P_ATT, SN__P_MIXED_CLOSE, SN__P_END };

typedef struct sn__mime {
  unsigned char plan[8 + 2 * SN__MAIL_MAX_ATTACH]; /* SN__P_* in order */
  unsigned char plan_att[8 + 2 * SN__MAIL_MAX_ATTACH];
  int nplan, pc;
  int started;   /* the current body step has begun */
  size_t pos;    /* position in an in-memory source */
  int bol;       /* at the beginning of an output line (dot-stuffing) */
  int col;       /* encoder line length */
  int pending_ws;/* QP: a space or tab waiting to know if a line break follows */
  int prev_cr;   /* QP: the last input byte was CR */
  unsigned char carry[3];
  int ncarry;    /* base64: input bytes waiting for a group of three */
  char mixed[40], alt[40];
  sn__txq *out;  /* where the message goes (the session's send queue) */
  sn_mgr *mgr;   /* the clock and the DRBG (Date, Message-ID, boundaries) */
} sn__mime;

static const char sn__b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t sn__b64_encode(const unsigned char *in, size_t n, char *out) {
  size_t i, o = 0;
  for (i = 0; i + 2 < n; i += 3) {
    out[o++] = sn__b64[in[i] >> 2];
    out[o++] = sn__b64[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
    out[o++] = sn__b64[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
    out[o++] = sn__b64[in[i + 2] & 63];
  }
  if (n - i == 1) {
    out[o++] = sn__b64[in[i] >> 2];
    out[o++] = sn__b64[(in[i] & 3) << 4];
    out[o++] = '=';
    out[o++] = '=';
  } else if (n - i == 2) {
    out[o++] = sn__b64[in[i] >> 2];
    out[o++] = sn__b64[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
    out[o++] = sn__b64[(in[i + 1] & 15) << 2];
    out[o++] = '=';
  }
  out[o] = '\0';
  return o;
}

static int sn__is_ascii_text(const char *s) {
  for (; *s; s++)
    if ((unsigned char) *s < 0x20 || (unsigned char) *s > 0x7e) return 0;
  return 1;
}

/* A header field check: no CR, LF or NUL (header injection), bounded. */
static int sn__header_safe(const char *s, size_t max) {
  size_t n = 0;
  if (s == NULL) return 1;
  for (; s[n]; n++)
    if (s[n] == '\r' || s[n] == '\n' || n >= max) return 0;
  return 1;
}

/* Printable ASCII only, bounded (a content type goes into a header as is). */
static int sn__printable(const char *s, size_t max) {
  size_t n = 0;
  if (s == NULL) return 1;
  for (; s[n]; n++)
    if ((unsigned char) s[n] < 0x20 || (unsigned char) s[n] > 0x7e || n >= max) return 0;
  return 1;
}

/* An address: 7-bit (no SMTPUTF8), no white space, controls or specials. */
static int sn__addr_ok(const sn_mail_addr *a) {
  const char *p = a->addr;
  int at = 0;
  if (p == NULL || *p == '\0' || !sn__header_safe(a->name, 256)) return 0;
  for (; *p; p++) {
    unsigned char ch = (unsigned char) *p;
    if (ch <= 0x20 || ch >= 0x7f || ch == '<' || ch == '>' || ch == '(' || ch == ')' || ch == ',' || ch == ';' ||
        ch == '"' || ch == '\\')
      return 0;
    at += ch == '@';
    if (p - a->addr > 254) return 0;
  }
  return at == 1 && a->addr[0] != '@' && p[-1] != '@';
}

/* Message bytes: everything goes through here for dot-stuffing. */
static int sn__mime_put(sn__mime *w, const char *data, size_t n) {
  size_t i, start = 0;
  int r;
  for (i = 0; i < n; i++) {
    if (w->bol && data[i] == '.') {
      if ((r = sn__txq_put(w->out, data + start, i - start, (size_t) -1)) != SN_OK) return r;
      if ((r = sn__txq_put(w->out, ".", 1, (size_t) -1)) != SN_OK) return r;
      start = i;
    }
    w->bol = data[i] == '\n';
  }
  return sn__txq_put(w->out, data + start, n - start, (size_t) -1);
}

static int sn__mime_puts(sn__mime *w, const char *str) { return sn__mime_put(w, str, strlen(str)); }

/* An unstructured header value as RFC 2047 encoded words when it is not
   plain ASCII, folded so no line exceeds 78 characters. */
/* A quoted-string (RFC 5322 3.2.4, RFC 2045 5.1): '"' and '\\' escaped. */
static int sn__mime_quoted(sn__mime *w, const char *v) {
  int r = sn__mime_puts(w, "\"");
  for (; *v && r == SN_OK; v++) {
    if (*v == '"' || *v == '\\') r = sn__mime_puts(w, "\\");
    if (r == SN_OK) r = sn__mime_put(w, v, 1);
  }
  return r == SN_OK ? sn__mime_puts(w, "\"") : r;
}

static int sn__mime_words(sn__mime *w, const char *v) {
  size_t len = strlen(v), i = 0;
  int r = SN_OK, first = 1;
  if (sn__is_ascii_text(v) && strstr(v, "=?") == NULL) return sn__mime_put(w, v, len);
  while (i < len && r == SN_OK) {
    char b64[64];
    size_t take = len - i > 45 ? 45 : len - i;
    /* never split a UTF-8 sequence across two words */
    while (i + take < len && take > 1 && ((unsigned char) v[i + take] & 0xC0) == 0x80) take--;
    sn__b64_encode((const unsigned char *) v + i, take, b64);
    if (!first) r = sn__mime_puts(w, "\r\n ");
    if (r == SN_OK) r = sn__mime_puts(w, "=?UTF-8?B?");
    if (r == SN_OK) r = sn__mime_puts(w, b64);
    if (r == SN_OK) r = sn__mime_puts(w, "?=");
    first = 0;
    i += take;
  }
  return r;
}

static int sn__mime_addr(sn__mime *w, const sn_mail_addr *a) {
  int r = SN_OK;
  if (a->name != NULL && a->name[0] != '\0') {
    if (sn__is_ascii_text(a->name) && strstr(a->name, "=?") == NULL) {
      r = sn__mime_quoted(w, a->name);
    } else {
      r = sn__mime_words(w, a->name);
    }
    if (r == SN_OK) r = sn__mime_puts(w, " ");
  }
  if (r == SN_OK) r = sn__mime_puts(w, "<");
  if (r == SN_OK) r = sn__mime_puts(w, a->addr);
  if (r == SN_OK) r = sn__mime_puts(w, ">");
  return r;
}

static int sn__mime_addr_list(sn__mime *w, const char *field, const sn_mail_addr *list, int n) {
  int i, r;
  if (n <= 0) return SN_OK;
  if ((r = sn__mime_puts(w, field)) != SN_OK) return r;
  for (i = 0; i < n && r == SN_OK; i++) {
    if (i > 0) r = sn__mime_puts(w, ",\r\n ");
    if (r == SN_OK) r = sn__mime_addr(w, &list[i]);
  }
  return r == SN_OK ? sn__mime_puts(w, "\r\n") : r;
}

static int sn__mime_head(sn__mime *w, const sn_mail *mail) {
  unsigned char rnd[16];
  char buf[200], hex[33];
  const char *domain = strchr(mail->from.addr, '@') + 1;
  int64_t now = w->mgr->port.wall_s(w->mgr->port.ctx);
  int i, r;
  if ((r = sn__mime_puts(w, "From: ")) != SN_OK || (r = sn__mime_addr(w, &mail->from)) != SN_OK ||
      (r = sn__mime_puts(w, "\r\n")) != SN_OK)
    return r;
  if ((r = sn__mime_addr_list(w, "To: ", mail->to, mail->to_count)) != SN_OK) return r;
  if ((r = sn__mime_addr_list(w, "Cc: ", mail->cc, mail->cc_count)) != SN_OK) return r;
  if ((r = sn__mime_puts(w, "Subject: ")) != SN_OK || (r = sn__mime_words(w, mail->subject ? mail->subject : "")) != SN_OK ||
      (r = sn__mime_puts(w, "\r\n")) != SN_OK)
    return r;
  /* RFC 5322 3.3: HTTP's IMF-fixdate with the zone as +0000; a device
     without a clock sends no Date */
  if (now >= 0 && sn__imf_date(now, buf + 6) != 0) {
    memcpy(buf, "Date: ", 6);
    memcpy(buf + 6 + 26, "+0000\r\n", 8); /* over "GMT" */
    if ((r = sn__mime_puts(w, buf)) != SN_OK) return r;
  }
  if (sn_mgr_random(w->mgr, rnd, sizeof rnd) != 0) return SN_ERR_ENTROPY;
  for (i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
  snprintf(buf, sizeof buf, "Message-ID: <%s@%.100s>\r\nMIME-Version: 1.0\r\n", hex, domain);
  if ((r = sn__mime_puts(w, buf)) != SN_OK) return r;
  /* boundaries cannot occur in base64 or quoted-printable output: '=_' */
  snprintf(w->mixed, sizeof w->mixed, "=_sn_m_%.24s", hex);
  snprintf(w->alt, sizeof w->alt, "=_sn_a_%.24s", hex + 8);
  return SN_OK;
}

static void sn__mime_plan(sn__mime *w, const sn_mail *mail) {
  int i, n = 0, mixed = mail->attachment_count > 0, alt = mail->html != NULL;
  w->plan[n++] = SN__P_HEAD;
  if (mixed) w->plan[n++] = SN__P_MIXED_OPEN;
  if (alt) w->plan[n++] = SN__P_ALT_OPEN;
  w->plan[n++] = SN__P_TEXT_HEAD;
  w->plan[n++] = SN__P_TEXT;
  if (alt) {
    w->plan[n++] = SN__P_HTML_HEAD;
    w->plan[n++] = SN__P_HTML;
    w->plan[n++] = SN__P_ALT_CLOSE;
  }
  for (i = 0; i < mail->attachment_count; i++) {
    w->plan_att[n] = (unsigned char) i;
    w->plan[n++] = SN__P_ATT_HEAD;
    w->plan_att[n] = (unsigned char) i;
    w->plan[n++] = SN__P_ATT;
  }
  if (mixed) w->plan[n++] = SN__P_MIXED_CLOSE;
  w->plan[n++] = SN__P_END;
  w->nplan = n;
  w->pc = 0;
  w->bol = 1;
}

/* Quoted-printable (RFC 2045 6.7) of a chunk, any line ends becoming CRLF. */
static int sn__qp(sn__mime *w, const unsigned char *in, size_t n, int at_end) {
  static const char hexd[] = "0123456789ABCDEF";
  char out[3 * 512 + 64];
  size_t i, o = 0;
  for (i = 0; i <= n; i++) {
    int ch = i < n ? in[i] : -1, is_break = ch == '\n' || ch == '\r';
    if (ch == -1 && !at_end) break;
    if (w->pending_ws) { /* RFC 2045 6.7 (3): whitespace before a line break is encoded */
      if (is_break || ch == -1) {
        if (w->col + 3 > 75) memcpy(out + o, "=\r\n", 3), o += 3, w->col = 0;
        out[o++] = '=', out[o++] = hexd[w->pending_ws >> 4], out[o++] = hexd[w->pending_ws & 15];
      } else {
        if (w->col + 1 > 75) memcpy(out + o, "=\r\n", 3), o += 3, w->col = 0;
        out[o++] = (char) w->pending_ws;
      }
      w->col += is_break || ch == -1 ? 3 : 1;
      w->pending_ws = 0;
    }
    if (ch == -1) break;
    if (ch == '\n' && w->prev_cr) {
      w->prev_cr = 0;
      continue;
    }
    w->prev_cr = ch == '\r';
    if (is_break) {
      memcpy(out + o, "\r\n", 2), o += 2;
      w->col = 0;
    } else if (ch == ' ' || ch == '\t') {
      w->pending_ws = ch;
    } else if (ch >= 33 && ch <= 126 && ch != '=' && !(ch == '.' && w->col == 0)) {
      if (w->col + 1 > 75) memcpy(out + o, "=\r\n", 3), o += 3, w->col = 0;
      out[o++] = (char) ch;
      w->col++;
    } else {
      if (w->col + 3 > 75) memcpy(out + o, "=\r\n", 3), o += 3, w->col = 0;
      out[o++] = '=', out[o++] = hexd[ch >> 4], out[o++] = hexd[ch & 15];
      w->col += 3;
    }
    if (o > sizeof out - 16) {
      int r = sn__mime_put(w, out, o);
      if (r != SN_OK) return r;
      o = 0;
    }
  }
  return sn__mime_put(w, out, o);
}

/* Base64 (RFC 2045 6.8) of a chunk, in lines of 76 characters. */
static int sn__b64_stream(sn__mime *w, const unsigned char *in, size_t n, int at_end) {
  char out[1200];
  size_t i = 0, o = 0;
  while (i < n || (at_end && w->ncarry > 0)) {
    char quad[8];
    while (w->ncarry < 3 && i < n) w->carry[w->ncarry++] = in[i++];
    if (w->ncarry < 3 && !at_end) break;
    sn__b64_encode(w->carry, (size_t) w->ncarry, quad);
    w->ncarry = 0;
    memcpy(out + o, quad, 4), o += 4;
    w->col += 4;
    if (w->col >= 76) memcpy(out + o, "\r\n", 2), o += 2, w->col = 0;
    if (o > sizeof out - 16) {
      int r = sn__mime_put(w, out, o);
      if (r != SN_OK) return r;
      o = 0;
    }
  }
  if (at_end && w->col > 0) memcpy(out + o, "\r\n", 2), o += 2, w->col = 0;
  return sn__mime_put(w, out, o);
}

/* Pulls up to len bytes from a memory or callback source. Returns the count
   (0 at the end) or an error. */
static int sn__mime_pull(sn__mime *w, const char *data, size_t dlen, sn_mail_source_fn fn, void *arg,
                         unsigned char *buf, size_t len) {
  if (fn != NULL) return fn(arg, buf, len);
  if (data == NULL) return 0;
  if (len > dlen - w->pos) len = dlen - w->pos;
  memcpy(buf, data + w->pos, len);
  w->pos += len;
  return (int) len;
}

/* Produces the next piece of the message into the send buffer. Returns 1
   while there is more, 0 when the message (and its final dot) is queued,
   or an error. */
static int sn__mime_write(sn__mime *w, const sn_mail *mail) {
  unsigned char buf[512];
  char line[600];
  int r = SN_OK, step = w->plan[w->pc], n;
  const sn_mail_attachment *att = mail->attachment_count ? &mail->attachments[w->plan_att[w->pc]] : NULL;
  switch (step) {
    case SN__P_HEAD: r = sn__mime_head(w, mail); break;
    case SN__P_MIXED_OPEN:
      snprintf(line, sizeof line, "Content-Type: multipart/mixed;\r\n boundary=\"%s\"\r\n\r\n--%s\r\n", w->mixed, w->mixed);
      r = sn__mime_puts(w, line);
      break;
    case SN__P_ALT_OPEN:
      snprintf(line, sizeof line, "Content-Type: multipart/alternative;\r\n boundary=\"%s\"\r\n\r\n--%s\r\n", w->alt, w->alt);
      r = sn__mime_puts(w, line);
      break;
    case SN__P_TEXT_HEAD:
    case SN__P_HTML_HEAD:
      snprintf(line, sizeof line, "%s%s%sContent-Type: text/%s; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
               step == SN__P_HTML_HEAD ? "\r\n--" : "", step == SN__P_HTML_HEAD ? w->alt : "",
               step == SN__P_HTML_HEAD ? "\r\n" : "", step == SN__P_HTML_HEAD ? "html" : "plain");
      r = sn__mime_puts(w, line);
      break;
    case SN__P_TEXT:
    case SN__P_HTML:
    case SN__P_ATT: {
      const char *data = step == SN__P_TEXT ? mail->text : step == SN__P_HTML ? mail->html : (const char *) att->data;
      size_t dlen = step == SN__P_TEXT ? mail->text_len : step == SN__P_HTML ? strlen(mail->html) : att->len;
      sn_mail_source_fn fn = step == SN__P_TEXT ? mail->text_source : step == SN__P_ATT ? att->source : NULL;
      void *arg = step == SN__P_TEXT ? mail->text_source_arg : step == SN__P_ATT ? att->source_arg : NULL;
      if (!w->started) {
        w->started = 1;
        w->pos = 0;
        w->col = w->pending_ws = w->prev_cr = w->ncarry = 0;
      }
      if (step == SN__P_TEXT && data != NULL && dlen == 0 && fn == NULL) dlen = strlen(data);
      n = sn__mime_pull(w, data, dlen, fn, arg, buf, step == SN__P_ATT ? 510 : sizeof buf);
      if (n < 0) return n;
      r = step == SN__P_ATT ? sn__b64_stream(w, buf, (size_t) n, n == 0) : sn__qp(w, buf, (size_t) n, n == 0);
      if (r != SN_OK) return r;
      if (n > 0) return 1; /* same step again */
      w->started = 0;
      break;
    }
    case SN__P_ALT_CLOSE:
      snprintf(line, sizeof line, "\r\n--%s--\r\n", w->alt);
      r = sn__mime_puts(w, line);
      break;
    case SN__P_ATT_HEAD: {
      const char *fname = att->filename ? att->filename : "attachment";
      const char *type = att->content_type ? att->content_type : "application/octet-stream";
      snprintf(line, sizeof line, "\r\n--%s\r\nContent-Type: %.100s\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment;\r\n filename=",
               w->mixed, type);
      r = sn__mime_puts(w, line);
      if (r != SN_OK) break;
      if (sn__is_ascii_text(fname) && strstr(fname, "=?") == NULL) {
        r = sn__mime_quoted(w, fname);
      } else { /* encoded words in quotes: RFC 2231 would be stricter; mail clients read this */
        r = sn__mime_puts(w, "\"");
        if (r == SN_OK) r = sn__mime_words(w, fname);
        if (r == SN_OK) r = sn__mime_puts(w, "\"");
      }
      if (r == SN_OK) r = sn__mime_puts(w, "\r\n\r\n");
      break;
    }
    case SN__P_MIXED_CLOSE:
      snprintf(line, sizeof line, "\r\n--%s--\r\n", w->mixed);
      r = sn__mime_puts(w, line);
      break;
    default: /* SN__P_END: RFC 5321 4.1.1.4, outside dot-stuffing */
      r = sn__txq_put(w->out, w->bol ? ".\r\n" : "\r\n.\r\n", w->bol ? 3 : 5, (size_t) -1);
      return r == SN_OK ? 0 : r;
  }
  if (r != SN_OK) return r;
  w->pc++;
  return 1;
}

// >>smtp
/* The mail queue and the mail session: a protocol on one stream (plain,
   then TLS begun on the same stream after STARTTLS, or TLS from the start),
   a state machine driven by the server's replies that runs the queued jobs
   for one server one after another. */
/* The session's states, each with the RFC 5321 4.5.3.2 timeout of what it
   waits for (sn__smtp_goto sets both; the server's timeout_ms replaces them):
   SN__S_CONNECT    the TCP connection is under way (60 s); writable: then
                    HANDSHAKE (implicit TLS) or GREETING.
   SN__S_HANDSHAKE  TLS, from the start or after STARTTLS's 220 (60 s);
                    then GREETING, or EHLO again after STARTTLS.
   SN__S_GREETING   waits for the 220 (5 min); then EHLO.
   SN__S_EHLO       EHLO sent, its extensions read (5 min); a 5xx: HELO. Then
                    STARTTLS when due, AUTH when asked for, else MAIL.
   SN__S_HELO       the fallback for servers without EHLO (5 min).
   SN__S_STARTTLS   waits for its 220 (2 min); then HANDSHAKE on the same
                    stream. Nothing past the 220 is read in clear text.
   SN__S_AUTH       PLAIN, LOGIN (several steps) or XOAUTH2 (5 min); then MAIL.
   SN__S_MAIL       MAIL FROM, each RCPT TO and DATA, pipelined when offered
                    (5 min each reply); DATA's 354: BODY.
   SN__S_BODY       the message is produced and sent (3 min per send that
                    moves); the final dot queued: DOT.
   SN__S_DOT        waits for the reply to the final dot (10 min); then RSET
                    for the next mail to the same server, else QUIT.
   SN__S_RSET       (5 min); then MAIL for the next mail.
   SN__S_QUIT       (10 s); any reply or the end: DEAD.
   SN__S_DEAD       the session is over (the mail's result reported); the
                    stream is reaped by sn_poll. Any state comes here on an
                    error (sn__smtp_abort) or a timeout. */
enum { SN__S_CONNECT, SN__S_HANDSHAKE, SN__S_GREETING, SN__S_EHLO, SN__S_HELO, SN__S_STARTTLS, SN__S_AUTH,
       SN__S_MAIL, SN__S_BODY, SN__S_DOT, SN__S_RSET, SN__S_QUIT, SN__S_DEAD };
enum { SN__X_STARTTLS = 1, SN__X_PIPELINING = 2, SN__X_SIZE = 4, SN__X_PLAIN = 8, SN__X_LOGIN = 16,
       SN__X_XOAUTH2 = 32 };

typedef struct sn__smtp {
  sn__stream st; /* first: the session is its stream */
  const sn_smtp_server *srv;
  int state;
  uint8_t starttls_done, authed, auth_method, auth_step;
  uint8_t conn_error; /* the port's wait said SN_ERROR while connecting */
  uint8_t job_active;
  uint8_t partial; /* res holds a refused recipient only: a later failure replaces it */
  uint8_t ext;     /* SN__X_*: what EHLO offered */
  unsigned long size_max;
  uint64_t deadline;
  sn__tlsc tls;
  int code;           /* reply being read, and whether it is complete */
  char text[160];
  /* the current mail (job_active, partial above) */
  uint8_t ncmd, nsent, nacked, accepted; /* MAIL, RCPTs, DATA (at most SN_MAIL_MAX_RCPT + 2) */
  sn_mail_result res;
  sn__mime w;
} sn__smtp;

#define SN__SMTP_TX_CHUNK 4096u /* message bytes produced per round */

static uint32_t sn__smtp_timeout(const sn__smtp *s, uint32_t rfc_ms) {
  return s->srv->timeout_ms ? s->srv->timeout_ms : rfc_ms;
}

/* Enters a state and starts its timer: rfc_ms, what RFC 5321 4.5.3.2 gives
   the reply that state waits for (or the server's timeout_ms when set); 0
   keeps the running timer. DEAD marks the stream for sn_poll to reap. */
static void sn__smtp_goto(sn__smtp *s, int state, uint32_t rfc_ms) {
  s->state = state;
  if (rfc_ms) s->deadline = s->st.io.mgr->now + sn__smtp_timeout(s, rfc_ms);
  if (state == SN__S_DEAD) s->st.dead = 1;
}

static int sn__smtp_tx_put(sn__smtp *s, const void *data, size_t n) { return sn__txq_put(&s->st.tx, data, n, (size_t) -1); }

static int sn__smtp_sink(void *s, const void *data, size_t n) { return sn__smtp_tx_put((sn__smtp *) s, data, n); }
#define sn__smtp_printf(s, ...) sn__sinkf(sn__smtp_sink, (s), 1100, __VA_ARGS__)

/* The next piece of the current mail into the session's send queue
   (sn__mime_write). */
static int sn__mime_step(sn__smtp *s, const sn_mail *mail) {
  s->w.out = &s->st.tx;
  s->w.mgr = s->st.io.mgr;
  return sn__mime_write(&s->w, mail);
}

/* ---- the session -------------------------------------------------------- */
/* Takes the oldest job off the queue and calls its done with `res`. */
static void sn__mail_pop(sn_mgr *m, const sn_mail_result *res) {
  sn__mail_job job = m->jobs[0];
  memmove(&m->jobs[0], &m->jobs[1], (size_t) (m->njobs - 1) * sizeof m->jobs[0]);
  m->njobs--;
  job.done(job.user, job.mail, res);
}

/* Ends the oldest job with an error that came before any session. */
static void sn__mail_fail_oldest(sn_mgr *m, int err, const char *stage) {
  sn_mail_result res;
  memset(&res, 0, sizeof res);
  res.err = err;
  res.stage = stage;
  sn__mail_pop(m, &res);
}

static void sn__smtp_result(sn__smtp *s, int err, const char *stage) {
  if (s->res.err == SN_OK || s->partial) {
    s->res.err = err;
    s->res.stage = stage;
    s->partial = 0;
  }
}

static void sn__smtp_finish_job(sn__smtp *s) {
  sn_mgr *m = s->st.io.mgr;
  sn_mail_result res = s->res;
  if (!s->job_active) return;
  s->job_active = 0;
  if (res.err != SN_OK)
    sn__log(m, SN_LOG_WARN, "mail via %s: %s at %s: %d %s", s->srv->host, sn_strerror(res.err),
            res.stage ? res.stage : "?", res.reply_code, res.reply);
  sn__mail_pop(m, &res);
}

/* Leaves the manager's list and frees the session. */
static void sn__smtp_free(sn__smtp *s) {
  sn_mgr *m = s->st.io.mgr;
  sn__st_remove(m, &s->st);
  sn__st_free(&s->st);
  sn__tlsc_free(&s->tls);
  m->smtp = NULL;
  SN_FREE(s);
}

/* Ends the session; the current job (if any) ends with err at stage. */
static void sn__smtp_abort(sn__smtp *s, int err, const char *stage) {
  if (s->job_active) sn__smtp_result(s, err, stage);
  sn__smtp_finish_job(s);
  sn__smtp_goto(s, SN__S_DEAD, 0);
}

/* TLS client set-up through the one outgoing TLS path: the server's roots,
   its name (checked and sent as SNI). */
static int sn__smtp_tls_start(sn__smtp *s) {
  const sn_smtp_server *srv = s->srv;
  sn_tls_client_opts o;
  int r;
  memset(&o, 0, sizeof o);
  o.ca = srv->ca, o.ca_len = srv->ca_len, o.ca_file = srv->ca_file;
  o.tls_name = srv->tls_name;
  r = sn__tlsc_start(&s->st, &s->tls, &o, srv, srv->host, srv->port, "mail server", &s->res.tls_error);
  if (r != SN_OK) return r;
  sn__smtp_goto(s, SN__S_HANDSHAKE, 60000);
  return SN_OK;
}

/* Sends the next transaction command; with PIPELINING all of them at once
   (RFC 2920), else one per reply. */
static int sn__smtp_send_cmds(sn__smtp *s) {
  const sn_mail *mail = s->st.io.mgr->jobs[0].mail;
  int r = SN_OK;
  while (r == SN_OK && s->nsent < s->ncmd && ((s->ext & SN__X_PIPELINING) || s->nsent == s->nacked)) {
    int i = s->nsent;
    if (i == 0) {
      r = sn__smtp_printf(s, "MAIL FROM:<%s>\r\n", mail->from.addr);
    } else if (i < s->ncmd - 1) {
      int k = i - 1;
      const sn_mail_addr *a = k < mail->to_count ? &mail->to[k]
                              : k < mail->to_count + mail->cc_count ? &mail->cc[k - mail->to_count]
                                                                    : &mail->bcc[k - mail->to_count - mail->cc_count];
      r = sn__smtp_printf(s, "RCPT TO:<%s>\r\n", a->addr);
    } else {
      if (!(s->ext & SN__X_PIPELINING) && s->accepted == 0) break; /* no recipient: do not ask for DATA */
      r = sn__smtp_printf(s, "DATA\r\n");
    }
    s->nsent++;
  }
  return r;
}

static int sn__smtp_start_mail(sn__smtp *s) {
  sn_mgr *m = s->st.io.mgr;
  const sn_mail *mail;
  if (m->njobs == 0 || m->jobs[0].srv != s->srv) {
    sn__smtp_goto(s, SN__S_QUIT, 10000);
    return sn__smtp_printf(s, "QUIT\r\n");
  }
  mail = m->jobs[0].mail;
  memset(&s->res, 0, sizeof s->res);
  if ((s->ext & SN__X_SIZE) && s->size_max > 0 && mail->text_source == NULL) { /* RFC 1870 */
    unsigned long est = 4096 + (unsigned long) (mail->text ? (mail->text_len ? mail->text_len : strlen(mail->text)) : 0) +
                        (unsigned long) (mail->html ? strlen(mail->html) : 0);
    int i, known = 1;
    for (i = 0; i < mail->attachment_count; i++) {
      known &= mail->attachments[i].source == NULL;
      est += (unsigned long) (mail->attachments[i].len / 3 * 4 * 78 / 76);
    }
    if (known && est > s->size_max) {
      s->job_active = 1;
      snprintf(s->res.reply, sizeof s->res.reply, "about %lu bytes, over the server's SIZE %lu", est, s->size_max);
      sn__smtp_abort(s, SN_ERR_TOO_BIG, "MAIL FROM");
      return SN_OK;
    }
  }
  s->job_active = 1;
  s->ncmd = 2 + mail->to_count + mail->cc_count + mail->bcc_count;
  s->nsent = s->nacked = s->accepted = 0;
  sn__smtp_goto(s, SN__S_MAIL, 300000);
  return sn__smtp_send_cmds(s);
}

static void sn__smtp_ehlo(sn__smtp *s, int helo) {
  const char *name = s->srv->ehlo_name ? s->srv->ehlo_name : "securenet.invalid";
  s->ext = 0;
  sn__smtp_goto(s, helo ? SN__S_HELO : SN__S_EHLO, 300000);
  if (sn__smtp_printf(s, "%s %.200s\r\n", helo ? "HELO" : "EHLO", name) != SN_OK) sn__smtp_abort(s, SN_ERR_NOMEM, "EHLO");
}

/* After EHLO/HELO: STARTTLS if due, then AUTH, then the first mail. */
static void sn__smtp_after_ehlo(sn__smtp *s) {
  const sn_smtp_server *srv = s->srv;
  int r = SN_OK;
  if (srv->mode == SN_SMTP_STARTTLS && !s->st.tls_up) {
    if (!(s->ext & SN__X_STARTTLS)) { /* no silent downgrade */
      snprintf(s->res.reply, sizeof s->res.reply, "the server does not offer STARTTLS");
      sn__smtp_abort(s, SN_ERR_PROTO, "STARTTLS");
      return;
    }
    sn__smtp_goto(s, SN__S_STARTTLS, 120000);
    r = sn__smtp_printf(s, "STARTTLS\r\n");
  } else if (srv->user != NULL && !s->authed) {
    unsigned allowed = srv->auth_methods ? srv->auth_methods : (SN_AUTH_PLAIN | SN_AUTH_LOGIN | SN_AUTH_XOAUTH2);
    char raw[600], b64[820];
    size_t n;
    if (!s->st.tls_up) { /* credentials never cross the wire in clear text */
      snprintf(s->res.reply, sizeof s->res.reply, "refusing to authenticate without TLS");
      sn__smtp_abort(s, SN_ERR_AUTH, "AUTH");
      return;
    }
    /* the strongest method both sides allow: a token over a password,
       PLAIN (one round trip) over LOGIN */
    if (srv->oauth_token && (allowed & SN_AUTH_XOAUTH2) && (s->ext & SN__X_XOAUTH2)) s->auth_method = SN_AUTH_XOAUTH2;
    else if (srv->password && (allowed & SN_AUTH_PLAIN) && (s->ext & SN__X_PLAIN)) s->auth_method = SN_AUTH_PLAIN;
    else if (srv->password && (allowed & SN_AUTH_LOGIN) && (s->ext & SN__X_LOGIN)) s->auth_method = SN_AUTH_LOGIN;
    else {
      snprintf(s->res.reply, sizeof s->res.reply, "no AUTH method allowed by both sides");
      sn__smtp_abort(s, SN_ERR_AUTH, "AUTH");
      return;
    }
    sn__smtp_goto(s, SN__S_AUTH, 300000);
    s->auth_step = 0;
    if (s->auth_method == SN_AUTH_LOGIN) {
      r = sn__smtp_printf(s, "AUTH LOGIN\r\n");
    } else {
      if (s->auth_method == SN_AUTH_XOAUTH2)
        n = (size_t) snprintf(raw, sizeof raw, "user=%s\001auth=Bearer %s\001\001", srv->user, srv->oauth_token);
      else
        n = (size_t) snprintf(raw, sizeof raw, "%c%s%c%s", 0, srv->user, 0, srv->password);
      if (n >= sizeof raw) {
        sn__smtp_abort(s, SN_ERR_TOO_BIG, "AUTH");
        return;
      }
      sn__b64_encode((const unsigned char *) raw, n, b64);
      memset(raw, 0, sizeof raw);
      r = sn__smtp_printf(s, "AUTH %s %s\r\n", s->auth_method == SN_AUTH_PLAIN ? "PLAIN" : "XOAUTH2", b64);
      memset(b64, 0, sizeof b64);
    }
  } else {
    r = sn__smtp_start_mail(s);
  }
  if (r != SN_OK) sn__smtp_abort(s, r, "EHLO");
}

/* One EHLO line after the first (RFC 5321 4.1.1.1): a keyword, then
   parameters after a space. line[0..len) is the peer's, not NUL-terminated:
   nothing here reads past len. */
static void sn__smtp_parse_ext(sn__smtp *s, const char *line, size_t len) {
  const char *sp = (const char *) memchr(line, ' ', len);
  size_t kwlen = sp ? (size_t) (sp - line) : len, i;
  sn_str list, item;
  list.ptr = sp ? sp + 1 : line + len;
  list.len = sp ? len - kwlen - 1 : 0;
  if (sn__ieq(line, kwlen, "STARTTLS")) s->ext |= SN__X_STARTTLS;
  if (sn__ieq(line, kwlen, "PIPELINING")) s->ext |= SN__X_PIPELINING;
  if (sn__ieq(line, kwlen, "SIZE")) { /* RFC 1870: "SIZE" [SP digits]; none, a bad or a huge one: no limit known */
    unsigned long v = 0;
    s->ext |= SN__X_SIZE;
    for (i = 0; i < list.len && list.ptr[i] >= '0' && list.ptr[i] <= '9' && v < 429496729UL; i++) /* < 2^32 */
      v = v * 10 + (unsigned long) (list.ptr[i] - '0');
    s->size_max = i == list.len ? v : 0;
  }
  if (sn__ieq(line, kwlen, "AUTH")) {
    while (list.len) { /* space-separated mechanisms */
      sp = (const char *) memchr(list.ptr, ' ', list.len);
      item.ptr = list.ptr;
      item.len = sp ? (size_t) (sp - list.ptr) : list.len;
      list.ptr += sp ? item.len + 1 : item.len;
      list.len -= sp ? item.len + 1 : item.len;
      if (sn__ieq(item.ptr, item.len, "PLAIN")) s->ext |= SN__X_PLAIN;
      if (sn__ieq(item.ptr, item.len, "LOGIN")) s->ext |= SN__X_LOGIN;
      if (sn__ieq(item.ptr, item.len, "XOAUTH2")) s->ext |= SN__X_XOAUTH2;
    }
  }
}

/* One complete reply (code, first line's text) arrived. */
static void sn__smtp_on_reply(sn__smtp *s) {
  sn_mgr *m = s->st.io.mgr;
  int code = s->code, ok = code >= 200 && code < 400;
  /* the reply that decided the outcome is kept; after a refused recipient,
     a later failure decides, unless no recipient was taken at all */
  if (s->res.err == SN_OK || (s->partial && s->accepted > 0 && code >= 400)) {
    s->res.reply_code = code;
    snprintf(s->res.reply, sizeof s->res.reply, "%s", s->text);
  }
  switch (s->state) {
    case SN__S_GREETING:
      if (code != 220) { sn__smtp_abort(s, SN_ERR_REFUSED, "greeting"); return; }
      sn__smtp_ehlo(s, 0);
      return;
    case SN__S_EHLO:
      if (code == 250) { sn__smtp_after_ehlo(s); return; }
      if (code >= 500 && code <= 504) { sn__smtp_ehlo(s, 1); return; } /* RFC 5321 4.1.4: HELO fallback */
      { sn__smtp_abort(s, SN_ERR_REFUSED, "EHLO"); return; }
    case SN__S_HELO:
      if (code != 250) { sn__smtp_abort(s, SN_ERR_REFUSED, "HELO"); return; }
      { sn__smtp_after_ehlo(s); return; }
    case SN__S_STARTTLS: {
      int r;
      if (code != 220) { sn__smtp_abort(s, SN_ERR_REFUSED, "STARTTLS"); return; }
      /* Whatever came with or after the 220 was sent in clear text before
         TLS: it is dropped, never read as a reply (the STARTTLS injection). */
      if (s->st.rx.len > 0) sn__log(m, SN_LOG_WARN, "%s: %u bytes after the STARTTLS reply dropped", s->srv->host, (unsigned) s->st.rx.len);
      s->st.rx.len = 0;
      s->ext = 0;
      s->starttls_done = 1;
      if ((r = sn__smtp_tls_start(s)) != SN_OK) { sn__smtp_abort(s, r, "TLS"); return; }
      return;
    }
    case SN__S_AUTH:
      if (code == 235) {
        s->authed = 1;
        if (sn__smtp_start_mail(s) != SN_OK) sn__smtp_abort(s, SN_ERR_NOMEM, "MAIL FROM");
        return;
      }
      if (code == 334 && s->auth_method == SN_AUTH_LOGIN && s->auth_step < 2) {
        char b64[400];
        const char *v = s->auth_step == 0 ? s->srv->user : s->srv->password;
        size_t n = strlen(v);
        if (n > 290) { sn__smtp_abort(s, SN_ERR_TOO_BIG, "AUTH"); return; }
        sn__b64_encode((const unsigned char *) v, n, b64);
        s->auth_step++;
        if (sn__smtp_printf(s, "%s\r\n", b64) != SN_OK) sn__smtp_abort(s, SN_ERR_NOMEM, "AUTH");
        memset(b64, 0, sizeof b64);
        return;
      }
      if (code == 334 && s->auth_method == SN_AUTH_XOAUTH2) { /* an error challenge: answer empty, get 535 */
        if (sn__smtp_printf(s, "\r\n") != SN_OK) sn__smtp_abort(s, SN_ERR_NOMEM, "AUTH");
        return;
      }
      { sn__smtp_abort(s, SN_ERR_AUTH, "AUTH"); return; }
    case SN__S_MAIL: {
      int i = s->nacked++;
      s->deadline = m->now + sn__smtp_timeout(s, 300000);
      if (i == 0 && !ok) { sn__smtp_abort(s, SN_ERR_REFUSED, "MAIL FROM"); return; }
      if (i == 0) {
        if (sn__smtp_send_cmds(s) != SN_OK) sn__smtp_abort(s, SN_ERR_NOMEM, "RCPT TO");
        return;
      }
      if (i > 0 && i < s->ncmd - 1) {
        if (ok) {
          s->accepted++;
        } else {
          s->res.refused[i - 1] = 1;
          s->res.refused_count++;
          sn__smtp_result(s, SN_ERR_REFUSED, "RCPT TO");
          s->partial = 1;
          sn__log(m, SN_LOG_WARN, "recipient %d refused: %d %s", i, code, s->text);
        }
        if (s->nacked == s->ncmd - 1 && s->accepted == 0 && !(s->ext & SN__X_PIPELINING))
          { sn__smtp_abort(s, SN_ERR_REFUSED, "RCPT TO"); return; }
        if (sn__smtp_send_cmds(s) != SN_OK) sn__smtp_abort(s, SN_ERR_NOMEM, "RCPT TO");
        return;
      }
      if (i == s->ncmd - 1) { /* DATA */
        if (s->accepted == 0) { sn__smtp_abort(s, SN_ERR_REFUSED, "RCPT TO"); return; }
        if (code != 354) { sn__smtp_abort(s, SN_ERR_REFUSED, "DATA"); return; }
        sn__mime_plan(&s->w, m->jobs[0].mail);
        sn__smtp_goto(s, SN__S_BODY, 180000);
      }
      return;
    }
    case SN__S_DOT:
      if (code != 250) { sn__smtp_abort(s, SN_ERR_REFUSED, "DATA"); return; }
      sn__smtp_finish_job(s);
      if (m->njobs > 0 && m->jobs[0].srv == s->srv) { /* next mail, same session */
        sn__smtp_goto(s, SN__S_RSET, 300000);
        if (sn__smtp_printf(s, "RSET\r\n") != SN_OK) sn__smtp_goto(s, SN__S_DEAD, 0);
      } else if (sn__smtp_start_mail(s) != SN_OK) {
        sn__smtp_goto(s, SN__S_DEAD, 0);
      }
      return;
    case SN__S_RSET:
      if (code != 250) { sn__smtp_abort(s, SN_ERR_REFUSED, "RSET"); return; }
      if (sn__smtp_start_mail(s) != SN_OK) sn__smtp_abort(s, SN_ERR_NOMEM, "MAIL FROM");
      return;
    case SN__S_QUIT:
      sn__smtp_goto(s, SN__S_DEAD, 0);
      return;
    default: /* a reply while the message is being sent */
      { sn__smtp_abort(s, SN_ERR_PROTO, "DATA"); return; }
  }
}

/* Splits rx into reply lines (RFC 5321 4.2: "250-..." continues, "250 ..."
   ends). Returns 1 if a whole reply was handled. */
static const char *sn__smtp_stage(const sn__smtp *s);

/* A reply that cannot be read ends the session at the stage it answers,
   with no reply code (none was read) and the fault in words. After the
   final dot the mail may have been taken: SN_ERR_UNCONFIRMED. */
static void sn__smtp_bad_reply(sn__smtp *s, const char *why) {
  int unconfirmed = s->state == SN__S_DOT;
  if (s->res.err == SN_OK || s->partial) {
    s->res.reply_code = 0;
    snprintf(s->res.reply, sizeof s->res.reply, "%s%s", why,
             unconfirmed ? " in the answer to the end of the message" : "");
  }
  sn__smtp_abort(s, unconfirmed ? SN_ERR_UNCONFIRMED : SN_ERR_PROTO, sn__smtp_stage(s));
}

static int sn__smtp_lines(sn__smtp *s) {
  while (s->st.rx.len > 0 && s->state != SN__S_DEAD) {
    char *nl = (char *) memchr(s->st.rx.buf, '\n', s->st.rx.len);
    size_t len, used, k;
    int last, code;
    if (nl == NULL) {
      if (s->st.rx.len == s->st.rx.cap) return sn__smtp_bad_reply(s, "a reply line too long"), 0;
      return 0;
    }
    used = (size_t) (nl - s->st.rx.buf) + 1;
    len = used - 1;
    if (len > 0 && s->st.rx.buf[len - 1] == '\r') len--;
    /* every line is "ddd" then ' ' (the last) or '-' (more follow): a line
       shorter than four characters ("250", "25", "") is malformed, and so
       is a line whose code is not the one its reply began with (RFC 5321 4.2.1) */
    if (len < 4 || s->st.rx.buf[0] < '2' || s->st.rx.buf[0] > '5' || s->st.rx.buf[1] < '0' || s->st.rx.buf[1] > '9' || s->st.rx.buf[2] < '0' ||
        s->st.rx.buf[2] > '9' || (s->st.rx.buf[3] != ' ' && s->st.rx.buf[3] != '-'))
      return sn__smtp_bad_reply(s, "a malformed reply line"), 0;
    code = (s->st.rx.buf[0] - '0') * 100 + (s->st.rx.buf[1] - '0') * 10 + (s->st.rx.buf[2] - '0');
    if (s->code != 0 && code != s->code) return sn__smtp_bad_reply(s, "a reply whose lines differ in their code"), 0;
    last = s->st.rx.buf[3] == ' ';
    if (s->code == 0) { /* first line of a reply */
      s->code = code;
      snprintf(s->text, sizeof s->text, "%.*s", (int) (len - 4), s->st.rx.buf + 4);
      for (k = 0; s->text[k] != '\0'; k++) /* it reaches logs and terminals: no control characters */
        if ((unsigned char) s->text[k] < 0x20 || s->text[k] == 0x7f) s->text[k] = '?';
    } else if (s->state == SN__S_EHLO) {
      sn__smtp_parse_ext(s, s->st.rx.buf + 4, len - 4); /* len >= 4 (checked above) */
    }
    memmove(s->st.rx.buf, s->st.rx.buf + used, s->st.rx.len - used);
    s->st.rx.len -= used;
    if (last) {
      sn__smtp_on_reply(s);
      s->code = 0;
      if (s->state == SN__S_HANDSHAKE) return 1; /* nothing past STARTTLS's reply is read */
    }
  }
  return 0;
}

static int sn__smtp_flush(sn__smtp *s) {
  int r = sn__st_flush(&s->st);
  if (r == SN_ERR_TLS) s->res.tls_error = s->st.tls_err;
  return r < 0 ? r : SN_OK;
}

static const char *sn__smtp_stage(const sn__smtp *s) {
  static const char *const names[] = {"connect", "TLS", "greeting", "EHLO", "HELO", "STARTTLS", "AUTH",
                                      "RCPT TO", "DATA", "DATA", "RSET", "QUIT", "QUIT"};
  if (s->state == SN__S_MAIL && s->nacked == 0) return "MAIL FROM";
  if (s->state == SN__S_MAIL && s->nacked == s->ncmd - 1) return "DATA";
  return names[s->state];
}

/* The connection broke: the last reply belongs to an earlier command, so it is dropped
   and the error names the break (SN_ERR_CLOSED, SN_ERR_IO, or the TLS error in words). */
static int sn__smtp_broken(sn__smtp *s, int err) {
  s->res.reply_code = 0;
  s->res.reply[0] = '\0';
  if (s->state == SN__S_DOT && sn__txq_pending(&s->st.tx) == 0) {
    /* the final dot left: the server may have taken the mail. Neither
       success nor a plain failure (a retry could deliver it twice). */
    snprintf(s->res.reply, sizeof s->res.reply, "%s after the end of the message, before its reply",
             err == SN_ERR_TIMEOUT ? "no answer" : "connection lost");
    return SN_ERR_UNCONFIRMED;
  }
  if (err == SN_ERR_TLS) sn__tls_strerror(s->res.tls_error, s->res.reply, sizeof s->res.reply);
  return err;
}

static uint16_t sn__smtp_port(const sn_smtp_server *srv) {
  return srv->port ? srv->port : srv->mode == SN_SMTP_TLS ? 465 : srv->mode == SN_SMTP_STARTTLS ? 587 : 25;
}

/* Nothing was ever heard and the connection failed (err): the failure in
   words, at stage "connect". */
static void sn__smtp_connect_failed(sn__smtp *s, int err) {
  const char *host = s->srv->host;
  unsigned port = sn__smtp_port(s->srv);
  if (s->conn_error)
    snprintf(s->res.reply, sizeof s->res.reply, "cannot connect to %.100s port %u (refused or unreachable)", host, port);
  else if (err == SN_ERR_CLOSED)
    snprintf(s->res.reply, sizeof s->res.reply, "%.100s port %u closed the connection before its greeting", host, port);
  else
    snprintf(s->res.reply, sizeof s->res.reply, "the connection to %.100s port %u failed before its greeting", host, port);
  s->res.reply_code = 0;
  sn__smtp_abort(s, err, "connect");
}

static void sn__smtp_io(sn__smtp *s, uint8_t ready) {
  sn_mgr *m = s->st.io.mgr;
  int round, r;
  for (round = 0; round < 64 && s->state != SN__S_DEAD; round++) {
    int progress = 0;
    if (s->state == SN__S_CONNECT) {
      /* writable means connected (or failed: the first read or write tells) */
      s->conn_error = (ready & SN_ERROR) != 0;
      sn__smtp_goto(s, s->srv->mode == SN_SMTP_TLS ? SN__S_HANDSHAKE : SN__S_GREETING, 300000);
      if (s->srv->mode == SN_SMTP_TLS && (r = sn__smtp_tls_start(s)) != SN_OK) { sn__smtp_abort(s, r, "TLS"); return; }
    }
    if (s->state == SN__S_HANDSHAKE) {
      r = sn__tlsc_handshake(&s->st, &s->res.verify_flags, s->res.reply, sizeof s->res.reply);
      if (r == SN_WANT_READ) return;
      if (r != SN_OK) s->res.tls_error = s->st.tls_err;
      if (r != SN_OK && s->conn_error && !s->starttls_done && s->st.io.err != 0) { /* refused: no TLS was spoken */
        sn__smtp_connect_failed(s, s->st.io.err);
        return;
      }
      if (r != SN_OK) {
        s->res.reply_code = 0;
        sn__log(m, SN_LOG_WARN, "mail server %s: TLS handshake failed: %s", s->srv->host, s->res.reply);
        m->tls_err = s->res.tls_error;
        sn__smtp_abort(s, r, "TLS");
        return;
      }
      sn__log(m, SN_LOG_DEBUG, "mail server %s: %s %s", s->srv->host, mbedtls_ssl_get_version(s->st.ssl),
              mbedtls_ssl_get_ciphersuite(s->st.ssl));
      if (s->starttls_done) sn__smtp_ehlo(s, 0); /* RFC 3207 4.2: forget everything, say EHLO again */
      else sn__smtp_goto(s, SN__S_GREETING, 300000);
    }
    /* produce message bytes while the send buffer is short */
    while (s->state == SN__S_BODY && sn__txq_pending(&s->st.tx) < SN__SMTP_TX_CHUNK) {
      r = sn__mime_step(s, m->jobs[0].mail);
      if (r < 0) { /* a source or the writer failed: no final dot, so the server drops what it got */
        if (s->res.err == SN_OK || s->partial) {
          s->res.reply_code = 0; /* the 354 answered DATA, not this */
          snprintf(s->res.reply, sizeof s->res.reply, "the message stopped before its end: not sent");
        }
        sn__smtp_abort(s, r, "message");
        return;
      }
      progress = 1;
      if (r == 0) {
        sn__smtp_goto(s, SN__S_DOT, 600000); /* RFC 5321 4.5.3.2.6 */
      }
    }
    if (sn__txq_pending(&s->st.tx) > 0) {
      size_t before = s->st.tx.off + s->st.tx.len;
      if ((r = sn__smtp_flush(s)) != SN_OK) {
        /* the last reply belongs to an earlier command: report the broken connection instead */
        sn__smtp_abort(s, sn__smtp_broken(s, r), sn__smtp_stage(s));
        return;
      }
      if (s->st.tx.off + s->st.tx.len != before) progress = 1, s->deadline = s->state == SN__S_BODY ? m->now + sn__smtp_timeout(s, 180000) : s->deadline;
    }
    if (s->state != SN__S_BODY && s->state != SN__S_CONNECT && s->state != SN__S_HANDSHAKE) {
      if (s->st.rx.len < s->st.rx.cap) {
        r = sn__st_read(&s->st, s->st.rx.buf + s->st.rx.len, s->st.rx.cap - s->st.rx.len);
        if (r == SN_ERR_TLS) s->res.tls_error = s->st.tls_err;
        if (r > 0) {
          s->st.rx.len += (size_t) r;
          progress = 1;
        } else if (r != SN_WANT_READ) {
          if (s->state == SN__S_QUIT) sn__smtp_goto(s, SN__S_DEAD, 0);
          else {
            int err = sn__smtp_broken(s, r == 0 ? SN_ERR_CLOSED : r);
            /* nothing ever heard: the connection itself failed (refused, unreachable) */
            if (s->state == SN__S_GREETING && !s->st.tls_up) sn__smtp_connect_failed(s, err);
            else sn__smtp_abort(s, err, sn__smtp_stage(s));
          }
          return;
        }
      }
      if (s->st.rx.len > 0 && sn__smtp_lines(s)) progress = 1;
    }
    if (!progress) break;
  }
}

/* The session's hooks for the manager. */
static uint8_t sn__smtp_poll_hook(sn__stream *st, uint64_t *next) {
  const sn__smtp *s = (const sn__smtp *) st;
  uint8_t w = 0;
  sn__next(next, s->deadline);
  if (s->state == SN__S_CONNECT) return SN_WRITABLE;
  if (s->state == SN__S_HANDSHAKE) return s->st.rd_want;
  if (sn__txq_pending(&s->st.tx) > 0 || s->state == SN__S_BODY) w |= s->st.wr_want;
  if (s->state != SN__S_BODY) w |= s->st.rd_want;
  return (uint8_t) (w | (sn__st_has_pending(st) ? SN__PENDING : 0));
}

static void sn__smtp_io_hook(sn__stream *st, uint8_t ready) { sn__smtp_io((sn__smtp *) st, ready); }

static void sn__smtp_timer_hook(sn__stream *st) {
  sn__smtp *s = (sn__smtp *) st;
  int err;
  if (st->io.mgr->now < s->deadline) return;
  err = sn__smtp_broken(s, SN_ERR_TIMEOUT);
  if (err == SN_ERR_TIMEOUT && s->state == SN__S_CONNECT)
    snprintf(s->res.reply, sizeof s->res.reply, "no connection to %.100s port %u in time", s->srv->host,
             (unsigned) sn__smtp_port(s->srv));
  else if (err == SN_ERR_TIMEOUT) snprintf(s->res.reply, sizeof s->res.reply, "no answer from the server in time");
  sn__smtp_abort(s, err, sn__smtp_stage(s));
}

static void sn__smtp_reap_hook(sn__stream *st) {
  (void) sn__st_notify(st); /* best effort */
  sn__smtp_free((sn__smtp *) st);
}

/* sn_mgr_destroy: one more way a session ends. The mail in session ends at
   its stage with no reply code (none answered what was cut short): after its
   final dot went out SN_ERR_UNCONFIRMED, before that not sent (SN_ERR_CLOSED). */
static void sn__smtp_destroy_hook(sn__stream *st) {
  sn__smtp *s = (sn__smtp *) st;
  if (s->job_active && (s->res.err == SN_OK || s->partial)) {
    int unconfirmed = s->state == SN__S_DOT && sn__txq_pending(&s->st.tx) == 0;
    s->res.reply_code = 0;
    snprintf(s->res.reply, sizeof s->res.reply, "the manager was destroyed%s",
             unconfirmed ? " after the end of the message, before its reply" : "");
    sn__smtp_result(s, unconfirmed ? SN_ERR_UNCONFIRMED : SN_ERR_CLOSED, sn__smtp_stage(s));
  }
  sn__smtp_abort(s, SN_ERR_CLOSED, "connect"); /* the result is set: it is reported as it is */
  sn__smtp_free(s);
}

static const sn__proto sn__smtp_proto = {sn__smtp_poll_hook, sn__smtp_io_hook, sn__smtp_timer_hook,
                                         sn__smtp_reap_hook, sn__smtp_destroy_hook};

/* Opens a session for the oldest job. */
static void sn__smtp_open(sn_mgr *m) {
  const sn_smtp_server *srv = m->jobs[0].srv;
  uint16_t port = sn__smtp_port(srv);
  sn__smtp *s = (sn__smtp *) SN_MALLOC(sizeof *s);
  int r;
  if (s == NULL) goto nomem;
  memset(s, 0, sizeof *s);
  sn__st_init(&s->st, m, &sn__smtp_proto, SN_INVALID_SOCK);
  s->srv = srv;
  sn__tlsc_init(&s->tls, m);
  s->st.tx.buf = (unsigned char *) SN_MALLOC(1024);
  s->st.rx.buf = (char *) SN_MALLOC(1024); /* a reply line is at most 512 bytes (RFC 5321 4.5.3.1.5) */
  if (s->st.tx.buf == NULL || s->st.rx.buf == NULL) goto nomem;
  s->st.tx.cap = s->st.rx.cap = 1024;
  m->smtp = s;
  sn__st_add(m, &s->st);
  s->job_active = 1;
  s->res.stage = NULL;
  r = sn__st_connect(&s->st, srv->host, port);
  if (r == SN_WANT_READ) { /* name resolution under way: try again next round */
    s->job_active = 0;
    sn__smtp_free(s);
    return;
  }
  if (r != SN_OK) {
    if (m->port.connect != NULL)
      snprintf(s->res.reply, sizeof s->res.reply, "cannot connect to %.100s port %u", srv->host, (unsigned) port);
    sn__smtp_abort(s, r, "connect");
    return;
  }
  sn__smtp_goto(s, SN__S_CONNECT, 60000);
  return;
nomem:
  if (s) SN_FREE(s->st.tx.buf), SN_FREE(s->st.rx.buf), SN_FREE(s);
  m->smtp = NULL;
  sn__mail_fail_oldest(m, SN_ERR_NOMEM, "connect");
}

/* The manager's service hook for mail: opens a session for the oldest job
   when none is open; once sn_mgr_destroy has ended the session, the mails
   still queued end unsent, at stage "queued". */
static int sn__mail_service(sn_mgr *m) {
  int i;
  if (m->destroying) {
    while (m->njobs > 0) {
      sn_mail_result res;
      memset(&res, 0, sizeof res);
      res.err = SN_ERR_CLOSED;
      res.stage = "queued";
      snprintf(res.reply, sizeof res.reply, "the manager was destroyed before this mail was started");
      sn__mail_pop(m, &res);
    }
    return 0;
  }
  for (i = 0; m->smtp == NULL && m->njobs > 0 && i < SN_MAX_MAIL_JOBS; i++) sn__smtp_open(m);
  return 0;
}

SNDEF int sn_mail_send(sn_mgr *m, const sn_smtp_server *srv, const sn_mail *mail, sn_mail_done_fn done, void *user) {
  int i, n;
  if (m == NULL || srv == NULL || srv->host == NULL || mail == NULL || done == NULL) return SN_ERR_INVALID;
  n = mail->to_count + mail->cc_count + mail->bcc_count;
  if (!sn__addr_ok(&mail->from) || n <= 0 || n > SN_MAIL_MAX_RCPT || mail->to_count < 0 || mail->cc_count < 0 ||
      mail->bcc_count < 0 || !sn__header_safe(mail->subject, 900) || mail->attachment_count < 0 ||
      mail->attachment_count > SN__MAIL_MAX_ATTACH || (mail->attachment_count && mail->attachments == NULL))
    return SN_ERR_INVALID;
  for (i = 0; i < mail->to_count; i++)
    if (!sn__addr_ok(&mail->to[i])) return SN_ERR_INVALID;
  for (i = 0; i < mail->cc_count; i++)
    if (!sn__addr_ok(&mail->cc[i])) return SN_ERR_INVALID;
  for (i = 0; i < mail->bcc_count; i++)
    if (!sn__addr_ok(&mail->bcc[i])) return SN_ERR_INVALID;
  for (i = 0; i < mail->attachment_count; i++)
    if (!sn__header_safe(mail->attachments[i].filename, 200) || !sn__printable(mail->attachments[i].content_type, 100))
      return SN_ERR_INVALID;
  if (srv->mode != SN_SMTP_STARTTLS && srv->mode != SN_SMTP_TLS && srv->mode != SN_SMTP_PLAIN_INSECURE)
    return SN_ERR_INVALID;
  if (m->njobs >= SN_MAX_MAIL_JOBS) return SN_ERR_FULL;
  m->jobs[m->njobs].srv = srv;
  m->jobs[m->njobs].mail = mail;
  m->jobs[m->njobs].done = done;
  m->jobs[m->njobs].user = user;
  m->njobs++;
  m->service = sn__mail_service;
  return SN_OK;
}

static void sn__mail_blocking_done(void *user, const sn_mail *mail, const sn_mail_result *res) {
  (void) mail;
  *(sn_mail_result *) user = *res;
  ((sn_mail_result *) user)->stage = res->stage ? res->stage : "";
}

SNDEF int sn_mail_send_blocking(sn_mgr *m, const sn_smtp_server *srv, const sn_mail *mail, sn_mail_result *result) {
  int r;
  memset(result, 0, sizeof *result);
  if ((r = sn_mail_send(m, srv, mail, sn__mail_blocking_done, result)) != SN_OK) return result->err = r;
  while (result->stage == NULL) sn_poll(m, 1000);
  return result->err;
}
#endif /* SN_ENABLE_SMTP */

// >>client
#if SN_ENABLE_CLIENT
/* Outgoing connections (sn_connect): the name and the TCP connection through
   the port, the handshake on the one TLS client path, then a byte stream to
   the application's callbacks. Ends are recorded and reported from sn_poll,
   never from inside an sn_client_* call. */
/* A client connection's states:
   SN__CL_RESOLVE    sn_connect asked the port for the connection and the
                     name is still being resolved: asked again each round
                     (no socket, no wait item), until connect_timeout_ms.
   SN__CL_CONNECT    the TCP connection is under way: writable means
                     connected (SN_ERROR: refused or unreachable).
   SN__CL_HANDSHAKE  TLS clients: the handshake (roots, name, pin); then OPEN.
   SN__CL_OPEN       on_connect was called; bytes flow both ways, on_data and
                     on_sent as they do; idle_timeout_ms.
   SN__CL_DEAD       ended (err and why say how); sn_poll reports on_close
                     once and frees it. Any state goes here on an error, a
                     timeout (also total_timeout_ms), sn_client_close or
                     sn_mgr_destroy. */
enum { SN__CL_RESOLVE, SN__CL_CONNECT, SN__CL_HANDSHAKE, SN__CL_OPEN, SN__CL_DEAD };

struct sn_client {
  sn__stream st; /* first: a client connection is its stream */
  sn_client_opts opts;
  sn_client_callbacks cb;
  int state, err, tls_error; /* (TLS: st.ssl is in an sn__tlsc, sn__st_tlsc) */
  uint32_t verify_flags;
  uint8_t closing, sent_due;
  uint16_t port;
  uint64_t deadline; /* connect + handshake, then the idle timeout */
  uint64_t end_at;   /* the total timeout */
  char host[254];
  char why[160];     /* how it ended, in words */
};

#define SN__CLIENT_READ 2048u /* bytes read per on_data call (on the stack) */

/* Records the end; fmt has one %s (arg may be c->why itself). */
static void sn__client_end(sn_client *c, int err, const char *fmt, const char *arg) {
  char why[sizeof c->why];
  if (c->state == SN__CL_DEAD) return;
  c->err = err;
  snprintf(why, sizeof why, fmt, arg);
  memcpy(c->why, why, sizeof why);
  c->state = SN__CL_DEAD;
  c->st.dead = 1;
}

static void sn__client_idle(sn_client *c) {
  c->deadline = c->opts.idle_timeout_ms ? c->st.io.mgr->now + c->opts.idle_timeout_ms : UINT64_MAX;
}

static void sn__client_open(sn_client *c) {
  c->state = SN__CL_OPEN;
  sn__client_idle(c);
  if (c->cb.on_connect) c->cb.on_connect(c, c->cb.user);
}

/* Asks the port for the connection (again, while a name is being resolved). */
static void sn__client_connect(sn_client *c) {
  int r = sn__st_connect(&c->st, c->host, c->port);
  if (r == SN_WANT_READ) return;
  if (r != SN_OK) {
    sn__client_end(c, r, r == SN_ERR_ADDR ? "cannot resolve or reach %.100s" : "cannot connect to %.100s", c->host);
    return;
  }
  c->state = SN__CL_CONNECT;
  sn__log(c->st.io.mgr, SN_LOG_DEBUG, "connecting to %.100s port %u", c->host, (unsigned) c->port);
}

static void sn__client_io_hook(sn__stream *st, uint8_t ready);
static void sn__client_io(sn_client *c, uint8_t ready) {
  sn_mgr *m = c->st.io.mgr;
  unsigned char buf[SN__CLIENT_READ];
  int round, r;
  if (c->state == SN__CL_CONNECT) {
    if (ready & SN_ERROR) { /* the port's error tells why: refused, unreachable */
      char where[96];
      r = m->port.recv(m->port.ctx, c->st.io.sock, buf, 1);
      snprintf(where, sizeof where, "%.60s port %u", c->host, (unsigned) c->port);
      sn__client_end(c, r < 0 && r != SN_WANT_READ ? r : SN_ERR_IO, "cannot connect to %s (refused or unreachable)", where);
      return;
    }
    if (!(ready & SN_WRITABLE)) return;
    if (c->st.ssl == NULL) { /* plain TCP */
      sn__client_open(c);
      if (c->st.proto->io != sn__client_io_hook) return; /* another protocol took the stream */
    } else {
      c->state = SN__CL_HANDSHAKE;
      c->st.rd_want = SN_WRITABLE;
    }
  }
  for (round = 0; round < 64 && c->state != SN__CL_DEAD; round++) {
    int progress = 0;
    if (c->state == SN__CL_HANDSHAKE) {
      r = sn__tlsc_handshake(&c->st, &c->verify_flags, c->why, sizeof c->why);
      if (r == SN_WANT_READ) return;
      if (r != SN_OK) {
        char why[sizeof c->why];
        memcpy(why, c->why, sizeof why);
        c->tls_error = c->st.tls_err;
        m->tls_err = c->tls_error;
        sn__log(m, SN_LOG_WARN, "%s: TLS: %s", c->host, why);
        sn__client_end(c, r, "%s", why);
        return;
      }
      sn__log(m, SN_LOG_DEBUG, "%s: %s %s", c->host, mbedtls_ssl_get_version(c->st.ssl),
              mbedtls_ssl_get_ciphersuite(c->st.ssl));
      sn__client_open(c);
      if (c->state != SN__CL_OPEN || c->st.proto->io != sn__client_io_hook) return;
    }
    if (sn__st_out_pending(&c->st)) {
      r = sn__st_flush(&c->st);
      if (r < 0) {
        if (r == SN_ERR_TLS) c->tls_error = c->st.tls_err, sn__tls_strerror(c->tls_error, c->why, sizeof c->why);
        sn__client_end(c, r, r == SN_ERR_TLS ? "%s" : "connection to %.100s broken while sending",
                       r == SN_ERR_TLS ? c->why : c->host);
        return;
      }
      if (r > 0) progress = 1, sn__client_idle(c);
    }
    if (c->sent_due && !sn__st_out_pending(&c->st)) {
      c->sent_due = 0;
      if (c->cb.on_sent) c->cb.on_sent(c, c->cb.user);
      progress = 1;
    }
    if (c->closing && !sn__st_out_pending(&c->st)) {
      (void) sn__st_notify(&c->st); /* best effort, never waits */
      if (m->port.shutdown) m->port.shutdown(m->port.ctx, c->st.io.sock);
      sn__client_end(c, SN_OK, "%s", "closed by the application");
      return;
    }
    if (c->state != SN__CL_OPEN) return;
    r = sn__st_read(&c->st, buf, sizeof buf);
    if (r == 0) {
      if (!c->st.tls_up) sn__client_end(c, SN_OK, "%s", "closed by the server");
      else if (c->st.notify & 2) sn__client_end(c, SN_OK, "%s", "closed by the server (close_notify)");
      else
        sn__client_end(c, SN_ERR_CLOSED, "%.60s closed the connection without close_notify (data may be truncated)",
                       c->host);
      return;
    }
    if (r == SN_ERR_TLS) {
      c->tls_error = c->st.tls_err;
      sn__tls_strerror(c->tls_error, c->why, sizeof c->why);
      sn__client_end(c, SN_ERR_TLS, "%s", c->why);
      return;
    }
    if (r > 0) {
      sn__client_idle(c);
      if (c->cb.on_data) c->cb.on_data(c, buf, (size_t) r, c->cb.user);
      progress = 1;
    } else if (r != SN_WANT_READ) {
      sn__client_end(c, r, "connection to %.100s broken", c->host);
      return;
    }
    if (!progress) break;
  }
}

/* The client's hooks for the manager. */
/* Pending: decrypted bytes mbedTLS holds, a close or an on_sent due now
   that the queue is empty. */
static uint8_t sn__client_poll_hook(sn__stream *st, uint64_t *next) {
  sn_client *c = (sn_client *) st;
  uint8_t want;
  int pending;
  sn__next(next, c->deadline);
  sn__next(next, c->end_at);
  if (c->state == SN__CL_RESOLVE) sn__client_connect(c);
  if (c->state == SN__CL_CONNECT) return SN_WRITABLE;
  if (c->state == SN__CL_HANDSHAKE) return c->st.rd_want;
  if (c->state != SN__CL_OPEN) return 0;
  want = c->st.rd_want;
  pending = sn__st_has_pending(st);
  if (sn__st_out_pending(&c->st)) want |= c->st.wr_want;
  else pending |= c->closing || c->sent_due; /* due now that the queue is empty */
  return (uint8_t) (want | (pending ? SN__PENDING : 0));
}

static void sn__client_io_hook(sn__stream *st, uint8_t ready) {
  sn_client *c = (sn_client *) st;
  if (c->state != SN__CL_RESOLVE) sn__client_io(c, ready);
}

static void sn__client_timer_hook(sn__stream *st) {
  sn_client *c = (sn_client *) st;
  sn_mgr *m = st->io.mgr;
  if (c->state != SN__CL_DEAD && m->now >= c->end_at)
    sn__client_end(c, SN_ERR_TIMEOUT, "%.100s: not done in time (total timeout)", c->host);
  if (c->state != SN__CL_DEAD && m->now >= c->deadline)
    sn__client_end(c, SN_ERR_TIMEOUT, c->state == SN__CL_OPEN ? "%.100s: idle timeout" : "%.100s: no connection in time",
                   c->host);
}

/* Reports the end (once) and frees. The client leaves the manager's list
   first, so on_close may start a new connection in its place. */
static void sn__client_reap_hook(sn__stream *st) {
  sn_client *c = (sn_client *) st;
  sn_mgr *m = st->io.mgr;
  sn__st_remove(m, st);
  m->nclients--;
  if (c->cb.on_close) c->cb.on_close(c, c->err, c->why, c->cb.user);
  {
    sn__tlsc *t = st->ssl != NULL ? sn__st_tlsc(st) : NULL; /* the TLS context is in it: freed after */
    sn__st_free(st);
    if (t != NULL) sn__tlsc_free(t), SN_FREE(t);
  }
  SN_FREE(c);
}

static void sn__client_destroy_hook(sn__stream *st) {
  sn_client *c = (sn_client *) st;
  if (c->state == SN__CL_OPEN) (void) sn__st_notify(st); /* best effort, never waits */
  sn__client_end(c, SN_ERR_CLOSED, "%s", "the manager was destroyed");
  sn__client_reap_hook(st);
}

static const sn__proto sn__client_proto = {sn__client_poll_hook, sn__client_io_hook, sn__client_timer_hook,
                                           sn__client_reap_hook, sn__client_destroy_hook};

SNDEF int sn_connect(sn_mgr *m, const char *host, uint16_t port, const sn_client_opts *opts,
                     const sn_client_callbacks *cb, sn_client **out) {
  sn_client *c;
  size_t n = host ? strlen(host) : 0;
  int r;
  if (out) *out = NULL;
  if (m == NULL || n == 0 || n >= sizeof c->host || port == 0 || cb == NULL) return SN_ERR_INVALID;
  if (m->destroying) return SN_ERR_STATE; /* (from an on_close during sn_mgr_destroy) */
  if (m->nclients >= SN_MAX_CLIENTS) return SN_ERR_FULL;
  c = (sn_client *) SN_MALLOC(sizeof *c);
  if (c == NULL) return SN_ERR_NOMEM;
  memset(c, 0, sizeof *c);
  sn__st_init(&c->st, m, &sn__client_proto, SN_INVALID_SOCK);
  if (opts) c->opts = *opts;
  if (c->opts.max_queued == 0) c->opts.max_queued = 16384;
  c->cb = *cb;
  memcpy(c->host, host, n + 1);
  c->port = port;
  m->now = m->port.now_ms(m->port.ctx);
  c->deadline = m->now + (c->opts.connect_timeout_ms ? c->opts.connect_timeout_ms : 30000);
  c->end_at = c->opts.total_timeout_ms ? m->now + c->opts.total_timeout_ms : UINT64_MAX;
  if (c->opts.tls != NULL) {
    sn__tlsc *t = (sn__tlsc *) SN_MALLOC(sizeof *t); /* the TLS context and configuration: st->ssl is in it */
    if (t == NULL) {
      SN_FREE(c);
      return SN_ERR_NOMEM;
    }
    sn__tlsc_init(t, m);
    /* roots, identity and pin load now: a bad option is the caller's error, not a late on_close */
    if ((r = sn__tlsc_start(&c->st, t, c->opts.tls, c->opts.tls, c->host, port, "server", &c->tls_error)) != SN_OK) {
      sn__st_free(&c->st);
      sn__tlsc_free(t);
      SN_FREE(t);
      SN_FREE(c);
      return r;
    }
  }
  sn__st_add(m, &c->st);
  m->nclients++;
  sn__client_connect(c);
  if (out) *out = c;
  return SN_OK;
}

SNDEF int sn_client_send(sn_client *c, const void *data, size_t len) {
  size_t queued;
  if (c == NULL || (data == NULL && len > 0)) return SN_ERR_INVALID;
  if (c->closing || c->state == SN__CL_DEAD) return SN_ERR_CLOSED;
  queued = sn__txq_pending(&c->st.tx);
  if (len > c->opts.max_queued || queued > c->opts.max_queued - len) return SN_ERR_FULL;
  if (len == 0) return SN_OK;
  if (sn__txq_put(&c->st.tx, data, len, (size_t) -1) != SN_OK) return SN_ERR_NOMEM;
  c->sent_due = 1;
  return SN_OK;
}

SNDEF void sn_client_close(sn_client *c) {
  if (c != NULL && c->state != SN__CL_DEAD) {
    c->closing = 1;
    if (c->state != SN__CL_OPEN) sn__client_end(c, SN_OK, "%s", "closed by the application");
  }
}

SNDEF const char *sn_client_tls_version(const sn_client *c) {
  return c->st.tls_up ? mbedtls_ssl_get_version(c->st.ssl) : "";
}
SNDEF const char *sn_client_tls_suite(const sn_client *c) {
  return c->st.tls_up ? mbedtls_ssl_get_ciphersuite(c->st.ssl) : "";
}
SNDEF size_t sn_client_queued(const sn_client *c) { return sn__txq_pending(&c->st.tx); }
#endif /* SN_ENABLE_CLIENT */

#if SN_ENABLE_HTTP_CLIENT || (SN_ENABLE_WEBSOCKET && SN_ENABLE_CLIENT)
/* Splits an http(s) URL (ws: a ws(s) one): host (no brackets), port, path
   (with query; "/" when empty). Refuses user info, spaces and control bytes. */
static int sn__url_split(const char *url, int ws, int *https, char *host, size_t host_len, uint16_t *port,
                         const char **path) {
  const char *p, *h, *he;
  unsigned long pn = 0;
  size_t i;
  for (i = 0; url[i]; i++)
    if ((unsigned char) url[i] <= 0x20 || url[i] == 0x7f) return SN_ERR_INVALID;
  if (strncmp(url, ws ? "wss://" : "https://", ws ? 6 : 8) == 0) *https = 1, p = url + (ws ? 6 : 8);
  else if (strncmp(url, ws ? "ws://" : "http://", ws ? 5 : 7) == 0) *https = 0, p = url + (ws ? 5 : 7);
  else return SN_ERR_INVALID;
  h = p;
  if (*h == '[') {
    he = strchr(h, ']');
    if (he == NULL) return SN_ERR_INVALID;
    h++;
    p = he + 1;
  } else {
    for (he = h; *he && *he != ':' && *he != '/' && *he != '?' && *he != '#'; he++)
      if (*he == '@') return SN_ERR_INVALID;
    p = he;
  }
  if (he == h || (size_t) (he - h) >= host_len) return SN_ERR_INVALID;
  memcpy(host, h, (size_t) (he - h));
  host[he - h] = '\0';
  if (*p == ':') {
    for (p++; *p >= '0' && *p <= '9'; p++) {
      pn = pn * 10 + (unsigned long) (*p - '0');
      if (pn > 65535) return SN_ERR_INVALID;
    }
    if (pn == 0) return SN_ERR_INVALID;
  }
  if (*p != '\0' && *p != '/' && *p != '?' && *p != '#') return SN_ERR_INVALID;
  *port = (uint16_t) (pn ? pn : *https ? 443 : 80);
  *path = p;
  return SN_OK;
}

#endif

// >>httpc
#if SN_ENABLE_HTTP_CLIENT
/* The HTTP client: one request on a client connection of its own. The
   response head is gathered in a bounded buffer and parsed; the body is
   framed by Content-Length, chunked coding or the end of the connection, and
   handed over as it arrives. Redirects, when asked for, start a new
   connection from the old one's on_close. */
/* A request's states (the framing of its response is an SN__BODY_* kind,
   decided by sn__frame_body):
   SN__HC_HEAD  sn__httpc_start queued the request (on a new connection, or
                on an idle one from the pool); the response head is gathered
                (1xx heads are skipped) until its empty line, then parsed:
                BODY, or DONE for a response without a body.
   SN__HC_BODY  the body is framed out of the stream and handed over: by
                Content-Length, chunked coding or the end of the connection;
                its end: DONE.
   SN__HC_DONE  on_response / on_done called once (also after any error);
                the connection is parked for the next request when the
                response allowed it, else closed; a redirect being followed
                starts again in HEAD from the old connection's on_close. */
enum { SN__HC_HEAD, SN__HC_BODY, SN__HC_DONE };

typedef struct sn__httpc {
  sn_mgr *mgr;
  sn_http_request_opts o;
  sn_client *client;
  char *url;          /* the current URL (a copy once redirected) */
  char host[254];
  uint16_t port;
  int https, state, framing, redirects, redirect_next;
  int req_done;       /* the whole request (head and body) was queued */
  int keep;           /* the response is complete and the connection may serve the next request */
  int reused, retried; /* the connection came from the idle pool; a stale one was replaced once */
  int nobody;         /* a redirect turned the request into one without the caller's body */
  int no_reuse;       /* the response's framing was ambiguous (Content-Length and Transfer-Encoding) */
  const char *method; /* the method sent (a redirect may change it) */
  const char *headers; /* the caller's header lines as sent: o.headers, or hdrs */
  char *hdrs;         /* o.headers without the fields a redirect drops (owned) */
  const char *path;   /* into url */
  char *head;         /* the response head as it arrives */
  size_t head_len;
  uint64_t remaining, received;
  sn_chunked ch;
  sn_http_response resp;
  size_t body_off;    /* memory body: bytes queued so far */
  int err;
  char why[160];
  uint64_t started;
} sn__httpc;

#define SN__HC_PIECE 4096u

static void sn__httpc_fail(sn__httpc *h, int err, const char *why) {
  if (h->err == SN_OK) {
    h->err = err;
    snprintf(h->why, sizeof h->why, "%s", why);
  }
  h->state = SN__HC_DONE;
  if (h->client) sn_client_close(h->client);
}

/* RFC 9110 7.6.1: a "close" token in any Connection header field. */
static int sn__says_close(const sn_http_response *r) {
  int i;
  for (i = 0; i < r->header_count; i++)
    if (sn__ieq(r->headers[i].name.ptr, r->headers[i].name.len, "connection") && sn__has_token(r->headers[i].value, "close"))
      return 1;
  return 0;
}

/* The response is complete. The connection serves the next request to this
   server (see sn__httpc_on_data) when HTTP/1.1 keeps it, the whole request went
   and nothing is left over; else it is closed and on_close finishes. */
static void sn__httpc_complete(sn__httpc *h) {
  h->state = SN__HC_DONE;
  h->keep = h->client != NULL && h->resp.version == 11 && !sn__says_close(&h->resp) && h->req_done &&
            sn_client_queued(h->client) == 0 && !h->redirect_next && h->framing != SN__BODY_CLOSE && !h->no_reuse;
  if (!h->keep && h->client) sn_client_close(h->client);
}

static int sn__httpc_sink(void *h, const void *data, size_t n) { return sn_client_send(((sn__httpc *) h)->client, data, n); }
#define sn__httpc_printf(h, ...) sn__sinkf(sn__httpc_sink, (h), 1024, __VA_ARGS__)

/* Queues more of the request body while there is room. */
static void sn__httpc_feed(sn__httpc *h) {
  const sn_http_request_opts *o = &h->o;
  if (h->state == SN__HC_DONE) return;
  if (h->nobody) {
    h->req_done = 1;
  } else if (o->body != NULL) {
    while (h->body_off < o->body_len) {
      size_t n = o->body_len - h->body_off;
      if (n > SN__HC_PIECE) n = SN__HC_PIECE;
      if (sn_client_send(h->client, (const char *) o->body + h->body_off, n) != SN_OK) return; /* full: on_sent */
      h->body_off += n;
    }
    h->req_done = 1;
  } else if (o->body_source == NULL) {
    h->req_done = 1;
  } else if (!h->req_done) {
    char buf[SN__HC_PIECE + 16];
    while (sn_client_queued(h->client) == 0) {
      int n = o->body_source(o->body_source_arg, buf + 10, SN__HC_PIECE);
      char size[12];
      int k;
      if (n < 0 || n > (int) SN__HC_PIECE) {
        sn__httpc_fail(h, n < 0 ? n : SN_ERR_INVALID, n < 0 ? "the request body's source failed"
                                                             : "the request body's source returned more than it was asked for");
        return;
      }
      if (n == 0) {
        h->req_done = 1;
        sn_client_send(h->client, "0\r\n\r\n", 5);
        return;
      }
      k = snprintf(size, sizeof size, "%x\r\n", (unsigned) n);
      memcpy(buf + 10 - k, size, (size_t) k); /* the chunk's size line right before its data */
      memcpy(buf + 10 + n, "\r\n", 2);
      if (sn_client_send(h->client, buf + 10 - k, (size_t) (k + n + 2)) != SN_OK) {
        sn__httpc_fail(h, SN_ERR_NOMEM, "cannot queue the request body");
        return;
      }
    }
  }
}

static void sn__httpc_on_connect(sn_client *c, void *user) {
  sn__httpc *h = (sn__httpc *) user;
  const sn_http_request_opts *o = &h->o;
  const char *method = h->method;
  int v6 = strchr(h->host, ':') != NULL, dflt = h->port == (h->https ? 443 : 80), r;
  char port[8];
  size_t plen = strcspn(h->path, "#");
  (void) c;
  snprintf(port, sizeof port, ":%u", (unsigned) h->port);
  r = sn__httpc_printf(h, "%s %s%.*s HTTP/1.1\r\nHost: %s%s%s%s\r\nUser-Agent: securenet/" SN_VERSION "\r\n",
                       method, plen == 0 || h->path[0] == '?' ? "/" : "", (int) plen, h->path, v6 ? "[" : "", h->host,
                       v6 ? "]" : "", dflt ? "" : port);
  if (r == SN_OK && o->body != NULL && !h->nobody)
    r = sn__httpc_printf(h, "Content-Length: %lu\r\n", (unsigned long) o->body_len);
  if (r == SN_OK && o->body == NULL && o->body_source != NULL && !h->nobody)
    r = sn__httpc_printf(h, "Transfer-Encoding: chunked\r\n");
  if (r == SN_OK && h->headers != NULL) r = sn_client_send(h->client, h->headers, strlen(h->headers));
  if (r == SN_OK) r = sn_client_send(h->client, "\r\n", 2);
  if (r != SN_OK) {
    sn__httpc_fail(h, r, "cannot build the request (a header too long or malformed?)");
    return;
  }
  sn__httpc_feed(h);
}

static void sn__httpc_on_sent(sn_client *c, void *user) {
  (void) c;
  sn__httpc_feed((sn__httpc *) user);
}

static sn_str sn__span(const char *p, const char *e) {
  sn_str r;
  r.ptr = p, r.len = (size_t) (e - p);
  return sn__trim(r);
}

/* Parses head[0..len) (through the empty line) into h->resp and chooses the
   body's framing. SN_OK, or SN_ERR_PROTO with why. */
static int sn__httpc_parse_head(sn__httpc *h, size_t len) {
  sn_http_response *r = &h->resp;
  const char *p = h->head, *eol;
  sn__framing f;
  int st;
  size_t i;
  memset(r, 0, sizeof *r);
  r->content_length = -1;
  h->no_reuse = 0;
  for (i = 0; i < len; i++) /* RFC 9112 2.2: CR and LF only as CRLF; no other reading of the lines is left */
    if ((p[i] == '\r' && p[i + 1] != '\n') || (p[i] == '\n' && (i == 0 || p[i - 1] != '\r')))
      return snprintf(h->why, sizeof h->why, "a bare CR or LF in the response head"), SN_ERR_PROTO;
  eol = strstr(p, "\r\n");
  if (eol - p < 12 || strncmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ' ||
      p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9' ||
      (eol - p > 12 && p[12] != ' '))
    return snprintf(h->why, sizeof h->why, "malformed status line"), SN_ERR_PROTO;
  r->version = p[7] == '1' ? 11 : 10;
  r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
  r->reason = sn__span(p + 12 < eol ? p + 12 : eol, eol);
  /* the fields and the framing by the server's own rules (sn_http_parse) */
  st = sn__parse_fields(p, (size_t) (eol + 2 - p), len, r->headers, &r->header_count);
  if (st == 431) return snprintf(h->why, sizeof h->why, "more than %d header lines", SN_MAX_HEADERS), SN_ERR_PROTO;
  if (st != 0) return snprintf(h->why, sizeof h->why, "malformed header line (or obs-fold)"), SN_ERR_PROTO;
  if (sn__frame_body(r->headers, r->header_count, r->version, 0, 999999999999999999ULL, &f) != 0) {
    if (f.item.ptr != NULL)
      snprintf(h->why, sizeof h->why, "%s (%.*s), which cannot be decoded", f.why, (int) (f.item.len > 40 ? 40 : f.item.len),
               f.item.ptr);
    else
      snprintf(h->why, sizeof h->why, "%s", f.why);
    return SN_ERR_PROTO;
  }
  if (f.has_length) r->content_length = (int64_t) f.length;
  h->no_reuse = f.ambiguous; /* RFC 9112 6.3: chunked wins, the connection is not used again */
  if (strcmp(h->method, "HEAD") == 0 || r->status == 204 || r->status == 304) h->framing = SN__BODY_NONE;
  else if (f.kind == SN__BODY_CHUNKED) h->framing = SN__BODY_CHUNKED, memset(&h->ch, 0, sizeof h->ch);
  else if (f.kind == SN__BODY_LENGTH) h->framing = SN__BODY_LENGTH, h->remaining = f.length;
  else h->framing = SN__BODY_CLOSE;
  return SN_OK;
}

/* Body bytes (already framed out of the stream): to the caller, unless the
   response is a redirect being followed. */
static void sn__httpc_body(sn__httpc *h, const char *data, size_t n) {
  if (n == 0) return;
  h->received += n;
  if (h->o.max_body && h->received > h->o.max_body) {
    sn__httpc_fail(h, SN_ERR_TOO_BIG, "the response body is larger than max_body");
    return;
  }
  if (!h->redirect_next && h->o.on_body) h->o.on_body(h->o.user, data, n);
}

static void sn__httpc_data(sn__httpc *h, const char *d, size_t len) {
  size_t max_head = h->o.max_header_bytes ? h->o.max_header_bytes : 16384;
  while (len > 0 && h->state != SN__HC_DONE) {
    if (h->state == SN__HC_HEAD) {
      /* one byte at a time into the bounded head buffer, until the empty line */
      size_t take = 0;
      char *e;
      if (h->head == NULL && (h->head = (char *) SN_MALLOC(max_head + 1)) == NULL) {
        sn__httpc_fail(h, SN_ERR_NOMEM, "out of memory for the response head");
        return;
      }
      while (take < len && h->head_len < max_head) {
        h->head[h->head_len++] = d[take++];
        if (h->head_len >= 4 && memcmp(h->head + h->head_len - 4, "\r\n\r\n", 4) == 0) break;
      }
      d += take, len -= take;
      h->head[h->head_len] = '\0';
      e = h->head_len >= 4 ? h->head + h->head_len - 4 : NULL;
      if (e == NULL || memcmp(e, "\r\n\r\n", 4) != 0) {
        /* the NUL first: which error does not depend on how the head arrived */
        if (memchr(h->head, '\0', h->head_len)) sn__httpc_fail(h, SN_ERR_PROTO, "a NUL byte in the response head");
        else if (h->head_len >= max_head) sn__httpc_fail(h, SN_ERR_TOO_BIG, "the response head is larger than max_header_bytes");
        continue;
      }
      if (memchr(h->head, '\0', h->head_len)) {
        sn__httpc_fail(h, SN_ERR_PROTO, "a NUL byte in the response head");
        return;
      }
      {
        int r = sn__httpc_parse_head(h, h->head_len);
        const sn_str *loc;
        if (r != SN_OK) {
          char why[sizeof h->why];
          memcpy(why, h->why, sizeof why);
          sn__httpc_fail(h, r, why);
          return;
        }
        if (h->resp.status >= 100 && h->resp.status < 200) { /* interim (100 Continue): the real head follows */
          h->head_len = 0;
          continue;
        }
        loc = sn__header_find(h->resp.headers, h->resp.header_count, "location");
        h->redirect_next = h->redirects < h->o.max_redirects && loc != NULL &&
                           (h->resp.status == 301 || h->resp.status == 302 || h->resp.status == 303 ||
                            h->resp.status == 307 || h->resp.status == 308);
        if (!h->redirect_next && h->o.on_head) h->o.on_head(h->o.user, &h->resp);
        h->state = SN__HC_BODY;
        if (h->framing == SN__BODY_NONE || (h->framing == SN__BODY_LENGTH && h->remaining == 0)) {
          sn__httpc_complete(h);
          return;
        }
      }
    } else if (h->framing == SN__BODY_LENGTH) {
      size_t n = len < h->remaining ? len : (size_t) h->remaining;
      h->remaining -= n;
      sn__httpc_body(h, d, n);
      d += n, len -= n;
      if (h->remaining == 0 && h->state != SN__HC_DONE) sn__httpc_complete(h);
    } else if (h->framing == SN__BODY_CHUNKED) {
      char out[1024];
      size_t in = len < sizeof out ? len : sizeof out, used = 0, made = 0;
      int r = sn_chunked_decode(&h->ch, d, in, out, &used, &made, h->o.max_body ? h->o.max_body : UINT64_MAX);
      if (r < 0) {
        sn__httpc_fail(h, r, r == SN_ERR_TOO_BIG ? "the response body is larger than max_body" : "malformed chunked body");
        return;
      }
      sn__httpc_body(h, out, made);
      d += used, len -= used;
      if (r == 1 && h->state != SN__HC_DONE) sn__httpc_complete(h);
      if (used == 0 && made == 0 && r == 0) break;
    } else { /* until the connection ends */
      sn__httpc_body(h, d, len);
      len = 0;
    }
  }
  if (len > 0 && h->keep) { /* bytes after a complete response: the connection cannot be trusted again */
    h->keep = 0;
    if (h->client) sn_client_close(h->client);
  }
}

static void sn__httpc_finish(sn__httpc *h);

/* An idle kept connection: the server must not speak unasked; its end frees the slot. */
static void sn__idle_on_data(sn_client *c, const void *data, size_t len, void *user) {
  (void) data, (void) len, (void) user;
  sn_client_close(c);
}
static void sn__idle_on_close(sn_client *c, int err, const char *why, void *user) {
  sn__http_idle *e = (sn__http_idle *) user;
  (void) err, (void) why;
  if (e->c == c) e->c = NULL;
}

static void sn__client_rebind(sn_client *c, const sn_client_callbacks *cb, uint32_t idle_ms, uint32_t total_ms) {
  c->cb = *cb;
  c->opts.idle_timeout_ms = idle_ms;
  c->end_at = total_ms ? c->st.io.mgr->now + total_ms : UINT64_MAX;
  sn__client_idle(c);
}

/* Keeps h's connection for the next request to the same server; 0 if there is no room. */
static int sn__httpc_park(sn__httpc *h) {
  sn_mgr *m = h->mgr;
  sn_client_callbacks cb;
  int i;
  for (i = 0; i < SN_HTTP_IDLE; i++) {
    sn__http_idle *e = &m->http_idle[i];
    if (e->c != NULL) continue;
    e->c = h->client;
    e->tls = h->https ? (const void *) h->o.tls : NULL;
    e->port = h->port;
    e->https = (uint8_t) h->https;
    memcpy(e->host, h->host, sizeof e->host);
    memset(&cb, 0, sizeof cb);
    cb.on_data = sn__idle_on_data;
    cb.on_close = sn__idle_on_close;
    cb.user = e;
    sn__client_rebind(h->client, &cb, SN__HTTP_IDLE_MS, 0);
    h->client = NULL;
    return 1;
  }
  return 0;
}

static void sn__httpc_on_data(sn_client *c, const void *data, size_t len, void *user) {
  sn__httpc *h = (sn__httpc *) user;
  sn__httpc_data(h, (const char *) data, len);
  if (h->state == SN__HC_DONE && h->keep && h->err == SN_OK) {
    if (!sn__httpc_park(h)) {
      sn_client_close(c); /* no room to keep it: on_close finishes */
      return;
    }
    sn__httpc_finish(h);
  }
}

/* The request's one on_done, then h is freed. */
static void sn__httpc_finish(sn__httpc *h) {
  if (h->o.on_done) h->o.on_done(h->o.user, h->err, h->err == SN_OK ? "complete" : h->why);
  if (h->url != h->o.url) SN_FREE(h->url);
  SN_FREE(h->hdrs);
  SN_FREE(h->head);
  SN_FREE(h);
}

static int sn__httpc_start(sn__httpc *h, int fresh);

/* A copy of the caller's header lines without the credentials
   (Authorization, Cookie, Proxy-Authorization: creds) and/or the fields
   about the body (Content-*: content); NULL without memory. */
static char *sn__httpc_filter(const char *in, int creds, int content) {
  size_t n = strlen(in), o = 0;
  char *out = (char *) SN_MALLOC(n + 1);
  const char *p = in;
  int drop = 0;
  if (out == NULL) return NULL;
  while (*p != '\0') {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t) (nl - p) + 1 : strlen(p), k;
    if (*p != ' ' && *p != '\t') { /* a field line (else a continuation, dropped or kept with its field) */
      k = strcspn(p, ":\r\n");
      while (k > 0 && (p[k - 1] == ' ' || p[k - 1] == '\t')) k--;
      drop = (creds && (sn__ieq(p, k, "authorization") || sn__ieq(p, k, "cookie") || sn__ieq(p, k, "proxy-authorization"))) ||
             (content && k > 8 && sn__ieq(p, 8, "content-"));
    }
    if (!drop) memcpy(out + o, p, len), o += len;
    p += len;
  }
  out[o] = '\0';
  return out;
}

/* Follows the redirect h->resp names (RFC 9110 15.4, as curl does): 303
   makes any method but HEAD a GET without the body, 301 and 302 do so for a
   POST, 307 and 308 keep both (a streamed body cannot be sent again: the
   request fails). To another origin (scheme, host or port differ from
   o.url's) the caller's credentials stay behind unless
   redirect_keep_credentials, and TLS options with a pin, a client
   certificate or a tls_name refuse to go at all. SN_OK when the next request
   has started, else the error, with h->err and h->why set. */
static int sn__httpc_redirect(sn__httpc *h) {
  const sn_http_request_opts *o = &h->o;
  const sn_str *loc = sn__header_find(h->resp.headers, h->resp.header_count, "location");
  size_t cap = loc && loc->len < 2048 ? loc->len + sizeof h->host + 24 : 0;
  char *next = cap ? (char *) SN_MALLOC(cap) : NULL, host0[254], host1[254];
  const char *method = h->method, *path, *why = NULL;
  int status = h->resp.status, nobody = h->nobody, https0 = 0, https1 = 0, cross, r = cap ? SN_ERR_NOMEM : SN_ERR_TOO_BIG;
  uint16_t port0 = 0, port1 = 0;
  host0[0] = host1[0] = '\0';
  if (cap == 0) why = "cannot follow the redirect: its Location is longer than 2047 bytes";
  if (next != NULL) {
    int v6 = strchr(h->host, ':') != NULL;
    if (loc->len > 0 && loc->ptr[0] == '/' && (loc->len < 2 || loc->ptr[1] != '/')) /* a path on the same server */
      snprintf(next, cap, "%s://%s%s%s:%u%.*s", h->https ? "https" : "http", v6 ? "[" : "", h->host, v6 ? "]" : "",
               (unsigned) h->port, (int) loc->len, loc->ptr);
    else
      snprintf(next, cap, "%.*s", (int) loc->len, loc->ptr);
    r = sn__url_split(next, 0, &https1, host1, sizeof host1, &port1, &path);
    (void) sn__url_split(o->url, 0, &https0, host0, sizeof host0, &port0, &path); /* (it did split before) */
    cross = https0 != https1 || port0 != port1 || !sn__ieq(host0, strlen(host0), host1);
    if (status == 303 ? strcmp(method, "HEAD") != 0 : status < 303 && strcmp(method, "POST") == 0) method = "GET", nobody = 1;
    if (r != SN_OK) {
      why = "cannot follow the redirect: its Location is not an http(s) URL securenet takes";
    } else if (h->https && !https1) {
      r = SN_ERR_VERIFY, why = "a redirect from https to http was refused"; /* never down (or to anything else) */
    } else if (cross && https1 && o->tls != NULL &&
               (o->tls->pin_sha256 || o->tls->cert || o->tls->cert_file || o->tls->tls_name)) {
      r = SN_ERR_VERIFY, why = "a redirect to another origin was refused: the TLS options' pin, client certificate or "
                               "tls_name are for the first server only";
    } else if (!nobody && o->body_source != NULL) {
      r = SN_ERR_UNSUPPORTED, why = "cannot follow the redirect: it needs the request body again, and a streamed body "
                                    "(body_source) cannot be sent twice";
    } else {
      int creds = cross && !o->redirect_keep_credentials;
      SN_FREE(h->hdrs);
      h->hdrs = NULL;
      h->headers = o->headers;
      if (o->headers != NULL && (creds || nobody) && (h->headers = h->hdrs = sn__httpc_filter(o->headers, creds, nobody)) == NULL)
        r = SN_ERR_NOMEM;
    }
  }
  if (r == SN_OK) {
    if (h->url != o->url) SN_FREE(h->url);
    h->url = next;
    h->method = method;
    h->nobody = nobody;
    h->redirects++;
    sn__log(h->mgr, SN_LOG_DEBUG, "following the %d redirect: %s %.200s", status, method, next);
    if ((r = sn__httpc_start(h, 0)) != SN_OK) why = "cannot follow the redirect to its Location";
  } else {
    SN_FREE(next);
  }
  if (r != SN_OK) {
    h->err = r;
    snprintf(h->why, sizeof h->why, "%s", why ? why : "out of memory for the redirect");
  }
  return r;
}

/* The connection ended: finish the request, or follow the redirect. */
static void sn__httpc_on_close(sn_client *c, int err, const char *why, void *user) {
  sn__httpc *h = (sn__httpc *) user;
  (void) c;
  h->client = NULL;
  if (h->reused && !h->retried && h->state == SN__HC_HEAD && h->head_len == 0 && h->err == SN_OK &&
      (err == SN_OK || err == SN_ERR_CLOSED || err == SN_ERR_IO)) {
    /* the kept connection had been closed by the server meanwhile: once more, on a new one */
    h->retried = 1;
    h->err = SN_OK;
    sn__log(h->mgr, SN_LOG_DEBUG, "%s: the kept connection was closed by the server; the request goes again on a new one",
            h->host);
    if (sn__httpc_start(h, 1) == SN_OK) return;
  }
  if (h->err == SN_OK && h->state != SN__HC_DONE) {
    if (err == SN_OK && h->state == SN__HC_BODY && h->framing == SN__BODY_CLOSE) {
      /* the end of the connection was the end of the body, and TLS said so: complete */
    } else if (err != SN_OK) {
      h->err = err;
      if (err == SN_ERR_CLOSED && h->state == SN__HC_BODY)
        snprintf(h->why, sizeof h->why, "the response was cut short after %lu body bytes: %s",
                 (unsigned long) h->received, why);
      else snprintf(h->why, sizeof h->why, "%s", why);
    } else {
      h->err = SN_ERR_CLOSED;
      snprintf(h->why, sizeof h->why, h->state == SN__HC_HEAD ? "the server closed before a complete response head"
                                                               : "the response was cut short (%lu body bytes)",
               (unsigned long) h->received);
    }
  }
  if (h->err == SN_OK && h->redirect_next && sn__httpc_redirect(h) == SN_OK) return; /* connected anew: h lives on */
  sn__httpc_finish(h);
}

/* (Re)starts on h->url: splits it, and sends on a kept connection to the same
   server or connects (always connects when fresh). */
static int sn__httpc_start(sn__httpc *h, int fresh) {
  sn_client_opts co;
  sn_client_callbacks cb;
  uint64_t now = h->mgr->port.now_ms(h->mgr->port.ctx);
  uint32_t total = h->o.timeout_ms ? h->o.timeout_ms : 60000;
  int r = sn__url_split(h->url, 0, &h->https, h->host, sizeof h->host, &h->port, &h->path);
  if (r != SN_OK) return r;
  if (h->https && h->o.tls == NULL) return SN_ERR_INVALID;
  if (now - h->started >= total) return SN_ERR_TIMEOUT;
  memset(&co, 0, sizeof co);
  co.tls = h->https ? h->o.tls : NULL;
  co.total_timeout_ms = (uint32_t) (total - (now - h->started));
  co.connect_timeout_ms = co.total_timeout_ms;
  co.max_queued = SN__HC_PIECE + 2048;
  memset(&cb, 0, sizeof cb);
  cb.on_connect = sn__httpc_on_connect;
  cb.on_data = sn__httpc_on_data;
  cb.on_sent = sn__httpc_on_sent;
  cb.on_close = sn__httpc_on_close;
  cb.user = h;
  h->state = SN__HC_HEAD;
  h->head_len = 0;
  h->received = h->body_off = 0;
  h->redirect_next = h->req_done = h->keep = h->reused = 0;
  if (!fresh && (h->o.body_source == NULL || h->nobody)) { /* a streamed body cannot be sent twice */
    int i;
    for (i = 0; i < SN_HTTP_IDLE; i++) {
      sn__http_idle *e = &h->mgr->http_idle[i];
      if (e->c != NULL && e->c->state == SN__CL_OPEN && !e->c->closing && e->port == h->port && e->https == h->https &&
          e->tls == (h->https ? (const void *) h->o.tls : NULL) && strcmp(e->host, h->host) == 0) {
        h->client = e->c;
        e->c = NULL;
        h->mgr->now = now;
        sn__client_rebind(h->client, &cb, 0, co.total_timeout_ms);
        h->reused = 1;
        sn__httpc_on_connect(h->client, h);
        return SN_OK;
      }
    }
  }
  return sn_connect(h->mgr, h->host, h->port, &co, &cb, &h->client);
}

SNDEF int sn_http_request(sn_mgr *m, const sn_http_request_opts *o) {
  sn__httpc *h;
  int r;
  if (m == NULL || o == NULL || o->url == NULL || o->on_done == NULL || (o->body != NULL && o->body_source != NULL))
    return SN_ERR_INVALID;
  h = (sn__httpc *) SN_MALLOC(sizeof *h);
  if (h == NULL) return SN_ERR_NOMEM;
  memset(h, 0, sizeof *h);
  h->mgr = m;
  h->o = *o;
  h->url = (char *) o->url;
  h->method = o->method ? o->method : (o->body || o->body_source) ? "POST" : "GET";
  h->headers = o->headers;
  h->started = m->port.now_ms(m->port.ctx);
  if ((r = sn__httpc_start(h, 0)) != SN_OK) {
    SN_FREE(h);
    return r;
  }
  return SN_OK;
}

#endif /* SN_ENABLE_HTTP_CLIENT */

#if SN_ENABLE_WEBSOCKET
// >>ws
/* WebSocket (RFC 6455): the frame parser and the UTF-8 check (in place, in
   the stream's receive buffer), the one engine for both sides (a protocol
   on a stream: the server's upgraded sn_conn, the client's sn_client), the
   server's upgrade and the client's handshake. The stream's owner keeps
   its socket, TLS and queues; when the socket ends it goes back to its
   owner's protocol, which closes it as it closes anything (close_notify,
   linger). */
#if !defined(MBEDTLS_SHA1_C) || !defined(MBEDTLS_BASE64_C)
#error "securenet: WebSocket's handshake needs MBEDTLS_SHA1_C and MBEDTLS_BASE64_C in the mbedTLS configuration (or SN_ENABLE_WEBSOCKET 0)"
#endif
#include "mbedtls/sha1.h"
#include "mbedtls/base64.h"

/* UTF-8 (RFC 3629) a byte at a time, so a character may be split across
   frames and reads: the state is the count of continuation bytes still due
   (bits 0-1) and which range the next one must be in (bits 2-4: after E0
   A0-BF, after ED 80-9F (no surrogates), after F0 90-BF, after F4 80-8F (no
   code point above U+10FFFF); otherwise 80-BF). 0: between characters.
   Returns 0, or -1 at the first byte that cannot be UTF-8. */
static int sn__utf8_step(uint32_t *state, const unsigned char *p, size_t n) {
  static const unsigned char lo[5] = {0x80, 0xA0, 0x80, 0x90, 0x80}, hi[5] = {0xBF, 0xBF, 0x9F, 0xBF, 0x8F};
  uint32_t s = *state;
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned ch = p[i];
    if (s == 0) {
      if (ch < 0x80) continue;
      if (ch >= 0xC2 && ch <= 0xDF) s = 1;
      else if (ch == 0xE0) s = 2 | (1u << 2);
      else if (ch == 0xED) s = 2 | (2u << 2);
      else if (ch >= 0xE1 && ch <= 0xEF) s = 2;
      else if (ch == 0xF0) s = 3 | (3u << 2);
      else if (ch >= 0xF1 && ch <= 0xF3) s = 3;
      else if (ch == 0xF4) s = 3 | (4u << 2);
      else return *state = s, -1; /* 80-C1 (overlong or stray), F5-FF */
    } else {
      if (ch < lo[s >> 2] || ch > hi[s >> 2]) return *state = s, -1;
      s = (s & 3u) - 1u;
    }
  }
  *state = s;
  return 0;
}

/* RFC 6455 7.4: the codes a close frame may carry. */
static int sn__ws_code_ok(int code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/* What the frame parser hands out, one at a time. */
enum { SN__WSE_DATA = 1, SN__WSE_PING, SN__WSE_PONG, SN__WSE_CLOSE };
typedef struct sn__wsev {
  int kind;            /* SN__WSE_* */
  int type;            /* DATA: SN_WS_TEXT or SN_WS_BINARY */
  int final;           /* DATA: the message's last bytes */
  int code;            /* CLOSE: its code; 1005 when it had none */
  unsigned char *data; /* DATA, PING, PONG: the payload; CLOSE: the reason */
  size_t len;
} sn__wsev;


static void sn__ws_unmask(sn__wsr *p, unsigned char *d, size_t n) {
  size_t i;
  unsigned k = p->key_at;
  if (!p->masked) return;
  for (i = 0; i < n; i++) d[i] ^= p->key[(k + i) & 3u];
  p->key_at = (uint8_t) ((k + n) & 3u);
}

/* The next event in b[0..*len): 1 with *ev (its bytes valid until the next
   call), 0 when more bytes are needed (what is kept moves down: *len may
   shrink, the caller appends after it), or minus the close code the peer's
   fault calls for (-1002, -1007, -1009). A frame header is judged as soon
   as its bytes are there, before its payload. */
static int sn__ws_next(sn__wsr *p, unsigned char *b, size_t *lenp, sn__wsev *ev) {
  size_t len = *lenp, keep;
  if (p->done) p->done = 0, p->asm_len = 0;
  for (;;) {
    if (!p->in_frame) {
      const unsigned char *h = b + p->pos;
      size_t have = len - p->pos, need, hl = 2;
      uint64_t n;
      int op;
      if (have < 2) break;
      op = h[0] & 0x0f;
      n = h[1] & 0x7fu;
      if (h[0] & 0x70) return -SN_WS_PROTOCOL;                    /* RSV1-3: no extension agreed */
      if ((op > 2 && op < 8) || op > 10) return -SN_WS_PROTOCOL;  /* reserved opcodes */
      if (((h[1] & 0x80) != 0) != (p->server != 0)) return -SN_WS_PROTOCOL; /* 5.1: masking */
      if (op >= 8 && (!(h[0] & 0x80) || n > 125)) return -SN_WS_PROTOCOL;   /* 5.5 */
      if (op == 0 && p->type == 0) return -SN_WS_PROTOCOL;        /* 5.4: nothing to continue */
      if ((op == 1 || op == 2) && p->type != 0) return -SN_WS_PROTOCOL;
      need = 2 + (n == 126 ? 2u : n == 127 ? 8u : 0u) + ((h[1] & 0x80) ? 4u : 0u);
      if (have < need) break;
      if (n == 126) {
        n = ((uint64_t) h[2] << 8) | h[3], hl = 4;
        if (n < 126) return -SN_WS_PROTOCOL; /* 5.2: the minimal length encoding */
      } else if (n == 127) {
        int k;
        for (n = 0, k = 2; k < 10; k++) n = (n << 8) | h[k];
        hl = 10;
        if ((n >> 63) != 0 || n < 65536) return -SN_WS_PROTOCOL;
      }
      if (h[1] & 0x80) memcpy(p->key, h + hl, 4), hl += 4;
      p->key_at = 0;
      p->op = (uint8_t) op;
      p->fin = (uint8_t) (h[0] >> 7);
      p->masked = (uint8_t) (h[1] >> 7);
      p->left = n;
      p->in_frame = 1;
      if (op < 8) {
        if (op != 0) p->type = (uint8_t) op, p->msg = 0, p->utf8 = 0;
        if (n > p->max - p->msg) return -SN_WS_TOO_BIG; /* before its bytes are held */
        p->msg += n;
      }
      p->pos += hl;
    }
    if (p->op >= 8) { /* a control frame, whole */
      unsigned char *d = b + p->pos;
      size_t n = (size_t) p->left;
      if (len - p->pos < n) break;
      sn__ws_unmask(p, d, n);
      p->pos += n;
      p->in_frame = 0;
      ev->data = d, ev->len = n;
      ev->kind = p->op == 9 ? SN__WSE_PING : p->op == 10 ? SN__WSE_PONG : SN__WSE_CLOSE;
      if (ev->kind == SN__WSE_CLOSE) {
        uint32_t u = 0;
        ev->code = 1005; /* 7.1.5: no status code */
        if (n == 1) return -SN_WS_PROTOCOL;
        if (n >= 2) {
          ev->code = (d[0] << 8) | d[1];
          if (!sn__ws_code_ok(ev->code)) return -SN_WS_PROTOCOL;
          if (sn__utf8_step(&u, d + 2, n - 2) != 0 || u != 0) return -SN_WS_INVALID_DATA;
          ev->data = d + 2, ev->len = n - 2;
        }
      }
      return 1;
    }
    { /* a data frame's payload, as far as it has come */
      size_t avail = len - p->pos, n = p->left < avail ? (size_t) p->left : avail;
      unsigned char *src = b + p->pos;
      int last;
      if (n == 0 && p->left > 0) break;
      sn__ws_unmask(p, src, n);
      if (p->type == SN_WS_TEXT && sn__utf8_step(&p->utf8, src, n) != 0) return -SN_WS_INVALID_DATA;
      p->left -= n;
      p->pos += n;
      if (p->left == 0) p->in_frame = 0;
      last = p->left == 0 && p->fin;
      if (last && p->type == SN_WS_TEXT && p->utf8 != 0) return -SN_WS_INVALID_DATA; /* cut inside a character */
      if (p->streaming) {
        if (n == 0 && !last) continue;
        ev->kind = SN__WSE_DATA, ev->type = p->type, ev->data = src, ev->len = n, ev->final = last;
        if (last) p->type = 0;
        return 1;
      }
      if (n > 0 && b + p->asm_len != src) memmove(b + p->asm_len, src, n);
      p->asm_len += n;
      if (last) {
        ev->kind = SN__WSE_DATA, ev->type = p->type, ev->data = b, ev->len = p->asm_len, ev->final = 1;
        p->type = 0;
        p->done = 1;
        return 1;
      }
    }
  }
  keep = p->asm_len; /* 0 when streaming */
  if (p->pos > keep) {
    memmove(b + keep, b + p->pos, len - p->pos);
    len -= p->pos - keep;
    p->pos = keep;
  }
  *lenp = len;
  return 0;
}

/* A frame header (server: unmasked; client: with its mask key): its length. */
static size_t sn__ws_head(unsigned char *h, int op, size_t len, const unsigned char *key) {
  size_t n = 2;
  h[0] = (unsigned char) (0x80 | op);
  if (len < 126) {
    h[1] = (unsigned char) len;
  } else if (len < 65536) {
    h[1] = 126, h[2] = (unsigned char) (len >> 8), h[3] = (unsigned char) len, n = 4;
  } else {
    uint64_t v = (uint64_t) len;
    int k;
    h[1] = 127;
    for (k = 9; k >= 2; k--) h[k] = (unsigned char) v, v >>= 8;
    n = 10;
  }
  if (key != NULL) h[1] |= 0x80, memcpy(h + n, key, 4), n += 4;
  return n;
}

/* The life of an sn_ws (the header's "life of an sn_ws" says it in the
   user's words):
   SN__WS_CONNECTING  client only: the request is out, the 101 awaited (the
                      handshake deadline: t_close). Left to OPEN (on_open),
                      or ends.
   SN__WS_OPEN        messages both ways; the idle timeout and pings from
                      t_rx. Left to CLOSING by sn_ws_close; a peer's close,
                      a protocol error, the idle timeout or the transport's
                      end end it at once (sn__ws_end).
   SN__WS_CLOSING     our close frame is queued; the peer's is awaited until
                      t_close; messages that still come are delivered (the
                      peer sent them before it saw our close), pings not
                      answered (nothing follows our close).
   SN__WS_ENDED       on_close is running; then the stream goes back to its
                      owner (sn__ws_release) and the state is freed (or,
                      in its connection's request memory, left there).
   The handle the application holds, sn_ws, is the stream (an sn_conn's, an
   sn_client's: both begin with it), and st->ws the state: a server's moves
   when the handler returns, the handle stays. */
enum { SN__WS_CONNECTING, SN__WS_OPEN, SN__WS_CLOSING, SN__WS_ENDED };

SNDEF size_t sn_ws_size(void) { return sizeof(sn__ws); }

static sn_ws *sn__ws_h(const sn__ws *ws) { return (sn_ws *) (void *) ws->st; }
static sn__ws *sn__ws_get(const sn_ws *h) { return h != NULL ? ((const sn__stream *) (const void *) h)->ws : NULL; }

static uint8_t sn__ws_poll_hook(sn__stream *st, uint64_t *next);
static void sn__ws_io_hook(sn__stream *st, uint8_t ready);
static void sn__ws_timer_hook(sn__stream *st);
static void sn__ws_reap_hook(sn__stream *st);
static void sn__ws_destroy_hook(sn__stream *st);
/* Two tables with the same hooks: which one a stream has says whose it is. */
static const sn__proto sn__ws_srv_proto = {sn__ws_poll_hook, sn__ws_io_hook, sn__ws_timer_hook, sn__ws_reap_hook,
                                           sn__ws_destroy_hook};
#if SN_ENABLE_CLIENT
static const sn__proto sn__ws_cli_proto = {sn__ws_poll_hook, sn__ws_io_hook, sn__ws_timer_hook, sn__ws_reap_hook,
                                           sn__ws_destroy_hook};
#endif

static sn__ws *sn__ws_of(sn__stream *st) { return st->ws; }

static void sn__ws_fill_defaults(sn_ws_opts *o) {
  if (o->max_message == 0) o->max_message = 65536;
  if (o->max_queued == 0) o->max_queued = 65536;
  if (o->idle_timeout_ms == 0) o->idle_timeout_ms = 60000;
  if (o->ping_ms == 0) o->ping_ms = o->idle_timeout_ms / 2;
  if (o->close_timeout_ms == 0) o->close_timeout_ms = 5000;
  o->protocol = NULL; /* copied into sn_ws.proto */
}

static size_t sn__ws_pending(const sn__ws *ws) { return ws->st->tx.len - ws->st->tx.off; }

/* Queues one frame. limited: a message, held to max_queued (SN_ERR_FULL);
   control frames are not (they are small, and reading stops while the
   queue is over its limit, so a peer cannot make them pile up). */
static int sn__ws_queue(sn__ws *ws, int op, const void *data, size_t len, int limited) {
  sn__txq *q = &ws->st->tx;
  unsigned char h[14], key[4];
  size_t hl, i;
  int r;
  if (ws->is_client && sn_mgr_random(ws->st->io.mgr, key, 4) != 0) return SN_ERR_ENTROPY;
  hl = sn__ws_head(h, op, len, ws->is_client ? key : NULL);
  if (limited && (len > ws->o.max_queued - hl || sn__ws_pending(ws) > ws->o.max_queued - hl - len)) return SN_ERR_FULL;
  if ((r = sn__txq_reserve(q, hl + len, (size_t) -1)) != SN_OK) return r;
  memcpy(q->buf + q->len, h, hl);
  if (len > 0) memcpy(q->buf + q->len + hl, data, len);
  if (ws->is_client)
    for (i = 0; i < len; i++) q->buf[q->len + hl + i] ^= key[i & 3];
  q->len += hl + len;
  ws->sent_due = 1;
  return SN_OK;
}

/* Queues our close frame (once): code, and a reason cut to fit 125 bytes
   at a character's boundary. */
static void sn__ws_send_close(sn__ws *ws, int code, const char *reason) {
  unsigned char b[125];
  size_t n = 0;
  if (ws->close_sent) return;
  ws->close_sent = 1;
  if (ws->code == 0) ws->code = code;
  if (code != 1005) {
    b[0] = (unsigned char) (code >> 8), b[1] = (unsigned char) code, n = 2;
    if (reason != NULL) {
      size_t rl = strlen(reason);
      if (rl > 123) {
        rl = 123;
        while (rl > 0 && ((unsigned char) reason[rl] & 0xC0) == 0x80) rl--;
      }
      memcpy(b + 2, reason, rl), n += rl;
    }
  }
  if (sn__ws_queue(ws, 8, b, n, 0) != SN_OK) ws->close_sent = 1; /* no room: the transport's end says it */
}

/* Gives the stream back to its owner, which closes it: gracefully (what is
   queued, our close frame among it, goes out, then close_notify) unless
   the transport itself failed. */
static void sn__ws_release(sn__ws *ws, int transport_err) {
  sn__stream *st = ws->st;
#if SN_ENABLE_CLIENT
  if (ws->is_client) {
    sn_client *cl = (sn_client *) st;
    cl->st.ws = NULL;
    st->proto = &sn__client_proto;
    if (transport_err != SN_OK) sn__client_end(cl, transport_err, "%s", ws->why);
    else cl->closing = 1;
    return;
  }
#endif
  {
    sn_conn *c = (sn_conn *) st;
    c->st.ws = NULL;
    if (ws->inplace) memset(&c->rq, 0, sizeof c->rq); /* request memory again: the state is gone */
    st->proto = &sn__http_proto;
    c->rstate = SN__R_HEAD;
    c->resp = SN__RESP_NONE;
    SN_FREE(st->rx.buf); /* the close reads what still comes onto the stack */
    st->rx.buf = NULL;
    st->rx.len = st->rx.cap = 0;
    if (transport_err != SN_OK) sn__conn_drop_why(c, transport_err);
    else sn__conn_close_gracefully(c);
  }
}

/* The end: on_close once, then the stream goes back and the state is freed
   (or, in the connection, cleared). transport: the connection is broken
   (nothing more can be sent). */
static void sn__ws_end(sn__ws *ws, int err, int code, int transport, const char *why) {
  int inplace = ws->inplace;
  if (ws->state == SN__WS_ENDED) return;
  ws->state = SN__WS_ENDED;
  if (why != ws->why) snprintf(ws->why, sizeof ws->why, "%s", why);
  if (ws->err == SN_OK) ws->err = err;
  if (ws->code == 0) ws->code = code;
  if (ws->cb.on_close != NULL) ws->cb.on_close(sn__ws_h(ws), ws->err, ws->code, ws->why, ws->cb.user);
  sn__ws_release(ws, transport ? (err != SN_OK ? err : SN_ERR_CLOSED) : SN_OK);
  if (!inplace) SN_FREE(ws);
}

/* The peer broke the protocol (or the socket must go for another reason):
   our close frame with code, then the connection closes without waiting
   for the peer's (RFC 6455 7.1.7: fail the WebSocket connection). */
static void sn__ws_fail(sn__ws *ws, int err, int code, const char *why) {
  sn__log(ws->st->io.mgr, SN_LOG_INFO, "WebSocket closed with %d: %s", code, why);
  sn__ws_send_close(ws, code, why);
  sn__ws_end(ws, err, code, 0, why);
}

/* The transport ended or failed under the socket. */
static void sn__ws_broken(sn__ws *ws, int r) {
  const char *why = "the connection ended without a close frame";
  char tls[96];
  if (r == SN_ERR_TLS && sn__st_keyupdate(ws->st)) {
    why = "the peer sent a TLS 1.3 KeyUpdate, which mbedTLS does not implement: connection dropped (reconnect)";
  } else if (r == SN_ERR_TLS) {
    sn__tls_strerror(ws->st->tls_err, tls, sizeof tls);
    why = tls;
  } else if (r < 0) {
    why = sn_strerror(r);
  }
  sn__ws_end(ws, r < 0 ? r : SN_ERR_CLOSED, SN_WS_NO_CLOSE, 1, why);
}

static int sn__ws_reading(const sn__ws *ws) {
  if (ws->state == SN__WS_CLOSING) return 1;
  return ws->state == SN__WS_OPEN && !ws->paused && sn__ws_pending(ws) < ws->o.max_queued;
}

/* One event from the parser. Returns 0 when the socket has ended. */
static int sn__ws_event(sn__ws *ws, const sn__wsev *ev) {
  switch (ev->kind) {
    case SN__WSE_DATA:
      if ((ws->state == SN__WS_OPEN || ws->state == SN__WS_CLOSING) && ws->cb.on_message != NULL)
        ws->cb.on_message(sn__ws_h(ws), ev->type, ev->data, ev->len, ev->final, ws->cb.user);
      return ws->state != SN__WS_ENDED;
    case SN__WSE_PING:
      /* 5.5.2: a pong with the same bytes; none while the queue is full
         (5.5.3: only the latest ping needs its answer) */
      if (ws->state == SN__WS_OPEN && sn__ws_pending(ws) < ws->o.max_queued) (void) sn__ws_queue(ws, 10, ev->data, ev->len, 0);
      return 1;
    case SN__WSE_PONG: return 1;
    default: { /* 5.5.1: the peer's close, answered with its code (our own went first if we began) */
      char why[96];
      size_t n = ev->len < sizeof why - 1 ? ev->len : sizeof why - 1;
      memcpy(why, ev->data, n);
      why[n] = '\0';
      if (n == 0) snprintf(why, sizeof why, "%s", ws->state == SN__WS_CLOSING ? ws->why : "closed by the peer (no reason given)");
      if (ws->state == SN__WS_CLOSING) {
        sn__ws_end(ws, ws->err, ws->code, 0, ws->why);
      } else {
        sn__ws_send_close(ws, ev->code, NULL); /* the echo carries the code only */
        sn__ws_end(ws, SN_OK, ev->code, 0, why);
      }
      return 0;
    }
  }
}

/* Grows the receive buffer as bytes come, up to what one message and a
   frame header (plus one control frame) take; a streaming socket holds
   SN_WS_PIECE. SN_ERR_NOMEM. */
static int sn__ws_room(sn__ws *ws) {
  sn__rxq *q = &ws->st->rx;
  size_t limit = ws->o.streaming ? (size_t) SN_WS_PIECE : ws->o.max_message + 256, want;
  char *p;
  if (limit < 256) limit = 256;
  if (ws->state == SN__WS_CONNECTING && limit < 8192) limit = 8192; /* the 101's head */
  if (q->len < q->cap) return SN_OK;
  if (q->cap >= limit) return SN_OK; /* full: the parser frees it as it goes */
  want = q->cap ? q->cap * 2 : (ws->o.streaming ? limit : SN_RX_INIT);
  if (want > limit || want < q->cap) want = limit;
  p = (char *) sn__resize(q->buf, q->len, want);
  if (p == NULL) return SN_ERR_NOMEM;
  q->buf = p;
  q->cap = want;
  return SN_OK;
}

#if SN_ENABLE_CLIENT
static int sn__ws_client_head(sn__ws *ws);
#endif

/* Parses what the buffer holds. Returns 0 when the socket has ended, else 1
   (progress in *did). */
static int sn__ws_parse(sn__ws *ws, int *did) {
  sn__stream *st = ws->st;
  sn__wsev ev;
  int r;
  memset(&ev, 0, sizeof ev);
  while (sn__ws_reading(ws) && st->rx.len > 0) {
    r = sn__ws_next(&ws->rx, (unsigned char *) st->rx.buf, &st->rx.len, &ev);
    if (r == 0) return 1;
    *did = 1;
    if (r < 0) {
      sn__ws_fail(ws, SN_ERR_PROTO, -r,
                  r == -SN_WS_TOO_BIG       ? "message too big"
                  : r == -SN_WS_INVALID_DATA ? "invalid UTF-8"
                                              : "protocol error");
      return 0;
    }
    ws->t_rx = st->io.mgr->now;
    if (!sn__ws_event(ws, &ev)) return 0;
  }
  return 1;
}

static void sn__ws_io(sn__ws *ws) {
  sn__stream *st = ws->st;
  sn_mgr *m = st->io.mgr;
  int round, r;
  ws->more = 0;
  for (round = 0; round < 64; round++) {
    int progress = 0;
    r = sn__st_flush(st);
    if (r < 0) {
      sn__ws_broken(ws, r);
      return;
    }
    if (r > 0) progress = 1, ws->t_io = m->now;
    if (ws->sent_due && !sn__st_out_pending(st)) {
      ws->sent_due = 0;
      if (ws->state == SN__WS_OPEN && ws->cb.on_writable != NULL) ws->cb.on_writable(sn__ws_h(ws), ws->cb.user);
      if (ws->state == SN__WS_ENDED) return;
      progress = 1;
    }
#if SN_ENABLE_CLIENT
    if (ws->state == SN__WS_CONNECTING) {
      r = sn__ws_client_head(ws);
      if (r < 0) return;
      if (r > 0) progress = 1;
    }
#endif
    if (ws->state != SN__WS_CONNECTING && !sn__ws_parse(ws, &progress)) return;
    if (ws->state == SN__WS_CONNECTING || sn__ws_reading(ws)) {
      if (sn__ws_room(ws) != SN_OK) {
        m->stats.nomem++;
        sn__ws_fail(ws, SN_ERR_NOMEM, SN_WS_INTERNAL, "out of memory");
        return;
      }
      if (st->rx.cap > st->rx.len) {
        r = sn__st_read(st, st->rx.buf + st->rx.len, st->rx.cap - st->rx.len);
        if (r > 0) {
          st->rx.len += (size_t) r;
          ws->t_io = m->now;
          progress = 1;
        } else if (r != SN_WANT_READ && r != SN_WANT_WRITE) {
          sn__ws_broken(ws, r);
          return;
        }
      }
    }
    if (!progress) return;
  }
  ws->more = 1;
}

static uint64_t sn__ws_release_at(const sn__ws *ws) {
  const sn__stream *st = ws->st;
  uint64_t t = ws->t_rx > ws->t_io ? ws->t_rx : ws->t_io;
  if (SN_IDLE_RELEASE_MS <= 0 || st->rx.cap + st->tx.cap == 0 || ws->state != SN__WS_OPEN || st->rx.len > 0 ||
      ws->rx.in_frame || ws->rx.type != 0 || sn__st_out_pending(st) || st->tx.inflight > 0)
    return 0;
  return t + (uint64_t) SN_IDLE_RELEASE_MS;
}

static uint64_t sn__ws_deadline(const sn__ws *ws) {
  uint64_t t = UINT64_MAX;
  if (ws->state != SN__WS_OPEN) return ws->t_close;
  if (ws->paused) return t;
  t = ws->t_rx + ws->o.idle_timeout_ms;
  if (ws->o.ping_ms != SN_WS_NO_PING && ws->t_ping <= ws->t_rx && ws->t_rx + ws->o.ping_ms < t)
    t = ws->t_rx + ws->o.ping_ms;
  return t;
}

static uint8_t sn__ws_poll_hook(sn__stream *st, uint64_t *next) {
  sn__ws *ws = sn__ws_of(st);
  uint8_t w = 0;
  int pending = ws->more;
  uint64_t rel = sn__ws_release_at(ws);
  sn__next(next, sn__ws_deadline(ws));
  if (rel != 0) sn__next(next, rel);
  if (sn__st_out_pending(st)) w |= st->wr_want;
  else if (ws->sent_due) pending = 1;
  if (ws->state == SN__WS_CONNECTING || sn__ws_reading(ws)) {
    w |= st->rd_want;
    if (sn__st_has_pending(st)) pending = 1;
  }
  return (uint8_t) (w | (pending ? SN__PENDING : 0));
}

static void sn__ws_io_hook(sn__stream *st, uint8_t ready) {
  (void) ready;
  sn__ws_io(sn__ws_of(st));
}

static void sn__ws_timer_hook(sn__stream *st) {
  sn__ws *ws = sn__ws_of(st);
  sn_mgr *m = st->io.mgr;
  uint64_t rel;
  if (ws->state == SN__WS_CONNECTING && m->now >= ws->t_close) {
    sn__ws_end(ws, SN_ERR_TIMEOUT, SN_WS_NO_CLOSE, 1, "no WebSocket handshake in time");
    return;
  }
  if (ws->state == SN__WS_CLOSING && m->now >= ws->t_close) {
    sn__ws_end(ws, SN_ERR_TIMEOUT, ws->code, 0, "the peer did not answer the close in time");
    return;
  }
  if (ws->state == SN__WS_OPEN && !ws->paused) {
    if (m->now >= ws->t_rx + ws->o.idle_timeout_ms) {
      sn__ws_fail(ws, SN_ERR_TIMEOUT, SN_WS_GOING_AWAY, "idle timeout");
      return;
    }
    if (ws->o.ping_ms != SN_WS_NO_PING && ws->t_ping <= ws->t_rx && m->now >= ws->t_rx + ws->o.ping_ms) {
      ws->t_ping = m->now;
      (void) sn__ws_queue(ws, 9, "sn", 2, 0);
    }
  }
  if ((rel = sn__ws_release_at(ws)) != 0 && m->now >= rel) sn__st_release(st);
}

/* Not reached: a WebSocket's stream goes back to its owner before it dies. */
static void sn__ws_reap_hook(sn__stream *st) {
  sn__ws *ws = sn__ws_of(st);
  sn__ws_end(ws, SN_ERR_CLOSED, SN_WS_NO_CLOSE, 1, "ended");
  st->proto->reap(st);
}

/* sn_mgr_destroy: 1001 (going away), as far as one send gets it out, then
   the owner's own end. */
static void sn__ws_destroy_hook(sn__stream *st) {
  sn__ws *ws = sn__ws_of(st);
  if (ws->state == SN__WS_OPEN || ws->state == SN__WS_CLOSING) {
    sn__ws_send_close(ws, SN_WS_GOING_AWAY, "server shutting down");
    (void) sn__st_flush(st);
  }
  ws->state = SN__WS_ENDED;
  if (ws->err == SN_OK) ws->err = SN_ERR_DESTROYED;
  if (ws->code == 0) ws->code = SN_WS_GOING_AWAY;
  if (ws->cb.on_close != NULL) ws->cb.on_close(sn__ws_h(ws), ws->err, ws->code, "the manager was destroyed", ws->cb.user);
  st->ws = NULL;
#if SN_ENABLE_CLIENT
  if (ws->is_client) {
    st->proto = &sn__client_proto;
    SN_FREE(ws);
    sn__client_destroy_hook(st);
    return;
  }
#endif
  st->proto = &sn__http_proto;
  if (ws->inplace) memset(&((sn_conn *) st)->rq, 0, sizeof ((sn_conn *) st)->rq);
  else SN_FREE(ws);
  sn__http_destroy_hook(st);
}

/* The socket opens: its timers start. */
static void sn__ws_open(sn__ws *ws) {
  sn_mgr *m = ws->st->io.mgr;
  m->now = m->port.now_ms(m->port.ctx);
  ws->state = SN__WS_OPEN;
  ws->t_rx = ws->t_io = m->now;
  ws->t_ping = 0;
  ws->more = 1; /* bytes that came with the handshake */
  if (ws->cb.on_open != NULL) ws->cb.on_open(sn__ws_h(ws), ws->cb.user);
}

static sn__ws *sn__ws_new(const sn_ws_opts *o, const sn_ws_callbacks *cb, int server) {
  sn__ws *ws = (sn__ws *) SN_MALLOC(sizeof *ws);
  if (ws == NULL) return NULL;
  memset(ws, 0, sizeof *ws);
  if (o != NULL) ws->o = *o;
  sn__ws_fill_defaults(&ws->o);
  ws->cb = *cb;
  ws->rx.max = ws->o.max_message;
  ws->rx.streaming = (uint8_t) (ws->o.streaming != 0);
  ws->rx.server = (uint8_t) server;
  ws->is_client = (uint8_t) !server;
  return ws;
}

/* Sec-WebSocket-Accept (RFC 6455 4.2.2): base64(SHA-1(key GUID)). */
static int sn__ws_accept(const char *key, size_t len, char out[29]) {
  static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  mbedtls_sha1_context h;
  unsigned char d[20];
  size_t n = 0;
  int r;
  mbedtls_sha1_init(&h);
#if MBEDTLS_VERSION_MAJOR >= 3
  r = mbedtls_sha1_starts(&h);
  if (r == 0) r = mbedtls_sha1_update(&h, (const unsigned char *) key, len);
  if (r == 0) r = mbedtls_sha1_update(&h, (const unsigned char *) guid, 36);
  if (r == 0) r = mbedtls_sha1_finish(&h, d);
#else
  r = mbedtls_sha1_starts_ret(&h);
  if (r == 0) r = mbedtls_sha1_update_ret(&h, (const unsigned char *) key, len);
  if (r == 0) r = mbedtls_sha1_update_ret(&h, (const unsigned char *) guid, 36);
  if (r == 0) r = mbedtls_sha1_finish_ret(&h, d);
#endif
  mbedtls_sha1_free(&h);
  if (r == 0) r = mbedtls_base64_encode((unsigned char *) out, 29, &n, d, sizeof d);
  return r == 0 && n == 28 ? SN_OK : SN_ERR_INVALID;
}

/* A subprotocol name: a token (RFC 6455 4.1, RFC 9110 5.6.2), at most 32. */
static int sn__ws_proto_ok(const char *p) {
  size_t i, n = strlen(p);
  if (n == 0 || n > 32) return 0;
  for (i = 0; i < n; i++)
    if (!sn__is_tchar((unsigned char) p[i])) return 0;
  return 1;
}

SNDEF int sn_ws_offers(const sn_request *req, const char *protocol) {
  int i;
  if (req == NULL || protocol == NULL) return 0;
  for (i = 0; i < req->header_count; i++) {
    sn_str list = req->headers[i].value, item;
    if (!sn__ieq(req->headers[i].name.ptr, req->headers[i].name.len, "sec-websocket-protocol")) continue;
    while (sn__next_item(&list, &item))
      if (sn__eq(sn__trim(item), protocol)) return 1;
  }
  return 0;
}

/* Refuses an opening handshake: SN_ERR_PROTO. */
static int sn__ws_refuse(sn_conn *c, int status, const char *why) {
  sn__log(c->st.io.mgr, SN_LOG_INFO, "%s: WebSocket upgrade refused (%d): %s", c->peer, status, why);
  if (status == 426)
    sn_http_printf(c, 426, "Sec-WebSocket-Version: 13\r\nContent-Type: text/plain; charset=utf-8\r\n", "%s\n", why);
  else
    sn_http_printf(c, status, "Content-Type: text/plain; charset=utf-8\r\n", "%s\n", why);
  return SN_ERR_PROTO;
}

SNDEF int sn_ws_upgrade(sn_conn *c, const sn_request *req, const sn_ws_opts *o, const sn_ws_callbacks *cb,
                        sn_ws **out) {
  sn_str key, ver;
  char accept[29], head[256];
  unsigned char raw[18];
  size_t n = 0;
  int hl;
  sn__ws *ws;
  if (out != NULL) *out = NULL;
  if (c == NULL || req == NULL || cb == NULL) return SN_ERR_INVALID;
  if (!sn__can_reply(c) || c->st.proto != &sn__http_proto || c->st.ws != NULL) return SN_ERR_STATE;
  if (o != NULL && o->protocol != NULL && (!sn__ws_proto_ok(o->protocol) || !sn_ws_offers(req, o->protocol)))
    return SN_ERR_INVALID;
  /* RFC 6455 4.2.1 */
  if (!sn__eq(req->method, "GET")) return sn__ws_refuse(c, 400, "a WebSocket opens with GET");
  if (req->version != 11) return sn__ws_refuse(c, 400, "a WebSocket opens over HTTP/1.1");
  if (!sn__has_token(sn_http_header(req, "upgrade"), "websocket")) return sn__ws_refuse(c, 400, "no Upgrade: websocket");
  if (!sn__has_token(sn_http_header(req, "connection"), "upgrade")) return sn__ws_refuse(c, 400, "no Connection: upgrade");
  ver = sn__trim(sn_http_header(req, "sec-websocket-version"));
  if (!sn__eq(ver, "13")) return sn__ws_refuse(c, 426, "WebSocket version 13 only");
  key = sn__trim(sn_http_header(req, "sec-websocket-key"));
  if (key.len != 24 || mbedtls_base64_decode(raw, sizeof raw, &n, (const unsigned char *) key.ptr, key.len) != 0 || n != 16)
    return sn__ws_refuse(c, 400, "Sec-WebSocket-Key is not 16 bytes in base64");
  if (c->req_chunked || c->body_len > 0 || req->body.len > 0) return sn__ws_refuse(c, 400, "a WebSocket opening has no body");
  if (sn__ws_accept(key.ptr, key.len, accept) != SN_OK) return sn_http_error(c, 500), SN_ERR_INVALID;
  ws = sn__ws_new(o, cb, 1);
  if (ws == NULL) {
    c->st.io.mgr->stats.nomem++;
    sn_http_error(c, 503);
    return SN_ERR_NOMEM;
  }
  if (o != NULL && o->protocol != NULL) snprintf(ws->proto, sizeof ws->proto, "%s", o->protocol);
  hl = snprintf(head, sizeof head,
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
                accept, ws->proto[0] ? "Sec-WebSocket-Protocol: " : "", ws->proto, ws->proto[0] ? "\r\n" : "");
  c->tx_mark = c->st.tx.len;
  if (sn__tx_put(c, head, (size_t) hl) != SN_OK) {
    SN_FREE(ws);
    c->st.io.mgr->stats.nomem++;
    sn_http_error(c, 503); /* as the contract says (it may not fit either: then the connection closes) */
    return SN_ERR_NOMEM;
  }
  c->resp = SN__RESP_DONE;
  c->close_after = 0;
  c->st.ws = ws;
  ws->st = &c->st;
  ws->state = SN__WS_OPEN; /* sends work at once; the stream changes hands when the handler returns */
  ws->t_rx = ws->t_io = c->st.io.mgr->now;
  if (out != NULL) *out = sn__ws_h(ws);
  return SN_OK;
}

/* The handler that upgraded has returned (or a deferred request's callback
   did it): the request is over and the stream is the WebSocket's. What came
   after the request's head is already frames. */
static void sn__ws_take(sn_conn *c) {
  sn__ws *ws = c->st.ws;
  size_t end = c->head_len < c->st.rx.len ? c->head_len : c->st.rx.len;
  c->rstate = SN__R_RESPOND; /* no handle reaches the request any more */
  c->app_holds = 0;
  sn__req_end(c, SN_OK);
  if (c->state != SN__C_OPEN || c->st.ws == NULL) return;
  if (c->st.rx.len > end) memmove(c->st.rx.buf, c->st.rx.buf + end, c->st.rx.len - end);
  c->st.rx.len -= end;
  c->head_len = c->scan = c->body_len = c->body_end = 0;
  c->route = NULL;
  c->on_writable = NULL;
  c->rq.ws = *ws; /* into the request's memory: an open socket costs what its connection costs */
  SN_FREE(ws);
  ws = c->st.ws = &c->rq.ws;
  ws->inplace = 1;
  c->st.proto = &sn__ws_srv_proto;
  c->st.io.drained = 0;
  sn__ws_open(ws);
}

/* A connection that goes before its upgrade's handler has returned (its
   socket failed, the manager was destroyed meanwhile): on_close once, the
   state freed. */
static void sn__ws_forget(sn_conn *c) {
  sn__ws *ws = c->st.ws;
  if (ws == NULL || ws->inplace) return;
  c->st.ws = NULL;
  ws->state = SN__WS_ENDED;
  if (ws->cb.on_close != NULL)
    ws->cb.on_close(sn__ws_h(ws), c->why != SN_OK ? (int) c->why : (int) SN_ERR_CLOSED, SN_WS_NO_CLOSE,
                    "the connection ended before the WebSocket opened", ws->cb.user);
  SN_FREE(ws);
}

SNDEF int sn_ws_send(sn_ws *h, int type, const void *data, size_t len) {
  sn__ws *ws = sn__ws_get(h);
  uint32_t u = 0;
  if (h == NULL || (type != SN_WS_TEXT && type != SN_WS_BINARY) || (data == NULL && len > 0)) return SN_ERR_INVALID;
  if (ws == NULL || ws->state != SN__WS_OPEN) return SN_ERR_STATE;
  if (type == SN_WS_TEXT && (sn__utf8_step(&u, (const unsigned char *) data, len) != 0 || u != 0)) return SN_ERR_INVALID;
  return sn__ws_queue(ws, type, data, len, 1);
}

SNDEF int sn_ws_printf(sn_ws *h, const char *fmt, ...) {
  char buf[1025];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return SN_ERR_INVALID;
  if ((size_t) n >= sizeof buf) return SN_ERR_TOO_BIG;
  return sn_ws_send(h, SN_WS_TEXT, buf, (size_t) n);
}

SNDEF int sn_ws_close(sn_ws *h, int code, const char *reason) {
  sn__ws *ws = sn__ws_get(h);
  uint32_t u = 0;
  if (h == NULL || !sn__ws_code_ok(code)) return SN_ERR_INVALID;
  if (reason != NULL &&
      (strlen(reason) > 123 || sn__utf8_step(&u, (const unsigned char *) reason, strlen(reason)) != 0 || u != 0))
    return SN_ERR_INVALID;
  if (ws == NULL || ws->state != SN__WS_OPEN) return SN_ERR_STATE;
  sn__ws_send_close(ws, code, reason);
  snprintf(ws->why, sizeof ws->why, "%s", reason != NULL && reason[0] ? reason : "closed by the application");
  ws->state = SN__WS_CLOSING;
  ws->t_close = sn_mgr_now_ms(ws->st->io.mgr) + ws->o.close_timeout_ms;
  return SN_OK;
}

SNDEF void sn_ws_pause(sn_ws *h) {
  sn__ws *ws = sn__ws_get(h);
  if (ws != NULL) ws->paused = 1;
}
SNDEF void sn_ws_resume(sn_ws *h) {
  sn__ws *ws = sn__ws_get(h);
  if (ws != NULL && ws->paused) {
    ws->paused = 0;
    ws->more = 1; /* frames may wait in the buffer: no socket event will say so */
    ws->t_rx = sn_mgr_now_ms(ws->st->io.mgr);
  }
}
SNDEF size_t sn_ws_queued(const sn_ws *h) {
  const sn__ws *ws = sn__ws_get(h);
  return ws != NULL ? sn__ws_pending(ws) : 0;
}
SNDEF sn_mgr *sn_ws_mgr(const sn_ws *h) { return h != NULL ? ((const sn__stream *) (const void *) h)->io.mgr : NULL; }
SNDEF void sn_ws_set_user(sn_ws *h, void *user) {
  sn__ws *ws = sn__ws_get(h);
  if (ws != NULL) ws->cb.user = user;
}
SNDEF const char *sn_ws_protocol(const sn_ws *h) {
  const sn__ws *ws = sn__ws_get(h);
  return ws != NULL ? ws->proto : "";
}

#if SN_ENABLE_CLIENT
/* The client's side of the handshake: the 101 checked (RFC 6455 4.1: status,
   Upgrade, Connection, Accept, no extension, a subprotocol offered). Returns
   1 when it changed anything, 0 when it waits, -1 when the socket ended. */
static int sn__ws_client_head(sn__ws *ws) {
  sn__stream *st = ws->st;
  sn_header hs[SN_MAX_HEADERS];
  char *b = st->rx.buf;
  size_t i, end = 0;
  int count, k;
  const char *bad = NULL;
  sn_str up = {NULL, 0}, conn = {NULL, 0}, acc = {NULL, 0}, prot = {NULL, 0};
  for (i = 0; b != NULL && i + 3 < st->rx.len; i++)
    if (b[i] == '\r' && b[i + 1] == '\n' && b[i + 2] == '\r' && b[i + 3] == '\n') {
      end = i + 4;
      break;
    }
  if (end == 0) {
    if (st->rx.len >= 8192) return sn__ws_end(ws, SN_ERR_PROTO, SN_WS_NO_CLOSE, 0, "response head too long"), -1;
    return 0;
  }
  for (i = 0; i < end; i++)
    if ((b[i] == '\r' && b[i + 1] != '\n') || (b[i] == '\n' && (i == 0 || b[i - 1] != '\r'))) bad = "a bare CR or LF in the response head";
  if (bad == NULL && (end < 16 || strncmp(b, "HTTP/1.1 ", 9) != 0)) bad = "not an HTTP/1.1 response";
  if (bad == NULL && strncmp(b + 9, "101", 3) != 0) {
    char why[64];
    snprintf(why, sizeof why, "the server answered %.3s, not 101", b + 9);
    return sn__ws_end(ws, SN_ERR_PROTO, SN_WS_NO_CLOSE, 0, why), -1;
  }
  if (bad == NULL) {
    const char *eol = (const char *) memchr(b, '\n', end);
    if (sn__parse_fields(b, (size_t) (eol - b) + 1, end, hs, &count) != 0) bad = "malformed header lines";
  }
  for (k = 0; bad == NULL && k < count; k++) {
    sn_str n = hs[k].name;
    if (sn__ieq(n.ptr, n.len, "upgrade")) up = hs[k].value;
    else if (sn__ieq(n.ptr, n.len, "connection")) conn = hs[k].value;
    else if (sn__ieq(n.ptr, n.len, "sec-websocket-extensions")) bad = "an extension the client did not offer";
    else if (sn__ieq(n.ptr, n.len, "sec-websocket-accept")) {
      if (acc.ptr != NULL) bad = "two Sec-WebSocket-Accept";
      acc = hs[k].value;
    } else if (sn__ieq(n.ptr, n.len, "sec-websocket-protocol")) {
      if (prot.ptr != NULL) bad = "two Sec-WebSocket-Protocol";
      prot = hs[k].value;
    }
  }
  if (bad == NULL && !sn__has_token(up, "websocket")) bad = "no Upgrade: websocket";
  if (bad == NULL && !sn__has_token(conn, "upgrade")) bad = "no Connection: upgrade";
  if (bad == NULL && !sn__eq(acc, ws->accept)) bad = "a wrong Sec-WebSocket-Accept";
  if (bad == NULL && prot.ptr != NULL) {
    sn_str list, item;
    int found = 0;
    list.ptr = ws->offered, list.len = ws->offered ? strlen(ws->offered) : 0;
    while (!found && sn__next_item(&list, &item)) {
      item = sn__trim(item);
      found = prot.len > 0 && item.len == prot.len && memcmp(item.ptr, prot.ptr, prot.len) == 0;
    }
    if (!found || prot.len >= sizeof ws->proto) bad = "a subprotocol the client did not offer";
    else memcpy(ws->proto, prot.ptr, prot.len), ws->proto[prot.len] = '\0';
  }
  if (bad != NULL) return sn__ws_end(ws, SN_ERR_PROTO, SN_WS_NO_CLOSE, 0, bad), -1;
  memmove(b, b + end, st->rx.len - end);
  st->rx.len -= end;
  ws->offered = NULL;
  sn__ws_open(ws);
  return ws->state == SN__WS_ENDED ? -1 : 1;
}

/* sn_connect's callbacks for a WebSocket client: at on_connect the stream
   changes hands; an end before that is the socket's end. */
static void sn__wsc_on_connect(sn_client *cl, void *user) {
  (void) user;
  cl->st.proto = &sn__ws_cli_proto;
  cl->st.io.drained = 0;
}

static void sn__wsc_on_close(sn_client *cl, int err, const char *why, void *user) {
  sn__ws *ws = cl->st.ws;
  (void) user;
  if (ws == NULL) return; /* handed back: its end was reported */
  cl->st.ws = NULL;
  ws->state = SN__WS_ENDED;
  if (ws->cb.on_close != NULL) ws->cb.on_close(sn__ws_h(ws), err != SN_OK ? err : SN_ERR_CLOSED, SN_WS_NO_CLOSE, why, ws->cb.user);
  SN_FREE(ws);
}

SNDEF int sn_ws_connect(sn_mgr *m, const char *url, const sn_ws_client_opts *o, const sn_ws_callbacks *cb,
                        sn_ws **out) {
  sn_ws_client_opts none;
  char host[254], head[1024], keyb[25];
  unsigned char key[16];
  const char *path, *p;
  uint16_t port;
  int tls, r, n;
  size_t kl = 0, hl;
  sn__ws *ws;
  sn_client *cl;
  sn_client_opts co;
  sn_client_callbacks ccb;
  if (out != NULL) *out = NULL;
  if (o == NULL) memset(&none, 0, sizeof none), o = &none;
  if (m == NULL || url == NULL || cb == NULL) return SN_ERR_INVALID;
  if (sn__url_split(url, 1, &tls, host, sizeof host, &port, &path) != SN_OK) return SN_ERR_INVALID;
  if (strchr(path, '#') != NULL || (tls != 0) != (o->tls != NULL)) return SN_ERR_INVALID;
  if (o->headers != NULL) {
    size_t i, hn = strlen(o->headers);
    if (hn > 512 || (hn > 0 && (hn < 2 || o->headers[hn - 1] != '\n' || o->headers[hn - 2] != '\r'))) return SN_ERR_INVALID;
    for (i = 0; i < hn; i++)
      if ((o->headers[i] == '\n' && (i == 0 || o->headers[i - 1] != '\r')) || (o->headers[i] == '\r' && o->headers[i + 1] != '\n'))
        return SN_ERR_INVALID;
  }
  if (o->protocols != NULL) {
    for (p = o->protocols; *p; p++)
      if (!sn__is_tchar((unsigned char) *p) && *p != ',' && *p != ' ') return SN_ERR_INVALID;
    if (strlen(o->protocols) > 256) return SN_ERR_INVALID;
  }
  if (sn_mgr_random(m, key, sizeof key) != 0) return SN_ERR_ENTROPY;
  if (mbedtls_base64_encode((unsigned char *) keyb, sizeof keyb, &kl, key, sizeof key) != 0 || kl != 24) return SN_ERR_INVALID;
  ws = sn__ws_new(&o->ws, cb, 0);
  if (ws == NULL) return SN_ERR_NOMEM;
  if (sn__ws_accept(keyb, 24, ws->accept) != SN_OK) return SN_FREE(ws), SN_ERR_INVALID;
  ws->offered = o->protocols;
  {
    int v6 = strchr(host, ':') != NULL, dflt = port == (tls ? 443 : 80);
    char portstr[8] = "";
    if (!dflt) snprintf(portstr, sizeof portstr, ":%u", (unsigned) port);
    n = snprintf(head, sizeof head,
                 "GET %s%s HTTP/1.1\r\nHost: %s%s%s%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s%s%s%s\r\n",
                 *path == '/' ? "" : "/", path, v6 ? "[" : "", host, v6 ? "]" : "", portstr, keyb,
                 o->protocols ? "Sec-WebSocket-Protocol: " : "", o->protocols ? o->protocols : "",
                 o->protocols ? "\r\n" : "", o->headers ? o->headers : "");
  }
  if (n < 0 || (size_t) n >= sizeof head) return SN_FREE(ws), SN_ERR_TOO_BIG;
  hl = (size_t) n;
  memset(&co, 0, sizeof co);
  co.tls = o->tls;
  co.connect_timeout_ms = o->connect_timeout_ms;
  co.max_queued = hl;
  memset(&ccb, 0, sizeof ccb);
  ccb.on_connect = sn__wsc_on_connect;
  ccb.on_close = sn__wsc_on_close;
  ccb.user = ws;
  if ((r = sn_connect(m, host, port, &co, &ccb, &cl)) != SN_OK) return SN_FREE(ws), r;
  cl->st.ws = ws;
  ws->st = &cl->st;
  ws->state = SN__WS_CONNECTING;
  ws->t_close = m->now + (o->connect_timeout_ms ? o->connect_timeout_ms : 30000);
  if ((r = sn_client_send(cl, head, hl)) != SN_OK) {
    cl->st.ws = NULL;
    SN_FREE(ws);
    sn__client_end(cl, r, "%s", "out of memory");
    return r;
  }
  if (out != NULL) *out = sn__ws_h(ws);
  return SN_OK;
}
#endif /* SN_ENABLE_CLIENT */
#endif /* SN_ENABLE_WEBSOCKET */

#if SN_ENABLE_MULTIPART
// >>multipart
/* multipart/form-data, streamed (RFC 7578, RFC 2046 5.1). The delimiter is
   CRLF "--" boundary; the first one may open the body without its CRLF, so
   the parse starts as if a CRLF had just been seen. A part's data is handed
   on in runs straight from the input: only a delimiter begun at the end of
   one piece is held (as a count: its bytes are the delimiter's own), and
   since a boundary holds no CR, a broken match never hides the start of
   another. */
enum { SN__MP_PREAMBLE, SN__MP_DATA, SN__MP_AFTER, SN__MP_PAD, SN__MP_CR, SN__MP_DASH, SN__MP_HEAD, SN__MP_EPILOGUE };

static int sn__mp_fail(sn_multipart *mp, int err, const char *why) {
  mp->err = err;
  mp->why = why;
  return err;
}

/* The next ";key=value" of a header field's parameters (RFC 9110 5.6.6):
   1 with key and the value as sent (a quoted string with its quotes), 0 at
   the end, -1 when malformed. */
static int sn__param_next(sn_str *rest, sn_str *key, sn_str *val) {
  size_t i = 0, n = rest->len;
  const char *p = rest->ptr;
  while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
  if (i == n) return 0;
  if (p[i++] != ';') return -1;
  while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
  key->ptr = p + i;
  while (i < n && sn__is_tchar((unsigned char) p[i])) i++;
  key->len = (size_t) (p + i - key->ptr);
  while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
  if (key->len == 0 || i == n || p[i++] != '=') return -1;
  while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
  val->ptr = p + i;
  if (i < n && p[i] == '"') {
    for (i++; i < n && p[i] != '"'; i++)
      if (p[i] == '\\' && ++i == n) return -1;
    if (i++ == n) return -1;
  } else {
    while (i < n && sn__is_tchar((unsigned char) p[i])) i++;
  }
  val->len = (size_t) (p + i - val->ptr);
  rest->ptr = p + i;
  rest->len = n - i;
  return val->len ? 1 : -1;
}

/* 1 when the parameters in params name one twice (names without case;
   RFC 6266 4.1: such a header is invalid), else 0. Run before any value is
   unquoted in place. */
static int sn__param_twice(sn_str params) {
  sn_str a = params, ka, va;
  while (sn__param_next(&a, &ka, &va) == 1) {
    sn_str b = a, kb, vb;
    while (sn__param_next(&b, &kb, &vb) == 1) {
      size_t i = 0;
      if (kb.len != ka.len) continue;
      while (i < ka.len && sn__lower((unsigned char) ka.ptr[i]) == sn__lower((unsigned char) kb.ptr[i])) i++;
      if (i == ka.len) return 1;
    }
  }
  return 0;
}

/* A parameter's value without its quotes and escapes, into dst (which may
   be val.ptr: it never runs ahead). Returns its length. */
static size_t sn__unquote(sn_str val, char *dst) {
  size_t i, o = 0;
  if (val.len < 2 || val.ptr[0] != '"') {
    memmove(dst, val.ptr, val.len);
    return val.len;
  }
  for (i = 1; i + 1 < val.len; i++) {
    if (val.ptr[i] == '\\') i++;
    dst[o++] = val.ptr[i];
  }
  return o;
}

SNDEF int sn_multipart_init(sn_multipart *mp, sn_str ct, const sn_multipart_cb *cb, void *user) {
  sn_str rest, key, val;
  size_t i, blen = 0;
  int r, found = 0;
  memset(mp, 0, sizeof *mp);
  if (cb != NULL) mp->cb = *cb;
  mp->user = user;
  mp->max_parts = SN_MULTIPART_PARTS;
  mp->why = "";
  mp->state = SN__MP_PREAMBLE;
  mp->match = 2; /* as if a CRLF came first */
  ct = sn__trim(ct);
  if (ct.ptr == NULL || ct.len < 11 || !sn__ieq(ct.ptr, 10, "multipart/"))
    return sn__mp_fail(mp, SN_ERR_PROTO, "not a multipart body");
  for (i = 10; i < ct.len && sn__is_tchar((unsigned char) ct.ptr[i]); i++) {
  }
  if (i == 10) return sn__mp_fail(mp, SN_ERR_PROTO, "not a multipart body");
  rest.ptr = ct.ptr + i;
  rest.len = ct.len - i;
  while ((r = sn__param_next(&rest, &key, &val)) == 1) {
    if (!sn__ieq(key.ptr, key.len, "boundary")) continue;
    if (found++ || val.len > 2 * 70 + 2) return sn__mp_fail(mp, SN_ERR_PROTO, "bad boundary parameter");
    {
      char tmp[2 * 70 + 2];
      blen = sn__unquote(val, tmp);
      if (blen > 70) return sn__mp_fail(mp, SN_ERR_PROTO, "bad boundary parameter");
      memcpy(mp->delim + 4, tmp, blen);
    }
  }
  if (r < 0) return sn__mp_fail(mp, SN_ERR_PROTO, "malformed Content-Type parameters");
  if (!found) return sn__mp_fail(mp, SN_ERR_PROTO, "no boundary parameter");
  if (blen == 0 || mp->delim[4 + blen - 1] == ' ') return sn__mp_fail(mp, SN_ERR_PROTO, "bad boundary parameter");
  for (i = 0; i < blen; i++) {
    int ch = (unsigned char) mp->delim[4 + i];
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || strchr("'()+_,-./:=? ", ch)))
      return sn__mp_fail(mp, SN_ERR_PROTO, "bad boundary parameter");
  }
  memcpy(mp->delim, "\r\n--", 4);
  mp->dlen = (unsigned char) (4 + blen);
  return SN_OK;
}

/* filename* (RFC 8187): charset'language'percent-encoded, decoded to UTF-8
   in place. Returns the length or -1. */
static int sn__ext_value(char *p, size_t n) {
  size_t i, o = 0, q1, q2;
  int latin1;
  for (q1 = 0; q1 < n && p[q1] != '\''; q1++) {
  }
  for (q2 = q1 + 1; q2 < n && p[q2] != '\''; q2++) {
  }
  if (q2 >= n) return -1;
  if (sn__ieq(p, q1, "utf-8")) latin1 = 0;
  else if (sn__ieq(p, q1, "iso-8859-1")) latin1 = 1;
  else return -1;
  for (i = q2 + 1; i < n; i++) {
    int ch = (unsigned char) p[i];
    if (ch == '%') {
      int hi = i + 2 < n ? sn__hexval((unsigned char) p[i + 1]) : -1, lo = hi >= 0 ? sn__hexval((unsigned char) p[i + 2]) : -1;
      if (lo < 0) return -1;
      ch = hi * 16 + lo;
      i += 2;
    } else if (ch == '\'') {
      return -1;
    }
    if (ch == 0) return -1;
    if (latin1 && ch >= 0x80) { /* from three bytes of "%XX" to two */
      p[o++] = (char) (0xC0 | (ch >> 6));
      p[o++] = (char) (0x80 | (ch & 0x3F));
    } else {
      p[o++] = (char) ch;
    }
  }
  return (int) o;
}

/* A part's head (its field lines, each ending in CRLF, then the empty line),
   decoded in place into part. */
static int sn__mp_head(sn_multipart *mp, sn_part *part) {
  char *h = mp->head, *end = mp->head + mp->hlen - 2; /* without the last CRLF */
  int have_cd = 0, have_fn = 0, have_fn_ext = 0;
  memset(part, 0, sizeof *part);
  part->index = mp->parts - 1;
  while (h < end) {
    char *eol = h, *colon;
    sn_str value;
    while (!(eol[0] == '\r' && eol[1] == '\n')) eol++; /* the head ends in CRLF */
    if (h[0] == ' ' || h[0] == '\t') return sn__mp_fail(mp, SN_ERR_PROTO, "folded line in a part head");
    for (colon = h; colon < eol && *colon != ':'; colon++)
      if (!sn__is_tchar((unsigned char) *colon)) return sn__mp_fail(mp, SN_ERR_PROTO, "malformed field in a part head");
    if (colon == eol || colon == h) return sn__mp_fail(mp, SN_ERR_PROTO, "malformed field in a part head");
    value.ptr = colon + 1;
    value.len = (size_t) (eol - value.ptr);
    if (memchr(value.ptr, '\r', value.len) || memchr(value.ptr, '\n', value.len) || memchr(value.ptr, '\0', value.len))
      return sn__mp_fail(mp, SN_ERR_PROTO, "bare CR, LF or NUL in a part head");
    value = sn__trim(value);
    if (sn__ieq(h, (size_t) (colon - h), "content-type")) {
      if (part->content_type.ptr != NULL) return sn__mp_fail(mp, SN_ERR_PROTO, "Content-Type twice in a part");
      part->content_type = value;
    } else if (sn__ieq(h, (size_t) (colon - h), "content-disposition")) {
      sn_str rest, key, val;
      size_t i;
      int r;
      if (have_cd++) return sn__mp_fail(mp, SN_ERR_PROTO, "Content-Disposition twice in a part");
      for (i = 0; i < value.len && sn__is_tchar((unsigned char) value.ptr[i]); i++) {
      }
      if (i == 0) return sn__mp_fail(mp, SN_ERR_PROTO, "malformed Content-Disposition");
      rest.ptr = value.ptr + i;
      rest.len = value.len - i;
      if (sn__param_twice(rest)) return sn__mp_fail(mp, SN_ERR_PROTO, "a parameter twice in Content-Disposition");
      while ((r = sn__param_next(&rest, &key, &val)) == 1) {
        char *dst = (char *) val.ptr;
        if (sn__ieq(key.ptr, key.len, "name")) {
          if (part->name.ptr != NULL) return sn__mp_fail(mp, SN_ERR_PROTO, "name twice in Content-Disposition");
          part->name.len = sn__unquote(val, dst);
          part->name.ptr = dst;
        } else if (sn__ieq(key.ptr, key.len, "filename")) {
          if (have_fn++) return sn__mp_fail(mp, SN_ERR_PROTO, "filename twice in Content-Disposition");
          if (have_fn_ext) continue; /* filename* wins */
          part->filename.len = sn__unquote(val, dst);
          part->filename.ptr = dst;
        } else if (sn__ieq(key.ptr, key.len, "filename*")) {
          int n;
          if (have_fn_ext++ || val.ptr[0] == '"' || (n = sn__ext_value(dst, val.len)) < 0)
            return sn__mp_fail(mp, SN_ERR_PROTO, "bad filename* in Content-Disposition");
          part->filename.ptr = dst;
          part->filename.len = (size_t) n;
        }
      }
      if (r < 0) return sn__mp_fail(mp, SN_ERR_PROTO, "malformed Content-Disposition");
    }
    h = eol + 2;
  }
  return SN_OK;
}

static int sn__mp_data(sn_multipart *mp, const char *p, size_t n) {
  int r;
  if (n == 0 || mp->state != SN__MP_DATA || mp->cb.on_data == NULL) return SN_OK;
  if ((r = mp->cb.on_data(mp->user, p, n)) != SN_OK) return sn__mp_fail(mp, r, "stopped by the application");
  return SN_OK;
}

/* A whole delimiter has been read: the part before it (if any) ends. */
static int sn__mp_delim(sn_multipart *mp) {
  int r;
  if (mp->state == SN__MP_DATA && mp->cb.on_part_end != NULL && (r = mp->cb.on_part_end(mp->user)) != SN_OK)
    return sn__mp_fail(mp, r, "stopped by the application");
  mp->state = SN__MP_AFTER;
  mp->match = 0;
  return SN_OK;
}

SNDEF int sn_multipart_feed(sn_multipart *mp, const void *data, size_t len) {
  const char *p = (const char *) data;
  size_t i = 0, dlen = mp->dlen;
  int r;
  if (mp->err != SN_OK) return mp->err;
  if (dlen == 0) return sn__mp_fail(mp, SN_ERR_STATE, "not initialised");
  while (i < len) {
    int ch = (unsigned char) p[i];
    switch (mp->state) {
      case SN__MP_PREAMBLE:
      case SN__MP_DATA:
        /* a delimiter begun in an earlier piece: go on matching it */
        while (mp->match > 0 && i < len) {
          if (p[i] != mp->delim[mp->match]) { /* it was data after all (from its CR on) */
            if (mp->state == SN__MP_DATA && (r = sn__mp_data(mp, mp->delim, mp->match)) != SN_OK) return r;
            mp->match = 0;
            break;
          }
          i++;
          if (++mp->match == dlen) {
            if ((r = sn__mp_delim(mp)) != SN_OK) return r;
            break;
          }
        }
        if (mp->match > 0 || mp->state == SN__MP_AFTER) break;
        { /* a run of data up to the next CR that begins a delimiter (or what of one fits) */
          size_t j = i, k = 0;
          for (;;) {
            const char *cr = (const char *) memchr(p + j, '\r', len - j);
            if (cr == NULL) {
              j = len;
              break;
            }
            j = (size_t) (cr - p);
            k = len - j < dlen ? len - j : dlen;
            if (memcmp(p + j, mp->delim, k) == 0) break;
            j++;
          }
          if ((r = sn__mp_data(mp, p + i, j - i)) != SN_OK) return r;
          i = j;
          if (i == len) break;
          i += k;
          if (k == dlen) {
            if ((r = sn__mp_delim(mp)) != SN_OK) return r;
          } else {
            mp->match = (unsigned char) k; /* the rest comes with the next piece */
          }
        }
        break;
      case SN__MP_AFTER: /* "--" closes; padding and CRLF open a part */
      case SN__MP_PAD:
        i++;
        if (ch == '-' && mp->state == SN__MP_AFTER) mp->state = SN__MP_DASH;
        else if (ch == ' ' || ch == '\t') mp->state = SN__MP_PAD;
        else if (ch == '\r') mp->state = SN__MP_CR;
        else return sn__mp_fail(mp, SN_ERR_PROTO, "boundary followed by data");
        break;
      case SN__MP_DASH:
        i++;
        if (ch != '-') return sn__mp_fail(mp, SN_ERR_PROTO, "boundary followed by data");
        mp->state = SN__MP_EPILOGUE;
        break;
      case SN__MP_CR:
        i++;
        if (ch != '\n') return sn__mp_fail(mp, SN_ERR_PROTO, "boundary followed by data");
        if (mp->parts >= mp->max_parts) return sn__mp_fail(mp, SN_ERR_TOO_BIG, "too many parts");
        mp->parts++;
        mp->hlen = 0;
        mp->state = SN__MP_HEAD;
        break;
      case SN__MP_HEAD:
        if (mp->hlen >= sizeof mp->head) return sn__mp_fail(mp, SN_ERR_TOO_BIG, "part head too long");
        mp->head[mp->hlen++] = (char) ch;
        i++;
        if (ch == '\n' && mp->hlen >= 2 && mp->head[mp->hlen - 2] == '\r' &&
            (mp->hlen == 2 || (mp->hlen >= 4 && mp->head[mp->hlen - 3] == '\n' && mp->head[mp->hlen - 4] == '\r'))) {
          sn_part part;
          if ((r = sn__mp_head(mp, &part)) != SN_OK) return r;
          mp->state = SN__MP_DATA;
          mp->match = 0;
          if (mp->cb.on_part != NULL && (r = mp->cb.on_part(mp->user, &part)) != SN_OK)
            return sn__mp_fail(mp, r, "stopped by the application");
        }
        break;
      default: /* the epilogue */
        i = len;
        break;
    }
  }
  return SN_OK;
}

SNDEF int sn_multipart_finish(sn_multipart *mp) {
  if (mp->err != SN_OK) return mp->err;
  if (mp->state != SN__MP_EPILOGUE) return sn__mp_fail(mp, SN_ERR_PROTO, "no closing delimiter");
  return SN_OK;
}
#endif /* SN_ENABLE_MULTIPART */

#if SN_ENABLE_OTA
// >>ota
/* Signed updates: the verifier between an image's bytes and the slot, and
   the HTTP route that feeds it from a raw or a multipart body. */

typedef struct sn__ota_job { /* one update: allocated at begin, freed at its end */
  mbedtls_sha256_context payload, whole;
  unsigned char head[SN_IMAGE_HEAD], sig[SN_IMAGE_SIG];
  uint64_t got;  /* bytes of the image so far */
  int slot_open;
} sn__ota_job;

struct sn_ota {
  sn_ota_opts opts;
  mbedtls_pk_context pk;
  int state;
  sn_image_info accepted, cur; /* the image accepted last; the one under way */
  sn__ota_job *job;
  uint32_t gen;  /* counts updates begun: a request knows its own */
  int err;       /* the last refusal's code */
  const char *why;
  sn_route_opts route;
};

SNDEF int sn_ota_create(sn_ota **out, const sn_ota_opts *opts) {
  sn_ota *o;
  *out = NULL;
  if (opts == NULL || opts->slot == NULL || opts->slot->open == NULL || opts->slot->write == NULL ||
      opts->slot->finish == NULL || opts->capacity < SN_IMAGE_HEAD + SN_IMAGE_SIG || opts->pub_key == NULL ||
      opts->pub_key_len == 0)
    return SN_ERR_INVALID;
#if defined(SN__HAVE_PSA)
  if (psa_crypto_init() != PSA_SUCCESS) return SN_ERR_ENTROPY;
#endif
  if ((o = (sn_ota *) SN_MALLOC(sizeof *o)) == NULL) return SN_ERR_NOMEM;
  memset(o, 0, sizeof *o);
  o->opts = *opts;
  if (o->opts.field == NULL) o->opts.field = "image";
  o->why = "";
  mbedtls_pk_init(&o->pk);
  if (mbedtls_pk_parse_public_key(&o->pk, opts->pub_key, opts->pub_key_len) != 0 ||
      !mbedtls_pk_can_do(&o->pk, MBEDTLS_PK_ECDSA) || mbedtls_pk_get_bitlen(&o->pk) != 256) {
    mbedtls_pk_free(&o->pk);
    SN_FREE(o);
    return SN_ERR_KEY;
  }
  *out = o;
  return SN_OK;
}

static void sn__ota_drop(sn_ota *o) {
  sn__ota_job *j = o->job;
  if (j == NULL) return;
  mbedtls_sha256_free(&j->payload);
  mbedtls_sha256_free(&j->whole);
  SN_FREE(j);
  o->job = NULL;
  o->state = o->accepted.bytes ? SN_OTA_ACCEPTED : SN_OTA_IDLE;
}

/* Ends the update under way unfinished: the slot is told, the reason kept and logged. */
static int sn__ota_refuse(sn_ota *o, int err, const char *why) {
  if (o->job == NULL) return err;
  if (o->job->slot_open && o->opts.slot->abort != NULL) o->opts.slot->abort(o->opts.slot_ctx);
  sn__ota_drop(o);
  o->why = why;
  o->err = err;
  if (o->opts.mgr != NULL) sn__log(o->opts.mgr, SN_LOG_WARN, "update refused: %s (%s)", why, sn_strerror(err));
  return err;
}

SNDEF void sn_ota_destroy(sn_ota *o) {
  if (o == NULL) return;
  o->opts.mgr = NULL; /* it may be gone already */
  sn__ota_refuse(o, SN_ERR_DESTROYED, "the verifier was destroyed");
  mbedtls_pk_free(&o->pk);
  SN_FREE(o);
}

SNDEF int sn_ota_begin(sn_ota *o) {
  sn__ota_job *j;
  if (o->job != NULL) return SN_ERR_STATE;
  if ((j = (sn__ota_job *) SN_MALLOC(sizeof *j)) == NULL) return SN_ERR_NOMEM;
  memset(j, 0, sizeof *j);
  mbedtls_sha256_init(&j->payload);
  mbedtls_sha256_init(&j->whole);
  if (sn__sha_starts(&j->payload) != 0 || sn__sha_starts(&j->whole) != 0) {
    mbedtls_sha256_free(&j->payload);
    mbedtls_sha256_free(&j->whole);
    SN_FREE(j);
    return SN_ERR_NOMEM;
  }
  o->job = j;
  o->gen++;
  o->state = SN_OTA_RECEIVING;
  memset(&o->cur, 0, sizeof o->cur);
  o->why = "";
  return SN_OK;
}

static uint32_t sn__be32(const unsigned char *p) {
  return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

/* The header's rules (securenet.h, "signed firmware updates"); fills o->cur. */
static const char *sn__ota_header(sn_ota *o, const unsigned char *h) {
  size_t i, vlen = 0;
  if (memcmp(h, "SNFW", 4) != 0) return "not a signed image (wrong magic)";
  if (h[4] != 0 || h[5] != 1) return "unknown image format version";
  if (h[6] != 0 || h[7] != SN_IMAGE_HEAD || sn__be32(h + 12) != 0) return "malformed image header";
  for (i = 48; i < SN_IMAGE_HEAD; i++)
    if (h[i] != 0) return "malformed image header";
  while (vlen < SN_IMAGE_VERSION_MAX && h[16 + vlen] != 0) vlen++;
  if (vlen == 0) return "image header without a version";
  for (i = 0; i < SN_IMAGE_VERSION_MAX; i++)
    if (i < vlen ? (h[16 + i] < 0x20 || h[16 + i] > 0x7e) : h[16 + i] != 0) return "malformed version in the image header";
  memcpy(o->cur.version, h + 16, vlen);
  o->cur.version[vlen] = '\0';
  o->cur.payload_bytes = sn__be32(h + 8);
  o->cur.bytes = (uint64_t) o->cur.payload_bytes + SN_IMAGE_HEAD + SN_IMAGE_SIG;
  return NULL;
}

SNDEF int sn_ota_write(sn_ota *o, const void *data, size_t len) {
  sn__ota_job *j = o->job;
  const unsigned char *p = (const unsigned char *) data;
  int r;
  if (j == NULL) return SN_ERR_STATE;
  while (len > 0) {
    size_t n;
    uint64_t pay_end = SN_IMAGE_HEAD + (uint64_t) o->cur.payload_bytes;
    if (j->got < SN_IMAGE_HEAD) {
      const char *bad;
      n = SN_IMAGE_HEAD - (size_t) j->got;
      if (n > len) n = len;
      memcpy(j->head + j->got, p, n);
      j->got += n;
      p += n, len -= n;
      if (j->got < SN_IMAGE_HEAD) break;
      if ((bad = sn__ota_header(o, j->head)) != NULL) return sn__ota_refuse(o, SN_ERR_IMAGE, bad);
      if (o->cur.bytes > o->opts.capacity) return sn__ota_refuse(o, SN_ERR_TOO_BIG, "image larger than the slot");
      if ((r = o->opts.slot->open(o->opts.slot_ctx, o->cur.bytes)) != SN_OK)
        return sn__ota_refuse(o, r, r == SN_ERR_TOO_BIG ? "image larger than the slot" : "the slot cannot be opened");
      j->slot_open = 1;
      if ((r = o->opts.slot->write(o->opts.slot_ctx, 0, j->head, SN_IMAGE_HEAD)) != SN_OK)
        return sn__ota_refuse(o, r, "writing to the slot failed");
      if (sn__sha_update(&j->whole, j->head, SN_IMAGE_HEAD) != 0) return sn__ota_refuse(o, SN_ERR_NOMEM, "hash failed");
      continue;
    }
    if (j->got >= o->cur.bytes) return sn__ota_refuse(o, SN_ERR_IMAGE, "image longer than its header states");
    n = (size_t) (o->cur.bytes - j->got < len ? o->cur.bytes - j->got : len);
    if (j->got < pay_end && pay_end - j->got < n) n = (size_t) (pay_end - j->got);
    if ((r = o->opts.slot->write(o->opts.slot_ctx, j->got, p, n)) != SN_OK)
      return sn__ota_refuse(o, r, "writing to the slot failed");
    if (j->got < pay_end) {
      if (sn__sha_update(&j->payload, p, n) != 0) return sn__ota_refuse(o, SN_ERR_NOMEM, "hash failed");
    } else {
      memcpy(j->sig + (j->got - pay_end), p, n);
    }
    if (sn__sha_update(&j->whole, p, n) != 0) return sn__ota_refuse(o, SN_ERR_NOMEM, "hash failed");
    j->got += n;
    p += n, len -= n;
  }
  return SN_OK;
}

/* r || s (32 bytes each) as the DER SEQUENCE of two INTEGERs that
   mbedtls_pk_verify takes. Returns its length, or 0 for a zero r or s. */
static size_t sn__sig_der(const unsigned char raw[64], unsigned char der[72]) {
  size_t o = 2, k;
  for (k = 0; k < 2; k++) {
    const unsigned char *v = raw + 32 * k;
    size_t skip = 0, n;
    while (skip < 32 && v[skip] == 0) skip++;
    if (skip == 32) return 0;
    n = 32 - skip;
    der[o++] = 0x02;
    der[o++] = (unsigned char) (n + (v[skip] >> 7));
    if (v[skip] & 0x80) der[o++] = 0;
    memcpy(der + o, v + skip, n);
    o += n;
  }
  der[0] = 0x30;
  der[1] = (unsigned char) (o - 2);
  return o;
}

SNDEF int sn_ota_end(sn_ota *o) {
  sn__ota_job *j = o->job;
  unsigned char m[SN_IMAGE_HEAD + 32], hash[32], der[72];
  size_t derlen;
  int r;
  if (j == NULL) return SN_ERR_STATE;
  if (j->got == 0) return sn__ota_refuse(o, SN_ERR_IMAGE, "no image (an empty body)");
  if (j->got < SN_IMAGE_HEAD) return sn__ota_refuse(o, SN_ERR_IMAGE, "image shorter than its header");
  if (j->got < o->cur.bytes) return sn__ota_refuse(o, SN_ERR_IMAGE, "image shorter than its header states");
  memcpy(m, j->head, SN_IMAGE_HEAD);
  if (sn__sha_finish(&j->payload, m + SN_IMAGE_HEAD) != 0 || sn__sha_finish(&j->whole, o->cur.sha256) != 0 ||
      sn__sha256(m, sizeof m, hash) != 0)
    return sn__ota_refuse(o, SN_ERR_NOMEM, "hash failed");
  if ((derlen = sn__sig_der(j->sig, der)) == 0 ||
      mbedtls_pk_verify(&o->pk, MBEDTLS_MD_SHA256, hash, sizeof hash, der, derlen) != 0)
    return sn__ota_refuse(o, SN_ERR_SIGNATURE, "bad signature (or signed with another key)");
  if ((r = o->opts.slot->finish(o->opts.slot_ctx)) != SN_OK) {
    j->slot_open = 0; /* a failed finish has dropped it, as abort would */
    return sn__ota_refuse(o, r, "the slot could not finish the image");
  }
  j->slot_open = 0;
  o->accepted = o->cur;
  sn__ota_drop(o);
  if (o->opts.mgr != NULL)
    sn__log(o->opts.mgr, SN_LOG_INFO, "update accepted: version %s, %lu bytes", o->accepted.version,
            (unsigned long) o->accepted.bytes);
  if (o->opts.on_accept != NULL) o->opts.on_accept(o->opts.user, &o->accepted);
  return SN_OK;
}

SNDEF void sn_ota_abort(sn_ota *o, int why) {
  sn__ota_refuse(o, why, why == SN_ERR_CLOSED    ? "the upload was cut short (client gone)"
                         : why == SN_ERR_TIMEOUT ? "the upload timed out"
                                                 : "the update was aborted");
}

SNDEF int sn_ota_state(const sn_ota *o, sn_image_info *img) {
  if (img != NULL) *img = o->accepted;
  return o->state;
}

SNDEF const char *sn_ota_why(const sn_ota *o) { return o->why; }

/* ---- the HTTP route ---- */
static const char *sn__ota_state_name(const sn_ota *o) {
  return o->state == SN_OTA_RECEIVING ? "receiving" : o->state == SN_OTA_ACCEPTED ? "accepted" : "idle";
}

static void sn__ota_reply_err(sn_conn *c, sn_ota *o, int err, const char *why) {
  char words[160];
  int status = err == SN_ERR_STATE ? 409 : err == SN_ERR_TOO_BIG ? 413 : err == SN_ERR_PROTO ? 400
             : err == SN_ERR_IMAGE || err == SN_ERR_SIGNATURE ? 422 : err == SN_ERR_NOMEM ? 503 : 500;
  if (sn_json_str(words, sizeof words, why, strlen(why)) < 0) strcpy(words, "\"refused\"");
  sn_http_json(c, status, "{\"error\":%s,\"state\":\"%s\"}\n", words, sn__ota_state_name(o));
}

typedef struct sn__ota_req { /* the route's state of one upload request */
  sn_ota *o;
  uint32_t gen;   /* the update it began */
  int multipart, in_image, images;
  const char *why; /* the form's own refusal, in words */
#if SN_ENABLE_MULTIPART
  sn_multipart mp;
#endif
} sn__ota_req;

static int sn__ota_mine(const sn__ota_req *q) { return q != NULL && q->o->job != NULL && q->o->gen == q->gen; }

#if SN_ENABLE_MULTIPART
static int sn__ota_part(void *user, const sn_part *part) {
  sn__ota_req *q = (sn__ota_req *) user;
  const char *field = q->o->opts.field;
  q->in_image = part->name.ptr != NULL && part->name.len == strlen(field) && memcmp(part->name.ptr, field, part->name.len) == 0;
  if (q->in_image && q->images++) {
    q->why = "the form has two image fields";
    return SN_ERR_PROTO;
  }
  return SN_OK;
}

static int sn__ota_part_data(void *user, const void *data, size_t len) {
  sn__ota_req *q = (sn__ota_req *) user;
  return q->in_image ? sn_ota_write(q->o, data, len) : SN_OK;
}

static int sn__ota_part_end(void *user) {
  ((sn__ota_req *) user)->in_image = 0;
  return SN_OK;
}
#endif

static void sn__ota_req_end(void *state, int why) {
  (void) why;
  SN_FREE(state);
}

/* Ends the request with a refusal: the verifier's own (already aborted) or
   one of the body's form (aborted here). */
static void sn__ota_fail(sn_conn *c, sn__ota_req *q, int err, const char *why) {
  sn_ota *o = q->o;
  if (sn__ota_mine(q)) sn__ota_refuse(o, err, why);
  else if (o->gen == q->gen && o->why[0]) err = o->err, why = o->why;
  sn__ota_reply_err(c, o, err, why);
}

static void sn__ota_head(sn_conn *c, const sn_request *req, void *user) {
  sn_ota *o = (sn_ota *) user;
  sn_str ct = sn_http_header(req, "content-type"), cl = sn_http_header(req, "content-length");
  int multipart = ct.ptr != NULL && ct.len >= 10 && sn__ieq(ct.ptr, 10, "multipart/");
  sn__ota_req *q;
  int r;
  if (o->job != NULL) {
    sn__ota_reply_err(c, o, SN_ERR_STATE, "another update is under way");
    return;
  }
  if (cl.ptr != NULL && !multipart) { /* the framing has checked it is a number */
    uint64_t n = 0;
    size_t i;
    for (i = 0; i < cl.len && n <= o->opts.capacity; i++) n = n * 10 + (uint64_t) (cl.ptr[i] - '0');
    if (n > o->opts.capacity) {
      sn__ota_reply_err(c, o, SN_ERR_TOO_BIG, "image larger than the slot");
      return;
    }
  }
  if (multipart && !SN_ENABLE_MULTIPART) {
    sn__ota_reply_err(c, o, SN_ERR_PROTO, "multipart bodies are not supported by this build: send the image raw");
    return;
  }
  if ((q = (sn__ota_req *) SN_MALLOC(sizeof *q)) == NULL) {
    sn__ota_reply_err(c, o, SN_ERR_NOMEM, "no memory for the update");
    return;
  }
  memset(q, 0, sizeof *q);
  q->o = o;
  q->multipart = multipart;
  if (sn_http_attach(c, q, sn__ota_req_end) != SN_OK) {
    SN_FREE(q);
    sn__ota_reply_err(c, o, SN_ERR_STATE, "the request has state attached already");
    return;
  }
#if SN_ENABLE_MULTIPART
  if (multipart) {
    static const sn_multipart_cb cb = {sn__ota_part, sn__ota_part_data, sn__ota_part_end};
    if (sn_multipart_init(&q->mp, ct, &cb, q) != SN_OK) {
      sn__ota_reply_err(c, o, SN_ERR_PROTO, q->mp.why);
      return;
    }
  }
#endif
  if ((r = sn_ota_begin(o)) != SN_OK) { /* SN_ERR_STATE: begun meanwhile by the application itself */
    sn__ota_reply_err(c, o, r, r == SN_ERR_STATE ? "another update is under way" : "no memory for the update");
    return;
  }
  q->gen = o->gen;
}

static int sn__ota_body(sn_conn *c, const void *data, size_t len, void *user) {
  sn__ota_req *q = (sn__ota_req *) sn_http_state(c);
  int r;
  (void) user;
  if (q == NULL) return SN_ERR_STATE; /* cannot happen: on_head attached it or replied */
  if (!sn__ota_mine(q)) {
    sn__ota_fail(c, q, SN_ERR_STATE, "the update was aborted");
    return SN_OK;
  }
#if SN_ENABLE_MULTIPART
  if (q->multipart) {
    if ((r = sn_multipart_feed(&q->mp, data, len)) != SN_OK)
      sn__ota_fail(c, q, r == SN_ERR_TOO_BIG && sn__ota_mine(q) ? SN_ERR_PROTO : r, q->why ? q->why : q->mp.why);
    return SN_OK;
  }
#endif
  if ((r = sn_ota_write(q->o, data, len)) != SN_OK) sn__ota_fail(c, q, r, "");
  return SN_OK;
}

static void sn__ota_done(sn_conn *c, const sn_request *req, void *user) {
  sn__ota_req *q = (sn__ota_req *) sn_http_state(c);
  sn_ota *o = (sn_ota *) user;
  char hex[65];
  int r, i;
  (void) req;
  if (q == NULL) {
    sn_http_error(c, 500);
    return;
  }
  if (!sn__ota_mine(q)) {
    sn__ota_fail(c, q, SN_ERR_STATE, "the update was aborted");
    return;
  }
#if SN_ENABLE_MULTIPART
  if (q->multipart) {
    if ((r = sn_multipart_finish(&q->mp)) != SN_OK) {
      sn__ota_fail(c, q, SN_ERR_PROTO, q->mp.why);
      return;
    }
    if (q->images == 0) {
      sn__ota_fail(c, q, SN_ERR_PROTO, "the form has no image field");
      return;
    }
  }
#endif
  if ((r = sn_ota_end(o)) != SN_OK) {
    sn__ota_fail(c, q, r, "");
    return;
  }
  for (i = 0; i < 32; i++) sprintf(hex + 2 * i, "%02x", o->accepted.sha256[i]);
  {
    char version[2 * SN_IMAGE_VERSION_MAX + 3];
    char bytes[24];
    sn_json_str(version, sizeof version, o->accepted.version, strlen(o->accepted.version));
    sprintf(bytes, "%lu", (unsigned long) o->accepted.bytes);
    sn_http_json(c, 200, "{\"version\":%s,\"bytes\":%s,\"sha256\":\"%s\",\"state\":\"accepted\"}\n", version, bytes, hex);
  }
}

static void sn__ota_aborted(sn_conn *c, int err, void *user) {
  sn__ota_req *q = (sn__ota_req *) sn_http_state(c);
  (void) user;
  if (sn__ota_mine(q)) sn_ota_abort(q->o, err);
}

SNDEF int sn_router_add_ota(sn_router *r, const char *method, const char *pattern, sn_ota *o) {
  if (o == NULL) return SN_ERR_INVALID;
  o->route.handler = sn__ota_done;
  o->route.on_head = sn__ota_head;
  o->route.on_body = sn__ota_body;
  o->route.on_abort = sn__ota_aborted;
  o->route.max_body = o->opts.capacity + (SN_ENABLE_MULTIPART ? 65536u : 0u);
  o->route.user = o;
  return sn_router_add_opts(r, method, pattern, &o->route);
}
#endif /* SN_ENABLE_OTA */

#if SN_ENABLE_AUTH
// >>auth
/* Logging in: PBKDF2 verifiers, the guard of a route, sessions, the Basic
   cache and the throttle of failed checks. */

/* HMAC-SHA256 (RFC 2104) with the key's two pads hashed once: a PBKDF2
   iteration is then two SHA-256 blocks. */
typedef struct sn__hmac {
  mbedtls_sha256_context in, out;
} sn__hmac;

static int sn__hmac_key(sn__hmac *h, const void *key, size_t len) {
  unsigned char k[64], pad[64];
  int i, r;
  memset(k, 0, sizeof k);
  if (len > 64) {
    if ((r = sn__sha256((const unsigned char *) key, len, k)) != 0) return r;
  } else if (len > 0) {
    memcpy(k, key, len);
  }
  mbedtls_sha256_init(&h->in);
  mbedtls_sha256_init(&h->out);
  for (i = 0; i < 64; i++) pad[i] = (unsigned char) (k[i] ^ 0x36);
  r = sn__sha_starts(&h->in);
  if (r == 0) r = sn__sha_update(&h->in, pad, 64);
  for (i = 0; i < 64; i++) pad[i] = (unsigned char) (k[i] ^ 0x5c);
  if (r == 0) r = sn__sha_starts(&h->out);
  if (r == 0) r = sn__sha_update(&h->out, pad, 64);
  mbedtls_platform_zeroize(k, sizeof k);
  mbedtls_platform_zeroize(pad, sizeof pad);
  return r;
}

static void sn__hmac_free(sn__hmac *h) {
  mbedtls_sha256_free(&h->in);
  mbedtls_sha256_free(&h->out);
}

/* out = HMAC(key, a || b) */
static int sn__hmac_run(const sn__hmac *h, const void *a, size_t alen, const void *b, size_t blen, unsigned char out[32]) {
  mbedtls_sha256_context t;
  unsigned char inner[32];
  int r;
  mbedtls_sha256_init(&t);
  mbedtls_sha256_clone(&t, &h->in);
  r = sn__sha_update(&t, (const unsigned char *) a, alen);
  if (r == 0 && blen > 0) r = sn__sha_update(&t, (const unsigned char *) b, blen);
  if (r == 0) r = sn__sha_finish(&t, inner);
  mbedtls_sha256_clone(&t, &h->out);
  if (r == 0) r = sn__sha_update(&t, inner, 32);
  if (r == 0) r = sn__sha_finish(&t, out);
  mbedtls_sha256_free(&t);
  return r;
}

SNDEF int sn_pbkdf2_sha256(const void *pw, size_t pw_len, const unsigned char *salt, size_t salt_len,
                           uint32_t iterations, unsigned char *out, size_t out_len) {
  sn__hmac h;
  unsigned char u[32], t[32], cnt[4];
  uint32_t block = 1, i;
  size_t done = 0;
  int r;
  if ((pw == NULL && pw_len > 0) || (salt == NULL && salt_len > 0) || iterations == 0 || (out == NULL && out_len > 0))
    return SN_ERR_INVALID;
  if ((r = sn__hmac_key(&h, pw, pw_len)) != 0) return sn__hmac_free(&h), SN_ERR_INVALID;
  while (r == 0 && done < out_len) {
    size_t k, take = out_len - done < 32 ? out_len - done : 32;
    cnt[0] = (unsigned char) (block >> 24), cnt[1] = (unsigned char) (block >> 16);
    cnt[2] = (unsigned char) (block >> 8), cnt[3] = (unsigned char) block;
    r = sn__hmac_run(&h, salt, salt_len, cnt, 4, u);
    memcpy(t, u, 32);
    for (i = 1; r == 0 && i < iterations; i++) {
      r = sn__hmac_run(&h, u, 32, NULL, 0, u);
      for (k = 0; k < 32; k++) t[k] ^= u[k];
    }
    memcpy(out + done, t, take);
    done += take;
    block++;
  }
  sn__hmac_free(&h);
  mbedtls_platform_zeroize(u, sizeof u);
  mbedtls_platform_zeroize(t, sizeof t);
  return r == 0 ? SN_OK : SN_ERR_INVALID;
}

/* Equal in time that depends on n only. */
static int sn__ct_eq(const unsigned char *a, const unsigned char *b, size_t n) {
  unsigned char d = 0;
  size_t i;
  for (i = 0; i < n; i++) d |= (unsigned char) (a[i] ^ b[i]);
  return d == 0;
}

static int sn__role_char(int ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
         ch == '-';
}

/* A user name: 1-32 bytes, no ':', no control byte, no space at either
   end (" alice" would be another user than "alice"). */
static int sn__name_ok(const char *p, size_t n) {
  size_t i;
  if (n == 0 || n > SN_USER_NAME_MAX || p[0] == ' ' || p[n - 1] == ' ') return 0;
  for (i = 0; i < n; i++)
    if ((unsigned char) p[i] < 0x20 || p[i] == 0x7f || p[i] == ':') return 0;
  return 1;
}

static int sn__lowhex(const char *p, size_t n, unsigned char *out) {
  size_t i;
  for (i = 0; i < n; i += 2) {
    int hi = sn__hexval(p[i]), lo = sn__hexval(p[i + 1]);
    if (hi < 0 || lo < 0 || (p[i] >= 'A' && p[i] <= 'F') || (p[i + 1] >= 'A' && p[i + 1] <= 'F')) return 0;
    out[i / 2] = (unsigned char) (hi << 4 | lo);
  }
  return 1;
}

SNDEF int sn_user_parse(sn_user *u, const char *line, size_t len) {
  const char *f[6], *end;
  size_t fl[6], i;
  int nf = 0;
  uint32_t it = 0;
  if (u == NULL || line == NULL) return SN_ERR_INVALID;
  if (len > 0 && line[len - 1] == '\n') len--;
  if (len > 0 && line[len - 1] == '\r') len--;
  end = line + len;
  while (nf < 6) {
    const char *colon = (const char *) memchr(line, ':', (size_t) (end - line));
    f[nf] = line;
    fl[nf] = colon ? (size_t) (colon - line) : (size_t) (end - line);
    nf++;
    if (colon == NULL) break;
    line = colon + 1;
  }
  if (nf != 6 || f[5] + fl[5] != end) return SN_ERR_INVALID;
  if (!sn__name_ok(f[0], fl[0]) || fl[1] == 0 || fl[1] > SN_USER_ROLE_MAX) return SN_ERR_INVALID;
  for (i = 0; i < fl[1]; i++)
    if (!sn__role_char((unsigned char) f[1][i])) return SN_ERR_INVALID;
  if (fl[2] != 13 || memcmp(f[2], "pbkdf2-sha256", 13) != 0) return SN_ERR_INVALID;
  if (fl[3] == 0 || fl[3] > 8 || f[3][0] == '0') return SN_ERR_INVALID;
  for (i = 0; i < fl[3]; i++) {
    if (f[3][i] < '0' || f[3][i] > '9') return SN_ERR_INVALID;
    it = it * 10 + (uint32_t) (f[3][i] - '0');
  }
  if (it < 1000 || it > 10000000) return SN_ERR_INVALID;
  if (fl[4] != 32 || fl[5] != 64) return SN_ERR_INVALID;
  memset(u, 0, sizeof *u);
  if (!sn__lowhex(f[4], 32, u->salt) || !sn__lowhex(f[5], 64, u->hash)) return memset(u, 0, sizeof *u), SN_ERR_INVALID;
  memcpy(u->name, f[0], fl[0]);
  memcpy(u->role, f[1], fl[1]);
  u->iterations = it;
  return SN_OK;
}

SNDEF int sn_user_check(const sn_user *u, const char *password, size_t len) {
  unsigned char dk[32];
  int ok;
  if (u == NULL || u->iterations == 0 || (password == NULL && len > 0) || len > SN_AUTH_PASSWORD_MAX) return 0;
  if (sn_pbkdf2_sha256(password, len, u->salt, sizeof u->salt, u->iterations, dk, sizeof dk) != SN_OK) return 0;
  ok = sn__ct_eq(dk, u->hash, sizeof dk);
  mbedtls_platform_zeroize(dk, sizeof dk);
  return ok;
}

/* ---- the tables ---- */
typedef struct sn__session {
  unsigned char id[16];
  const sn__listener *lst; /* made on it, valid on it only */
  const sn_user *user;
  uint64_t born, used;
  uint8_t live;
} sn__session;

typedef struct sn__client { /* failed checks of one address */
  char addr[48];            /* "": a free entry */
  uint32_t fails;
  uint64_t first, next, locked_until, seen;
} sn__client;

typedef struct sn__bcache { /* Basic credentials that passed */
  unsigned char key[32];    /* HMAC(a->key, the header's value) */
  const sn_user *user;
  uint64_t used;
  uint8_t live;
} sn__bcache;

typedef struct sn__pending { /* a login held for its turn */
  sn_timer timer;
  struct sn_auth *a;
  sn_req_ref ref;
  const sn_user *user;      /* NULL: a name no user has (the dummy is checked) */
  char addr[48];
  unsigned char bkey[32];   /* a Basic one: its cache key */
  char pw[SN_AUTH_PASSWORD_MAX];
  size_t pw_len;
  uint8_t used, form;
} sn__pending;

struct sn_auth {
  sn__auth_head head; /* first: the server's way in */
  sn_mgr *mgr;
  sn_auth_opts o;
  sn_user dummy;            /* for names no user has: costs a check like a real one */
  unsigned char key[32];    /* the Basic cache's key, from the DRBG */
  uint64_t g_next;          /* the global cap: no check before this */
  int max_sessions;
  sn__session sess[SN_AUTH_SESSIONS];
  sn__client cl[SN_AUTH_CLIENTS];
  sn__bcache bc[SN_AUTH_BASIC_CACHE];
  sn__pending pend[SN_AUTH_PENDING];
};

static int sn__guard(sn_conn *c, const sn_guard *g);

SNDEF size_t sn_auth_size(void) { return sizeof(struct sn_auth); }

static const sn_user *sn__user_find(const sn_auth *a, const char *name, size_t n) {
  size_t i;
  const sn_user *found = NULL;
  for (i = 0; i < a->o.user_count; i++) /* every entry, found or not */
    if (strlen(a->o.users[i].name) == n && memcmp(a->o.users[i].name, name, n) == 0 && found == NULL)
      found = &a->o.users[i];
  return found;
}

SNDEF int sn_auth_create(sn_auth **out, sn_mgr *mgr, const sn_auth_opts *opts) {
  sn_auth *a;
  size_t i, j;
  uint32_t most = SN_AUTH_ITERATIONS;
  if (out == NULL || mgr == NULL || opts == NULL || (opts->users == NULL && opts->user_count > 0)) return SN_ERR_INVALID;
  for (i = 0; i < opts->user_count; i++) {
    const sn_user *u = &opts->users[i];
    const char *z = (const char *) memchr(u->name, '\0', sizeof u->name);
    size_t k, rl;
    if (z == NULL || !sn__name_ok(u->name, (size_t) (z - u->name)) || memchr(u->role, '\0', sizeof u->role) == NULL)
      return SN_ERR_INVALID;
    rl = strlen(u->role);
    if (rl == 0) return SN_ERR_INVALID;
    for (k = 0; k < rl; k++)
      if (!sn__role_char((unsigned char) u->role[k])) return SN_ERR_INVALID;
    for (j = 0; j < i; j++)
      if (strcmp(opts->users[j].name, u->name) == 0) return SN_ERR_INVALID;
    if (u->iterations > most) most = u->iterations;
  }
  a = (sn_auth *) SN_MALLOC(sizeof *a);
  if (a == NULL) return SN_ERR_NOMEM;
  memset(a, 0, sizeof *a);
  a->head.guard = sn__guard;
  a->mgr = mgr;
  a->o = *opts;
  if (a->o.realm == NULL) a->o.realm = "securenet";
  if (a->o.login_path == NULL) a->o.login_path = "/login";
  if (a->o.logout_path == NULL) a->o.logout_path = "/logout";
  if (a->o.after_login == NULL) a->o.after_login = "/";
  if (a->o.idle_s == 0) a->o.idle_s = 900;
  if (a->o.lifetime_s == 0) a->o.lifetime_s = 28800;
  if (a->o.delay_ms == 0) a->o.delay_ms = 250;
  if (a->o.delay_max_ms == 0) a->o.delay_max_ms = 4000;
  if (a->o.lockout_failures <= 0) a->o.lockout_failures = 8;
  if (a->o.lockout_window_s == 0) a->o.lockout_window_s = 900;
  if (a->o.lockout_s == 0) a->o.lockout_s = 900;
  if (a->o.checks_per_s == 0) a->o.checks_per_s = 8;
  a->max_sessions = SN_AUTH_SESSIONS;
  a->dummy.iterations = most;
  memcpy(a->dummy.role, "-", 2);
  if (sn_mgr_random(mgr, a->key, sizeof a->key) != 0 || sn_mgr_random(mgr, a->dummy.salt, sizeof a->dummy.salt) != 0 ||
      sn_mgr_random(mgr, a->dummy.hash, sizeof a->dummy.hash) != 0) {
    SN_FREE(a);
    return SN_ERR_ENTROPY;
  }
  *out = a;
  return SN_OK;
}

SNDEF int sn_auth_sessions(const sn_auth *a) {
  int i, n = 0;
  uint64_t now;
  if (a == NULL) return 0;
  now = sn_mgr_now_ms(a->mgr);
  for (i = 0; i < SN_AUTH_SESSIONS; i++)
    if (a->sess[i].live && now - a->sess[i].used < (uint64_t) a->o.idle_s * 1000 &&
        now - a->sess[i].born < (uint64_t) a->o.lifetime_s * 1000)
      n++;
  return n;
}

SNDEF int sn_auth_logout_user(sn_auth *a, const char *name) {
  int i, n = 0;
  if (a == NULL || name == NULL) return 0;
  for (i = 0; i < SN_AUTH_SESSIONS; i++)
    if (a->sess[i].live && strcmp(a->sess[i].user->name, name) == 0) memset(&a->sess[i], 0, sizeof a->sess[i]), n++;
  for (i = 0; i < SN_AUTH_BASIC_CACHE; i++)
    if (a->bc[i].live && strcmp(a->bc[i].user->name, name) == 0) memset(&a->bc[i], 0, sizeof a->bc[i]);
  return n;
}

/* ---- parsing what the client sends ---- */
/* The session cookie in a Cookie header's value (RFC 6265 5.4:
   "name=value; name=value"): 1 with its id, 0 when there is none, or it is
   not 32 lowercase hex digits. A second __Host-sn pair makes it none. */
static int sn__cookie_session(sn_str h, unsigned char id[16]) {
  int found = 0;
  while (h.len > 0) {
    const char *semi = (const char *) memchr(h.ptr, ';', h.len);
    size_t n = semi ? (size_t) (semi - h.ptr) : h.len;
    sn_str pair;
    pair.ptr = h.ptr;
    pair.len = n;
    pair = sn__trim(pair);
    if (pair.len >= 10 && memcmp(pair.ptr, "__Host-sn=", 10) == 0) {
      if (found || pair.len != 42 || !sn__lowhex(pair.ptr + 10, 32, id)) return 0;
      found = 1;
    }
    h.ptr += semi ? n + 1 : n;
    h.len -= semi ? n + 1 : n;
  }
  return found;
}

static int sn__b64val(int ch) {
  if (ch >= 'A' && ch <= 'Z') return ch - 'A';
  if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
  if (ch >= '0' && ch <= '9') return ch - '0' + 52;
  return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

/* Authorization: Basic <base64 of user ':' password> (RFC 7617): the user
   (NUL-terminated) and the password's bytes. SN_ERR_UNSUPPORTED for
   another scheme, SN_ERR_PROTO for bad base64, no ':' or a user that is
   no name, SN_ERR_TOO_BIG when either does not fit. */
static int sn__basic_decode(sn_str v, char *user, size_t user_cap, char *pw, size_t pw_cap, size_t *pw_len) {
  unsigned char dec[3 * (SN_USER_NAME_MAX + SN_AUTH_PASSWORD_MAX + 4) / 3 + 3];
  size_t i, n = 0, pad = 0, ulen;
  unsigned acc = 0;
  int bits = 0;
  const unsigned char *colon;
  v = sn__trim(v);
  if (v.len < 6 || !sn__ieq(v.ptr, 5, "basic") || (v.ptr[5] != ' ')) return SN_ERR_UNSUPPORTED;
  v.ptr += 6, v.len -= 6;
  while (v.len > 0 && v.ptr[0] == ' ') v.ptr++, v.len--;
  if (v.len == 0 || v.len % 4 != 0) return SN_ERR_PROTO;
  if (v.len / 4 * 3 > sizeof dec) return SN_ERR_TOO_BIG;
  for (i = 0; i < v.len; i++) {
    int d = sn__b64val((unsigned char) v.ptr[i]);
    if (v.ptr[i] == '=' && i + 2 >= v.len && (i + 1 == v.len || v.ptr[i + 1] == '=')) {
      pad++;
      continue;
    }
    if (d < 0 || pad > 0) return SN_ERR_PROTO;
    acc = (acc << 6) | (unsigned) d;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      dec[n++] = (unsigned char) (acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  if (acc != 0) return SN_ERR_PROTO; /* non-canonical: bits left over */
  colon = (const unsigned char *) memchr(dec, ':', n);
  if (colon == NULL) return mbedtls_platform_zeroize(dec, sizeof dec), SN_ERR_PROTO;
  ulen = (size_t) (colon - dec);
  if (!sn__name_ok((const char *) dec, ulen)) /* a long one too: a NUL in it would cut the name short */
    return mbedtls_platform_zeroize(dec, sizeof dec), ulen > SN_USER_NAME_MAX ? SN_ERR_TOO_BIG : SN_ERR_PROTO;
  if (ulen + 1 > user_cap || n - ulen - 1 > pw_cap) return mbedtls_platform_zeroize(dec, sizeof dec), SN_ERR_TOO_BIG;
  memcpy(user, dec, ulen);
  user[ulen] = '\0';
  *pw_len = n - ulen - 1;
  memcpy(pw, colon + 1, *pw_len);
  mbedtls_platform_zeroize(dec, sizeof dec);
  return SN_OK;
}

/* The client's address without its port ("192.0.2.1:5000", "[::1]:5000"). */
static void sn__peer_ip(const sn_conn *c, char out[48]) {
  const char *p = c->peer, *colon = strrchr(p, ':');
  size_t n = strlen(p);
  if (p[0] == '[' && strchr(p, ']') != NULL) n = (size_t) (strchr(p, ']') - p) + 1;
  else if (colon != NULL && strchr(p, ':') == colon) n = (size_t) (colon - p);
  if (n > 47) n = 47;
  memcpy(out, p, n);
  out[n] = '\0';
}

/* The request's own origin, scheme://Host, equals Origin (default port
   left out of both). */
static int sn__origin_is_own(const sn_conn *c, sn_str origin) {
  sn_str host = sn__trim(sn_http_header(&c->rq.req, "host"));
  const char *scheme = sn_conn_is_tls(c) ? "https://" : "http://";
  const char *dflt = sn_conn_is_tls(c) ? ":443" : ":80";
  size_t sl = strlen(scheme), dl = strlen(dflt);
  origin = sn__trim(origin);
  if (host.ptr == NULL || host.len == 0 || origin.len <= sl || !sn__ieq(origin.ptr, sl, scheme)) return 0;
  origin.ptr += sl, origin.len -= sl;
  if (origin.len > dl && sn__ieq(origin.ptr + origin.len - dl, dl, dflt)) origin.len -= dl;
  if (host.len > dl && sn__ieq(host.ptr + host.len - dl, dl, dflt)) host.len -= dl;
  if (origin.len != host.len) return 0;
  for (sl = 0; sl < host.len; sl++)
    if (sn__lower((unsigned char) origin.ptr[sl]) != sn__lower((unsigned char) host.ptr[sl])) return 0;
  return 1;
}

/* CSRF (step 2 of the guard): 0 when a browser says the request came from
   another origin. */
static int sn__same_origin(const sn_conn *c) {
  sn_str sfs = sn__trim(sn_http_header(&c->rq.req, "sec-fetch-site"));
  sn_str origin = sn_http_header(&c->rq.req, "origin");
  if (sfs.ptr != NULL && !sn__ieq(sfs.ptr, sfs.len, "same-origin") && !sn__ieq(sfs.ptr, sfs.len, "none")) return 0;
  return origin.ptr == NULL || sn__origin_is_own(c, origin);
}

static int sn__safe_method(const sn_request *req) {
  return sn__eq(req->method, "GET") || sn__eq(req->method, "HEAD") || sn__eq(req->method, "OPTIONS");
}

/* A refusal in words: text/plain, with extra header lines. Returns 0. */
static int sn__auth_refuse(sn_conn *c, int status, const char *headers, const char *why) {
  char h[400];
  snprintf(h, sizeof h, "%sContent-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\n", headers ? headers : "");
  sn_http_printf(c, status, h, "%d %s: %s\n", status, sn_http_reason(status), why);
  return 0;
}

/* A 401's challenge (RFC 9110 11.6.1: every 401 has one): Basic; a page's
   script (fetch, XHR: Sec-Fetch-Mode other than navigate) gets a scheme no
   browser answers with a dialog of its own, so the page sees the 401 and
   shows its login form instead of the browser asking first. */
static void sn__challenge(const sn_conn *c, const char *realm, char *h, size_t cap) {
  sn_str mode = sn__trim(sn_http_header(&c->rq.req, "sec-fetch-mode"));
  if (mode.ptr != NULL && !sn__eq(mode, "navigate")) snprintf(h, cap, "WWW-Authenticate: Form realm=\"%s\"\r\n", realm);
  else snprintf(h, cap, "WWW-Authenticate: Basic realm=\"%s\", charset=\"UTF-8\"\r\n", realm);
}

/* ---- sessions ---- */
static int sn__session_live(const sn_auth *a, const sn__session *s, uint64_t now) {
  return s->live && now - s->used < (uint64_t) a->o.idle_s * 1000 && now - s->born < (uint64_t) a->o.lifetime_s * 1000;
}

/* The live session of this id on this listener, or NULL (every entry is
   compared, in constant time each). */
static sn__session *sn__session_find(sn_auth *a, const unsigned char id[16], const sn__listener *l, uint64_t now) {
  sn__session *found = NULL;
  int i;
  for (i = 0; i < SN_AUTH_SESSIONS; i++) {
    sn__session *s = &a->sess[i];
    int eq = sn__ct_eq(s->id, id, 16);
    if (eq && s->live && !sn__session_live(a, s, now)) memset(s, 0, sizeof *s); /* over: forgotten */
    else if (eq && s->live && s->lst == l && found == NULL) found = s;
  }
  return found;
}

static sn__session *sn__session_new(sn_auth *a, const sn_user *u, const sn__listener *l, uint64_t now) {
  sn__session *s = NULL;
  int i;
  for (i = 0; i < SN_AUTH_SESSIONS; i++) {
    sn__session *e = &a->sess[i];
    if (!sn__session_live(a, e, now)) {
      s = e;
      break;
    }
    if (s == NULL || e->used < s->used) s = e; /* the least recently used */
  }
  if (s->live && sn__session_live(a, s, now))
    sn__log(a->mgr, SN_LOG_INFO, "session table full: the session of %s used least recently ended", s->user->name);
  memset(s, 0, sizeof *s);
  if (sn_mgr_random(a->mgr, s->id, sizeof s->id) != 0) return NULL;
  s->lst = l;
  s->user = u;
  s->born = s->used = now;
  s->live = 1;
  return s;
}

/* ---- throttle ---- */
static sn__client *sn__client_find(sn_auth *a, const char *addr, uint64_t now) {
  int i;
  for (i = 0; i < SN_AUTH_CLIENTS; i++) {
    sn__client *e = &a->cl[i];
    if (e->addr[0] == '\0' || strcmp(e->addr, addr) != 0) continue;
    if (e->locked_until <= now && now - e->first >= (uint64_t) a->o.lockout_window_s * 1000 && e->next <= now) {
      memset(e, 0, sizeof *e); /* its window is over */
      return NULL;
    }
    return e;
  }
  return NULL;
}

static uint32_t sn__delay(const sn_auth *a, uint32_t fails) {
  uint64_t d;
  if (fails == 0) return 0;
  d = fails > 20 ? (uint64_t) a->o.delay_max_ms : (uint64_t) a->o.delay_ms << (fails - 1);
  return d > a->o.delay_max_ms ? a->o.delay_max_ms : (uint32_t) d;
}

/* A check failed: counted; a lock-out when there are enough. */
static void sn__client_failed(sn_auth *a, const char *addr, const char *name, uint64_t now) {
  sn__client *e = sn__client_find(a, addr, now);
  int i;
  if (e == NULL) { /* a new entry: a free one, else the one seen least recently that is not locked */
    for (i = 0; i < SN_AUTH_CLIENTS; i++) {
      sn__client *x = &a->cl[i];
      if (x->addr[0] == '\0') {
        e = x;
        break;
      }
      if (x->locked_until > now) continue;
      if (e == NULL || x->seen < e->seen) e = x;
    }
    if (e == NULL) e = &a->cl[0]; /* every one locked: the global cap still holds */
    memset(e, 0, sizeof *e);
    snprintf(e->addr, sizeof e->addr, "%s", addr);
    e->first = now;
  }
  e->fails++;
  e->seen = now;
  if (e->next < now + sn__delay(a, e->fails)) e->next = now + sn__delay(a, e->fails);
  sn__log(a->mgr, SN_LOG_WARN, "login failed from %s (user \"%.32s\"): %u failure%s", addr, name, (unsigned) e->fails,
          e->fails == 1 ? "" : "s");
  if ((int) e->fails >= a->o.lockout_failures && e->locked_until <= now) {
    e->locked_until = now + (uint64_t) a->o.lockout_s * 1000;
    sn__log(a->mgr, SN_LOG_WARN, "logins from %s locked out for %u s after %u failures", addr, (unsigned) a->o.lockout_s,
            (unsigned) e->fails);
  }
}

static void sn__client_passed(sn_auth *a, const char *addr, uint64_t now) {
  sn__client *e = sn__client_find(a, addr, now);
  if (e != NULL) memset(e, 0, sizeof *e);
}

/* ---- a check and its answer ---- */
enum { SN__AUTH_REFUSED = 0, SN__AUTH_OK = 1, SN__AUTH_HELD = 2 };

static int sn__guard_finish(sn_conn *c, const sn_guard *g, const sn_user *u, int how);

/* The session cookie of a good form login, then 303. */
static void sn__login_answer(sn_auth *a, sn_conn *c, const sn_user *u) {
  uint64_t now = sn_mgr_now_ms(a->mgr);
  sn__session *s = sn__session_new(a, u, c->lst, now);
  char h[400], hex[33];
  int i;
  if (s == NULL) {
    sn__auth_refuse(c, 503, NULL, "no random bytes for a session");
    return;
  }
  for (i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", s->id[i]);
  snprintf(h, sizeof h,
           "Set-Cookie: __Host-sn=%s; Secure; HttpOnly; SameSite=Strict; Path=/\r\nLocation: %s\r\n"
           "Cache-Control: no-store\r\nContent-Type: text/plain; charset=utf-8\r\n",
           hex, a->o.after_login);
  mbedtls_platform_zeroize(hex, sizeof hex);
  sn__log(a->mgr, SN_LOG_INFO, "%s logged in from %s", u->name, c->peer);
  sn_http_printf(c, 303, h, "logged in as %s\n", u->name);
}

static void sn__login_failed_answer(sn_auth *a, sn_conn *c) {
  static const char fail[] = "WWW-Authenticate: Form realm=\"%s\"\r\nCache-Control: no-store\r\n";
  char h[160];
  snprintf(h, sizeof h, fail, a->o.realm);
  if (a->o.login_page != NULL) {
    char h2[256];
    sn_str path;
    path.ptr = a->o.login_page->path;
    path.len = strlen(path.ptr);
    snprintf(h2, sizeof h2, "%sContent-Type: %s\r\n", h, sn_mime_type(path));
    sn_http_reply(c, 401, h2, a->o.login_page->data, a->o.login_page->len);
  } else {
    sn__auth_refuse(c, 401, h, "wrong user or password");
  }
}

/* The verdict of a check on its request: a form login is answered; a
   Basic request goes on (accepted) or is answered (refused). */
static int sn__check_done(sn_auth *a, sn_conn *c, const sn_user *u, int ok, const char *name, const char *addr,
                          const unsigned char *bkey, int form) {
  uint64_t now = sn_mgr_now_ms(a->mgr);
  if (!ok) {
    char h[200];
    sn__client_failed(a, addr, name, now);
    if (form) return sn__login_failed_answer(a, c), SN__AUTH_REFUSED;
    sn__challenge(c, a->o.realm, h, sizeof h);
    return sn__auth_refuse(c, 401, h, "wrong user or password"), SN__AUTH_REFUSED;
  }
  sn__client_passed(a, addr, now);
  if (form) return sn__login_answer(a, c, u), SN__AUTH_REFUSED;
  if (bkey != NULL) { /* remembered: the least recently used entry goes */
    sn__bcache *e = &a->bc[0];
    int i;
    for (i = 0; i < SN_AUTH_BASIC_CACHE; i++)
      if (!a->bc[i].live || a->bc[i].used < e->used) e = &a->bc[i];
    memcpy(e->key, bkey, 32);
    e->user = u;
    e->used = now;
    e->live = 1;
  }
  return SN__AUTH_OK;
}

static int sn__check_now(sn_auth *a, const sn_user *u, const char *pw, size_t pw_len) {
  /* a name no user has is checked against the dummy: the same time, and false */
  int ok = sn_user_check(u != NULL ? u : &a->dummy, pw, pw_len);
  return u != NULL && ok;
}

/* A held request: a Basic one goes on through its guard, or is answered. */
static void sn__guard_resume(sn_conn *c, int verdict, const sn_user *u) {
  const sn_guard *g = c->route->guard != NULL ? c->route->guard : c->lst->opts.router->guard;
  c->guarding = 0;
  if (verdict == SN__AUTH_OK) {
    c->rstate = SN__R_DISPATCH;
    verdict = sn__guard_finish(c, g, u, SN_AUTH_BASIC);
    if (c->state != SN__C_OPEN) return;
  }
  if (verdict == SN__AUTH_OK) {
    c->close_after = !c->keep_alive;
    sn__http_head_accepted(c);
  } else if (c->resp != SN__RESP_NONE) {
    sn__http_refused_head(c);
  }
  c->more_work = 1; /* the buffered body, or the reply, goes on at this round */
}

/* The global cap's turn: 0 when a check may run now (it is counted), else
   the ms until one may. Taken as the check runs, never ahead of it, so a
   check that its address must wait for holds up nobody else's. */
static uint32_t sn__global_turn(sn_auth *a, uint64_t now) {
  if (a->g_next > now) return (uint32_t) (a->g_next - now);
  a->g_next = now + 1000 / a->o.checks_per_s;
  return 0;
}

static void sn__pending_fire(void *arg) {
  sn__pending *p = (sn__pending *) arg;
  sn_auth *a = p->a;
  sn_conn *c;
  uint32_t wait;
  int ok, v;
  if (sn_req_conn(p->ref, &c) != SN_OK) { /* gone meanwhile (closed, timed out) */
    mbedtls_platform_zeroize(p->pw, sizeof p->pw);
    p->used = 0;
    return;
  }
  if ((wait = sn__global_turn(a, sn_mgr_now_ms(a->mgr))) > 0) { /* its address's turn, not yet the cap's */
    sn_timer_add(a->mgr, &p->timer, wait, 0, sn__pending_fire, p);
    return;
  }
  p->used = 0;
  ok = sn__check_now(a, p->user, p->pw, p->pw_len);
  mbedtls_platform_zeroize(p->pw, sizeof p->pw);
  v = sn__check_done(a, c, p->user, ok, p->user != NULL ? p->user->name : "?", p->addr, p->form ? NULL : p->bkey, p->form);
  if (!p->form) sn__guard_resume(c, v, p->user);
}

/* A password check for this request: now, later (held: a form login is
   deferred, a Basic request waits before its body), or not at all (the
   address is locked out, or too many wait: 429). */
static int sn__auth_attempt(sn_auth *a, sn_conn *c, const char *name, const char *pw, size_t pw_len,
                            const unsigned char *bkey, int form) {
  uint64_t now = sn_mgr_now_ms(a->mgr), t = now;
  const sn_user *u = sn__user_find(a, name, strlen(name));
  char addr[48], retry[64];
  sn__client *e;
  sn__pending *p = NULL;
  uint32_t wait = 0;
  int i;
  sn__peer_ip(c, addr);
  e = sn__client_find(a, addr, now);
  if (e != NULL && e->locked_until > now) {
    snprintf(retry, sizeof retry, "Retry-After: %lu\r\n", (unsigned long) ((e->locked_until - now) / 1000 + 1));
    return sn__auth_refuse(c, 429, retry, "too many failed logins from this address: locked out for now");
  }
  if (e != NULL && e->next > t) t = e->next;
  if (t - now > SN_AUTH_MAX_WAIT_MS) {
    snprintf(retry, sizeof retry, "Retry-After: %lu\r\n", (unsigned long) ((t - now) / 1000 + 1));
    return sn__auth_refuse(c, 429, retry, "too many logins from this address at once: try again later");
  }
  if (t <= now && (wait = sn__global_turn(a, now)) == 0) {
    int ok = sn__check_now(a, u, pw, pw_len);
    if (e != NULL) e->next = now + sn__delay(a, e->fails);
    return sn__check_done(a, c, u, ok, name, addr, bkey, form);
  }
  for (i = 0; i < SN_AUTH_PENDING && p == NULL; i++)
    if (!a->pend[i].used) p = &a->pend[i];
  if (p == NULL) return sn__auth_refuse(c, 429, "Retry-After: 1\r\n", "too many logins at once: try again later");
  /* this address's turn is taken: its next check waits after this one */
  if (e != NULL) e->next = t + sn__delay(a, e->fails);
  if (t <= now) t = now + wait;
  memset(p, 0, sizeof *p);
  p->a = a;
  p->user = u;
  p->form = (uint8_t) form;
  memcpy(p->addr, addr, sizeof addr);
  if (bkey != NULL) memcpy(p->bkey, bkey, 32);
  memcpy(p->pw, pw, pw_len);
  p->pw_len = pw_len;
  p->ref = form ? sn_http_defer(c) : sn_http_ref(c);
  p->used = 1;
  sn_timer_add(a->mgr, &p->timer, (uint32_t) (t - now), 0, sn__pending_fire, p);
  return SN__AUTH_HELD;
}

/* ---- the guard ---- */
static int sn__role_in(const char *roles, const char *role) {
  sn_str list, item;
  if (roles == NULL || roles[0] == '\0') return 1;
  list.ptr = roles;
  list.len = strlen(roles);
  while (sn__next_item(&list, &item))
    if (sn__eq(item, role)) return 1;
  return 0;
}

/* Steps 4 and 5 once the user is known (or not). */
static int sn__guard_finish(sn_conn *c, const sn_guard *g, const sn_user *u, int how) {
  sn_auth *a = g->auth;
  if (u == NULL) {
    char h[200];
    if (g->mode == SN_GUARD_PAGE) {
      snprintf(h, sizeof h, "Location: %s\r\n", a->o.login_path);
      return sn__auth_refuse(c, 303, h, "log in first");
    }
    sn__challenge(c, a->o.realm, h, sizeof h);
    return sn__auth_refuse(c, 401, h, "credentials needed");
  }
  if (how == SN_AUTH_SESSION && !sn__safe_method(&c->rq.req) && sn_http_header(&c->rq.req, "sec-fetch-site").ptr == NULL &&
      sn_http_header(&c->rq.req, "origin").ptr == NULL)
    return sn__auth_refuse(c, 403, NULL, "a session's request that changes state needs Origin or Sec-Fetch-Site (CSRF)");
  if (!sn__role_in(g->roles, u->role)) return sn__auth_refuse(c, 403, NULL, "your role may not use this");
  c->user = u;
  c->user_how = (uint8_t) how;
  return SN__AUTH_OK;
}

static int sn__guard(sn_conn *c, const sn_guard *g) {
  sn_auth *a = g->auth;
  const sn_request *req = &c->rq.req;
  const sn_user *u = NULL;
  unsigned char id[16];
  sn_str authz;
  int how = SN_AUTH_NONE;
  uint64_t now;
  if (!sn_conn_is_tls(c)) return sn__auth_refuse(c, 403, NULL, "this needs HTTPS: no credentials are taken over plain HTTP");
  if (!sn__safe_method(req) && !sn__same_origin(c))
    return sn__auth_refuse(c, 403, NULL, "a request from another site that would change state (CSRF)");
  now = sn_mgr_now_ms(a->mgr);
  if (a->o.cert_user != NULL && sn_conn_peer_subject(c) != NULL) {
    u = a->o.cert_user(a->o.cert_arg, sn_conn_peer_subject(c));
    how = SN_AUTH_CERT;
  }
  if (u == NULL && sn__cookie_session(sn_http_header(req, "cookie"), id)) {
    sn__session *s = sn__session_find(a, id, c->lst, now);
    if (s != NULL) {
      s->used = now;
      u = s->user;
      how = SN_AUTH_SESSION;
    }
  }
  authz = sn_http_header(req, "authorization");
  if (u == NULL && authz.ptr != NULL) {
    char name[SN_USER_NAME_MAX + 1], pw[SN_AUTH_PASSWORD_MAX];
    size_t pw_len = 0;
    unsigned char bkey[32];
    sn__hmac h;
    int r = sn__basic_decode(authz, name, sizeof name, pw, sizeof pw, &pw_len), i;
    if (r != SN_OK) {
      char h[200];
      mbedtls_platform_zeroize(pw, sizeof pw);
      sn__challenge(c, a->o.realm, h, sizeof h);
      return sn__auth_refuse(c, 401, h, r == SN_ERR_UNSUPPORTED ? "only Basic credentials are taken" : "malformed credentials");
    }
    r = sn__hmac_key(&h, a->key, sizeof a->key) == 0 && sn__hmac_run(&h, authz.ptr, authz.len, NULL, 0, bkey) == 0;
    sn__hmac_free(&h);
    if (!r) return mbedtls_platform_zeroize(pw, sizeof pw), sn__auth_refuse(c, 500, NULL, "hash failed");
    for (i = 0; i < SN_AUTH_BASIC_CACHE; i++) {
      sn__bcache *e = &a->bc[i];
      if (e->live && now - e->used >= (uint64_t) a->o.idle_s * 1000) memset(e, 0, sizeof *e);
      if (e->live && sn__ct_eq(e->key, bkey, 32) && u == NULL) u = e->user, e->used = now;
    }
    if (u == NULL) {
      r = sn__auth_attempt(a, c, name, pw, pw_len, bkey, 0);
      mbedtls_platform_zeroize(pw, sizeof pw);
      if (r != SN__AUTH_OK) return r;
      u = sn__user_find(a, name, strlen(name));
    }
    mbedtls_platform_zeroize(pw, sizeof pw);
    how = SN_AUTH_BASIC;
  }
  return sn__guard_finish(c, g, u, how);
}

SNDEF void sn_router_guard(sn_router *r, const sn_guard *g) {
  if (r != NULL) r->guard = g;
}

SNDEF int sn_route_guard(sn_router *r, const char *method, const char *pattern, const sn_guard *g) {
  int i, n = 0;
  if (r == NULL || pattern == NULL) return SN_ERR_INVALID;
  for (i = 0; i < r->count; i++) {
    const char *m = r->routes[i].method;
    if (strcmp(r->routes[i].pattern, pattern) != 0) continue;
    if ((m == NULL) != (method == NULL) || (m != NULL && strcmp(m, method) != 0)) continue;
    r->routes[i].guard = g;
    n++;
  }
  return n > 0 ? SN_OK : SN_ERR_NOT_FOUND;
}

SNDEF const sn_user *sn_http_user(const sn_conn *c, int *how) {
  if (how != NULL) *how = c != NULL && c->user != NULL ? (int) c->user_how : (int) SN_AUTH_NONE;
  return c != NULL ? c->user : NULL;
}

/* ---- the login and logout routes ---- */
static const sn_guard sn__open_guard = {NULL, NULL, SN_GUARD_OPEN};

static void sn__login_post(sn_conn *c, const sn_request *req, void *user) {
  sn_auth *a = (sn_auth *) user;
  char name[SN_USER_NAME_MAX + 2], pw[SN_AUTH_PASSWORD_MAX + 2];
  sn_str ct = sn_http_header(req, "content-type");
  int nl, pl;
  if (!sn_conn_is_tls(c)) { sn__auth_refuse(c, 403, NULL, "this needs HTTPS: no credentials are taken over plain HTTP"); return; }
  if (!sn__same_origin(c)) { sn__auth_refuse(c, 403, NULL, "a login from another site (CSRF)"); return; }
  if (ct.ptr == NULL || ct.len < 33 || !sn__ieq(ct.ptr, 33, "application/x-www-form-urlencoded") ||
      (ct.len > 33 && ct.ptr[33] != ';' && ct.ptr[33] != ' '))
    { sn__auth_refuse(c, 415, NULL, "a login is a form post (application/x-www-form-urlencoded)"); return; }
  nl = sn_http_form(req, "user", name, sizeof name);
  pl = sn_http_form(req, "password", pw, sizeof pw);
  if (nl < 0 || pl < 0 || !sn__name_ok(name, (size_t) nl) || (size_t) nl != strlen(name) || pl > SN_AUTH_PASSWORD_MAX) {
    mbedtls_platform_zeroize(pw, sizeof pw);
    if (nl == SN_ERR_NOT_FOUND || pl == SN_ERR_NOT_FOUND) { sn__auth_refuse(c, 400, NULL, "the form needs user and password"); return; }
    { sn__login_failed_answer(a, c); return; }
  }
  sn__auth_attempt(a, c, name, pw, (size_t) pl, NULL, 1);
  mbedtls_platform_zeroize(pw, sizeof pw);
}

static void sn__logout_post(sn_conn *c, const sn_request *req, void *user) {
  sn_auth *a = (sn_auth *) user;
  unsigned char id[16];
  char h[256];
  if (!sn__same_origin(c)) { sn__auth_refuse(c, 403, NULL, "a logout from another site (CSRF)"); return; }
  if (sn__cookie_session(sn_http_header(req, "cookie"), id)) {
    sn__session *s = sn__session_find(a, id, c->lst, sn_mgr_now_ms(a->mgr));
    if (s != NULL) {
      sn__log(a->mgr, SN_LOG_INFO, "%s logged out from %s", s->user->name, c->peer);
      memset(s, 0, sizeof *s);
    }
  }
  snprintf(h, sizeof h,
           "Set-Cookie: __Host-sn=; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=0\r\nLocation: %s\r\n"
           "Cache-Control: no-store\r\nContent-Type: text/plain; charset=utf-8\r\n",
           a->o.login_path);
  sn_http_printf(c, 303, h, "logged out\n");
}

SNDEF int sn_router_add_login(sn_router *r, sn_auth *a) {
  int ret;
  if (r == NULL || a == NULL) return SN_ERR_INVALID;
  if ((ret = sn_router_add(r, "POST", a->o.login_path, sn__login_post, a)) != SN_OK) return ret;
  r->routes[r->count - 1].guard = &sn__open_guard;
  if ((ret = sn_router_add(r, "POST", a->o.logout_path, sn__logout_post, a)) != SN_OK) return ret;
  r->routes[r->count - 1].guard = &sn__open_guard;
  return SN_OK;
}

SNDEF void sn_auth_destroy(sn_auth *a) {
  int i;
  if (a == NULL) return;
  for (i = 0; i < SN_AUTH_PENDING; i++) {
    sn__pending *p = &a->pend[i];
    sn_conn *c;
    if (!p->used) continue;
    sn_timer_cancel(a->mgr, &p->timer);
    if (sn_req_conn(p->ref, &c) == SN_OK) {
      sn__auth_refuse(c, 503, NULL, "the login service stopped");
      if (!p->form) sn__guard_resume(c, SN__AUTH_REFUSED, NULL);
    }
  }
  mbedtls_platform_zeroize(a, sizeof *a);
  SN_FREE(a);
}
#endif /* SN_ENABLE_AUTH */

// >>poll
/* The main loop: one wait for every listener and stream, then each stream's
   protocol is called for what happened, its timers, and its end. */
SNDEF int sn_poll(sn_mgr *m, int timeout_ms) {
  int i, n = 0, nl, r;
  uint64_t next = UINT64_MAX;
  if (m == NULL) return SN_ERR_INVALID;
  m->now = m->port.now_ms(m->port.ctx);
  /* first what other threads and the clock have brought: a deferred reply
     they write goes out in this round */
  sn__wakeups_run(m);
  sn__timers_run(m);
  if (m->service != NULL && m->service(m)) timeout_ms = 0;
  for (i = 0; i < m->nlisteners; i++) {
    sn__listener *l = m->listeners[i];
    m->items[n].sock = l->sock;
    m->items[n].want = sn__can_admit(m) ? SN_READABLE : 0;
    m->items[n].ready = 0;
    m->item_st[n++] = NULL;
  }
  nl = n;
  for (i = 0; i < m->nstreams; i++) {
    sn__stream *st = m->streams[i];
    uint8_t want = st->dead ? 0 : st->proto->poll(st, &next);
    st->pending = (want & SN__PENDING) != 0;
    if (st->dead || st->pending) timeout_ms = 0;
    /* a stream without a socket (its name being resolved, its connect
       failed) has no wait item: the port is never handed SN_INVALID_SOCK
       (lwIP's wait would report it as an error at once, and sn_poll would
       spin) */
    if (st->io.sock == SN_INVALID_SOCK) continue;
    m->items[n].sock = st->io.sock;
    m->items[n].want = want & (SN_READABLE | SN_WRITABLE);
    m->items[n].ready = 0;
    m->item_st[n++] = st;
  }
  if (m->timers != NULL) sn__next(&next, m->timers->due);
  if (sn__wakeups_queued(m) > 0) timeout_ms = 0; /* queued by this round's callbacks */
  if (next != UINT64_MAX) {
    uint64_t wait = next > m->now ? next - m->now : 0;
    if (timeout_ms < 0 || (uint64_t) timeout_ms > wait) timeout_ms = (int) (wait > 0x7fffffff ? 0x7fffffff : wait);
  }
  r = m->port.wait(m->port.ctx, m->items, n, timeout_ms);
  if (r < 0) return r;
  m->now = m->port.now_ms(m->port.ctx);
  /* each stream that had a wait item, in list order: what the port reported,
     or the pending work its poll announced. Streams opened by a callback in
     this loop wait for the next round. */
  for (i = nl; i < n; i++) {
    sn__stream *st = m->item_st[i];
    uint8_t ready = m->items[i].ready;
    if (ready & (SN_READABLE | SN_ERROR)) st->io.drained = 0;
    if (!st->dead && (ready || st->pending)) {
      /* a handshake can take long on a small CPU: time stamps use the clock
         as it is now, not as it was when the round began */
      m->now = m->port.now_ms(m->port.ctx);
      st->proto->io(st, ready);
    }
  }
  for (i = 0; i < nl; i++)
    if (m->items[i].ready & (SN_READABLE | SN_ERROR)) sn__accept(m, m->listeners[i]);
  for (i = 0; i < m->nstreams; i++) {
    sn__stream *st = m->streams[i];
    if (!st->dead) st->proto->timer(st);
  }
  /* backwards: a stream leaves the list before its end is reported, so a
     callback there may open a new one in its place */
  for (i = m->nstreams - 1; i >= 0; i--)
    if (i < m->nstreams && m->streams[i]->dead) m->streams[i]->proto->reap(m->streams[i]);
  return SN_OK;
}

SNDEF void sn_mgr_destroy(sn_mgr *m) {
  int i;
  if (m == NULL) return;
  m->destroying = 1;
  /* newest first; each protocol reports its ends (on_close, a mail's done) */
  while (m->nstreams > 0) m->streams[m->nstreams - 1]->proto->destroy(m->streams[m->nstreams - 1]);
  for (i = 0; i < m->nlisteners; i++) sn__listener_free(m, m->listeners[i]);
  if (m->service != NULL) m->service(m); /* with destroying set: what is queued ends unstarted */
  while (m->timers != NULL) sn_timer_cancel(m, m->timers);
  sn__wq_lock(m);
  m->destroying = 2; /* from here sn_mgr_wakeup refuses: nothing would run what it queues */
  sn__wq_unlock(m);
  sn__wakeups_run(m); /* their arguments may need freeing */
#if SN__TLS_CLIENT
  for (i = 0; i < SN_TLS_CLIENT_SESSIONS; i++) sn__tls_sess_drop(&m->sessions[i]);
#endif
  mbedtls_ctr_drbg_free(&m->drbg);
  SN_FREE(m);
}

#endif /* SECURENET_IMPLEMENTATION */

/*
MIT License

Copyright (c) 2026 The securenet authors

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
*/
