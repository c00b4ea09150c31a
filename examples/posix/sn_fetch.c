/* sn_fetch - one HTTP(S) request with securenet's HTTP client, verified by
   default: what a device does to call a cloud API or fetch an update.

     sn_fetch [-X METHOD] [-H 'Name: value' (repeatable)] [-d DATA | --data-file FILE]
              [--ca FILE (repeatable)] [--pin-sha256 BASE64] [--cert FILE --key FILE]
              [--tls-name NAME] [-i] [-o FILE] [--timeout SECONDS] [--max-redirs N [--location-trusted]]
              [--repeat N] [--pause-ms M] [--max-filesize BYTES] [-v|-vv] URL

   Writes the response body to standard output (or -o FILE), with -i the
   status line and headers first. A --data-file is streamed (sent chunked),
   never held in memory whole. --repeat N makes the request N times in one
   process: on the kept connection when the server keeps it open, else on a
   new one that resumes the TLS session; --pause-ms M sleeps M ms between
   them without polling (a kept connection may go stale meanwhile).
   --max-filesize BYTES refuses a larger response body, as curl's.
   --max-redirs N follows redirects as curl -L does (see sn_http_request's
   "Redirects"); -H Authorization, Cookie and Proxy-Authorization lines are
   not sent to another origin unless --location-trusted.
   -v logs securenet's steps on stderr, -vv also mbedTLS's handshake trace
   (through securenet's log hook). Exit status, as curl's where there is one:
   0 for a 2xx response, 22 for any other status, and for failures, each with
   one line on stderr naming the stage and the reason:
     2 usage, 3 bad URL, 6 cannot resolve, 7 cannot connect, 8 malformed
     response, 18 response cut short (truncated), 23 cannot write the output,
     28 timeout, 35 TLS error, 60 server verification failed (chain, dates,
     name or pin; also a redirect refused for TLS reasons), 63 response
     larger than the limit, 65 a redirect that would send a --data-file
     again (a stream is not replayed). */
#ifndef SN_FETCH_PORT /* examples/lwip/sn_fetch_lwip.c runs this file on lwIP */
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "securenet_port_posix.h"
#define SN_FETCH_PORT() sn_posix_port()
#define SN_FETCH_POLL(mgr) sn_poll(mgr, 1000)
#define SN_FETCH_MAIN main
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "example_util.h"

#define MAX_CA 8
#define MAX_HEADERS_BYTES 4096

typedef struct fetch {
  FILE *out;
  int show_head, done, err, status, write_failed;
  char why[200];
} fetch;

static void log_stderr(void *user, int level, const char *msg) {
  static const char *const names[] = {"", "error", "warn", "info", "debug"};
  (void) user;
  fprintf(stderr, "sn_fetch: %s: %s\n", names[level], msg);
}

static void usage(void) {
  fprintf(stderr, "usage: sn_fetch [-X METHOD] [-H 'Name: value'] [-d DATA | --data-file FILE] [--ca FILE]\n"
                  "                [--pin-sha256 BASE64] [--cert FILE --key FILE] [--tls-name NAME] [-i] [-o FILE]\n"
                  "                [--timeout SECONDS] [--max-redirs N [--location-trusted]] [--repeat N] [--pause-ms M]\n"
                  "                [--max-filesize BYTES]\n"
                  "                [-v|-vv] URL\n");
  exit(2);
}

static int file_source(void *arg, void *buf, size_t len) {
  size_t n = fread(buf, 1, len, (FILE *) arg);
  return n == 0 && ferror((FILE *) arg) ? SN_ERR_FILE : (int) n;
}

static void on_head(void *user, const sn_http_response *r) {
  fetch *f = (fetch *) user;
  int i;
  f->status = r->status;
  if (!f->show_head) return;
  fprintf(f->out, "HTTP/1.%d %d %.*s\r\n", r->version == 11, r->status, (int) r->reason.len, r->reason.ptr);
  for (i = 0; i < r->header_count; i++)
    fprintf(f->out, "%.*s: %.*s\r\n", (int) r->headers[i].name.len, r->headers[i].name.ptr, (int) r->headers[i].value.len,
            r->headers[i].value.ptr);
  fprintf(f->out, "\r\n");
}

