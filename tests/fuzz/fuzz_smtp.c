/* fuzz_smtp.c - the mail session against a scripted, hostile SMTP server.

   The input is what the server says (replies, possibly malformed, multi-line,
   over-long, early or late), fed to a real session (sn_mail_send, sn_poll)
   through the in-memory port: the reply parser, the EHLO extension parser, the
   state machine, PIPELINING, RSET between two mails, the message writer and
   the job's result are all on the path.
     byte 0   bits 0-1: recipients (1-4, To/Cc/Bcc); bit 2: STARTTLS mode (no
              TLS can succeed here: the reply handling up to it, the bytes
              injected after the 220, the failure); bit 3: an attachment;
              bit 4: an HTML part; bit 5: a second mail for the same server;
              bit 6: the server closes after its script; bit 7: a 1 s stage
              timeout and a clock that moves 100 ms per round
     byte 1   number of split points (low 4 bits), then 16-bit offsets;
              bit 4: an early talker (the whole script is there from the
              start), else a well-behaved server that says its k-th reply
              only after the client's k-th command (a message counts as one);
              bits 5-7: the line rewriter (below)
     [byte 2  with byte 1's bits 6-7 not 0: the rewriter's selector: bits
              0-5 a line number k (modulo the script's lines), bits 6-7 a
              length L (0-3)]
   The line rewriter makes the short and bare-LF lines a mutator rarely
   builds by itself, in every stage: bit 5 ends every line with a bare LF;
   bits 6-7 = 1 cut line k to its first L characters ("250 ok" -> "250");
   2 split line k after its first L characters, its text after the fourth
   a line of its own ("250-AUTH PLAIN" -> "250", "AUTH PLAIN"); 3 insert a
   line of its first L characters after every continuation line ("ddd-...")
   of every reply ("250-x" -> "250-x", "250").
   Oracle (well-behaved server, plain mode, no timeouts): the session fed the
   script whole and
   fed in pieces (split at the offsets: any byte, inside a reply line, inside
   CRLF) sends the same bytes and ends every job with the same result.
   Invariants always: each mail's done is called exactly once, a failure with a stage,
   a NUL-terminated reply, refused flags that add up; a mail reported sent
   had its whole message and the final dot sent after DATA; with the
   well-behaved server, a mail whose dot did not get a 250 is reported
   neither as sent nor as sent-to-some (refused recipients, the others
   served: the documented partial success); the port is never
   misused; nothing leaks (ASan). */
#define SECURENET_IMPLEMENTATION
#define FZ_WITH_PORT
#include "securenet.h"
#include "fuzz_common.h"

typedef struct outcome {
  int calls;
  sn_mail_result res;
} outcome;

static void on_done(void *user, const sn_mail *mail, const sn_mail_result *r) {
  outcome *o = (outcome *) user;
  (void) mail;
  o->calls++;
  o->res = *r;
}

static int source_calls;
static int att_source(void *arg, void *buf, size_t len) { /* 700 bytes, 33 at a time */
  size_t *left = (size_t *) arg, n = *left < 33 ? *left : 33, i;
  if (n > len) n = len;
  for (i = 0; i < n; i++) ((unsigned char *) buf)[i] = (unsigned char) (*left - i);
  *left -= n;
  source_calls++;
  return (int) n;
}

