/* multipart_case.h - one multipart parse as the fuzz target, the dump driver
   (multipart_dump.c) and the Python reference (multipart_ref.py) all read it.
   Include it after securenet.h (with SECURENET_IMPLEMENTATION) and
   fuzz_common.h.

   Input format (the fuzz input, the corpus files, the generated cases):
     byte 0   bits 0-2: the Content-Type: 0 = the line after the split offsets
                        (up to its LF; a CR before the LF is dropped), 1-7 =
                        mpc_types[n] below
              bits 3-5: max_parts: 0 = the default (SN_MULTIPART_PARTS), n = n - 1
              bits 6-7: callbacks: 0 all, recorded; 1 the k-th on_part (from 0)
                        returns MPC_STOP; 2 the k-th on_part_end returns
                        MPC_STOP; 3 no callbacks at all (cb NULL: a syntax check)
     byte 1   bits 0-3: number of split offsets; bits 4-7: k
     then     that many 16-bit little-endian split offsets (modulo the body's
              length; used by the fuzz target only)
     then     [the Content-Type line] the body

   The record (one line per event, what `multipart_dump` prints):
     part INDEX NAME FILENAME CONTENT_TYPE   each string "-" when its ptr is
                                             NULL, else "x" and its bytes in hex
     data HEX                                a part's data, the on_data calls
                                             between two other events joined
     end
     result ok|proto|too_big|stop|state|N    sn_multipart_feed's first error,
                                             else sn_multipart_finish's */
#ifndef MULTIPART_CASE_H
#define MULTIPART_CASE_H

#define MPC_STOP (-77) /* what a failing callback returns */

static const char *const mpc_types[8] = {
    NULL,
    "multipart/form-data; boundary=b",
    "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
    "multipart/form-data; boundary=------------------------d74496d66958873e",
    "multipart/form-data; boundary=\"1234567890123456789012345678901234567890123456789012345678901234567890\"",
    "Multipart/Form-Data ; charset=utf-8; BOUNDARY=\"a b\\\"\"",
    "multipart/mixed; boundary=\"'()+_,-./:=? x\"",
    "multipart/form-data; boundary=\"\\-\\-\"",
};

typedef struct mpc_input {
  unsigned flags, kbyte;
  size_t cuts[15];
  unsigned ncuts;
  sn_str ct;
  const uint8_t *body;
  size_t len;
} mpc_input;

static void mpc_decode(const uint8_t *data, size_t size, mpc_input *in) {
  fz_in r;
  unsigned i, sel;
  r.p = data;
  r.n = size;
  memset(in, 0, sizeof *in);
  in->flags = fz_u8(&r);
  in->kbyte = fz_u8(&r);
  in->ncuts = in->kbyte & 15;
  for (i = 0; i < in->ncuts; i++) in->cuts[i] = fz_u16(&r);
  sel = in->flags & 7;
  if (sel == 0) {
    const uint8_t *lf = (const uint8_t *) memchr(r.p, '\n', r.n);
    size_t n = lf ? (size_t) (lf - r.p) : r.n;
    in->ct.ptr = (const char *) r.p;
    in->ct.len = n && r.p[n - 1] == '\r' ? n - 1 : n;
    r.p += lf ? n + 1 : n;
    r.n -= lf ? n + 1 : n;
  } else {
    in->ct.ptr = mpc_types[sel];
    in->ct.len = strlen(mpc_types[sel]);
  }
  in->body = r.p;
  in->len = r.n;
}

/* one run's state: the record and what the invariants need */
typedef struct mpc_run {
  sn_multipart mp;
  fz_buf rec;
  int mode, k, parts_seen, ends_seen, in_part, in_data;
  size_t data_total;
  const char *piece; /* the piece being fed */
  size_t piece_len;
} mpc_run;

static void mpc_hex(fz_buf *b, const void *p, size_t n) {
  static const char hx[] = "0123456789abcdef";
  const unsigned char *s = (const unsigned char *) p;
  size_t i;
  for (i = 0; i < n; i++) {
    char two[2];
    two[0] = hx[s[i] >> 4];
    two[1] = hx[s[i] & 15];
    fz_put(b, two, 2);
  }
}

static void mpc_str(mpc_run *r, sn_str s) {
  fz_puts(&r->rec, " ");
  if (s.ptr == NULL) {
    FZ_CHECK(s.len == 0, "a NULL string with length %zu", s.len);
    fz_puts(&r->rec, "-");
    return;
  }
  /* a head string lies in the part-head buffer */
  FZ_CHECK(s.ptr >= r->mp.head && s.ptr + s.len <= r->mp.head + sizeof r->mp.head, "a head string outside the head buffer");
  FZ_CHECK(s.ptr + s.len <= r->mp.head + r->mp.hlen, "a head string past the head's end");
  fz_puts(&r->rec, "x");
  mpc_hex(&r->rec, s.ptr, s.len);
}

static void mpc_close_data(mpc_run *r) {
  if (r->in_data) fz_puts(&r->rec, "\n");
  r->in_data = 0;
}

static int mpc_on_part(void *user, const sn_part *p) {
  mpc_run *r = (mpc_run *) user;
  FZ_CHECK(!r->in_part, "on_part inside a part");
  FZ_CHECK(p->index == r->parts_seen, "part index %d, want %d", p->index, r->parts_seen);
  FZ_CHECK(r->mp.parts == p->index + 1 && r->mp.parts <= r->mp.max_parts, "parts %d, max %d", r->mp.parts, r->mp.max_parts);
  FZ_CHECK(p->content_type.ptr == NULL || (!memchr(p->content_type.ptr, '\r', p->content_type.len) &&
                                           !memchr(p->content_type.ptr, '\n', p->content_type.len)),
           "CR or LF in a part's Content-Type");
  mpc_close_data(r);
  fz_printf(&r->rec, "part %d", p->index);
  mpc_str(r, p->name);
  mpc_str(r, p->filename);
  mpc_str(r, p->content_type);
  fz_puts(&r->rec, "\n");
  r->in_part = 1;
  if (r->mode == 1 && r->parts_seen == r->k) return MPC_STOP;
  r->parts_seen++;
  return SN_OK;
}