static void on_body(void *user, const void *data, size_t len) {
  fetch *f = (fetch *) user;
  if (fwrite(data, 1, len, f->out) != len) f->write_failed = 1;
}

static void on_done(void *user, int err, const char *why) {
  fetch *f = (fetch *) user;
  f->done = 1;
  f->err = err;
  snprintf(f->why, sizeof f->why, "%s", why);
}

/* The exit status and the stage named on stderr for a failure. */
static int exit_for(const fetch *f, const char **stage) {
  switch (f->err) {
  case SN_ERR_ADDR: *stage = "connect"; return 6;
  case SN_ERR_IO: *stage = "connect"; return 7;
  case SN_ERR_TIMEOUT: *stage = "timeout"; return 28;
  case SN_ERR_VERIFY: *stage = "TLS"; return 60;
  case SN_ERR_TLS: *stage = "TLS"; return 35;
  case SN_ERR_PROTO: *stage = "response"; return 8;
  case SN_ERR_TOO_BIG: *stage = "response"; return 63;
  case SN_ERR_CLOSED: *stage = f->status ? "response" : "connect"; return f->status ? 18 : 7;
  case SN_ERR_UNSUPPORTED: *stage = "redirect"; return 65; /* curl's "send failed, cannot rewind" */
  default: *stage = "request"; return 7;
  }
}

