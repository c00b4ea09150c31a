/* sn_wscat - a WebSocket client from the command line, on securenet's
   sn_ws_connect: what a device does to hold a live channel to a cloud service.

     sn_wscat [--ca FILE (repeatable)] [--pin-sha256 BASE64] [--cert FILE --key FILE]
              [--tls-name NAME] [--protocol P (repeatable)] [--header 'Name: value' (repeatable)]
              [--binary] [--timeout-ms N] [--idle-ms N] [--verbose] wss://host[:port]/path

   Connects (the server verified as sn_connect does: roots, dates, name),
   sends each line of standard input as one text message (--binary: binary;
   the newline is not sent), and prints each message received on standard
   output followed by a newline. At the end of the input, once everything
   has been sent and nothing has arrived for --idle-ms (default 1000: the
   answers to the last lines), it closes with 1000 and exits once the server
   has answered the close. (It waits because a socket that has sent its
   close drops the messages that still arrive, as a browser's does.) The server's close, or
   an error, ends it with one line on stderr: the code and reason, or the
   error in words. Exit status: 0 for a close with 1000 (ours or the
   server's), 1 for any other end, 2 usage.

   Standard input is read on a thread of its own, which hands each line to
   the manager through sn_mgr_wakeup (the one call safe from another
   thread) and waits until the manager has queued it: the manager's thread
   never blocks on input, and a server that reads slowly slows the reader.

   A TLS 1.3 KeyUpdate from the server drops the connection (mbedTLS does not
   implement it; see securenet.h's LIMITS): sn_wscat then reconnects once,
   resuming the TLS session, and says so on stderr. */
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "securenet_port_posix.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "example_util.h"

#define MAX_CA 8
#define MAX_LINE (1u << 20) /* longest line sent (and message taken): 1 MiB */
#define MAX_EXTRA 4096      /* --protocol and --header bytes */

typedef struct line {
  size_t len;
  int eof; /* no more lines: this one carries no message */
  char data[1];
} line;

/* The manager's thread only, except where marked. */
static sn_mgr *mgr;
static sn_ws *ws;            /* NULL until sn_ws_connect, and after on_close */
static int is_open, close_sent, done, exit_code, reconnected, msg_type = SN_WS_TEXT;
static line *pending;        /* a line waiting for the socket to open or its queue to drain */
static int eof_seen;         /* the input has ended */
static uint64_t last_activity; /* of the socket: opened, a message in or out (sn_mgr_now_ms) */
static const char *url;
static unsigned long idle_ms = 1000;
static sn_ws_client_opts wo;
static sn_ws_callbacks cb;

/* Between the reader thread and the manager's: "taken" (the manager has the
   line, the reader may read on) and "stopping" (no sn_mgr_wakeup after it). */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t taken_cond = PTHREAD_COND_INITIALIZER;
static int taken, stopping;

static void log_stderr(void *user, int level, const char *msg) {
  static const char *const names[] = {"", "error", "warn", "info", "debug"};
  (void) user;
  fprintf(stderr, "sn_wscat: %s: %s\n", names[level], msg);
}

static void usage(void) {
  fprintf(stderr, "usage: sn_wscat [--ca FILE] [--pin-sha256 BASE64] [--cert FILE --key FILE] [--tls-name NAME]\n"
                  "                [--protocol P] [--header 'Name: value'] [--binary] [--timeout-ms N] [--idle-ms N]\n"
                  "                [--verbose] wss://host[:port]/path\n");
  exit(2);
}

static void finish(int code) {
  done = 1;
  exit_code = code;
}

static void release_reader(void) { /* the reader may read its next line */
  pthread_mutex_lock(&lock);
  taken = 1;
  pthread_cond_signal(&taken_cond);
  pthread_mutex_unlock(&lock);
}

/* Sends what waits, as far as the socket takes it; at the end of the input,
   the close. */
static void pump(void) {
  int r;
  if (ws == NULL || !is_open || close_sent) return;
  if (pending != NULL) {
    r = sn_ws_send(ws, msg_type, pending->data, pending->len);
    if (r == SN_ERR_FULL) return; /* on_writable comes back here */
    free(pending);
    pending = NULL;
    last_activity = sn_mgr_now_ms(mgr);
    release_reader();
    if (r != SN_OK) {
      fprintf(stderr, "sn_wscat: cannot send a line: %s%s\n", sn_strerror(r),
              r == SN_ERR_INVALID ? " (not UTF-8: use --binary)" : "");
      exit_code = 1;
      eof_seen = 1; /* the input ends here: the answers to what went out still come */
    }
  }
  if (eof_seen && sn_ws_queued(ws) == 0 && sn_mgr_now_ms(mgr) - last_activity >= idle_ms) {
    close_sent = 1;
    if ((r = sn_ws_close(ws, SN_WS_NORMAL, NULL)) != SN_OK) {
      fprintf(stderr, "sn_wscat: cannot close: %s\n", sn_strerror(r));
      finish(1);
    }
  }
}

