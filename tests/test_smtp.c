/* test_smtp.c - how a mail session ends, in memory: the results of
   sn_mgr_destroy() at every point of a session (in it, after the final dot,
   queued behind it), a refused connection, and reply lines shorter than
   four characters. The in-memory port (securenet_port_mem.h: no network)
   and a small scripted SMTP server in this file that answers each command
   inside the client's recv; every allocation is counted (SN_MALLOC /
   SN_FREE as sn_mem_malloc / sn_mem_free), and none may outlive
   sn_mgr_destroy(). */
#define SN_MALLOC(n) sn_mem_malloc(n)
#define SN_FREE(p) sn_mem_free(p)
#define SECURENET_IMPLEMENTATION
#define SECURENET_PORT_MEM_IMPLEMENTATION
#include "securenet_port_mem.h" /* before securenet.h, which it includes: it declares sn_mem_malloc */
#include "test.h"

#include <stdlib.h>

/* ---- the port (securenet_port_mem.h) and a scripted SMTP server ------------ */
static sn_mem net;
static int peer = -1; /* the mail server's socket: the peer of the session's connect */
static struct {
  const char *ehlo;     /* reply to EHLO (NULL: "250-fake\r\n250 SIZE 1000000\r\n") */
  const char *dot;      /* reply to the final dot (NULL: silent) */
  const char *silent_after; /* after this command's reply, say nothing more ("MAIL", "DATA") */
  int in_data, silent, dots;
} fs;

/* What the client has sent to the server (NUL-terminated). */
static const char *fs_out(void) { return net.s[peer].out ? (const char *) net.s[peer].out : ""; }

static void fs_say(const char *s) {
  if (fs.silent) return;
  if (sn_mem_peer_puts(&net, peer, s) != SN_OK) abort();
}

/* Answers what the client sent since the last call (the port calls it at
   each recv: the server answers each command as it comes). */
static void fs_serve(void *user, sn_mem *m, int s) {
  sn_mem_sock *f = &m->s[s];
  char *out = (char *) f->out;
  (void) user;
  while (f->out_rd < f->out_len) {
    char *p = out + f->out_rd, *nl = (char *) memchr(p, '\n', f->out_len - f->out_rd);
    if (fs.in_data) { /* up to the final dot */
      char *end = NULL, *q;
      for (q = out + (f->out_rd >= 2 ? f->out_rd - 2 : 0); q + 5 <= out + f->out_len; q++)
        if (memcmp(q, "\r\n.\r\n", 5) == 0) {
          end = q + 5;
          break;
        }
      if (end == NULL) return;
      f->out_rd = (size_t) (end - out);
      fs.in_data = 0;
      fs.dots++;
      if (fs.dot != NULL) fs_say(fs.dot);
      else fs.silent = 1;
      continue;
    }
    if (nl == NULL) return;
    f->out_rd = (size_t) (nl - out) + 1;
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

/* A fresh port and server: the clock moves 10 ms per wait, sends take at
   most 700 bytes (the body takes many rounds), the server greets. */
static void fs_start(void) {
  sn_mem_clear(&net);
  sn_mem_init(&net);
  net.tick = 10;
  net.max_send = 700;
  net.on_recv = fs_serve;
  memset(&fs, 0, sizeof fs);
  peer = sn_mem_peer_expect(&net, NULL, 0);
  net.s[peer].out_limit = (size_t) 1 << 17;
  fs_say("220 fake ESMTP\r\n");
}

/* 1 once the session has connected to the server. */
static int fs_connected(void) { return net.s[peer].outgoing; }

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
  fs_start();
  memset(&mo, 0, sizeof mo);
  memset(&srv, 0, sizeof srv);
  memset(mail, 0, sizeof mail);
  memset(out, 0, sizeof out);
  mo.port = sn_mem_port(&net);
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
static int data_started(void) { return fs.in_data && net.s[peer].out_len > 20000; }
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
  test_report(sn_mem_heap_get()->live == 0, name, "%ld allocations left", sn_mem_heap_get()->live);
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
  test_report(run_until(data_started), "destroy in the message: the body is being sent", "out=%lu", (unsigned long) net.s[peer].out_len);
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
                  r->reply_code == 0 && destroyed_words(r) && !fs_connected(),
              "destroy before any sn_poll: the first mail is not sent either, at \"queued\"",
              "calls=%d err=%d stage=%s code=%d reply=\"%s\"", out[0].calls, r->err, r->stage ? r->stage : "(null)",
              r->reply_code, r->reply);
  check_queued("before any sn_poll");

  /* while the TCP connection is being made */
  setup(SN_SMTP_PLAIN_INSECURE, 2, 0);
  net.stall = 1;
  sn_poll(mgr, 0); /* the session connects; the port says nothing yet */
  destroy_and_check_leaks("while connecting");
  test_report(out[0].calls == 1 && r->err == SN_ERR_CLOSED && r->stage && strcmp(r->stage, "connect") == 0 &&
                  r->reply_code == 0 && destroyed_words(r) && fs_connected(),
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
  net.s[peer].err = SN_ERR_IO; /* what ECONNREFUSED gives on POSIX */
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
                    strcmp(r->reply, "a malformed reply line") == 0 && strstr(fs_out(), "MAIL") == NULL &&
                    strstr(fs_out(), "STARTTLS") == NULL,
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
  sn_mem_clear(&net);
  return test_summary();
}
