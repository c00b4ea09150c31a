/* sn_sendmail with one deliberate reporting fault, for `tests/smtp_faults.sh --mutants`:
   it shows that the suite's result checks fail against a client that misreports.
   The library and examples/posix/sn_sendmail.c are used unchanged; only the result
   handed to sn_sendmail's on_done is rewritten, as chosen by SN_MUTANT:
     ok       every failure is reported as success
     closed   SN_ERR_UNCONFIRMED is reported as a plain "connection closed"
     partial  any failure after a refused recipient is reported as that refusal
   and one that is not a fault but a candidate fix, to check the checks pass against it:
     fixed    refused_count is cleared unless the result is still the refusal at RCPT TO,
              so sn_sendmail prints the later failure instead of "the others got the mail"
   Build: cc -std=c99 -I. -Iexamples/common tests/smtp/sendmail_mutant.c -lmbedtls -lmbedx509 -lmbedcrypto */
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "securenet_port_posix.h"

#include <stdlib.h>
#include <string.h>

typedef struct mutant_job {
  sn_mail_done_fn done;
  void *user;
} mutant_job;

static void mutant_done(void *user, const sn_mail *mail, const sn_mail_result *r) {
  mutant_job job = *(mutant_job *) user;
  sn_mail_result res = *r;
  const char *which = getenv("SN_MUTANT");
  free(user);
  if (which == NULL) which = "";
  if (strcmp(which, "ok") == 0) {
    memset(&res, 0, sizeof res);
    res.stage = "QUIT";
  } else if (strcmp(which, "closed") == 0 && res.err == SN_ERR_UNCONFIRMED) {
    res.err = SN_ERR_CLOSED;
    res.reply[0] = '\0';
  } else if (strcmp(which, "partial") == 0 && res.err != SN_OK && res.refused_count > 0) {
    res.err = SN_ERR_REFUSED;
    res.stage = "RCPT TO";
    res.reply_code = 550;
    strcpy(res.reply, "5.1.1 no such user here");
  } else if (strcmp(which, "fixed") == 0 && (res.err != SN_ERR_REFUSED || strcmp(res.stage, "RCPT TO") != 0)) {
    res.refused_count = 0;
  }
  job.done(job.user, mail, &res);
}

static int mutant_send(sn_mgr *m, const sn_smtp_server *srv, const sn_mail *mail, sn_mail_done_fn done, void *user) {
  mutant_job *job = (mutant_job *) malloc(sizeof *job);
  int r;
  if (job == NULL) return SN_ERR_NOMEM;
  job->done = done;
  job->user = user;
  r = sn_mail_send(m, srv, mail, mutant_done, job);
  if (r != SN_OK) free(job);
  return r;
}

#define sn_mail_send mutant_send
#define SN_SENDMAIL_PORT() sn_posix_port()
#define SN_SENDMAIL_POLL(mgr) sn_poll(mgr, 1000)
#define SN_SENDMAIL_MAIN main
#include "../../examples/posix/sn_sendmail.c"