int SN_FETCH_MAIN(int argc, char **argv) {
  const char *ca_files[MAX_CA], *url = NULL, *data = NULL, *data_file = NULL, *out_file = NULL, *pin_b64 = NULL;
  char headers[MAX_HEADERS_BYTES] = "", *bundle = NULL;
  size_t hlen = 0, bundle_len = 0;
  int nca = 0, verbose = 0, repeat = 1, n, i, r, code;
  unsigned long timeout_s = 60, pause_ms = 0;
  unsigned char pin[32];
  FILE *body_file = NULL;
  sn_tls_client_opts tls;
  sn_http_request_opts ro;
  sn_mgr_opts mo;
  sn_mgr *mgr;
  fetch f;

  memset(&tls, 0, sizeof tls);
  memset(&ro, 0, sizeof ro);
  memset(&f, 0, sizeof f);
  f.out = stdout;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "-i") == 0) f.show_head = 1;
    else if (strcmp(a, "-v") == 0) verbose = 1;
    else if (strcmp(a, "-vv") == 0) verbose = 2;
    else if (strcmp(a, "--location-trusted") == 0) ro.redirect_keep_credentials = 1;
    else if (a[0] != '-' && url == NULL) url = a;
    else if (v == NULL) usage();
    else if (strcmp(a, "-X") == 0) ro.method = v, i++;
    else if (strcmp(a, "-H") == 0) {
      size_t n = strlen(v);
      if (strchr(v, '\r') || strchr(v, '\n') || !strchr(v, ':') || hlen + n + 3 > sizeof headers) {
        fprintf(stderr, "sn_fetch: request: bad or too many -H headers: %s\n", v);
        return 2;
      }
      memcpy(headers + hlen, v, n);
      memcpy(headers + hlen + n, "\r\n", 3);
      hlen += n + 2;
      i++;
    } else if (strcmp(a, "-d") == 0) data = v, i++;
    else if (strcmp(a, "--data-file") == 0) data_file = v, i++;
    else if (strcmp(a, "--ca") == 0 && nca < MAX_CA) ca_files[nca++] = v, i++;
    else if (strcmp(a, "--pin-sha256") == 0) pin_b64 = v, i++;
    else if (strcmp(a, "--cert") == 0) tls.cert_file = v, i++;
    else if (strcmp(a, "--key") == 0) tls.key_file = v, i++;
    else if (strcmp(a, "--tls-name") == 0) tls.tls_name = v, i++;
    else if (strcmp(a, "-o") == 0) out_file = v, i++;
    else if (strcmp(a, "--timeout") == 0) timeout_s = strtoul(v, NULL, 10), i++;
    else if (strcmp(a, "--max-redirs") == 0) ro.max_redirects = atoi(v), i++;
    else if (strcmp(a, "--repeat") == 0) repeat = atoi(v), i++;
    else if (strcmp(a, "--pause-ms") == 0) pause_ms = strtoul(v, NULL, 10), i++;
    else if (strcmp(a, "--max-filesize") == 0) ro.max_body = strtoull(v, NULL, 10), i++;
    else usage();
  }
  if (url == NULL || (data && data_file)) usage();
  if (pin_b64 != NULL) {
    if (ex_base64_decode(pin_b64, pin, sizeof pin) != 32) {
      fprintf(stderr, "sn_fetch: TLS: --pin-sha256 must be 32 bytes in base64\n");
      return 2;
    }
    tls.pin_sha256 = pin;
  }
  if (nca > 0) {
    const char *bad = NULL;
    if ((bundle = ex_ca_bundle(ca_files, nca, &bundle_len, &bad)) == NULL) {
      fprintf(stderr, "sn_fetch: TLS: cannot read %s\n", bad);
      return 2;
    }
    tls.ca = bundle, tls.ca_len = bundle_len;
  }
  if (data_file && (body_file = fopen(data_file, "rb")) == NULL) {
    fprintf(stderr, "sn_fetch: request: cannot read %s\n", data_file);
    free(bundle);
    return 2;
  }
  if (out_file && (f.out = fopen(out_file, "wb")) == NULL) {
    fprintf(stderr, "sn_fetch: output: cannot write %s\n", out_file);
    if (body_file) fclose(body_file);
    free(bundle);
    return 23;
  }

  memset(&mo, 0, sizeof mo);
  mo.port = SN_FETCH_PORT();
  mo.log = verbose ? log_stderr : NULL; /* the failure is reported in one line below */
  mo.log_level = SN_LOG_DEBUG;
  mo.tls_debug = verbose > 1 ? 2 : 0; /* -vv: mbedTLS's own handshake trace too */
  if ((r = sn_mgr_create(&mgr, &mo)) != SN_OK) {
    fprintf(stderr, "sn_fetch: connect: %s\n", sn_strerror(r));
    return 7;
  }
  ro.url = url;
  ro.headers = hlen ? headers : NULL;
  if (data) ro.body = data, ro.body_len = strlen(data);
  if (body_file) ro.body_source = file_source, ro.body_source_arg = body_file;
  ro.tls = &tls;
  ro.timeout_ms = (uint32_t) (timeout_s * 1000);
  ro.on_head = on_head;
  ro.on_body = on_body;
  ro.on_done = on_done;
  ro.user = &f;
  for (n = 0; n < repeat && (n == 0 || (f.err == SN_OK && !f.write_failed)); n++) {
    if (n > 0 && body_file) rewind(body_file);
    if (n > 0 && pause_ms > 0) { /* asleep, not polling: as a device that calls now and then */
      struct timespec ts;
      ts.tv_sec = (time_t) (pause_ms / 1000);
      ts.tv_nsec = (long) (pause_ms % 1000) * 1000000L;
      nanosleep(&ts, NULL);
    }
    f.done = 0;
    r = sn_http_request(mgr, &ro); /* the same TLS options: the next ones resume the session */
    if (r != SN_OK) {
      f.done = 1, f.err = r;
      snprintf(f.why, sizeof f.why, "%s", r == SN_ERR_INVALID ? "bad URL or options (https needs --ca or --pin-sha256)"
                                                              : sn_strerror(r));
    }
    while (!f.done) SN_FETCH_POLL(mgr);
  }
  sn_mgr_destroy(mgr);
  if (body_file) fclose(body_file);
  if (f.out != stdout && fclose(f.out) != 0) f.write_failed = 1;
  else if (f.out == stdout && fflush(stdout) != 0) f.write_failed = 1;
  free(bundle);

  if (r == SN_ERR_INVALID) {
    fprintf(stderr, "sn_fetch: request: %s\n", f.why);
    return 3;
  }
  if (f.err != SN_OK) {
    const char *stage;
    code = exit_for(&f, &stage);
    if (code == 65) fprintf(stderr, "sn_fetch: %s: %s\n", stage, f.why); /* not "not supported by this build" */
    else fprintf(stderr, "sn_fetch: %s: %s (%s)\n", stage, f.why, sn_strerror(f.err));
    return code;
  }
  if (f.write_failed) {
    fprintf(stderr, "sn_fetch: output: cannot write the body\n");
    return 23;
  }
  if (f.status < 200 || f.status > 299) {
    fprintf(stderr, "sn_fetch: response: the server answered %d\n", f.status);
    return 22;
  }
  return 0;
}
