/* sn_sendmail - send mail through a submission server with securenet.

     sn_sendmail --server HOST --port N --mode tls|starttls|plain --ca FILE (repeatable)
                 [--tls-name NAME] [--user U --pass P | --oauth-user U --token T]
                 --from ADDR --to ADDR (repeatable) [--cc ADDR] [--bcc ADDR]
                 --subject TEXT (--body TEXT | --body-file FILE) [--html-file FILE]
                 [--attach FILE (repeatable)] [--count N] [--verbose]

   Sends N messages (default 1) in one SMTP session. Exit 0 when every
   message was accepted; 3 when none failed but one was sent without the
   server confirming it (the connection ended after the message: it may have
   been delivered, so do not simply retry); otherwise 1, with one line on
   stderr naming the stage and the server's reply or the TLS error. ADDR is a bare address or
   "Display Name <addr>" (UTF-8; quotes around the name are removed, the
   library encodes it). At most 16 of each of --to, --cc, --bcc, --ca and
   --attach. A body file and
   attachments are streamed from disk, never held in memory whole.
   SN_SMTP_TIMEOUT_MS in the environment shortens the per-stage timeouts. */
#ifndef SN_SENDMAIL_PORT /* examples/lwip/sn_sendmail_lwip.c runs this file on lwIP */
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "securenet_port_posix.h"
#define SN_SENDMAIL_PORT() sn_posix_port()
#define SN_SENDMAIL_POLL(mgr) sn_poll(mgr, 1000)
#define SN_SENDMAIL_MAIN main
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_util.h"

#define MAX_LIST 16

static void usage(void) {
  fprintf(stderr, "usage: sn_sendmail --server HOST --port N --mode tls|starttls|plain --ca FILE [--tls-name NAME]\n"
                  "         [--user U --pass P | --oauth-user U --token T] --from ADDR --to ADDR [--cc ADDR] [--bcc ADDR]\n"
                  "         --subject TEXT (--body TEXT | --body-file FILE) [--html-file FILE] [--attach FILE] [--count N]\n");
  exit(2);
}

static void log_stderr(void *user, int level, const char *msg) {
  (void) user;
  (void) level;
  fprintf(stderr, "sn_sendmail: %s\n", msg);
}

/* A file read piece by piece: the message never holds it whole. */
static int file_source(void *arg, void *buf, size_t len) {
  FILE *f = (FILE *) arg;
  size_t n = fread(buf, 1, len, f);
  return ferror(f) ? SN_ERR_FILE : (int) n;
}

/* One message in flight: its own open files, so N can stream in turn. */
typedef struct message {
  sn_mail mail;
  sn_mail_attachment att[MAX_LIST];
  FILE *files[MAX_LIST + 1];
  int nfiles;
} message;

static int accepted, failed, unconfirmed, done_count;

static void on_done(void *user, const sn_mail *mail, const sn_mail_result *r) {
  message *msg = (message *) user;
  int i;
  done_count++;
  if (r->err == SN_OK) {
    accepted++;
  } else {
    if (r->err == SN_ERR_UNCONFIRMED) unconfirmed++;
    else failed++;
    /* a partial success is a refusal at RCPT TO and nothing after it */
    if (failed + unconfirmed == 1 && r->err == SN_ERR_REFUSED && r->refused_count > 0 && strcmp(r->stage, "RCPT TO") == 0) {
      int k, n = mail->to_count + mail->cc_count + mail->bcc_count;
      for (k = 0; k < n && !r->refused[k]; k++) continue;
      fprintf(stderr, "sn_sendmail: RCPT TO:<%s>: %d %s (%d of %d recipients refused; %s)\n",
              k < mail->to_count ? mail->to[k].addr
              : k < mail->to_count + mail->cc_count ? mail->cc[k - mail->to_count].addr
                                                    : mail->bcc[k - mail->to_count - mail->cc_count].addr,
              r->reply_code, r->reply, r->refused_count, n,
              r->refused_count < n ? "the others got the mail" : "nothing was sent");
    } else if (failed + unconfirmed == 1) {
      if (r->reply_code)
        fprintf(stderr, "sn_sendmail: %s: %d %s (%s)\n", r->stage, r->reply_code, r->reply, sn_strerror(r->err));
      else
        fprintf(stderr, "sn_sendmail: %s: %s%s%s\n", r->stage, sn_strerror(r->err), r->reply[0] ? ": " : "", r->reply);
    }
  }
  for (i = 0; i < msg->nfiles; i++) fclose(msg->files[i]);
  free(msg);
}