/* Runs one session; appends what the client sent and the results to rec. */
static void run(unsigned flags, int gated, const uint8_t *script, size_t len, const size_t *pieces, int npieces, fz_buf *rec) {
  static const sn_mail_addr rcpt[4] = {{"Operator", "ops@example.com"},
                                       {"J\xc3\xb6rg M\xc3\xbcller", "joerg@example.net"},
                                       {NULL, "cc@example.org"},
                                       {"Hidden", "bcc@example.org"}};
  static const unsigned char att_data[] = "attachment bytes\x00\x01\x02\xff";
  sn_mgr *mgr = NULL;
  sn_mgr_opts mo;
  sn_smtp_server srv;
  sn_mail mail[2];
  sn_mail_attachment att[2];
  outcome out[2];
  size_t src_left = 700;
  int nrcpt = 1 + (int) (flags & 3), nmail = (flags & 32) ? 2 : 1, i, round, s;
  memset(&mo, 0, sizeof mo);
  memset(&srv, 0, sizeof srv);
  memset(mail, 0, sizeof mail);
  memset(att, 0, sizeof att);
  memset(out, 0, sizeof out);
  fz_port_start((flags & 128) ? 100 : 1);
  mo.port = sn_mem_port(&fz_net);
  FZ_CHECK(sn_mgr_create(&mgr, &mo) == SN_OK, "sn_mgr_create");
  s = sn_mem_peer_expect(&fz_net, NULL, 0); /* the mail server */
  fz_script(s, script, len, pieces, npieces, 0, (flags >> 6) & 1);
  if (gated) sn_mem_peer_smtp(&fz_net, s);
  srv.host = "mail.example.com";
  srv.mode = (flags & 4) ? SN_SMTP_STARTTLS : SN_SMTP_PLAIN_INSECURE;
  srv.timeout_ms = (flags & 128) ? 1000 : 0;
  for (i = 0; i < nmail; i++) {
    mail[i].from.name = "Device 7";
    mail[i].from.addr = "dev7@example.com";
    mail[i].to = rcpt;
    mail[i].to_count = nrcpt > 2 ? 2 : nrcpt;
    mail[i].cc = rcpt + 2;
    mail[i].cc_count = nrcpt > 2 ? 1 : 0;
    mail[i].bcc = rcpt + 3;
    mail[i].bcc_count = nrcpt > 3 ? 1 : 0;
    mail[i].subject = i ? "second" : "Temp\xc3\xa9rature \xc3\xa9lev\xc3\xa9\x65: 41 \xc2\xb0\x43";
    mail[i].text = ".leading dot\n.\nend\r\n";
    mail[i].html = (flags & 16) ? "<p>.hi</p>\n." : NULL;
    if (flags & 8) {
      att[i].filename = "log.bin";
      if (i == 0) {
        att[i].data = att_data;
        att[i].len = sizeof att_data;
      } else {
        att[i].source = att_source;
        att[i].source_arg = &src_left;
      }
      mail[i].attachments = &att[i];
      mail[i].attachment_count = 1;
    }
    FZ_CHECK(sn_mail_send(mgr, &srv, &mail[i], on_done, &out[i]) == SN_OK, "sn_mail_send");
  }
  for (round = 0; round < 400 && (out[0].calls == 0 || out[nmail - 1].calls == 0); round++) sn_poll(mgr, 0);
  sn_mgr_destroy(mgr);
  FZ_CHECK(fz_net.misuse == 0, "port misuse: %s", fz_net.misuse_what);
  fz_puts(rec, "SENT:");
  fz_put(rec, fz_net.s[s].out, fz_net.s[s].out_len);
  for (i = 0; i < nmail; i++) {
    const sn_mail_result *r = &out[i].res;
    int k, nref = 0;
    FZ_CHECK(out[i].calls == 1, "mail %d: done called %d times", i, out[i].calls);
    FZ_CHECK(r->stage != NULL || r->err == SN_OK, "mail %d: failed (%d) without a stage", i, r->err);
    FZ_CHECK(memchr(r->reply, '\0', sizeof r->reply) != NULL, "reply not NUL-terminated");
    FZ_CHECK(r->err <= 0 && r->err > SN__ERR_LAST, "err %d", r->err);
    FZ_CHECK(r->reply_code == 0 || (r->reply_code >= 200 && r->reply_code <= 599), "reply_code %d", r->reply_code);
    for (k = 0; k < SN_MAIL_MAX_RCPT; k++) {
      FZ_CHECK(r->refused[k] <= 1 && (k < nrcpt || r->refused[k] == 0), "refused[%d] = %d", k, r->refused[k]);
      nref += r->refused[k];
    }
    FZ_CHECK(nref == r->refused_count, "refused_count %d, flags %d", r->refused_count, nref);
    if (r->err == SN_OK) {
      /* sent means: DATA, the message, the final dot, and at least one recipient taken */
      const char *sent = fz_net.s[s].out ? (const char *) fz_net.s[s].out : "", *data = strstr(sent, "DATA\r\n");
      FZ_CHECK(nref < nrcpt, "mail %d reported sent with every recipient refused", i);
      FZ_CHECK(data != NULL && strstr(data, "\r\n.\r\n") != NULL, "mail %d reported sent without DATA and the dot", i);
      FZ_CHECK(r->reply_code == 250, "mail %d reported sent on a %d reply", i, r->reply_code);
    }
    if (gated && !sn_mem_smtp_accepted(&fz_net, s, i)) {
      /* the server never took this mail: the result must not read as
         "sent" nor as "sent to the recipients not refused" */
      FZ_CHECK(r->err != SN_OK, "mail %d reported sent, but the server never accepted it", i);
      FZ_CHECK(getenv("FUZZ_SKIP_KNOWN") != NULL || /* to look past the bug reported (see README.md) */
               !(r->err == SN_ERR_REFUSED && r->stage != NULL && strcmp(r->stage, "RCPT TO") == 0 && nref < nrcpt),
               "mail %d never accepted by the server (message %s, dot reply %s), but reported as a partial success: "
               "err=%d stage=%s code=%d refused %d of %d recipients, reply \"%s\"",
               i, i < fz_net.s[s].smtp.nmsg ? "sent" : "not sent", i < fz_net.s[s].smtp.nmsg ? "not 250" : "none", r->err, r->stage,
               r->reply_code, nref, nrcpt, r->reply);
    }
    fz_printf(rec, "\nMAIL %d: err=%d stage=%s code=%d refused=%d reply=%s\n", i, r->err, r->stage ? r->stage : "-",
              r->reply_code, r->refused_count, r->reply);
  }
}

