/* bench/auth_cost.c - what one password check costs beside one TLS handshake,
   on the same CPU, in the same process, alternated (bench/run.sh's figure
   auth).

     auth_cost [-i ITERATIONS] [-s SECONDS] [-n MAX] CERT KEY CA

   Alternates, for SECONDS (at least 5 pairs, at most MAX):
     - one sn_user_check of a verifier of ITERATIONS (default
       SN_AUTH_ITERATIONS), the right password (a wrong one costs the same:
       the check always runs the whole PBKDF2);
     - one full TLS 1.3 handshake served by securenet (an sn_mgr with an
       HTTPS listener on securenet_port_mem.h, CERT and KEY: build/certs'
       ECDSA P-256 server certificate) to an mbedTLS client in the same
       process (TLS_AES_128_GCM_SHA256, key exchange P-256 only, the
       server's chain verified against CA and the name "localhost", a new
       session every time: never resumed), then one small GET and its
       answer on it, so that the server's last handshake work (the client's
       Finished, the ticket it sends) is counted too.
   The handshake's figure is the server's share: the CPU time spent in
   sn_poll from the connection to the GET's answer (the client's own work,
   its signature verification and key exchange, is not counted; the two
   clock reads around each sn_poll are, about 1 us each). The check is timed
   by CPU time too (CLOCK_THREAD_CPUTIME_ID), and by the wall clock beside
   it; so is the whole exchange, client and server.

   Prints one line per figure, "auth: NAME VALUE" (medians, microseconds),
   for bench/run.sh, then the ratio. The port's entropy is the mem port's
   deterministic stream: a bench, never a server. */
#define SECURENET_IMPLEMENTATION
#define SECURENET_PORT_MEM_IMPLEMENTATION
#include "securenet_port_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mbedtls/ctr_drbg.h"
#include "mbedtls/entropy.h"
#include "mbedtls/ssl.h"
#include "mbedtls/x509_crt.h"

#if MBEDTLS_VERSION_MAJOR < 3 || !defined(MBEDTLS_SSL_PROTO_TLS1_3)
#error "bench/auth_cost.c needs mbedTLS 3.x with TLS 1.3 (make bench builds it against mbedTLS 3.6)"
#endif

static sn_mem net; /* large: static */
static sn_mgr *mgr;
static sn_router router;

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}
/* This thread's CPU time: what the check and the server's share are timed
   by, so that another process taking the CPU (a loaded machine) stretches
   neither; a long check would be interrupted more often than a short
   handshake, and wall time would favour the handshake. */
static double cpu_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

static double server_us; /* CPU time inside sn_poll, summed */
static void poll_server(void) {
  double t0 = cpu_us();
  sn_poll(mgr, 0);
  server_us += cpu_us() - t0;
}

static void *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *p;
  long n;
  if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
    fprintf(stderr, "auth_cost: cannot read %s\n", path);
    exit(2);
  }
  p = (char *) malloc((size_t) n + 1);
  if (p == NULL || fread(p, 1, (size_t) n, f) != (size_t) n) exit(2);
  p[n] = '\0';
  fclose(f);
  *len = (size_t) n + 1; /* with the NUL, as mbedTLS's PEM parser wants */
  return p;
}

static void hi(sn_conn *c, const sn_request *req, void *user) {
  (void) req, (void) user;
  sn_http_reply(c, 200, "Content-Type: text/plain\r\n", "hi", 2);
}

/* ---- the client ------------------------------------------------------------ */
typedef struct client {
  int s;
  mbedtls_ssl_context ssl;
} client;

static mbedtls_ssl_config conf;
static mbedtls_ctr_drbg_context drbg;
static mbedtls_entropy_context entropy;
static mbedtls_x509_crt ca;
static const int suites[] = {MBEDTLS_TLS1_3_AES_128_GCM_SHA256, 0};
static const uint16_t groups[] = {MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1, MBEDTLS_SSL_IANA_TLS_GROUP_NONE};

static int c_send(void *ctx, const unsigned char *buf, size_t len) {
  client *c = (client *) ctx;
  if (net.s[c->s].closed) return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
  return sn_mem_peer_write(&net, c->s, buf, len) == SN_OK ? (int) len : MBEDTLS_ERR_SSL_INTERNAL_ERROR;
}

static int c_recv(void *ctx, unsigned char *buf, size_t len) {
  client *c = (client *) ctx;
  size_t n = sn_mem_peer_read(&net, c->s, buf, len);
  if (n == 0) return net.s[c->s].closed ? 0 : MBEDTLS_ERR_SSL_WANT_READ;
  return (int) n;
}