/* "Name <addr>", "\"Last, First\" <addr>" or a bare "addr": splits argv in place. A CR or LF
   is left where it is, for the library to refuse (header injection). */
static void parse_addr(char *v, sn_mail_addr *a) {
  char *lt = strrchr(v, '<'), *end = v + strlen(v), *n;
  a->name = NULL;
  a->addr = v;
  while (end > v && end[-1] == ' ') end--;
  if (lt == NULL || end == v || end[-1] != '>') return;
  end[-1] = '\0';
  a->addr = lt + 1;
  *lt = '\0';
  for (n = v; *n == ' '; n++) {
  }
  for (end = lt; end > n && end[-1] == ' ';) *--end = '\0';
  if (end - n >= 2 && n[0] == '"' && end[-1] == '"') n++, end[-1] = '\0';
  if (*n != '\0') a->name = n;
}

int SN_SENDMAIL_MAIN(int argc, char **argv) {
  sn_smtp_server srv;
  sn_mail_addr to[MAX_LIST], cc[MAX_LIST], bcc[MAX_LIST], from;
  const char *attach[MAX_LIST], *body = NULL, *body_file = NULL, *html_file = NULL, *subject = "";
  const char *ca_files[MAX_LIST];
  char *ca_bundle = NULL, *html = NULL;
  size_t ca_len = 0;
  int nto = 0, ncc = 0, nbcc = 0, natt = 0, nca = 0, count = 1, verbose = 0, queued = 0, i, r;
  sn_mgr *mgr;
  sn_mgr_opts mo;

  memset(&srv, 0, sizeof srv);
  memset(&from, 0, sizeof from);
  srv.mode = -1;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--verbose") == 0) {
      verbose = 1;
      continue;
    }
    if (v == NULL) usage();
    i++;
    if (strcmp(a, "--server") == 0) srv.host = v;
    else if (strcmp(a, "--port") == 0) srv.port = (uint16_t) atoi(v);
    else if (strcmp(a, "--mode") == 0)
      srv.mode = strcmp(v, "tls") == 0        ? SN_SMTP_TLS
                 : strcmp(v, "starttls") == 0 ? SN_SMTP_STARTTLS
                 : strcmp(v, "plain") == 0    ? SN_SMTP_PLAIN_INSECURE
                                              : -2;
    else if (strcmp(a, "--ca") == 0 && nca < MAX_LIST) ca_files[nca++] = v;
    else if (strcmp(a, "--tls-name") == 0) srv.tls_name = v;
    else if (strcmp(a, "--user") == 0 || strcmp(a, "--oauth-user") == 0) srv.user = v;
    else if (strcmp(a, "--pass") == 0) srv.password = v;
    else if (strcmp(a, "--token") == 0) srv.oauth_token = v;
    else if (strcmp(a, "--from") == 0) parse_addr(argv[i], &from);
    else if (strcmp(a, "--to") == 0 && nto < MAX_LIST) parse_addr(argv[i], &to[nto++]);
    else if (strcmp(a, "--cc") == 0 && ncc < MAX_LIST) parse_addr(argv[i], &cc[ncc++]);
    else if (strcmp(a, "--bcc") == 0 && nbcc < MAX_LIST) parse_addr(argv[i], &bcc[nbcc++]);
    else if (strcmp(a, "--subject") == 0) subject = v;
    else if (strcmp(a, "--body") == 0) body = v;
    else if (strcmp(a, "--body-file") == 0) body_file = v;
    else if (strcmp(a, "--html-file") == 0) html_file = v;
    else if (strcmp(a, "--attach") == 0 && natt < MAX_LIST) attach[natt++] = v;
    else if (strcmp(a, "--count") == 0) count = atoi(v);
    else usage();
  }
  if (srv.host == NULL || srv.mode < 0 || from.addr == NULL || nto + ncc + nbcc == 0 || count < 1 ||
      (body == NULL && body_file == NULL))
    usage();
  if (getenv("SN_SMTP_TIMEOUT_MS")) srv.timeout_ms = (uint32_t) strtoul(getenv("SN_SMTP_TIMEOUT_MS"), NULL, 10);
  if (nca > 0) { /* several --ca files make one PEM bundle, as firmware keeps its roots */
    const char *bad = NULL;
    if ((ca_bundle = ex_ca_bundle(ca_files, nca, &ca_len, &bad)) == NULL) {
      fprintf(stderr, "sn_sendmail: connect: cannot read CA file %s\n", bad);
      return 1;
    }
  }
  srv.ca = ca_bundle;
  srv.ca_len = ca_len;
  if (html_file && (html = ex_read_file(html_file, NULL)) == NULL) {
    fprintf(stderr, "sn_sendmail: message: cannot read %s\n", html_file);
    free(ca_bundle);
    return 1;
  }

  memset(&mo, 0, sizeof mo);
  mo.port = SN_SENDMAIL_PORT();
  mo.log = log_stderr;
  mo.log_level = verbose ? SN_LOG_DEBUG : SN_LOG_ERROR;
  if ((r = sn_mgr_create(&mgr, &mo)) != SN_OK) {
    fprintf(stderr, "sn_sendmail: connect: %s\n", sn_strerror(r));
    free(ca_bundle);
    free(html);
    return 1;
  }
  while (done_count < count || done_count < queued) {
    while (queued < count) { /* keep the queue full; the session runs them in order */
      message *msg = (message *) calloc(1, sizeof *msg);
      const char *unreadable = NULL;
      sn_mail *m;
      if (msg == NULL) break;
      m = &msg->mail;
      m->from = from;
      m->to = to, m->to_count = nto;
      m->cc = cc, m->cc_count = ncc;
      m->bcc = bcc, m->bcc_count = nbcc;
      m->subject = subject;
      m->html = html;
      if (body_file) {
        FILE *f = fopen(body_file, "rb");
        if (f == NULL) unreadable = body_file;
        else msg->files[msg->nfiles++] = f;
        m->text_source = file_source;
        m->text_source_arg = f;
      } else {
        m->text = body;
      }
      for (i = 0; i < natt && unreadable == NULL; i++) {
        FILE *f = fopen(attach[i], "rb");
        const char *base = strrchr(attach[i], '/');
        sn_str path;
        if (f == NULL) {
          unreadable = attach[i];
          break;
        }
        msg->files[msg->nfiles++] = f;
        path.ptr = attach[i];
        path.len = strlen(attach[i]);
        msg->att[i].filename = base ? base + 1 : attach[i];
        msg->att[i].content_type = sn_mime_type(path);
        msg->att[i].source = file_source;
        msg->att[i].source_arg = f;
      }
      m->attachments = msg->att;
      m->attachment_count = natt;
      r = unreadable ? SN_ERR_FILE : sn_mail_send(mgr, &srv, m, on_done, msg);
      if (r != SN_OK) { /* nothing of this message is queued: it is freed here, the rest as usual */
        for (i = 0; i < msg->nfiles; i++) fclose(msg->files[i]);
        free(msg);
        if (r == SN_ERR_FULL) break;
        if (unreadable) fprintf(stderr, "sn_sendmail: message: cannot read %s\n", unreadable);
        else fprintf(stderr, "sn_sendmail: message: %s\n", sn_strerror(r));
        failed++;
        count = queued; /* stop queueing: what is queued still finishes */
        break;
      }
      queued++;
    }
    SN_SENDMAIL_POLL(mgr);
  }
  sn_mgr_destroy(mgr);
  free(ca_bundle);
  free(html);
  if (verbose) fprintf(stderr, "sn_sendmail: %d accepted, %d unconfirmed, %d failed\n", accepted, unconfirmed, failed);
  return failed ? 1 : unconfirmed ? 3 : 0;
}
