/* test_mime.c - the mail writer on its own: headers, encoded words, the
   MIME structure, quoted-printable and base64 output, dot-stuffing and line
   lengths; and sn_mail_send's refusal of header injection. The message is
   produced into a session's send buffer without any network. */
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "securenet_port_posix.h"
#include "test.h"

#include <stdlib.h>

static sn_mgr *mgr;
static int done_calls;

static void on_done(void *user, const sn_mail *mail, const sn_mail_result *r) {
  (void) user;
  (void) mail;
  (void) r;
  done_calls++;
}

/* Runs the writer to the end; returns the message (NUL-terminated, malloc'd). */
static char *render(const sn_mail *mail) {
  sn__smtp s;
  char *out;
  int r, guard = 0;
  memset(&s, 0, sizeof s);
  s.st.io.mgr = mgr;
  s.st.tx.buf = (unsigned char *) malloc(64);
  s.st.tx.cap = 64;
  sn__mime_plan(&s.w, mail);
  while ((r = sn__mime_step(&s, mail)) == 1 && guard++ < 100000) continue;
  if (r != 0) {
    free(s.st.tx.buf);
    return NULL;
  }
  out = (char *) malloc(s.st.tx.len + 1);
  memcpy(out, s.st.tx.buf, s.st.tx.len);
  out[s.st.tx.len] = '\0';
  free(s.st.tx.buf);
  return out;
}

static int max_line(const char *m) {
  int best = 0, cur = 0;
  for (; *m; m++) {
    if (*m == '\n') cur = 0;
    else if (++cur > best) best = cur;
  }
  return best;
}

static int bare_lf_or_cr(const char *m) {
  for (; *m; m++) {
    if (*m == '\n' && (m[-1] != '\r')) return 1;
    if (*m == '\r' && m[1] != '\n') return 1;
  }
  return 0;
}

static int b64val(int c) {
  const char *p = strchr(sn__b64, c);
  return c && p ? (int) (p - sn__b64) : -1;
}

/* Decodes the base64 body that follows `marker` up to the next boundary. */
static size_t b64_after(const char *m, const char *marker, unsigned char *out, size_t cap) {
  const char *p = strstr(m, marker);
  size_t n = 0;
  unsigned acc = 0;
  int bits = 0;
  if (p == NULL) return 0;
  p = strstr(p, "\r\n\r\n") + 4;
  for (; *p && *p != '-'; p++) {
    int v = b64val((unsigned char) *p);
    if (v < 0) continue;
    acc = (acc << 6) | (unsigned) v;
    bits += 6;
    if (bits >= 8 && n < cap) out[n++] = (unsigned char) (acc >> (bits -= 8));
  }
  return n;
}

static int pieces(void *arg, void *buf, size_t len) { /* a source giving 7 bytes at a time */
  const char **p = (const char **) arg;
  size_t n = strlen(*p);
  if (n > 7) n = 7;
  if (n > len) n = len;
  memcpy(buf, *p, n);
  *p += n;
  return (int) n;
}