static void client_conf(const char *ca_file) {
  int r;
  mbedtls_ssl_config_init(&conf);
  mbedtls_ctr_drbg_init(&drbg);
  mbedtls_entropy_init(&entropy);
  mbedtls_x509_crt_init(&ca);
  r = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, (const unsigned char *) "auth_cost", 9);
  if (r == 0) r = mbedtls_x509_crt_parse_file(&ca, ca_file);
  if (r == 0) r = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                              MBEDTLS_SSL_PRESET_DEFAULT);
  if (r != 0) {
    fprintf(stderr, "auth_cost: client setup: -0x%04x\n", (unsigned) -r);
    exit(2);
  }
  mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
  mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_ca_chain(&conf, &ca, NULL);
  mbedtls_ssl_conf_min_tls_version(&conf, MBEDTLS_SSL_VERSION_TLS1_3);
  mbedtls_ssl_conf_max_tls_version(&conf, MBEDTLS_SSL_VERSION_TLS1_3);
  mbedtls_ssl_conf_ciphersuites(&conf, suites);
  mbedtls_ssl_conf_groups(&conf, groups);
}

static int has_body(const unsigned char *p, size_t n) { /* the answer's head and its "hi" */
  size_t i;
  for (i = 0; i + 6 <= n; i++)
    if (memcmp(p + i, "\r\n\r\nhi", 6) == 0) return 1;
  return 0;
}

/* One connection: a full handshake, GET /hi, its answer, close_notify.
   Returns 0 and adds the server's time and the whole time, or -1. */
static int one_handshake(double *server, double *total) {
  static const char req[] = "GET /hi HTTP/1.1\r\nHost: localhost\r\n\r\n";
  client c;
  unsigned char buf[4096];
  size_t got = 0;
  long i;
  int r = MBEDTLS_ERR_SSL_WANT_READ, ok = -1;
  double t0 = now_us();
  server_us = 0;
  c.s = sn_mem_peer_connect(&net, 443);
  if (c.s < 0) return -1;
  mbedtls_ssl_init(&c.ssl);
  if (mbedtls_ssl_setup(&c.ssl, &conf) != 0 || mbedtls_ssl_set_hostname(&c.ssl, "localhost") != 0) goto out;
  mbedtls_ssl_set_bio(&c.ssl, &c, c_send, c_recv, NULL);
  for (i = 0; i < 100000; i++) {
    poll_server();
    r = mbedtls_ssl_handshake(&c.ssl);
    if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE) break;
  }
  if (r != 0) {
    fprintf(stderr, "auth_cost: handshake: -0x%04x\n", (unsigned) -r);
    goto out;
  }
  if (mbedtls_ssl_get_version_number(&c.ssl) != MBEDTLS_SSL_VERSION_TLS1_3 ||
      mbedtls_ssl_get_ciphersuite_id_from_ssl(&c.ssl) != MBEDTLS_TLS1_3_AES_128_GCM_SHA256) {
    fprintf(stderr, "auth_cost: not TLS 1.3 TLS_AES_128_GCM_SHA256: %s %s\n", mbedtls_ssl_get_version(&c.ssl),
            mbedtls_ssl_get_ciphersuite(&c.ssl));
    goto out;
  }
  if (mbedtls_ssl_write(&c.ssl, (const unsigned char *) req, sizeof req - 1) != (int) sizeof req - 1) goto out;
  for (i = 0; i < 100000 && !has_body(buf, got); i++) {
    poll_server();
    r = mbedtls_ssl_read(&c.ssl, buf + got, sizeof buf - got - 1);
    if (r > 0) got += (size_t) r;
    else if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE &&
             r != MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
      break;
  }
  if (got < 12 || memcmp(buf, "HTTP/1.1 200", 12) != 0) {
    fprintf(stderr, "auth_cost: no 200 for GET /hi (%d)\n", r);
    goto out;
  }
  *server += server_us;
  *total += now_us() - t0;
  ok = 0;
out:
  mbedtls_ssl_close_notify(&c.ssl);
  sn_mem_peer_close(&net, c.s);
  for (i = 0; i < 1000 && !net.s[c.s].closed; i++) sn_poll(mgr, 0);
  mbedtls_ssl_free(&c.ssl);
  if (net.s[c.s].closed) sn_mem_forget(&net, c.s);
  return ok;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}
