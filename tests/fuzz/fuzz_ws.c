/* fuzz_ws.c - the WebSocket receive side: the frame parser (sn__ws_next) and
   the UTF-8 check (sn__utf8_step), both working in place in the stream's
   receive buffer.

   Input: byte 0 flags (bit 0: a client's parser, frames unmasked; else a
   server's, frames masked; bit 1: max_message 2^40 instead of bytes 1-2),
   bytes 1-2 max_message (16-bit little-endian), byte 3 the streaming
   buffer (256 + 8 * value bytes), byte 4 the count of split points (low 4
   bits), then 16-bit little-endian split offsets, then the byte stream S.

   The parser is driven as the engine (sn__ws_parse, sn__ws_room) drives it:
   a receive buffer that grows by doubling from SN_RX_INIT up to
   max_message + 256 (streaming: one block of the size above, at least 256),
   reads of what fits, sn__ws_next called while the buffer holds bytes, a
   stop at the first negative result. Every buffer is a heap block of its
   exact size, so ASan sees a read or write past it.

   Oracles:
   - S fed whole and fed in the pieces the split points make, not streaming
     and streaming, give the same record: each message (type and bytes; a
     streaming message is its pieces joined), each control frame (kind,
     payload, close code) in order, and the end (the negative code or
     "more"); the two streaming runs also agree on the bytes handed out of
     a message still open at the end when the end is "more";
   - a message is never longer than max_message; a text message, a close
     reason, is UTF-8 by the reference below; a close code is one RFC 6455
     7.4 allows, 1005 only without a payload; a control payload is at most
     125 bytes; a streaming piece's type is its message's; the parser never
     says "more" with a full buffer at its limit (the engine would stall);
   - sn__utf8_step against a reference UTF-8 reader written here (RFC 3629:
     no overlong form, no surrogate D800-DFFF, nothing above U+10FFFF), on S
     whole, in the pieces, and a byte at a time: it fails at the first byte
     after which no valid UTF-8 can follow, and its state is 0 exactly when
     the bytes so far end between characters. */
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "fuzz_common.h"

#define FZ_MAX_CUTS 15

/* ---- reference UTF-8 --------------------------------------------------------
   Reads S a byte at a time. For an open character it keeps the lead's
   length and the bits so far; a prefix is acceptable while some completion
   of the open character is a scalar value of that length: the code points
   its missing bits can make, [lo, hi], meet the length's range (2 bytes:
   80-7FF; 3: 800-FFFF less D800-DFFF; 4: 10000-10FFFF). */
typedef struct ref_u8 {
  unsigned need, got; /* bytes of the open character: all of them, those seen (0: none open) */
  uint32_t bits;      /* its bits so far */
} ref_u8;

static int ref_u8_range_ok(unsigned need, uint32_t lo, uint32_t hi) {
  uint32_t a, b;
  if (need == 2) a = 0x80, b = 0x7ff;
  else if (need == 3) a = 0x800, b = 0xffff;
  else a = 0x10000, b = 0x10ffff;
  if (lo < a) lo = a;
  if (hi > b) hi = b;
  if (lo > hi) return 0;
  if (need == 3 && lo >= 0xd800 && hi <= 0xdfff) return 0; /* only surrogates left */
  return 1;
}

/* 0 when byte ch cannot follow what came before */
static int ref_u8_byte(ref_u8 *r, unsigned ch) {
  unsigned missing;
  if (r->got == 0) {
    if (ch < 0x80) return 1;
    if ((ch & 0xe0) == 0xc0) r->need = 2, r->bits = ch & 0x1f;
    else if ((ch & 0xf0) == 0xe0) r->need = 3, r->bits = ch & 0x0f;
    else if ((ch & 0xf8) == 0xf0) r->need = 4, r->bits = ch & 0x07;
    else return 0; /* a continuation byte, or F8-FF */
    r->got = 1;
  } else {
    if ((ch & 0xc0) != 0x80) return 0;
    r->bits = (r->bits << 6) | (ch & 0x3f);
    r->got++;
  }
  missing = 6 * (r->need - r->got);
  if (!ref_u8_range_ok(r->need, r->bits << missing, (r->bits << missing) | ((1u << missing) - 1u))) return 0;
  if (r->got == r->need) r->got = 0;
  return 1;
}

