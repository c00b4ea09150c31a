/* test_smtp.c - how a mail session ends, in memory: the results of
   sn_mgr_destroy() at every point of a session (in it, after the final dot,
   queued behind it), a refused connection, and reply lines shorter than
   four characters. A fake port (one socket, no network) and a small
   scripted SMTP server in this file; every allocation is counted
   (SN_MALLOC / SN_FREE), and none may outlive sn_mgr_destroy(). */
#include <stddef.h>

static void *test_malloc(size_t n);
static void test_free(void *p);
#define SN_MALLOC(n) test_malloc(n)
#define SN_FREE(p) test_free(p)
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "test.h"

#include <stdlib.h>

/* ---- allocation accounting ------------------------------------------------ */
static long a_live;
typedef union a_hdr {
  size_t n;
  long double ld;
  void *p;
} a_hdr;
static void *test_malloc(size_t n) {
  a_hdr *h = (a_hdr *) malloc(sizeof *h + n);
  if (h == NULL) return NULL;
  h->n = n;
  a_live++;
  return h + 1;
}
static void test_free(void *p) {
  if (p == NULL) return;
  a_live--;
  free((a_hdr *) p - 1);
}

/* ---- the fake port: one connection at a time ------------------------------ */
#define FS_SOCK 7
static struct {
  int open, refuse, hold, connects; /* hold: wait reports nothing ready */
  char in[8192];
  size_t in_len, in_off;
  char out[1 << 17];
  size_t out_len, seen;
  uint64_t now, ent;
  /* the scripted server */
  const char *ehlo;     /* reply to EHLO (NULL: "250-fake\r\n250 SIZE 1000000\r\n") */
  const char *dot;      /* reply to the final dot (NULL: silent) */
  const char *silent_after; /* after this command's reply, say nothing more ("MAIL", "DATA") */
  int in_data, silent, dots;
} fs;

static void fs_say(const char *s) {
  size_t n = strlen(s);
  if (fs.silent || fs.in_len + n > sizeof fs.in) return;
  memcpy(fs.in + fs.in_len, s, n);
  fs.in_len += n;
}

/* Answers what the client sent since the last call. */
static void fs_serve(void) {
  while (fs.seen < fs.out_len) {
    char *p = fs.out + fs.seen, *nl = (char *) memchr(p, '\n', fs.out_len - fs.seen);
    if (fs.in_data) { /* up to the final dot */
      char *end = NULL, *q;
      for (q = fs.out + (fs.seen >= 2 ? fs.seen - 2 : 0); q + 5 <= fs.out + fs.out_len; q++)
        if (memcmp(q, "\r\n.\r\n", 5) == 0) {
          end = q + 5;
          break;
        }
      if (end == NULL) return;
      fs.seen = (size_t) (end - fs.out);
      fs.in_data = 0;
      fs.dots++;
      if (fs.dot != NULL) fs_say(fs.dot);
      else fs.silent = 1;
      continue;
    }
    if (nl == NULL) return;
    fs.seen = (size_t) (nl - fs.out) + 1;
    if (memcmp(p, "EHLO", 4) == 0) fs_say(fs.ehlo ? fs.ehlo : "250-fake\r\n250 SIZE 1000000\r\n");
    else if (memcmp(p, "MAIL", 4) == 0) fs_say("250 2.1.0 ok\r\n");
    else if (memcmp(p, "RCPT TO:<refuse", 15) == 0) fs_say("550 5.1.1 no such user\r\n");
    else if (memcmp(p, "RCPT", 4) == 0) fs_say("250 2.1.5 ok\r\n");
    else if (memcmp(p, "DATA", 4) == 0) fs_say("354 go ahead\r\n"), fs.in_data = 1;
    else if (memcmp(p, "RSET", 4) == 0) fs_say("250 2.0.0 ok\r\n");
    else if (memcmp(p, "QUIT", 4) == 0) fs_say("221 bye\r\n");
    else fs_say("500 what?\r\n");
    if (fs.silent_after && memcmp(p, fs.silent_after, 4) == 0) fs.silent = 1;
  }
}

