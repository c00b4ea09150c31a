/* test_tls_setup.c - manager and TLS listener set-up: entropy, port hooks,
   certificates and keys in every accepted form, and the errors for the rest.
   Reads the development certificates from $SN_CERTS (default build/certs). */
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "securenet_port_posix.h"
#include "test.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include "mbedtls/pk.h"

static char *slurp(const char *dir, const char *name, size_t *len) {
  char path[512];
  FILE *f;
  char *buf;
  long n;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  f = fopen(path, "rb");
  if (f == NULL) return NULL;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  buf = (char *) malloc((size_t) n + 1);
  if (buf && fread(buf, 1, (size_t) n, f) != (size_t) n) n = 0;
  fclose(f);
  buf[n] = '\0';
  *len = (size_t) n;
  return buf;
}

static int failing_entropy(void *ctx, unsigned char *buf, size_t len) {
  (void) ctx;
  (void) buf;
  (void) len;
  return -1;
}

static unsigned short next_port;

/* Starts an HTTPS listener on loopback with the given TLS options; returns its sn_err. */
static int try_listen(sn_mgr *mgr, const sn_tls_opts *tls) {
  static sn_router router;
  sn_http_opts o;
  sn_router_init(&router);
  memset(&o, 0, sizeof o);
  o.addr = "127.0.0.1";
  o.port = next_port++;
  o.router = &router;
  o.tls = tls;
  return sn_http_listen(mgr, &o);
}

/* sn__ip_parse (the TLS client's IP literals: no SNI, iPAddress SAN) against the C library's
   inet_pton; a literal it does not take never verifies, so a wrong 16 bytes would be the bug. */
static void test_ip_literals(void) {
  static const char *const t[] = {
      "127.0.0.1", "0.0.0.0", "255.255.255.255", "256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "010.0.0.1", "1234.1.1.1",
      "1..2.3", "1.2.3.4 ", "1.2.3.", ".1.2.3", "::", "::1", "1::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::",
      "::2:3:4:5:6:7:8", "1:2:3:4:5:6::8", "1::8", "::ffff:1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4",
      "1.2.3.4::", ":1", "1:", ":::", "1:::2", "1::2::3", "fe80::1%eth0", "12345::", "ABCD:ef01::", "::1.2.3.4",
      "1:2:3:4:5:6:7", "g::1", "::ffff:1.2.3", "", "localhost", "1::2:3:4:5:6:7", "1::2:3:4:5:6:7:8", "::ffff:01.2.3.4",
      "2001:db8:0:0:1:0:0:1", "2001:DB8::1:0:0:1", "0:0:0:0:0:0:0:1"};
  size_t i, bad = 0;
  char why[200] = "";
  for (i = 0; i < sizeof t / sizeof t[0]; i++) {
    unsigned char a[16], b[16];
    size_t n = sn__ip_parse(t[i], a);
    size_t want = inet_pton(AF_INET, t[i], b) == 1 ? 4 : inet_pton(AF_INET6, t[i], b) == 1 ? 16 : 0;
    if (n != want || (n > 0 && memcmp(a, b, n) != 0)) {
      if (bad++ == 0) snprintf(why, sizeof why, "'%s': %u bytes, inet_pton %u", t[i], (unsigned) n, (unsigned) want);
    }
  }
  CHECK(bad == 0, "IP literals for the TLS client: IPv4 and IPv6 text forms parse as inet_pton does (leading zeros refused)");
  if (bad) printf("# %s\n", why);
}

