/* fuzz_mime.c - the message writer: headers, RFC 2047 encoded words, the
   MIME structure, quoted-printable and base64, dot-stuffing.

   Input: byte 0 flags (bit 0: an HTML part; bit 1: the text from a source
   callback; bits 2-3: attachments, 0-3; bit 4: attachments from a source;
   bit 5: addresses as given (else mapped into [a-z0-9.-_+], "local@domain");
   bit 6: a Cc recipient), byte 1 the callbacks' piece size, then fields, each
   a 16-bit length and its bytes: subject, from name, from address, to name,
   to address, text, html, and per attachment filename, content type, data.
   The mail is first checked by sn_mail_send (what it refuses never reaches
   the writer), then written as the session writes it.
   Checks on the output: it ends with CRLF "." CRLF and no other line is a
   lone "." once dot-stuffing is undone; every line ends in CRLF, no bare CR
   or LF; only 7-bit printable characters, SP and HTAB; no line longer than
   998 characters, no body line longer than 76; the Subject decodes (RFC
   2047) to the subject; the text part decodes (quoted-printable, with a
   decoder here) to the text with its line ends made CRLF; every
   attachment decodes (base64) to its bytes, its file name is one
   quoted-string. tests/fuzz/mime_roundtrip.py
   reads the same messages with Python's email package
   (FUZZ_MIME_DUMP=dir makes this target write them there). */
#define SECURENET_IMPLEMENTATION
#define FZ_WITH_PORT
#include "securenet.h"
#include "fuzz_common.h"

typedef struct field {
  const uint8_t *p;
  size_t n;
} field;

static field take(fz_in *in) {
  field f;
  size_t n = fz_u16(in) % 2048;
  if (n > in->n) n = in->n;
  f.p = in->p;
  f.n = n;
  in->p += n, in->n -= n;
  return f;
}

/* a NUL-terminated copy (stops at the first NUL, like a C string would) */
static char *cstr(field f) {
  char *s = (char *) malloc(f.n + 1);
  memcpy(s, f.p, f.n);
  s[f.n] = '\0';
  return s;
}

static char *addr_of(field f, int raw) {
  static const char alpha[] = "abcdefghijklmnopqrstuvwxyz0123456789.-_+";
  size_t i, o = 0, half = f.n / 2;
  char *s;
  if (raw) {
    s = cstr(f);
    /* FUZZ_SKIP_KNOWN: 8-bit bytes in an address are accepted and sent as
       they are (reported; see README.md) */
    if (getenv("FUZZ_SKIP_KNOWN") != NULL)
      for (i = 0; s[i]; i++) s[i] = (char) (s[i] & 0x7f ? s[i] & 0x7f : 'x');
    return s;
  }
  s = (char *) malloc(f.n + 4); /* local@domain, each at least one character */
  for (i = 0; i < half; i++) s[o++] = alpha[f.p[i] % (sizeof alpha - 1)];
  if (o == 0) s[o++] = 'a';
  s[o++] = '@';
  for (i = half; i < f.n; i++) s[o++] = alpha[f.p[i] % (sizeof alpha - 1)];
  if (s[o - 1] == '@') s[o++] = 'b';
  s[o] = '\0';
  return s;
}

typedef struct src {
  const uint8_t *p;
  size_t n, piece;
} src;

static int from_source(void *arg, void *buf, size_t len) {
  src *s = (src *) arg;
  size_t n = s->n < s->piece ? s->n : s->piece;
  if (n > len) n = len;
  memcpy(buf, s->p, n);
  s->p += n, s->n -= n;
  return (int) n;
}