static int fs_connect(void *ctx, const char *host, uint16_t port, sn_sock *out) {
  (void) ctx, (void) host, (void) port;
  if (fs.open) return SN_ERR_FULL;
  fs.open = 1;
  fs.connects++;
  fs.in_len = fs.in_off = fs.out_len = fs.seen = 0;
  fs.in_data = fs.silent = 0;
  if (!fs.refuse) fs_say("220 fake ESMTP\r\n");
  *out = FS_SOCK;
  return SN_OK;
}
static int fs_send(void *ctx, sn_sock s, const void *buf, size_t len) {
  (void) ctx;
  if (s != FS_SOCK || !fs.open) return SN_ERR_IO;
  if (fs.refuse) return SN_ERR_IO;
  if (len > 700) len = 700; /* short writes: the body takes many rounds */
  if (fs.out_len + len > sizeof fs.out) return SN_WANT_WRITE;
  memcpy(fs.out + fs.out_len, buf, len);
  fs.out_len += len;
  return (int) len;
}
static int fs_recv(void *ctx, sn_sock s, void *buf, size_t len) {
  size_t n;
  (void) ctx;
  if (s != FS_SOCK || !fs.open) return SN_ERR_IO;
  if (fs.refuse) return SN_ERR_IO; /* what ECONNREFUSED gives on POSIX */
  fs_serve();
  if (fs.in_off == fs.in_len) return SN_WANT_READ;
  n = fs.in_len - fs.in_off < len ? fs.in_len - fs.in_off : len;
  memcpy(buf, fs.in + fs.in_off, n);
  fs.in_off += n;
  return (int) n;
}
static void fs_close(void *ctx, sn_sock s) {
  (void) ctx;
  if (s == FS_SOCK) fs.open = 0;
}
static void fs_shutdown(void *ctx, sn_sock s) { (void) ctx, (void) s; }
static int fs_listen(void *ctx, const char *addr, uint16_t port, sn_sock *out) {
  (void) ctx, (void) addr, (void) port, (void) out;
  return SN_ERR_UNSUPPORTED;
}
static int fs_accept(void *ctx, sn_sock l, sn_sock *out, char *peer, size_t peer_len) {
  (void) ctx, (void) l, (void) out, (void) peer, (void) peer_len;
  return SN_ERR_UNSUPPORTED;
}
static int fs_wait(void *ctx, sn_wait_item *items, int n, int timeout_ms) {
  int i;
  (void) ctx, (void) timeout_ms;
  fs.now += 10;
  for (i = 0; i < n; i++) items[i].ready = fs.hold ? 0 : (uint8_t) (items[i].want | (fs.refuse ? SN_ERROR : 0));
  return n;
}
static int fs_entropy(void *ctx, unsigned char *buf, size_t len) { /* deterministic: only in a test */
  size_t i;
  (void) ctx;
  for (i = 0; i < len; i++) {
    fs.ent ^= fs.ent << 13, fs.ent ^= fs.ent >> 7, fs.ent ^= fs.ent << 17;
    buf[i] = (unsigned char) (fs.ent >> 24);
  }
  return 0;
}
static uint64_t fs_now(void *ctx) {
  (void) ctx;
  return fs.now;
}
static int64_t fs_wall(void *ctx) {
  (void) ctx;
  return -1;
}
static const sn_port fake_port = {NULL,     fs_listen,   fs_accept, fs_connect, fs_send,  fs_recv,
                                  fs_close, fs_shutdown, fs_wait,   fs_entropy, fs_now,   fs_wall};

/* ---- sessions ------------------------------------------------------------- */
typedef struct outcome {
  int calls;
  sn_mail_result r;
} outcome;

static void on_done(void *user, const sn_mail *mail, const sn_mail_result *r) {
  outcome *o = (outcome *) user;
  (void) mail;
  o->calls++;
  o->r = *r;
}

static sn_mgr *mgr;
static sn_smtp_server srv;
static sn_mail_addr from = {NULL, "dev@example.com"}, to[2] = {{NULL, "refuse@example.com"}, {NULL, "ops@example.com"}};
static sn_mail mail[2];
static outcome out[2];
static size_t big_left;