int main(void) {
  sn_mgr_opts mo;
  sn_mail mail;
  sn_mail_addr to[2] = {{"Jörg Müller", "joerg@example.com"}, {"Plain \"Name\"", "p@example.com"}};
  sn_mail_attachment att;
  unsigned char bin[3000], dec[3100];
  char long_line[3000], *m;
  const char *src;
  size_t i, n;
  sn_smtp_server srv;

  memset(&mo, 0, sizeof mo);
  mo.port = sn_posix_port();
  if (!CHECK_INT(sn_mgr_create(&mgr, &mo), SN_OK, "mime: a manager to draw randomness from")) return test_summary();

  memset(&mail, 0, sizeof mail);
  mail.from.name = "Device 7";
  mail.from.addr = "dev7@example.org";
  mail.to = to;
  mail.to_count = 2;
  mail.subject = "Température élevée: 41 °C";
  mail.text = ".leading dot\nbare LF\r\nCRLF\rbare CR\ntrailing space \n";
  m = render(&mail);
  if (!CHECK(m != NULL, "mime: a text mail renders")) return test_summary();
  CHECK(strstr(m, "Subject: =?UTF-8?B?") != NULL, "mime: a UTF-8 subject is an RFC 2047 encoded word");
  CHECK(strstr(m, "To: =?UTF-8?B?") != NULL && strstr(m, "<joerg@example.com>") != NULL,
        "mime: a UTF-8 display name is an encoded word before the address");
  CHECK(strstr(m, "\"Plain \\\"Name\\\"\" <p@example.com>") != NULL, "mime: an ASCII display name is quoted and escaped");
  CHECK(strstr(m, "\"Device 7\" <dev7@example.org>") != NULL, "mime: From carries the display name");
  CHECK(strstr(m, "\r\nDate: ") != NULL && strstr(m, " +0000\r\n") != NULL, "mime: Date from the wall clock, in UTC");
  CHECK(strstr(m, "@example.org>\r\nMIME-Version: 1.0") != NULL, "mime: a Message-ID in the sender's domain");
  CHECK(strstr(m, "\r\n=2Eleading dot\r\n") != NULL, "mime: a leading dot is encoded (and so never stuffed)");
  CHECK(strstr(m, "bare LF\r\nCRLF\r\nbare CR\r\n") != NULL, "mime: LF, CR and CRLF all become CRLF");
  CHECK(strstr(m, "trailing space=20\r\n") != NULL, "mime: whitespace before a line end is encoded (RFC 2045 6.7)");
  CHECK(!bare_lf_or_cr(m), "mime: no bare CR or LF anywhere in the message");
  n = strlen(m);
  CHECK(n > 5 && strcmp(m + n - 5, "\r\n.\r\n") == 0, "mime: the message ends with CRLF . CRLF");
  free(m);

  /* a long line, a line starting with a dot via a source, an HTML part and an attachment */
  memset(long_line, 'x', sizeof long_line - 1);
  long_line[sizeof long_line - 1] = '\0';
  for (i = 0; i < sizeof bin; i++) bin[i] = (unsigned char) (i * 7 + 3);
  memset(&att, 0, sizeof att);
  att.filename = "log.bin";
  att.data = bin;
  att.len = sizeof bin;
  mail.text = long_line;
  mail.html = "<p>.dot</p>\n.starts with a dot\n";
  mail.attachments = &att;
  mail.attachment_count = 1;
  m = render(&mail);
  if (!CHECK(m != NULL, "mime: a mail with HTML and an attachment renders")) return test_summary();
  if (!CHECK(max_line(m) <= 78, "mime: no line over 78 characters, even for a 3000-byte body line")) {
    char *l = m, *e;
    for (; (e = strchr(l, '\n')) != NULL; l = e + 1)
      if (e - l > 78) printf("#   %.*s\n", (int) (e - l), l);
  }
  CHECK(strstr(m, "multipart/mixed") && strstr(m, "multipart/alternative") && strstr(m, "text/html"),
        "mime: mixed around alternative (text, HTML) and the attachment");
  CHECK(strstr(m, "\r\n=2Estarts with a dot") != NULL, "mime: HTML lines starting with a dot are safe too");
  n = b64_after(m, "filename=\"log.bin\"", dec, sizeof dec);
  CHECK(n == sizeof bin && memcmp(dec, bin, n) == 0, "mime: the attachment decodes byte for byte");
  free(m);

  /* a streamed body, 7 bytes at a time, with dots at line starts across pieces */
  src = "line one\n.two\n..three\nfour.\n";
  memset(&mail, 0, sizeof mail);
  mail.from.addr = "a@example.org";
  mail.to = to;
  mail.to_count = 1;
  mail.subject = "plain";
  mail.text_source = pieces;
  mail.text_source_arg = &src;
  m = render(&mail);
  CHECK(m && strstr(m, "line one\r\n=2Etwo\r\n=2E.three\r\nfour.\r\n") != NULL,
        "mime: a streamed body gives the same encoding whatever the piece sizes");
  CHECK(m && strstr(m, "Subject: plain\r\n") != NULL, "mime: an ASCII subject stays readable");
  free(m);

  /* header injection is refused before anything is queued */
  memset(&srv, 0, sizeof srv);
  srv.host = "localhost";
  mail.subject = "hi\r\nBcc: victim@example.net";
  CHECK_INT(sn_mail_send(mgr, &srv, &mail, on_done, NULL), SN_ERR_INVALID, "mail: CR LF in the subject is refused");
  mail.subject = "hi";
  to[0].name = "Eve\nBcc: x@y";
  CHECK_INT(sn_mail_send(mgr, &srv, &mail, on_done, NULL), SN_ERR_INVALID, "mail: LF in a display name is refused");
  to[0].name = NULL;
  to[0].addr = "a@b.c>\r\nRCPT TO:<x@y.z";
  CHECK_INT(sn_mail_send(mgr, &srv, &mail, on_done, NULL), SN_ERR_INVALID, "mail: CR LF in an address is refused");
  to[0].addr = "no-at-sign";
  CHECK_INT(sn_mail_send(mgr, &srv, &mail, on_done, NULL), SN_ERR_INVALID, "mail: an address without @ is refused");
  to[0].addr = "ok@example.com";
  CHECK_INT(sn_mail_send(mgr, &srv, &mail, NULL, NULL), SN_ERR_INVALID, "mail: a missing done callback is refused");
  CHECK_INT(done_calls, 0, "mail: nothing refused was queued (no done call)");
  sn_mgr_destroy(mgr);
  return test_summary();
}