/* The line rewriter (see the top): what the server says, rewritten from
   script[0..len) into out (room for 3 * len + 16 bytes). Returns the length. */
static size_t rewrite(unsigned lm, unsigned sel, const uint8_t *script, size_t len, uint8_t *out) {
  size_t off = 0, o = 0, nlines = 0, k, line;
  unsigned op = lm >> 1, cut = sel >> 6;
  for (k = 0; k < len; k++) nlines += script[k] == '\n';
  if (len > 0 && script[len - 1] != '\n') nlines++;
  k = nlines ? (sel & 63) % nlines : 0;
  for (line = 0; off < len; line++) {
    const uint8_t *l = script + off, *nl = (const uint8_t *) memchr(l, '\n', len - off);
    size_t end = nl ? (size_t) (nl - script) + 1 : len, n = end - off, text = n, keep;
    int lf = nl != NULL, cr;
    if (lf) text--;
    cr = lf && text > 0 && l[text - 1] == '\r';
    if (cr) text--;
    keep = (op == 1 || op == 2) && line == k && text > cut ? cut : text;
    memcpy(out + o, l, keep), o += keep;
    if (op == 2 && line == k && text > 4) { /* the short line, then the text as a line of its own */
      if (!(lm & 1)) out[o++] = '\r';
      out[o++] = '\n';
      memcpy(out + o, l + 4, text - 4), o += text - 4;
    }
    if (cr && !(lm & 1)) out[o++] = '\r';
    if (lf) out[o++] = '\n';
    if (op == 3 && text >= 4 && l[3] == '-') {
      keep = text < cut ? text : cut; /* the same line's first L characters, as a line of its own */
      memcpy(out + o, l, keep), o += keep;
      if (!(lm & 1)) out[o++] = '\r';
      out[o++] = '\n';
    }
    off = end;
  }
  return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_in in = {data, size};
  unsigned flags = fz_u8(&in), b1 = fz_u8(&in), ncuts = b1 & 15, lm = b1 >> 5, sel = (lm >> 1) ? fz_u8(&in) : 0, i;
  int gated = !(b1 & 16);
  size_t cuts[16], pieces[17];
  int npieces = 0;
  uint8_t *script = NULL;
  fz_buf whole, split;
  memset(&whole, 0, sizeof whole);
  memset(&split, 0, sizeof split);
  for (i = 0; i < ncuts; i++) cuts[i] = fz_u16(&in);
  if (lm != 0) { /* the script, rewritten line by line (short and bare-LF lines) */
    script = (uint8_t *) malloc(3 * in.n + 16);
    FZ_CHECK(script != NULL, "malloc");
    in.n = rewrite(lm, sel, in.p, in.n, script);
    in.p = script;
  }
  npieces = fz_pieces(cuts, ncuts, in.n, pieces);
  run(flags, gated, in.p, in.n, NULL, 0, &whole);
  if (getenv("FUZZ_VERBOSE") != NULL) fprintf(stderr, "%s\n", whole.p); /* the transcript and results */
  if (gated && !(flags & (4 | 128)) && npieces > 0) {
    run(flags, gated, in.p, in.n, pieces, npieces, &split);
    FZ_CHECK(whole.len == split.len && memcmp(whole.p, split.p, whole.len) == 0,
             "script fed whole (A) and in pieces (B): %s", fz_diff(&whole, &split));
  }
  fz_free(&whole);
  fz_free(&split);
  free(script);
  fz_port_done();
  return 0;
}