static int big_source(void *arg, void *buf, size_t len) { /* a long body: many rounds of short writes */
  size_t n = len < big_left ? len : big_left;
  (void) arg;
  memset(buf, 'x', n);
  if (n > 0) ((char *) buf)[0] = '\n';
  big_left -= n;
  return (int) n;
}

/* A manager, two mails for one server (the second queued behind the first). */
static void setup(int mode, int nmail, int refuse_first) {
  sn_mgr_opts mo;
  int i;
  memset(&fs, 0, sizeof fs);
  fs.ent = 0x9e3779b97f4a7c15ull;
  memset(&mo, 0, sizeof mo);
  memset(&srv, 0, sizeof srv);
  memset(mail, 0, sizeof mail);
  memset(out, 0, sizeof out);
  mo.port = &fake_port;
  if (sn_mgr_create(&mgr, &mo) != SN_OK) {
    printf("not ok - sn_mgr_create\n");
    exit(1);
  }
  srv.host = "mail.example.com";
  srv.mode = mode;
  for (i = 0; i < nmail; i++) {
    mail[i].from = from;
    mail[i].to = refuse_first ? to : to + 1;
    mail[i].to_count = refuse_first ? 2 : 1;
    mail[i].subject = "destroy";
    mail[i].text = "hello\n";
    if (sn_mail_send(mgr, &srv, &mail[i], on_done, &out[i]) != SN_OK) printf("not ok - sn_mail_send\n");
  }
}

/* Polls until cond() holds (or a bound); returns whether it did. */
static int run_until(int (*cond)(void)) {
  int i;
  for (i = 0; i < 2000 && !cond(); i++) sn_poll(mgr, 0);
  return cond();
}
static int dot_sent(void) { return fs.dots > 0; }
static int data_started(void) { return fs.in_data && fs.out_len > 20000; }
static int rcpt_sent(void) { return fs.silent; }
static int first_done(void) { return out[0].calls > 0; }

static int destroyed_words(const sn_mail_result *r) { return strstr(r->reply, "the manager was destroyed") != NULL; }

static void check_queued(const char *what) {
  char name[200];
  snprintf(name, sizeof name, "destroy %s: the mail queued behind it is not sent: SN_ERR_CLOSED at \"queued\", code 0, in words", what);
  test_report(out[1].calls == 1 && out[1].r.err == SN_ERR_CLOSED && out[1].r.stage && strcmp(out[1].r.stage, "queued") == 0 &&
                  out[1].r.reply_code == 0 && destroyed_words(&out[1].r),
              name, "calls=%d err=%d stage=%s code=%d reply=\"%s\"", out[1].calls, out[1].r.err,
              out[1].r.stage ? out[1].r.stage : "(null)", out[1].r.reply_code, out[1].r.reply);
}

static void destroy_and_check_leaks(const char *what) {
  char name[200];
  sn_mgr_destroy(mgr);
  mgr = NULL;
  snprintf(name, sizeof name, "destroy %s: every allocation is freed", what);
  test_report(a_live == 0, name, "%ld allocations left", a_live);
}

