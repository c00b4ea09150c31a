/* sn_demo - securenet's quick-start example and test target.

   A small device dashboard and JSON API over HTTPS (and, optionally, plain
   HTTP beside it). Build with `make examples`, run with `make demo`.

     sn_demo [--https-port N] [--http-port N] [--redirect] [--cert FILE --key FILE]
             [--client-ca FILE] [--bind ADDR] [--max-conns N] [--max-body N]
             [--request-timeout-ms N] [--idle-timeout-ms N] [--verbose]

   Routes: GET / (dashboard), GET /api/status, GET /api/hello/:name,
   POST /api/echo, GET /files/ *, GET /stream?n=N. */
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "securenet_port_posix.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo_static.h" /* made by tools/sn-embed from examples/posix/static */

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) {
  (void) sig;
  stop_requested = 1;
}

static void log_stderr(void *user, int level, const char *msg) {
  static const char *const names[] = {"", "error", "warn", "info", "debug"};
  (void) user;
  fprintf(stderr, "sn_demo: %s: %s\n", names[level], msg);
}

static uint64_t started_ms;

/* GET / and the dashboard's files, from the table compiled into the binary */
static void serve_file(sn_conn *c, const sn_request *req, void *user) {
  sn_http_static(c, req, (const sn_static_file *) user);
}

/* GET /api/status: this device and this connection, as JSON */
static void api_status(sn_conn *c, const sn_request *req, void *user) {
  sn_mgr_stats st;
  char tls[256] = "null", client[SN_SUBJECT_MAX * 6 + 3] = "null";
  const char *subject = sn_conn_peer_subject(c);
  (void) req;
  (void) user;
  sn_mgr_stats_get(sn_conn_mgr(c), &st);
  if (sn_conn_is_tls(c)) {
    char v[64], s[128];
    const char *ver = sn_conn_tls_version(c), *suite = sn_conn_tls_suite(c);
    sn_json_str(v, sizeof v, ver, strlen(ver));
    sn_json_str(s, sizeof s, suite, strlen(suite));
    snprintf(tls, sizeof tls, "{\"version\":%s,\"suite\":%s}", v, s);
  }
  if (subject != NULL) sn_json_str(client, sizeof client, subject, strlen(subject));
  sn_http_json(c, 200, "{\"uptime_ms\":%llu,\"connections\":%u,\"requests\":%lu,\"tls\":%s,\"client\":%s}\n",
               (unsigned long long) (sn_mgr_now_ms(sn_conn_mgr(c)) - started_ms), st.connections, st.requests,
               tls, client);
}

/* GET /api/hello/:name (the router hands the parameter over decoded) */
static void api_hello(sn_conn *c, const sn_request *req, void *user) {
  sn_str name = sn_http_param(req, "name");
  (void) user;
  sn_http_printf(c, 200, "Content-Type: text/plain; charset=utf-8\r\n", "hello, %.*s\n", (int) name.len, name.ptr);
}

/* POST /api/echo: the body back, byte for byte, with its Content-Type */
static void api_echo(sn_conn *c, const sn_request *req, void *user) {
  sn_str type = sn_http_header(req, "content-type");
  char head[300];
  (void) user;
  if (type.ptr == NULL || type.len > 200) snprintf(head, sizeof head, "Content-Type: application/octet-stream\r\n");
  else snprintf(head, sizeof head, "Content-Type: %.*s\r\n", (int) type.len, type.ptr);
  if (sn_http_reply(c, 200, head, req->body.ptr, req->body.len) != SN_OK) sn_http_error(c, 500);
}

/* GET /files/ *: the wildcard's match */
static void api_files(sn_conn *c, const sn_request *req, void *user) {
  (void) user;
  sn_http_printf(c, 200, "Content-Type: text/plain; charset=utf-8\r\n", "%.*s\n", (int) req->wildcard.len,
                 req->wildcard.ptr);
}

/* GET /stream?n=N: N lines, produced as the connection drains, so a large N
   never needs a large buffer. The position lives in the connection's
   scratch space. */
typedef struct stream_state {
  unsigned long next, count;
} stream_state;

static void stream_more(sn_conn *c, void *arg) {
  stream_state *s = (stream_state *) sn_conn_scratch(c);
  int i;
  (void) arg;
  for (i = 0; i < 256 && s->next < s->count; i++, s->next++)
    if (sn_http_chunkf(c, "line %lu\n", s->next) != SN_OK) break;
  if (s->next >= s->count) sn_http_chunked_end(c);
}

static void api_stream(sn_conn *c, const sn_request *req, void *user) {
  stream_state *s = (stream_state *) sn_conn_scratch(c);
  char n[16];
  (void) user;
  s->next = 0;
  s->count = sn_http_query(req, "n", n, sizeof n) > 0 ? strtoul(n, NULL, 10) : 10;
  if (s->count > 10000000ul) {
    sn_http_error(c, 400);
    return;
  }
  sn_http_chunked_begin(c, 200, "Content-Type: text/plain; charset=utf-8\r\n");
  sn_http_on_writable(c, stream_more, NULL);
  stream_more(c, NULL);
}