/* the index of the first bad byte of s[0..n), or n */
static size_t ref_u8_bad(const unsigned char *s, size_t n, int *complete) {
  ref_u8 r;
  size_t i;
  memset(&r, 0, sizeof r);
  for (i = 0; i < n; i++)
    if (!ref_u8_byte(&r, s[i])) break;
  if (complete != NULL) *complete = i == n && r.got == 0;
  return i;
}

static int ref_utf8(const unsigned char *s, size_t n) {
  int complete;
  return ref_u8_bad(s, n, &complete) == n && complete;
}

static void check_utf8(const unsigned char *s, size_t n, const size_t *pieces, int np) {
  int complete, k;
  size_t bad = ref_u8_bad(s, n, &complete), i, at;
  uint32_t st = 0;
  ref_u8 ref;
  int r;
  /* whole */
  r = sn__utf8_step(&st, s, n);
  FZ_CHECK((r == 0) == (bad == n), "utf8 whole: returned %d, the reference's first bad byte %zu of %zu", r, bad, n);
  if (r == 0) FZ_CHECK((st == 0) == complete, "utf8 whole: state %u, the reference says complete=%d", (unsigned) st, complete);
  /* a byte at a time: it fails at exactly the reference's byte */
  st = 0;
  memset(&ref, 0, sizeof ref);
  for (i = 0; i < n; i++) {
    r = sn__utf8_step(&st, s + i, 1);
    if (r != 0) break;
    if (i < bad) {
      ref_u8_byte(&ref, s[i]);
      FZ_CHECK((st == 0) == (ref.got == 0), "utf8 bytewise: state %u after %zu bytes, the reference has %u of %u bytes",
               (unsigned) st, i + 1, ref.got, ref.need);
    }
  }
  FZ_CHECK(i == bad, "utf8 bytewise: failed at byte %zu, the reference at %zu (of %zu)", i, bad, n);
  FZ_CHECK(sn__utf8_step(&st, s, 0) == 0, "utf8: no bytes must be fine");
  /* in pieces */
  st = 0, at = 0, r = 0;
  for (k = 0; k <= np && r == 0; k++) {
    size_t len = k < np ? pieces[k] : n - at;
    r = sn__utf8_step(&st, s + at, len);
    if (r != 0) FZ_CHECK(bad >= at && bad < at + len, "utf8 pieces: failed in [%zu, %zu), the reference at %zu", at,
                         at + len, bad);
    at += len;
  }
  FZ_CHECK((r == 0) == (bad == n), "utf8 pieces: returned %d, the reference's first bad byte %zu of %zu", r, bad, n);
  if (r == 0) FZ_CHECK((st == 0) == complete, "utf8 pieces: state %u, the reference says complete=%d", (unsigned) st, complete);
}

/* ---- the parser, driven as the engine drives it ---------------------------------- */
static int ref_code_ok(int c) { /* RFC 6455 7.4.1, 7.4.2: what may be sent */
  if (c < 1000 || c >= 5000) return 0;
  if (c == 1004 || c == 1005 || c == 1006 || c == 1015) return 0;
  if (c >= 1016 && c < 3000) return 0; /* reserved (1012-1014: assigned by IANA since) */
  return 1;
}

typedef struct run {
  fz_buf rec;     /* messages, controls, the end */
  fz_buf open;    /* streaming: the open message's pieces so far */
  int open_type;
  size_t events;
} run;