static void test_destroy(void) {
  const sn_mail_result *r = &out[0].r;

  /* after the final dot, before its reply */
  setup(SN_SMTP_PLAIN_INSECURE, 2, 0);
  test_report(run_until(dot_sent), "destroy after the dot: the session reaches the final dot", "dots=%d", fs.dots);
  destroy_and_check_leaks("after the dot");
  test_report(out[0].calls == 1 && r->err == SN_ERR_UNCONFIRMED && r->stage && strcmp(r->stage, "DATA") == 0 &&
                  r->reply_code == 0 && strstr(r->reply, "destroyed after the end of the message") != NULL,
              "destroy after the final dot went out: SN_ERR_UNCONFIRMED at DATA, code 0 (not the 354), in words",
              "calls=%d err=%d stage=%s code=%d reply=\"%s\"", out[0].calls, r->err, r->stage ? r->stage : "(null)",
              r->reply_code, r->reply);
  check_queued("after the dot");

  /* in the middle of the message: not sent */
  setup(SN_SMTP_PLAIN_INSECURE, 2, 0);
  big_left = 200000;
  mail[0].text = NULL;
  mail[0].text_source = big_source;
  test_report(run_until(data_started), "destroy in the message: the body is being sent", "out=%lu", (unsigned long) fs.out_len);
  destroy_and_check_leaks("in the message");
  test_report(out[0].calls == 1 && r->err == SN_ERR_CLOSED && r->stage && strcmp(r->stage, "DATA") == 0 && r->reply_code == 0 &&
                  destroyed_words(r) && strstr(r->reply, "after the end") == NULL,
              "destroy in the middle of the message: not sent (SN_ERR_CLOSED) at DATA, code 0, in words",
              "calls=%d err=%d stage=%s code=%d reply=\"%s\"", out[0].calls, r->err, r->stage ? r->stage : "(null)",
              r->reply_code, r->reply);
  check_queued("in the message");

  /* waiting for the answer to RCPT TO, after a 250 to MAIL FROM */
  setup(SN_SMTP_PLAIN_INSECURE, 2, 0);
  fs.silent_after = "MAIL";
  test_report(run_until(rcpt_sent), "destroy at RCPT TO: the server went silent after MAIL FROM", "silent=%d", fs.silent);
  sn_poll(mgr, 0);
  destroy_and_check_leaks("at RCPT TO");
  test_report(out[0].calls == 1 && r->err == SN_ERR_CLOSED && r->stage && strcmp(r->stage, "RCPT TO") == 0 &&
                  r->reply_code == 0 && destroyed_words(r),
              "destroy while RCPT TO waits for its reply: not sent at RCPT TO, not MAIL FROM's stale 250",
              "calls=%d err=%d stage=%s code=%d reply=\"%s\"", out[0].calls, r->err, r->stage ? r->stage : "(null)",
              r->reply_code, r->reply);
  check_queued("at RCPT TO");

  /* a refused recipient, then the dot went out: the partial success does not stand */
  setup(SN_SMTP_PLAIN_INSECURE, 1, 1);
  test_report(run_until(dot_sent), "destroy after a refused recipient: the session reaches the final dot", "dots=%d", fs.dots);
  destroy_and_check_leaks("after a refused recipient and the dot");
  test_report(out[0].calls == 1 && r->err == SN_ERR_UNCONFIRMED && r->stage && strcmp(r->stage, "DATA") == 0 &&
                  r->reply_code == 0 && r->refused_count == 1 && r->refused[0] == 1,
              "destroy after a refused recipient and the dot: SN_ERR_UNCONFIRMED at DATA (refused[] kept), not the 550",
              "calls=%d err=%d stage=%s code=%d refused=%d reply=\"%s\"", out[0].calls, r->err,
              r->stage ? r->stage : "(null)", r->reply_code, r->refused_count, r->reply);

  /* never polled: both queued */
  setup(SN_SMTP_PLAIN_INSECURE, 2, 0);
  destroy_and_check_leaks("before any sn_poll");
  test_report(out[0].calls == 1 && r->err == SN_ERR_CLOSED && r->stage && strcmp(r->stage, "queued") == 0 &&
                  r->reply_code == 0 && destroyed_words(r) && fs.connects == 0,
              "destroy before any sn_poll: the first mail is not sent either, at \"queued\"",
              "calls=%d err=%d stage=%s code=%d reply=\"%s\"", out[0].calls, r->err, r->stage ? r->stage : "(null)",
              r->reply_code, r->reply);
  check_queued("before any sn_poll");

  /* while the TCP connection is being made */
  setup(SN_SMTP_PLAIN_INSECURE, 2, 0);
  fs.hold = 1;
  sn_poll(mgr, 0); /* the session connects; the port says nothing yet */
  destroy_and_check_leaks("while connecting");
  test_report(out[0].calls == 1 && r->err == SN_ERR_CLOSED && r->stage && strcmp(r->stage, "connect") == 0 &&
                  r->reply_code == 0 && destroyed_words(r) && fs.connects == 1,
              "destroy while connecting: not sent, at connect, in words",
              "calls=%d err=%d stage=%s code=%d reply=\"%s\"", out[0].calls, r->err, r->stage ? r->stage : "(null)",
              r->reply_code, r->reply);
  check_queued("before the greeting");

  /* the first mail done, the second one started: it is the one in session */
  setup(SN_SMTP_PLAIN_INSECURE, 2, 0);
  fs.dot = "250 2.0.0 queued\r\n";
  fs.silent_after = "RSET";
  test_report(run_until(first_done) && out[0].r.err == SN_OK, "destroy at RSET: the first mail is delivered", "err=%d", out[0].r.err);
  run_until(rcpt_sent);
  destroy_and_check_leaks("at RSET");
  test_report(out[0].calls == 1 && out[1].calls == 1 && out[1].r.err == SN_ERR_CLOSED && out[1].r.reply_code == 0 &&
                  destroyed_words(&out[1].r) && out[1].r.stage != NULL,
              "destroy while RSET waits (second mail not started): the delivered one stays delivered, the second not sent",
              "calls=%d/%d err=%d stage=%s code=%d reply=\"%s\"", out[0].calls, out[1].calls, out[1].r.err,
              out[1].r.stage ? out[1].r.stage : "(null)", out[1].r.reply_code, out[1].r.reply);
}