static int b64v(int c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* base64 text (line breaks skipped, '=' ends) to bytes; -1 if malformed */
static long b64_decode(const char *s, size_t n, unsigned char *out) {
  size_t i, o = 0;
  unsigned acc = 0;
  int bits = 0;
  for (i = 0; i < n; i++) {
    int v;
    if (s[i] == '\r' || s[i] == '\n') continue;
    if (s[i] == '=') break;
    if ((v = b64v((unsigned char) s[i])) < 0) return -1;
    acc = (acc << 6) | (unsigned) v;
    bits += 6;
    if (bits >= 8) out[o++] = (unsigned char) (acc >> (bits -= 8));
  }
  return (long) o;
}

static int hexv(int c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; }

/* quoted-printable to bytes, CRLF to "\r\n"; -1 if malformed */
static long qp_decode(const char *s, size_t n, char *out) {
  size_t i, o = 0;
  for (i = 0; i < n; i++) {
    if (s[i] == '=') {
      if (i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
        i += 2;
        continue;
      }
      if (i + 2 >= n || hexv((unsigned char) s[i + 1]) < 0 || hexv((unsigned char) s[i + 2]) < 0) return -1;
      out[o++] = (char) (hexv((unsigned char) s[i + 1]) * 16 + hexv((unsigned char) s[i + 2]));
      i += 2;
    } else {
      out[o++] = s[i];
    }
  }
  return (long) o;
}

/* line ends of the input as the writer makes them: CR, LF, CRLF -> CRLF */
static size_t crlf_normal(const uint8_t *p, size_t n, char *out) {
  size_t i, o = 0;
  for (i = 0; i < n; i++) {
    if (p[i] == '\r' || p[i] == '\n') {
      out[o++] = '\r', out[o++] = '\n';
      if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n') i++;
    } else {
      out[o++] = (char) p[i];
    }
  }
  return o;
}

/* An unstructured header value back from the message: unfolded, encoded
   words decoded. Returns its length in out. */
static long header_value(const char *msg, size_t head_len, const char *name, char *out) {
  size_t nl = strlen(name), i = 0, o = 0;
  const char *p = NULL;
  while (i < head_len) { /* the line that starts with name */
    if ((i == 0 || msg[i - 1] == '\n') && i + nl <= head_len && memcmp(msg + i, name, nl) == 0) {
      p = msg + i + nl;
      break;
    }
    i++;
  }
  if (p == NULL) return -1;
  for (;;) {
    const char *eol = strstr(p, "\r\n");
    size_t len = (size_t) (eol - p);
    if (len >= 10 && memcmp(p, "=?UTF-8?B?", 10) == 0) { /* a run of encoded words, one per line */
      const char *end = strstr(p + 10, "?=");
      long n;
      FZ_CHECK(end != NULL && end + 2 == eol, "encoded word not alone on its line");
      n = b64_decode(p + 10, (size_t) (end - (p + 10)), (unsigned char *) out + o);
      FZ_CHECK(n >= 0, "bad base64 in an encoded word");
      FZ_CHECK(end + 2 - p <= 75, "encoded word longer than 75 characters");
      o += (size_t) n;
    } else {
      memcpy(out + o, p, len);
      o += len;
    }
    if (eol[2] != ' ') break;
    p = eol + 3;
  }
  return (long) o;
}

static void check_message(const char *m, size_t n, const sn_mail *mail, const field *text, const field *att_data,
                          int natt, int single) {
  size_t i, line = 0, head_len;
  char *u = (char *) malloc(n + 1), *dec = (char *) malloc(n + 1), *want;
  size_t un = 0, body_max = 998;
  int in_body = 0;
  /* transparency, line ends, characters, lengths */
  FZ_CHECK(n >= 5 && memcmp(m + n - 5, "\r\n.\r\n", 5) == 0, "message does not end with CRLF.CRLF");
  for (i = 0; i < n; i++) {
    unsigned char ch = (unsigned char) m[i];
    FZ_CHECK((ch >= 0x20 && ch <= 0x7e) || ch == '\t' || ch == '\r' || ch == '\n', "byte 0x%02x at %zu", ch, i);
    FZ_CHECK(ch != '\r' || (i + 1 < n && m[i + 1] == '\n'), "bare CR at %zu", i);
    FZ_CHECK(ch != '\n' || (i > 0 && m[i - 1] == '\r'), "bare LF at %zu", i);
  }
  for (i = 0; i < n; i = line) { /* line by line: undo dot-stuffing */
    const char *eol = strstr(m + i, "\r\n");
    size_t len = (size_t) (eol - (m + i));
    line = i + len + 2;
    if (len == 1 && m[i] == '.') {
      FZ_CHECK(line == n, "a lone \".\" line before the end, at %zu", i);
      break;
    }
    if (in_body && len > 0 && strncmp(m + i, "--=_sn_", 7) == 0) body_max = 998; /* a boundary: part headers follow */
    else if (len == 0) in_body = 1, body_max = 76;
    FZ_CHECK(len <= body_max + (m[i] == '.'), "line of %zu characters (limit %zu) at %zu: %.80s", len, body_max, i, m + i);
    if (m[i] == '.') i++, len--;
    memcpy(u + un, m + i, len + 2);
    un += len + 2;
  }
  u[un] = '\0';
  head_len = (size_t) (strstr(u, "\r\n\r\n") - u) + 2;
  /* Subject */
  {
    long sl = header_value(u, head_len, "Subject: ", dec);
    FZ_CHECK(sl >= 0, "no Subject");
    FZ_CHECK((size_t) sl == strlen(mail->subject) && memcmp(dec, mail->subject, (size_t) sl) == 0,
             "Subject decodes to \"%.*s\", not \"%s\"", (int) sl, dec, mail->subject);
  }
  /* the text part */
  {
    static const char mark[] = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";
    const char *b = strstr(u, mark), *e;
    long dl;
    size_t wl;
    FZ_CHECK(b != NULL, "no text part");
    b += sizeof mark - 1;
    e = single ? u + un : strstr(b, "\r\n--=_sn_");
    FZ_CHECK(e != NULL, "text part not closed");
    dl = qp_decode(b, (size_t) (e - b), dec);
    FZ_CHECK(dl >= 0, "malformed quoted-printable");
    want = (char *) malloc(2 * text->n + 3);
    wl = crlf_normal(text->p, text->n, want);
    if (single && wl > 0 && (wl < 2 || memcmp(want + wl - 2, "\r\n", 2) != 0)) want[wl++] = '\r', want[wl++] = '\n';
    FZ_CHECK((size_t) dl == wl && memcmp(dec, want, wl) == 0, "text part decodes to %ld bytes, want %zu", dl, wl);
    free(want);
  }
  /* attachments, in order */
  {
    const char *p = u;
    int k;
    for (k = 0; k < natt; k++) {
      const char *b, *e;
      long dl;
      p = strstr(p, "Content-Disposition: attachment;\r\n filename=\"");
      FZ_CHECK(p != NULL, "attachment %d missing", k);
      b = strstr(p, "\r\n\r\n") + 4;
      { /* the file name is one quoted-string (RFC 2045 5.1, RFC 5322 3.2.4) */
        const char *q = p + 45, *end = b - 5; /* after filename=" ; the closing quote */
        FZ_CHECK(*end == '"', "file name not closed by a quote");
        for (; q < end; q++) {
          if (*q == '\\') q++;
          else FZ_CHECK(*q != '"' || getenv("FUZZ_SKIP_KNOWN") != NULL,
                        "attachment %d: a '\"' ends the quoted file name early: %.*s", k, (int) (end - p), p);
        }
      }
      e = strstr(b, "\r\n--=_sn_");
      FZ_CHECK(e != NULL, "attachment %d not closed", k);
      dl = b64_decode(b, (size_t) (e - b), (unsigned char *) dec);
      FZ_CHECK(dl >= 0 && (size_t) dl == att_data[k].n && memcmp(dec, att_data[k].p, att_data[k].n) == 0,
               "attachment %d decodes to %ld bytes, want %zu", k, dl, att_data[k].n);
      p = e;
    }
  }
  free(u);
  free(dec);
}

static void dump(const char *dir, const char *m, size_t n, const sn_mail *mail, const field *text, const field *html,
                 const sn_mail_attachment *att, const field *att_data, int natt, const uint8_t *data, size_t size) {
  char path[600];
  FILE *f;
  size_t i, line;
  unsigned long h = 5381;
  int k;
  for (i = 0; i < size; i++) h = h * 33 + data[i];
  snprintf(path, sizeof path, "%s/%08lx.eml", dir, h & 0xffffffffUL);
  if ((f = fopen(path, "wb")) == NULL) return;
  for (i = 0; i < n; i = line) { /* undo dot-stuffing, drop the final dot */
    const char *eol = strstr(m + i, "\r\n");
    size_t len = (size_t) (eol - (m + i));
    line = i + len + 2;
    if (len == 1 && m[i] == '.') break;
    if (m[i] == '.') fwrite(m + i + 1, 1, len + 1, f);
    else fwrite(m + i, 1, len + 2, f);
  }
  fclose(f);
  snprintf(path, sizeof path, "%s/%08lx.expect", dir, h & 0xffffffffUL);
  if ((f = fopen(path, "wb")) == NULL) return;
#define HEX(key, p, len)                                                          \
  do {                                                                            \
    size_t j_;                                                                    \
    fprintf(f, "%s ", key);                                                       \
    for (j_ = 0; j_ < (len); j_++) fprintf(f, "%02x", ((const unsigned char *) (p))[j_]); \
    fprintf(f, "\n");                                                             \
  } while (0)
  HEX("subject", mail->subject, strlen(mail->subject));
  HEX("from_name", mail->from.name, strlen(mail->from.name));
  HEX("from_addr", mail->from.addr, strlen(mail->from.addr));
  HEX("to_name", mail->to[0].name, strlen(mail->to[0].name));
  HEX("to_addr", mail->to[0].addr, strlen(mail->to[0].addr));
  HEX("text", text->p, text->n);
  if (mail->html) HEX("html", html->p, strlen(mail->html));
  for (k = 0; k < natt; k++) {
    HEX("att_name", att[k].filename, strlen(att[k].filename));
    HEX("att_type", att[k].content_type, strlen(att[k].content_type));
    HEX("att_data", att_data[k].p, att_data[k].n);
  }
#undef HEX
  fclose(f);
}

static void never_done(void *user, const sn_mail *mail, const sn_mail_result *res) {
  (void) user, (void) mail, (void) res;
  FZ_CHECK(0, "a job that was never run ended");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_in in = {data, size};
  unsigned flags = fz_u8(&in), piece = fz_u8(&in) % 64 + 1;
  int natt = (int) ((flags >> 2) & 3), k, r, guard = 0, raw = (flags >> 5) & 1;
  field subject = take(&in), from_name = take(&in), from_addr = take(&in), to_name = take(&in), to_addr = take(&in),
        text = take(&in), html = take(&in), att_name[3], att_type[3], att_data[3];
  sn_mail mail;
  sn_mail_addr to, cc;
  sn_mail_attachment att[3];
  src text_src, att_src[3];
  char *strings[9 + 9];
  int ns = 0;
  sn__smtp s;
  sn_smtp_server srv;
  sn_mgr *mgr = NULL;
  sn_mgr_opts mo;
  for (k = 0; k < natt; k++) att_name[k] = take(&in), att_type[k] = take(&in), att_data[k] = take(&in);
  memset(&mo, 0, sizeof mo); /* a manager for the DRBG (Message-ID, boundaries) */
  fz_port_start(0);
  mo.port = sn_mem_port(&fz_net);
  FZ_CHECK(sn_mgr_create(&mgr, &mo) == SN_OK, "sn_mgr_create");
  memset(&mail, 0, sizeof mail);
  memset(att, 0, sizeof att);
  mail.subject = strings[ns++] = cstr(subject);
  mail.from.name = strings[ns++] = cstr(from_name);
  mail.from.addr = strings[ns++] = addr_of(from_addr, raw);
  to.name = strings[ns++] = cstr(to_name);
  to.addr = strings[ns++] = addr_of(to_addr, raw);
  cc.name = NULL;
  cc.addr = "cc@example.org";
  mail.to = &to;
  mail.to_count = 1;
  mail.cc = &cc;
  mail.cc_count = (flags >> 6) & 1;
  if (flags & 2) {
    text_src.p = text.p, text_src.n = text.n, text_src.piece = piece;
    mail.text_source = from_source;
    mail.text_source_arg = &text_src;
  } else if (text.n > 0) {
    mail.text = (const char *) text.p;
    mail.text_len = text.n;
  }
  if (flags & 1) {
    mail.html = strings[ns++] = cstr(html);
    html.n = strlen(mail.html);
  }
  for (k = 0; k < natt; k++) {
    att[k].filename = strings[ns++] = cstr(att_name[k]);
    att[k].content_type = strings[ns++] = cstr(att_type[k]);
    if (getenv("FUZZ_SKIP_KNOWN") != NULL) { /* control and 8-bit bytes pass into Content-Type (reported) */
      char *t = strings[ns - 1];
      for (; *t; t++)
        if ((unsigned char) *t < 0x20 || (unsigned char) *t > 0x7e) *t = 'x';
    }
    if (flags & 16) {
      att_src[k].p = att_data[k].p, att_src[k].n = att_data[k].n, att_src[k].piece = piece;
      att[k].source = from_source;
      att[k].source_arg = &att_src[k];
    } else {
      att[k].data = att_data[k].p;
      att[k].len = att_data[k].n;
    }
  }
  mail.attachments = natt ? att : NULL;
  mail.attachment_count = natt;
  memset(&srv, 0, sizeof srv);
  srv.host = "mail.example.com";
  /* what sn_mail_send refuses never reaches the writer */
  r = sn_mail_send(mgr, &srv, &mail, NULL, NULL);
  FZ_CHECK(r == SN_ERR_INVALID, "sn_mail_send without done: %d", r);
  r = sn_mail_send(mgr, &srv, &mail, never_done, NULL);
  if (r == SN_OK) {
    mgr->njobs = 0; /* checked; the job itself is not run */
    memset(&s, 0, sizeof s);
    s.st.io.mgr = mgr;
    s.st.tx.buf = (unsigned char *) malloc(64);
    s.st.tx.cap = 64;
    sn__mime_plan(&s.w, &mail);
    while ((r = sn__mime_step(&s, &mail)) == 1 && guard++ < 1000000) continue;
    FZ_CHECK(r == 0, "writer returned %d", r);
    {
      const char *dir = getenv("FUZZ_MIME_DUMP");
      char *msg = (char *) malloc(s.st.tx.len + 1);
      memcpy(msg, s.st.tx.buf, s.st.tx.len);
      msg[s.st.tx.len] = '\0';
      FZ_CHECK(strlen(msg) == s.st.tx.len, "NUL in the message");
      if (dir != NULL) dump(dir, msg, s.st.tx.len, &mail, &text, &html, att, att_data, natt, data, size);
      check_message(msg, s.st.tx.len, &mail, &text, att_data, natt, !(flags & 1) && natt == 0);
      free(msg);
    }
    free(s.st.tx.buf);
  }
  sn_mgr_destroy(mgr);
  for (k = 0; k < ns; k++) free(strings[k]);
  return 0;
}
