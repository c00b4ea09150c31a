/* fuzz_multipart.c - the streaming multipart/form-data parser
   (sn_multipart_init, sn_multipart_feed, sn_multipart_finish).

   Input: multipart_case.h says it all (a flags byte choosing the
   Content-Type, max_parts and a failing callback; split offsets; the
   Content-Type line or a fixed one; the body). Oracle: the body fed whole,
   fed in the pieces the split offsets make, and fed byte by byte (bodies up
   to 4 KiB) give the same record: every part head (index, name, filename,
   Content-Type), each part's data joined, each part end, and the result.
   With no callbacks (cb NULL) the result equals that of the recorded run
   when no callback stopped it. Invariants (multipart_case.h): head strings
   inside the head buffer, data only inside a part and only from the piece
   fed (or the held start of a delimiter), data total within the body, part
   indexes in order and within max_parts, no CR/LF in a Content-Type, an
   error kept and returned by every later call, an accepted body has no
   part open. tests/fuzz/multipart_ref.py (run by run.sh --regress) checks
   the records against an independent reading of securenet.h's grammar. */
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "fuzz_common.h"
#include "multipart_case.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mpc_input in;
  mpc_run *whole, *split;
  size_t pieces[16];
  int np, rw, rs;
  mpc_decode(data, size, &in);
  whole = (mpc_run *) calloc(1, sizeof *whole);
  split = (mpc_run *) calloc(1, sizeof *split);
  if (whole == NULL || split == NULL) abort();
  rw = mpc_parse(whole, &in, NULL, 0);
  np = fz_pieces(in.cuts, in.ncuts, in.len, pieces);
  rs = mpc_parse(split, &in, pieces, np);
  FZ_CHECK(rw == rs && whole->rec.len == split->rec.len && memcmp(whole->rec.p, split->rec.p, whole->rec.len) == 0,
           "whole and split (%d pieces) differ: %s", np, fz_diff(&whole->rec, &split->rec));
  if (in.len <= 4096) {
    fz_free(&split->rec);
    rs = mpc_parse(split, &in, NULL, -1);
    FZ_CHECK(rw == rs && whole->rec.len == split->rec.len && memcmp(whole->rec.p, split->rec.p, whole->rec.len) == 0,
             "whole and byte by byte differ: %s", fz_diff(&whole->rec, &split->rec));
  }
  if ((in.flags >> 6) == 0 && rw != MPC_STOP) { /* the same body as a syntax check only */
    mpc_input quiet = in;
    quiet.flags |= 3u << 6;
    fz_free(&split->rec);
    rs = mpc_parse(split, &quiet, pieces, np);
    FZ_CHECK(rs == rw, "without callbacks %d, with them %d", rs, rw);
  }
  fz_free(&whole->rec);
  fz_free(&split->rec);
  free(whole);
  free(split);
  return 0;
}