static void usage(void) {
  fprintf(stderr,
          "usage: sn_demo [--https-port N] [--http-port N] [--redirect] [--cert FILE --key FILE]\n"
          "               [--client-ca FILE] [--bind ADDR] [--max-conns N] [--max-body N]\n"
          "               [--request-timeout-ms N] [--idle-timeout-ms N] [--verbose]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *cert = "build/certs/server.pem", *key = "build/certs/server.key", *client_ca = NULL;
  const char *bind = "127.0.0.1";
  unsigned https_port = 8443, http_port = 0;
  int redirect = 0, verbose = 0, i, r;
  long max_conns = 0;
  unsigned long max_body = 2ul << 20, request_timeout = 0, idle_timeout = 0;
  sn_mgr *mgr;
  sn_mgr_opts mo;
  sn_http_opts ho;
  sn_tls_opts tls;
  static sn_router router;
  struct sigaction sa;

  for (i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--redirect") == 0) redirect = 1;
    else if (strcmp(a, "--verbose") == 0) verbose = 1;
    else if (v == NULL) usage();
    else if (strcmp(a, "--https-port") == 0) https_port = (unsigned) atoi(v), i++;
    else if (strcmp(a, "--http-port") == 0) http_port = (unsigned) atoi(v), i++;
    else if (strcmp(a, "--cert") == 0) cert = v, i++;
    else if (strcmp(a, "--key") == 0) key = v, i++;
    else if (strcmp(a, "--client-ca") == 0) client_ca = v, i++;
    else if (strcmp(a, "--bind") == 0) bind = v, i++;
    else if (strcmp(a, "--max-conns") == 0) max_conns = atol(v), i++;
    else if (strcmp(a, "--max-body") == 0) max_body = strtoul(v, NULL, 10), i++;
    else if (strcmp(a, "--request-timeout-ms") == 0) request_timeout = strtoul(v, NULL, 10), i++;
    else if (strcmp(a, "--idle-timeout-ms") == 0) idle_timeout = strtoul(v, NULL, 10), i++;
    else usage();
  }
  if (https_port == 0 || https_port > 65535 || http_port > 65535) usage();

  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns at once */
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  memset(&mo, 0, sizeof mo);
  mo.port = sn_posix_port();
  mo.log = log_stderr;
  mo.log_level = verbose ? SN_LOG_DEBUG : SN_LOG_WARN;
  mo.max_conns = (int) max_conns;
  if ((r = sn_mgr_create(&mgr, &mo)) != SN_OK) {
    fprintf(stderr, "sn_demo: cannot start: %s\n", sn_strerror(r));
    return 1;
  }
  started_ms = sn_mgr_now_ms(mgr);

  sn_router_init(&router);
  sn_router_add(&router, "GET", "/", serve_file, (void *) sn_static_find(demo_files, DEMO_FILES_COUNT, (sn_str){"/index.html", 11}));
  for (i = 0; i < (int) DEMO_FILES_COUNT; i++) sn_router_add(&router, "GET", demo_files[i].path, serve_file, (void *) &demo_files[i]);
  sn_router_add(&router, "GET", "/api/status", api_status, NULL);
  sn_router_add(&router, "GET", "/api/hello/:name", api_hello, NULL);
  sn_router_add(&router, "POST", "/api/echo", api_echo, NULL);
  sn_router_add(&router, "GET", "/files/*", api_files, NULL);
  sn_router_add(&router, "GET", "/stream", api_stream, NULL);

  memset(&tls, 0, sizeof tls);
  tls.cert_file = cert;
  tls.key_file = key;
  tls.client_ca_file = client_ca;

  memset(&ho, 0, sizeof ho);
  ho.addr = bind;
  ho.router = &router;
  ho.max_body = max_body;
  ho.max_reply = max_body + 4096;
  ho.request_timeout_ms = (uint32_t) request_timeout;
  ho.idle_timeout_ms = (uint32_t) idle_timeout;
  ho.port = (uint16_t) https_port;
  ho.tls = &tls;
  if ((r = sn_http_listen(mgr, &ho)) != SN_OK) {
    fprintf(stderr, "sn_demo: HTTPS on %s:%u: %s\n", bind, https_port, sn_strerror(r));
    sn_mgr_destroy(mgr);
    return 1;
  }
  if (http_port) {
    ho.port = (uint16_t) http_port;
    ho.tls = NULL;
    ho.redirect_to_https = redirect ? (uint16_t) https_port : 0;
    if ((r = sn_http_listen(mgr, &ho)) != SN_OK) {
      fprintf(stderr, "sn_demo: HTTP on %s:%u: %s\n", bind, http_port, sn_strerror(r));
      sn_mgr_destroy(mgr);
      return 1;
    }
  }
  {
    const char *lb = strchr(bind, ':') ? "[" : "", *rb = strchr(bind, ':') ? "]" : "";
    printf("sn_demo: listening on https://%s%s%s:%u/", lb, bind, rb, https_port);
    if (http_port) printf(" and http://%s%s%s:%u/%s", lb, bind, rb, http_port, redirect ? " (redirecting)" : "");
  }
  printf("\n");
  fflush(stdout);

  while (!stop_requested) sn_poll(mgr, 1000);
  sn_mgr_destroy(mgr);
  printf("sn_demo: stopped\n");
  return 0;
}