static void test_refused(void) {
  const sn_mail_result *r = &out[0].r;
  setup(SN_SMTP_PLAIN_INSECURE, 1, 0);
  fs.refuse = 1;
  run_until(first_done);
  test_report(out[0].calls == 1 && r->err == SN_ERR_IO && r->stage && strcmp(r->stage, "connect") == 0 &&
                  strcmp(r->reply, "cannot connect to mail.example.com port 25 (refused or unreachable)") == 0,
              "a refused connection: SN_ERR_IO at connect, the reply says 'cannot connect to HOST port N (refused or unreachable)'",
              "calls=%d err=%d stage=%s reply=\"%s\"", out[0].calls, r->err, r->stage ? r->stage : "(null)", r->reply);
  destroy_and_check_leaks("after a refused connection");
}

/* EHLO answered with a line shorter than four characters: malformed. */
static void test_short_lines(void) {
  static const struct {
    int mode;
    const char *ehlo, *what;
  } cases[] = {
      {SN_SMTP_STARTTLS, "250-hostile\r\n250\nAUTH PLAIN\r\n", "STARTTLS mode before TLS: '250-hostile', '250' (bare LF), 'AUTH PLAIN'"},
      {SN_SMTP_PLAIN_INSECURE, "250-hostile\r\n250\r\nAUTH PLAIN LOGIN\r\n", "plain: '250-hostile', '250' CRLF, 'AUTH PLAIN LOGIN'"},
      {SN_SMTP_PLAIN_INSECURE, "250\r\n", "plain: a one-line '250' CRLF"},
      {SN_SMTP_PLAIN_INSECURE, "250-x\r\n25\n", "plain: '250-x', '25'"},
      {SN_SMTP_PLAIN_INSECURE, "250-x\r\n\r\n", "plain: '250-x', an empty line"},
  };
  size_t i;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const sn_mail_result *r = &out[0].r;
    char name[200];
    setup(cases[i].mode, 1, 0);
    fs.ehlo = cases[i].ehlo;
    run_until(first_done);
    snprintf(name, sizeof name, "EHLO reply %s: SN_ERR_PROTO at EHLO, code 0, 'a malformed reply line'", cases[i].what);
    test_report(out[0].calls == 1 && r->err == SN_ERR_PROTO && r->stage && strcmp(r->stage, "EHLO") == 0 && r->reply_code == 0 &&
                    strcmp(r->reply, "a malformed reply line") == 0 && strstr(fs.out, "MAIL") == NULL &&
                    strstr(fs.out, "STARTTLS") == NULL,
                name, "calls=%d err=%d stage=%s code=%d reply=\"%s\"", out[0].calls, r->err, r->stage ? r->stage : "(null)",
                r->reply_code, r->reply);
    snprintf(name, sizeof name, "after the EHLO reply %s", cases[i].what);
    destroy_and_check_leaks(name);
  }
}

int main(void) {
  test_destroy();
  test_refused();
  test_short_lines();
  return test_summary();
}