static void on_line(void *arg) { /* a wakeup: on the manager's thread */
  line *l = (line *) arg;
  if (done || stopping) { /* sn_mgr_destroy runs the wakeups still queued */
    free(l);
    return;
  }
  if (l->eof || eof_seen) { /* the end, or a line after an input error */
    int was_line = !l->eof;
    eof_seen = 1;
    free(l);
    if (was_line) release_reader();
  } else {
    pending = l;
  }
  pump();
}

static void on_open(sn_ws *w, void *user) {
  (void) user;
  is_open = 1;
  last_activity = sn_mgr_now_ms(mgr);
  if (*sn_ws_protocol(w)) fprintf(stderr, "sn_wscat: connected, subprotocol %s\n", sn_ws_protocol(w));
  pump();
}

static void on_message(sn_ws *w, int type, const void *data, size_t len, int final, void *user) {
  (void) w, (void) type, (void) final, (void) user;
  last_activity = sn_mgr_now_ms(mgr);
  fwrite(data, 1, len, stdout);
  fputc('\n', stdout);
  fflush(stdout);
}

static void on_writable(sn_ws *w, void *user) {
  (void) w, (void) user;
  pump();
}

static void on_close(sn_ws *w, int err, int code, const char *why, void *user) {
  int r;
  (void) w, (void) user;
  ws = NULL;
  if (err == SN_ERR_TLS && why != NULL && strstr(why, "KeyUpdate") != NULL && !reconnected && !close_sent) {
    reconnected = 1;
    is_open = 0;
    fprintf(stderr, "sn_wscat: the server sent a TLS 1.3 KeyUpdate, which mbedTLS cannot take: "
                    "reconnecting once (resuming the TLS session); messages in flight may be lost\n");
    if ((r = sn_ws_connect(mgr, url, &wo, &cb, &ws)) == SN_OK) return;
    fprintf(stderr, "sn_wscat: cannot reconnect: %s\n", sn_strerror(r));
    finish(1);
    return;
  }
  if (err != SN_OK) {
    fprintf(stderr, "sn_wscat: %s: %s (%s)\n", is_open ? "connection" : "connect", why ? why : "", sn_strerror(err));
    finish(1);
  } else if (close_sent) { /* our close, answered */
    if (exit_code == 0 && code != SN_WS_NORMAL) fprintf(stderr, "sn_wscat: closed with %d %s\n", code, why ? why : "");
    finish(exit_code != 0 || code != SN_WS_NORMAL);
  } else { /* the server's close */
    fprintf(stderr, "sn_wscat: closed by the server: %d%s%s\n", code, why && *why ? " " : "", why ? why : "");
    finish(code != SN_WS_NORMAL);
  }
  is_open = 0;
}

/* The reader thread: a line at a time (NUL bytes kept), each handed over
   and waited for, then one eof marker. */
static int hand_over(line *l) {
  int r = SN_ERR_STATE, tries;
  struct timespec ts = {0, 1000000L};
  for (tries = 0; tries < 10000; tries++) { /* the queue holds at most our one wakeup: FULL is brief */
    pthread_mutex_lock(&lock);
    taken = 0;
    r = stopping ? SN_ERR_STATE : sn_mgr_wakeup(mgr, on_line, l);
    pthread_mutex_unlock(&lock);
    if (r != SN_ERR_FULL) break;
    nanosleep(&ts, NULL);
  }
  if (r != SN_OK) free(l);
  return r;
}

static void *reader_main(void *arg) {
  size_t cap = 256;
  line *l;
  int c = 0;
  (void) arg;
  while (c != EOF) {
    if ((l = (line *) malloc(sizeof *l + cap)) == NULL) break;
    l->len = 0, l->eof = 0;
    while ((c = getc(stdin)) != EOF && c != '\n') {
      if (l->len + 1 >= cap) {
        line *bigger;
        if (cap >= MAX_LINE || (bigger = (line *) realloc(l, sizeof *l + cap * 2)) == NULL) {
          fprintf(stderr, "sn_wscat: a line longer than %u bytes: the input ends here\n", MAX_LINE);
          c = EOF;
          break;
        }
        l = bigger, cap *= 2;
      }
      l->data[l->len++] = (char) c;
    }
    if (c == EOF && l->len == 0) { /* nothing after the last newline */
      free(l);
      break;
    }
    if (hand_over(l) != SN_OK) return NULL;
    pthread_mutex_lock(&lock); /* wait until the manager has queued it */
    while (!taken && !stopping) pthread_cond_wait(&taken_cond, &lock);
    pthread_mutex_unlock(&lock);
    cap = 256;
  }
  if ((l = (line *) calloc(1, sizeof *l)) != NULL) {
    l->eof = 1;
    (void) hand_over(l);
  }
  return NULL;
}