int main(void) {
  const char *dir = getenv("SN_CERTS") ? getenv("SN_CERTS") : "build/certs";
  size_t cert_len = 0, key_len = 0, chain_len = 0, ckey_len = 0, ca_len = 0;
  char *cert = slurp(dir, "server.pem", &cert_len), *key = slurp(dir, "server.key", &key_len);
  char *chain = slurp(dir, "server-chain.pem", &chain_len), *ckey = slurp(dir, "client.key", &ckey_len);
  char *ca = slurp(dir, "ca.pem", &ca_len);
  sn_mgr *mgr = NULL;
  sn_mgr_opts mo;
  sn_port bad;
  sn_tls_opts t;
  int r;
  next_port = (unsigned short) (30000 + (unsigned) getpid() % 20000);
  if (!CHECK(cert && key && chain && ckey && ca, "the development certificates are readable (tools/sn-certgen)"))
    return test_summary();

  /* Real entropy or nothing. */
  bad = *sn_posix_port();
  bad.entropy = failing_entropy;
  memset(&mo, 0, sizeof mo);
  mo.port = &bad;
  r = sn_mgr_create(&mgr, &mo);
  CHECK_INT(r, SN_ERR_ENTROPY, "sn_mgr_create fails with SN_ERR_ENTROPY when the entropy hook fails");
  CHECK(mgr == NULL, "a failed sn_mgr_create leaves the output pointer unset");
  bad = *sn_posix_port();
  bad.wait = NULL;
  CHECK_INT(sn_mgr_create(&mgr, &mo), SN_ERR_PORT, "sn_mgr_create refuses a port with a missing hook");
  mo.port = NULL;
  CHECK_INT(sn_mgr_create(&mgr, &mo), SN_ERR_INVALID, "sn_mgr_create refuses options without a port");

  mo.port = sn_posix_port();
  if (!CHECK_INT(sn_mgr_create(&mgr, &mo), SN_OK, "sn_mgr_create succeeds with the POSIX port"))
    return test_summary();

  memset(&t, 0, sizeof t);
  t.cert = cert;
  t.cert_len = cert_len + 1; /* with the NUL, as sizeof gives for a C string */
  t.key = key;
  t.key_len = key_len + 1;
  CHECK_INT(try_listen(mgr, &t), SN_OK, "PEM certificate and key in memory, NUL-terminated");

  t.cert_len = cert_len; /* without the NUL, as firmware often embeds them */
  t.key_len = key_len;
  CHECK_INT(try_listen(mgr, &t), SN_OK, "PEM certificate and key in memory without a NUL");

  t.cert = chain;
  t.cert_len = chain_len;
  CHECK_INT(try_listen(mgr, &t), SN_OK, "a PEM chain (leaf then CA) in memory");

  {
    mbedtls_x509_crt crt;
    mbedtls_pk_context pk;
    unsigned char der[1600];
    int n;
    sn_tls_opts d;
    sn_mgr *m2;
    mbedtls_x509_crt_init(&crt);
    mbedtls_pk_init(&pk);
    mbedtls_x509_crt_parse(&crt, (const unsigned char *) cert, cert_len + 1);
    n = sn__pk_parse(&pk, (const unsigned char *) key, key_len + 1, NULL, &mgr->drbg);
    n = n == 0 ? mbedtls_pk_write_key_der(&pk, der, sizeof der) : -1;
    if (CHECK(n > 0, "the key converts to DER for the next check")) {
      memset(&d, 0, sizeof d);
      d.cert = crt.raw.p;
      d.cert_len = crt.raw.len;
      d.key = der + sizeof der - n; /* mbedTLS writes DER at the end of the buffer */
      d.key_len = (size_t) n;
      /* a fresh manager: SN_MAX_LISTENERS bounds the first one */
      m2 = NULL;
      if (sn_mgr_create(&m2, &mo) == SN_OK) {
        CHECK_INT(try_listen(m2, &d), SN_OK, "DER certificate and DER key in memory");
        d.key = ckey;
        d.key_len = ckey_len;
        CHECK_INT(try_listen(m2, &d), SN_ERR_KEY, "a key that does not match the certificate is SN_ERR_KEY");
        d.key = "garbage";
        d.key_len = 7;
        CHECK_INT(try_listen(m2, &d), SN_ERR_KEY, "an unparsable key is SN_ERR_KEY");
        d.cert = "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";
        d.cert_len = strlen((const char *) d.cert);
        CHECK_INT(try_listen(m2, &d), SN_ERR_CERT, "an unparsable certificate is SN_ERR_CERT");
        sn_mgr_destroy(m2);
      }
    }
    mbedtls_x509_crt_free(&crt);
    mbedtls_pk_free(&pk);
  }
  sn_mgr_destroy(mgr);

  if (sn_mgr_create(&mgr, &mo) == SN_OK) {
    static const int only_unknown[] = {0x0001, 0xFFFE, 0};
    static const int cbc_only[] = {0xC023, 0}; /* ECDHE-ECDSA-AES128-SHA256, for the user who insists */
    memset(&t, 0, sizeof t);
    t.cert_file = "/nonexistent/server.pem";
    t.key_file = "/nonexistent/server.key";
    CHECK_INT(try_listen(mgr, &t), SN_ERR_FILE, "a missing certificate file is SN_ERR_FILE");
    t.cert = cert;
    t.cert_len = cert_len;
    t.key = key;
    t.key_len = key_len;
    t.ciphersuites = only_unknown;
    CHECK_INT(try_listen(mgr, &t), SN_ERR_UNSUPPORTED, "a suite list with nothing this build knows is SN_ERR_UNSUPPORTED");
    t.ciphersuites = cbc_only;
    CHECK_INT(try_listen(mgr, &t), SN_OK, "an explicit suite list is accepted");
    t.ciphersuites = NULL;
    t.client_ca = ca;
    t.client_ca_len = ca_len;
    CHECK_INT(try_listen(mgr, &t), SN_OK, "a client CA in memory enables mutual TLS");
    {
      int n = 2; /* the two above */
      while (n < 10 && (r = try_listen(mgr, &t)) == SN_OK) n++;
      CHECK(n == SN_MAX_LISTENERS && r == SN_ERR_FULL, "listeners beyond SN_MAX_LISTENERS are SN_ERR_FULL");
    }
    sn_mgr_destroy(mgr);
  }
  test_ip_literals();
  free(cert);
  free(key);
  free(chain);
  free(ckey);
  free(ca);
  return test_summary();
}
