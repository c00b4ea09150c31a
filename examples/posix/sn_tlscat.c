/* sn_tlscat - a TLS (or plain TCP) byte stream from the command line, on
   securenet's client connections: what a device does when it talks to a
   broker or a cloud API over a verified TLS socket.

     sn_tlscat [--plain] [--ca FILE (repeatable)] [--pin-sha256 BASE64]
               [--cert FILE --key FILE] [--tls-name NAME] [--timeout SECONDS]
               [--idle-ms N] [--verbose] HOST PORT

   Connects, verifies the server (roots, dates, name; and the pin if given),
   sends standard input (at most 4 MiB), prints what arrives on standard
   output, and ends when the server closes, or with an orderly close of its
   own once nothing has arrived for --idle-ms (default 1000) after sending.
   Exit status: 0 for an orderly end; 2 usage; 3 connection (name, refused,
   broken); 4 TLS; 5 verification; 6 timeout; 7 the server closed TLS without
   close_notify (a possible truncation). One line on stderr names the stage
   and the reason. */
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "securenet_port_posix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_util.h"

#define MAX_CA 8

static int done, exit_code, connected;
static unsigned long idle_ms = 1000;
static int activity; /* something happened: the idle count starts again */

static void log_stderr(void *user, int level, const char *msg) {
  static const char *const names[] = {"", "error", "warn", "info", "debug"};
  (void) user;
  fprintf(stderr, "sn_tlscat: %s: %s\n", names[level], msg);
}

static void usage(void) {
  fprintf(stderr, "usage: sn_tlscat [--plain] [--ca FILE] [--pin-sha256 BASE64] [--cert FILE --key FILE]\n"
                  "                 [--tls-name NAME] [--timeout SECONDS] [--idle-ms N] [--verbose] HOST PORT\n");
  exit(2);
}

static void on_connect(sn_client *c, void *user) {
  (void) user;
  connected = 1;
  activity = 1;
  if (*sn_client_tls_version(c)) fprintf(stderr, "sn_tlscat: connected: %s %s\n", sn_client_tls_version(c), sn_client_tls_suite(c));
}

static void on_data(sn_client *c, const void *data, size_t len, void *user) {
  (void) c, (void) user;
  fwrite(data, 1, len, stdout);
  fflush(stdout);
  activity = 1;
}

static void on_close(sn_client *c, int err, const char *why, void *user) {
  (void) c, (void) user;
  done = 1;
  if (err == SN_OK) return;
  switch (err) {
  case SN_ERR_VERIFY: exit_code = 5; break;
  case SN_ERR_TLS: exit_code = 4; break;
  case SN_ERR_TIMEOUT: exit_code = 6; break;
  case SN_ERR_CLOSED: exit_code = connected ? 7 : 3; break;
  default: exit_code = 3; break;
  }
  fprintf(stderr, "sn_tlscat: %s: %s (%s)\n", err == SN_ERR_VERIFY || err == SN_ERR_TLS ? "TLS" : connected ? "stream" : "connect",
          why, sn_strerror(err));
}

int main(int argc, char **argv) {
  const char *ca_files[MAX_CA], *host = NULL, *pin_b64 = NULL;
  int nca = 0, plain = 0, verbose = 0, i, r;
  unsigned long timeout_s = 30;
  unsigned port = 0;
  unsigned char pin[32];
  char *input, *bundle = NULL;
  size_t input_len = 0, bundle_len = 0;
  sn_tls_client_opts tls;
  sn_client_opts co;
  sn_client_callbacks cb;
  sn_mgr_opts mo;
  sn_mgr *mgr;
  sn_client *client;
  uint64_t idle_since;

  memset(&tls, 0, sizeof tls);
  for (i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--plain") == 0) plain = 1;
    else if (strcmp(a, "--verbose") == 0) verbose = 1;
    else if (a[0] != '-' && host == NULL) host = a;
    else if (a[0] != '-' && port == 0) port = (unsigned) atoi(a);
    else if (v == NULL) usage();
    else if (strcmp(a, "--ca") == 0 && nca < MAX_CA) ca_files[nca++] = v, i++;
    else if (strcmp(a, "--pin-sha256") == 0) pin_b64 = v, i++;
    else if (strcmp(a, "--cert") == 0) tls.cert_file = v, i++;
    else if (strcmp(a, "--key") == 0) tls.key_file = v, i++;
    else if (strcmp(a, "--tls-name") == 0) tls.tls_name = v, i++;
    else if (strcmp(a, "--timeout") == 0) timeout_s = strtoul(v, NULL, 10), i++;
    else if (strcmp(a, "--idle-ms") == 0) idle_ms = strtoul(v, NULL, 10), i++;
    else usage();
  }
  if (host == NULL || port == 0 || port > 65535) usage();
  if (pin_b64 != NULL) {
    if (ex_base64_decode(pin_b64, pin, sizeof pin) != 32) {
      fprintf(stderr, "sn_tlscat: --pin-sha256 must be 32 bytes in base64\n");
      return 2;
    }
    tls.pin_sha256 = pin;
  }
  if (nca > 0) { /* several files make one PEM bundle, as firmware keeps its roots */
    const char *bad = NULL;
    if ((bundle = ex_ca_bundle(ca_files, nca, &bundle_len, &bad)) == NULL) {
      fprintf(stderr, "sn_tlscat: connect: cannot read %s\n", bad);
      return 3;
    }
  }
  tls.ca = bundle, tls.ca_len = bundle_len;
  input = ex_read_stream(stdin, 4u << 20, &input_len);

  memset(&mo, 0, sizeof mo);
  mo.port = sn_posix_port();
  mo.log = log_stderr;
  mo.log_level = verbose ? SN_LOG_DEBUG : SN_LOG_ERROR;
  if ((r = sn_mgr_create(&mgr, &mo)) != SN_OK) {
    fprintf(stderr, "sn_tlscat: connect: %s\n", sn_strerror(r));
    free(input);
    free(bundle);
    return 3;
  }
  memset(&co, 0, sizeof co);
  co.tls = plain ? NULL : &tls;
  co.connect_timeout_ms = (uint32_t) (timeout_s * 1000);
  co.max_queued = input_len + 1;
  memset(&cb, 0, sizeof cb);
  cb.on_connect = on_connect;
  cb.on_data = on_data;
  cb.on_close = on_close;
  if ((r = sn_connect(mgr, host, (uint16_t) port, &co, &cb, &client)) != SN_OK) {
    fprintf(stderr, "sn_tlscat: connect: %s\n", sn_strerror(r));
    sn_mgr_destroy(mgr);
    free(input);
    free(bundle);
    return r == SN_ERR_INVALID ? 2 : 3;
  }
  if (input_len > 0) sn_client_send(client, input, input_len);
  idle_since = sn_mgr_now_ms(mgr);
  while (!done) {
    uint64_t now;
    sn_poll(mgr, 50);
    now = sn_mgr_now_ms(mgr);
    if (activity) idle_since = now, activity = 0;
    if (!done && connected && sn_client_queued(client) == 0 && now - idle_since >= idle_ms) {
      sn_client_close(client);
      idle_since = UINT64_MAX / 2;
    }
  }
  sn_mgr_destroy(mgr);
  free(input);
  free(bundle);
  return exit_code;
}