static double median(double *v, int n) {
  qsort(v, (size_t) n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define MAX_PAIRS 2000

int main(int argc, char **argv) {
  static double check_v[MAX_PAIRS], wall_v[MAX_PAIRS], hs_v[MAX_PAIRS], total_v[MAX_PAIRS];
  unsigned long iterations = SN_AUTH_ITERATIONS;
  double seconds = 5, t_end;
  int max = 200, n = 0, a = 1, ok = 1;
  sn_user u;
  sn_tls_opts tls;
  sn_http_opts ho;
  sn_mgr_opts mo;
  for (; a < argc && argv[a][0] == '-'; a += 2) {
    if (a + 1 >= argc) break;
    if (strcmp(argv[a], "-i") == 0) iterations = strtoul(argv[a + 1], NULL, 10);
    else if (strcmp(argv[a], "-s") == 0) seconds = atof(argv[a + 1]);
    else if (strcmp(argv[a], "-n") == 0) max = atoi(argv[a + 1]);
    else break;
  }
  if (argc - a != 3 || iterations < 1 || iterations > 10000000 || seconds <= 0 || seconds > 600 || max < 5 ||
      max > MAX_PAIRS) {
    fprintf(stderr, "usage: auth_cost [-i ITERATIONS 1-10000000] [-s SECONDS] [-n MAX 5-%d] CERT KEY CA\n", MAX_PAIRS);
    return 2;
  }

  /* the verifier: made here with sn_pbkdf2_sha256 (test_auth checks it against hashlib) */
  memset(&u, 0, sizeof u);
  strcpy(u.name, "bench");
  strcpy(u.role, "admin");
  u.iterations = (uint32_t) iterations;
  memcpy(u.salt, "auth_cost salt..", 16);
  if (sn_pbkdf2_sha256("correct horse battery staple", 28, u.salt, 16, u.iterations, u.hash, 32) != SN_OK) return 2;

  sn_mem_init(&net);
  memset(&mo, 0, sizeof mo);
  mo.port = sn_mem_port(&net);
  if (sn_mgr_create(&mgr, &mo) != SN_OK) return 2;
  sn_router_init(&router);
  sn_router_add(&router, "GET", "/hi", hi, NULL);
  memset(&tls, 0, sizeof tls);
  tls.cert = slurp(argv[a], &tls.cert_len);
  tls.key = slurp(argv[a + 1], &tls.key_len);
  memset(&ho, 0, sizeof ho);
  ho.port = 443;
  ho.router = &router;
  ho.tls = &tls;
  if (sn_http_listen(mgr, &ho) != SN_OK) {
    fprintf(stderr, "auth_cost: sn_http_listen failed\n");
    return 2;
  }
  client_conf(argv[a + 2]);

  /* one of each first, unmeasured (caches, first allocations) */
  {
    double s = 0, t = 0;
    if (sn_user_check(&u, "correct horse battery staple", 28) != 1 || one_handshake(&s, &t) != 0) {
      fprintf(stderr, "auth_cost: the first check or handshake failed\n");
      return 1;
    }
  }
  t_end = now_us() + seconds * 1e6;
  while (n < max && (n < 5 || now_us() < t_end)) {
    double t0 = now_us(), c0 = cpu_us(), s = 0, t = 0;
    if (sn_user_check(&u, "correct horse battery staple", 28) != 1) ok = 0;
    check_v[n] = cpu_us() - c0;
    wall_v[n] = now_us() - t0;
    if (one_handshake(&s, &t) != 0) {
      ok = 0;
      break;
    }
    hs_v[n] = s;
    total_v[n] = t;
    n++;
  }
  if (!ok || n < 5) {
    fprintf(stderr, "auth_cost: a check or a handshake failed\n");
    return 1;
  }
  {
    double c = median(check_v, n), h = median(hs_v, n), t = median(total_v, n);
    printf("auth: pairs %d\n", n);
    printf("auth: iterations %lu\n", iterations);
    printf("auth: check_us %.1f\n", c);
    printf("auth: check_wall_us %.1f\n", median(wall_v, n));
    printf("auth: handshake_server_us %.1f\n", h);
    printf("auth: handshake_total_us %.1f\n", t);
    printf("auth: ratio %.2f\n", c / h);
    printf("auth: iterations_for_one_handshake %.0f\n", (double) iterations * h / c);
  }
  sn_mgr_destroy(mgr);
  sn_mem_clear(&net);
  mbedtls_ssl_config_free(&conf);
  mbedtls_ctr_drbg_free(&drbg);
  mbedtls_entropy_free(&entropy);
  mbedtls_x509_crt_free(&ca);
  free((void *) tls.cert);
  free((void *) tls.key);
  return 0;
}