/* One run over s[0..n) in the given pieces (np of them, then the rest). */
static void drive(run *out, const unsigned char *s, size_t n, const size_t *pieces, int np, int server, uint64_t max,
                  int streaming, size_t piece_cap) {
  sn__wsr p;
  sn__wsev ev;
  unsigned char *b = NULL;
  size_t len = 0, cap = 0, limit, at = 0, calls = 0;
  int k, r = 0, ended = 0;
  memset(&p, 0, sizeof p);
  p.max = max;
  p.server = (uint8_t) server;
  p.streaming = (uint8_t) streaming;
  limit = streaming ? piece_cap : (size_t) max + 256;
  if (limit < 256) limit = 256;
  for (k = 0; k <= np && !ended; k++) {
    size_t end = k < np ? at + pieces[k] : n; /* this piece: s[at..end) */
    while (!ended) {
      size_t room;
      /* sn__ws_room: grow a full buffer up to its limit */
      if (len == cap && cap < limit) {
        size_t want = cap ? cap * 2 : (streaming ? limit : (size_t) SN_RX_INIT);
        unsigned char *nb;
        if (want > limit || want < cap) want = limit;
        nb = (unsigned char *) malloc(want);
        if (nb == NULL) abort();
        if (len) memcpy(nb, b, len);
        free(b);
        b = nb, cap = want;
      }
      if (at == end) break;
      room = cap - len;
      FZ_CHECK(room > 0, "the parser wants more with its buffer full at its limit (%zu bytes, max %llu, %s): the "
                         "engine would stall", cap, (unsigned long long) max, streaming ? "streaming" : "whole");
      if (room > end - at) room = end - at;
      memcpy(b + len, s + at, room);
      len += room, at += room;
      /* sn__ws_parse: while the buffer holds bytes */
      while (len > 0) {
        size_t before = len;
        FZ_CHECK(++calls < 4 * n + 64, "no end: %zu calls for %zu bytes", calls, n);
        memset(&ev, 0x5a, sizeof ev);
        r = sn__ws_next(&p, b, &len, &ev);
        FZ_CHECK(len <= before, "the length grew from %zu to %zu", before, len);
        if (r == 0) break;
        if (r < 0) {
          FZ_CHECK(r == -SN_WS_PROTOCOL || r == -SN_WS_INVALID_DATA || r == -SN_WS_TOO_BIG, "returned %d", r);
          ended = 1;
          break;
        }
        FZ_CHECK(r == 1, "returned %d", r);
        out->events++;
        if (ev.kind != SN__WSE_DATA || ev.len > 0)
          FZ_CHECK(ev.data >= b && ev.data + ev.len <= b + len, "event bytes outside the buffer's held bytes");
        switch (ev.kind) {
          case SN__WSE_DATA:
            FZ_CHECK(ev.type == SN_WS_TEXT || ev.type == SN_WS_BINARY, "data type %d", ev.type);
            FZ_CHECK(ev.final == 0 || ev.final == 1, "final %d", ev.final);
            if (!streaming) {
              FZ_CHECK(ev.final == 1, "a whole message not final");
              FZ_CHECK(ev.len <= max, "a message of %zu bytes delivered, max %llu", ev.len, (unsigned long long) max);
              if (ev.type == SN_WS_TEXT) FZ_CHECK(ref_utf8(ev.data, ev.len), "a text message that is not UTF-8");
              fz_printf(&out->rec, "M%d ", ev.type);
              fz_field(&out->rec, "data", (const char *) ev.data, ev.len);
            } else {
              if (out->open_type != 0)
                FZ_CHECK(ev.type == out->open_type, "a piece of type %d in a message of type %d", ev.type, out->open_type);
              out->open_type = ev.type;
              if (ev.len) fz_put(&out->open, ev.data, ev.len);
              FZ_CHECK(out->open.len <= max, "a streamed message of %zu bytes, max %llu", out->open.len,
                       (unsigned long long) max);
              if (ev.final) {
                if (ev.type == SN_WS_TEXT)
                  FZ_CHECK(ref_utf8((const unsigned char *) out->open.p, out->open.len), "a streamed text message that is not UTF-8");
                fz_printf(&out->rec, "M%d ", ev.type);
                fz_field(&out->rec, "data", out->open.p, out->open.len);
                out->open.len = 0, out->open_type = 0;
              }
            }
            break;
          case SN__WSE_PING:
          case SN__WSE_PONG:
            FZ_CHECK(ev.len <= 125, "a control payload of %zu bytes", ev.len);
            fz_field(&out->rec, ev.kind == SN__WSE_PING ? "ping" : "pong", (const char *) ev.data, ev.len);
            break;
          case SN__WSE_CLOSE:
            FZ_CHECK(ev.len <= 123, "a close reason of %zu bytes", ev.len);
            if (ev.code == 1005) FZ_CHECK(ev.len == 0, "code 1005 with a reason");
            else FZ_CHECK(ref_code_ok(ev.code), "close code %d handed out", ev.code);
            FZ_CHECK(ref_utf8(ev.data, ev.len), "a close reason that is not UTF-8");
            fz_printf(&out->rec, "close %d ", ev.code);
            fz_field(&out->rec, "reason", (const char *) ev.data, ev.len);
            break;
          default: FZ_CHECK(0, "event kind %d", ev.kind);
        }
      }
    }
  }
  if (ended) fz_printf(&out->rec, "end %d\n", r);
  else {
    fz_puts(&out->rec, "end more\n");
    FZ_CHECK(at == n, "stopped at %zu of %zu", at, n);
  }
  free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_in in = {data, size};
  unsigned flags = fz_u8(&in), ncuts, i;
  uint64_t max = fz_u16(&in);
  size_t piece_cap = 256 + 8 * (size_t) fz_u8(&in), cuts[FZ_MAX_CUTS], pieces[FZ_MAX_CUTS];
  int np, server = !(flags & 1), mode;
  run runs[4];
  static const char *names[4] = {"whole", "pieces", "streaming whole", "streaming pieces"};
  if (flags & 2) max = (uint64_t) 1 << 40;
  ncuts = fz_u8(&in) & 15u;
  for (i = 0; i < ncuts; i++) cuts[i] = fz_u16(&in);
  np = fz_pieces(cuts, ncuts, in.n, pieces);

  check_utf8(in.p, in.n, pieces, np);

  memset(runs, 0, sizeof runs);
  for (mode = 0; mode < 4; mode++) {
    /* the parser works in place (it unmasks): each run on its own copy */
    unsigned char *s = (unsigned char *) malloc(in.n ? in.n : 1);
    if (s == NULL) abort();
    if (in.n) memcpy(s, in.p, in.n);
    drive(&runs[mode], s, in.n, pieces, (mode & 1) ? np : 0, server, max, mode >= 2, piece_cap);
    free(s);
  }
  if (getenv("FUZZ_VERBOSE") != NULL) fprintf(stderr, "%.2000s", runs[0].rec.p ? runs[0].rec.p : "");
  for (mode = 1; mode < 4; mode++)
    FZ_CHECK(runs[mode].rec.len == runs[0].rec.len && memcmp(runs[mode].rec.p, runs[0].rec.p, runs[0].rec.len) == 0,
             "%s and %s: %s", names[0], names[mode], fz_diff(&runs[0].rec, &runs[mode].rec));
  if (runs[0].rec.len >= 9 && memcmp(runs[0].rec.p + runs[0].rec.len - 9, "end more\n", 9) == 0) {
    FZ_CHECK(runs[2].open_type == runs[3].open_type, "streaming: the open message's type %d and %d", runs[2].open_type,
             runs[3].open_type);
    FZ_CHECK(runs[2].open.len == runs[3].open.len &&
                 (runs[2].open.len == 0 || memcmp(runs[2].open.p, runs[3].open.p, runs[2].open.len) == 0),
             "streaming: the open message's bytes so far differ (%zu, %zu bytes)", runs[2].open.len, runs[3].open.len);
  }
  for (mode = 0; mode < 4; mode++) fz_free(&runs[mode].rec), fz_free(&runs[mode].open);
  return 0;
}