static int mpc_on_data(void *user, const void *data, size_t len) {
  mpc_run *r = (mpc_run *) user;
  const char *d = (const char *) data;
  FZ_CHECK(r->in_part, "on_data outside a part");
  FZ_CHECK(len > 0, "on_data with no bytes");
  /* straight from the piece being fed, or the held start of a delimiter */
  FZ_CHECK((d >= r->piece && d + len <= r->piece + r->piece_len) ||
               (d == r->mp.delim && len < r->mp.dlen && memcmp(d, "\r", 1) == 0),
           "on_data bytes from neither the input nor the held delimiter");
  r->data_total += len;
  if (!r->in_data) fz_puts(&r->rec, "data ");
  r->in_data = 1;
  mpc_hex(&r->rec, data, len);
  return SN_OK;
}

static int mpc_on_end(void *user) {
  mpc_run *r = (mpc_run *) user;
  FZ_CHECK(r->in_part, "on_part_end outside a part");
  mpc_close_data(r);
  fz_puts(&r->rec, "end\n");
  r->in_part = 0;
  if (r->mode == 2 && r->ends_seen == r->k) return MPC_STOP;
  r->ends_seen++;
  return SN_OK;
}

static const char *mpc_result_name(int rc, char *tmp, size_t cap) {
  switch (rc) {
    case SN_OK: return "ok";
    case SN_ERR_PROTO: return "proto";
    case SN_ERR_TOO_BIG: return "too_big";
    case SN_ERR_STATE: return "state";
    case MPC_STOP: return "stop";
    default: snprintf(tmp, cap, "%d", rc); return tmp;
  }
}

/* Runs one parse of in, the body fed in pieces (pieces[0..np), the rest
   after; np 0: whole; np -1: byte by byte). Fills r->rec; returns the result. */
static int mpc_parse(mpc_run *r, const mpc_input *in, const size_t *pieces, int np) {
  static const sn_multipart_cb cbs = {mpc_on_part, mpc_on_data, mpc_on_end};
  size_t off = 0;
  int rc, i = 0, first_err = SN_OK;
  unsigned maxp = (in->flags >> 3) & 7;
  char tmp[24];
  memset(&r->rec, 0, sizeof r->rec);
  r->mode = (int) (in->flags >> 6);
  r->k = (int) (in->kbyte >> 4);
  r->parts_seen = r->ends_seen = r->in_part = r->in_data = 0;
  r->data_total = 0;
  rc = sn_multipart_init(&r->mp, in->ct, r->mode == 3 ? NULL : &cbs, r);
  FZ_CHECK(r->mp.why != NULL, "why is NULL after init");
  if (rc != SN_OK) {
    FZ_CHECK(rc == SN_ERR_PROTO && r->mp.err == rc, "init failed with %d (err %d)", rc, r->mp.err);
    FZ_CHECK(sn_multipart_feed(&r->mp, in->body, in->len) == rc && sn_multipart_finish(&r->mp) == rc,
             "calls after a failed init do not return its error");
    fz_printf(&r->rec, "result %s\n", mpc_result_name(rc, tmp, sizeof tmp));
    return rc;
  }
  if (maxp) r->mp.max_parts = (int) maxp - 1;
  while (off < in->len || (off == 0 && i == 0)) {
    size_t n = np < 0 ? 1 : i < np ? pieces[i] : in->len - off;
    if (n > in->len - off) n = in->len - off;
    i++;
    r->piece = (const char *) in->body + off;
    r->piece_len = n;
    rc = sn_multipart_feed(&r->mp, in->body + off, n);
    off += n;
    if (rc != SN_OK) {
      first_err = rc;
      break;
    }
    if (n == 0) break;
  }
  r->piece = NULL;
  r->piece_len = 0;
  if (first_err != SN_OK) {
    /* every later call returns it */
    FZ_CHECK(r->mp.err == first_err && sn_multipart_feed(&r->mp, "x", 1) == first_err &&
                 sn_multipart_feed(&r->mp, NULL, 0) == first_err && sn_multipart_finish(&r->mp) == first_err,
             "an error (%d) not returned by every later call", first_err);
    rc = first_err;
  } else {
    rc = sn_multipart_finish(&r->mp);
    FZ_CHECK(sn_multipart_finish(&r->mp) == rc, "finish twice differs");
  }
  FZ_CHECK(r->mp.why != NULL && (rc == SN_OK) == (r->mp.err == SN_OK), "err %d, why NULL or err not kept", r->mp.err);
  FZ_CHECK(r->data_total <= in->len, "more data (%zu) than the body (%zu)", r->data_total, in->len);
  FZ_CHECK(rc != SN_OK || !r->in_part, "accepted with a part open");
  FZ_CHECK(rc == SN_OK || rc == SN_ERR_PROTO || rc == SN_ERR_TOO_BIG || rc == MPC_STOP, "unexpected result %d", rc);
  FZ_CHECK(rc != MPC_STOP || r->mode == 1 || r->mode == 2, "a stop without a failing callback");
  mpc_close_data(r);
  fz_printf(&r->rec, "result %s\n", mpc_result_name(rc, tmp, sizeof tmp));
  return rc;
}

#endif /* MULTIPART_CASE_H */