int main(int argc, char **argv) {
  const char *ca_files[MAX_CA], *pin_b64 = NULL;
  char protocols[MAX_EXTRA], headers[MAX_EXTRA], *bundle = NULL;
  size_t plen = 0, hlen = 0, bundle_len = 0;
  int nca = 0, verbose = 0, i, r;
  unsigned long timeout_ms = 30000;
  unsigned char pin[32];
  sn_tls_client_opts tls;
  sn_mgr_opts mo;
  pthread_t reader;
  pthread_attr_t a;

  memset(&tls, 0, sizeof tls);
  protocols[0] = headers[0] = '\0';
  for (i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(o, "--binary") == 0) msg_type = SN_WS_BINARY;
    else if (strcmp(o, "--verbose") == 0 || strcmp(o, "-v") == 0) verbose = 1;
    else if (o[0] != '-' && url == NULL) url = o;
    else if (v == NULL) usage();
    else if (strcmp(o, "--ca") == 0 && nca < MAX_CA) ca_files[nca++] = v, i++;
    else if (strcmp(o, "--pin-sha256") == 0) pin_b64 = v, i++;
    else if (strcmp(o, "--cert") == 0) tls.cert_file = v, i++;
    else if (strcmp(o, "--key") == 0) tls.key_file = v, i++;
    else if (strcmp(o, "--tls-name") == 0) tls.tls_name = v, i++;
    else if (strcmp(o, "--idle-ms") == 0) idle_ms = strtoul(v, NULL, 10), i++;
    else if (strcmp(o, "--timeout-ms") == 0) timeout_ms = strtoul(v, NULL, 10), i++;
    else if (strcmp(o, "--protocol") == 0 && plen + strlen(v) + 3 < sizeof protocols)
      plen += (size_t) sprintf(protocols + plen, "%s%s", plen ? ", " : "", v), i++;
    else if (strcmp(o, "--header") == 0 && hlen + strlen(v) + 3 < sizeof headers && !strpbrk(v, "\r\n"))
      hlen += (size_t) sprintf(headers + hlen, "%s\r\n", v), i++;
    else usage();
  }
  if (url == NULL || timeout_ms > 0xFFFFFFFFul) usage();
  if (pin_b64 != NULL) {
    if (ex_base64_decode(pin_b64, pin, sizeof pin) != 32) {
      fprintf(stderr, "sn_wscat: --pin-sha256 must be 32 bytes in base64\n");
      return 2;
    }
    tls.pin_sha256 = pin;
  }
  if (nca > 0) { /* several files make one PEM bundle */
    const char *bad = NULL;
    if ((bundle = ex_ca_bundle(ca_files, nca, &bundle_len, &bad)) == NULL) {
      fprintf(stderr, "sn_wscat: cannot read %s\n", bad);
      return 2;
    }
  }
  tls.ca = bundle, tls.ca_len = bundle_len;

  memset(&mo, 0, sizeof mo);
  mo.port = sn_posix_port();
  mo.log = log_stderr;
  mo.log_level = verbose ? SN_LOG_DEBUG : SN_LOG_ERROR;
  if ((r = sn_mgr_create(&mgr, &mo)) != SN_OK) {
    fprintf(stderr, "sn_wscat: %s\n", sn_strerror(r));
    free(bundle);
    return 1;
  }
  memset(&wo, 0, sizeof wo);
  wo.tls = strncmp(url, "ws://", 5) == 0 ? NULL : &tls;
  wo.protocols = plen ? protocols : NULL;
  wo.headers = hlen ? headers : NULL;
  wo.connect_timeout_ms = (uint32_t) timeout_ms;
  wo.ws.max_message = MAX_LINE;
  wo.ws.max_queued = MAX_LINE + 16;
  memset(&cb, 0, sizeof cb);
  cb.on_open = on_open;
  cb.on_message = on_message;
  cb.on_writable = on_writable;
  cb.on_close = on_close;
  if ((r = sn_ws_connect(mgr, url, &wo, &cb, &ws)) != SN_OK) {
    fprintf(stderr, "sn_wscat: cannot connect to %s: %s\n", url, sn_strerror(r));
    sn_mgr_destroy(mgr);
    free(bundle);
    return r == SN_ERR_INVALID ? 2 : 1;
  }
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED); /* it may sit in getc when we end */
  if (pthread_create(&reader, &a, reader_main, NULL) != 0) {
    fprintf(stderr, "sn_wscat: cannot start the input thread\n");
    return 1;
  }
  pthread_attr_destroy(&a);
  while (!done) {
    sn_poll(mgr, 50);
    if (!done && eof_seen) pump(); /* the idle wait at the end of the input */
  }
  pthread_mutex_lock(&lock); /* no wakeup from the reader after this */
  stopping = 1;
  pthread_cond_signal(&taken_cond);
  pthread_mutex_unlock(&lock);
  sn_mgr_destroy(mgr);
  free(pending);
  free(bundle);
  return exit_code;
}
