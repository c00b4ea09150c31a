/* bench/ws_load.c - WebSocket echo round trips over TLS, for bench/ws.sh
 *
 *   ws_load [-c CONNS] [-d SECONDS] [-w WARMUP] [-s BYTES] [-t text|binary]
 *           [-T 12|13] [-A CAFILE] [-n SNI_AND_NAME] [-p PATH] [-P PID] HOST PORT
 *
 * Opens CONNS (1) connections to wss://HOST:PORT/PATH (/ws), one after the
 * other (TCP_NODELAY, TLS verified against CAFILE for the name -n,
 * localhost, the opening handshake's 101 and Sec-WebSocket-Accept checked).
 * Then every connection, at once, does round trips: it sends one masked
 * message of BYTES (32) bytes, waits for the whole echo, checks it is the
 * same type and the same bytes (each message carries its connection and
 * sequence number), and sends the next. WARMUP (1) seconds of that are not
 * counted; the round trips completed in the SECONDS (5) after are, with
 * each one's latency (send to the echo's last byte) and the client's own
 * CPU time (getrusage) over the same window. Then each connection sends a
 * close (1000) and waits for the server's, at most 3 s in all.
 * With -P, the server's CPU time over the same window too: the sum over
 * the threads of process PID (/proc/PID/task/<tid>/schedstat, on-CPU
 * nanoseconds; node's helper threads count), per round trip and as a share
 * of the window.
 *
 * The same client for every server: OpenSSL (libssl, as wrk, curl and
 * s_time in bench/run.sh), one thread, epoll, nothing allocated per
 * message. TLS pinned on the client's side:
 *   -T 12 (default): TLS 1.2 only, ECDHE-ECDSA-AES128-GCM-SHA256, P-256
 *   -T 13:           TLS 1.3 only, TLS_AES_128_GCM_SHA256, P-256
 * and every connection's negotiated version, suite and group checked.
 *
 * Prints "ws_load: KEY VALUE" lines (tls, conns, round_trips, seconds,
 * rt_per_s, p50_us, p99_us, max_us, per_conn_min, per_conn_max: the
 * fewest and most round trips one connection did, client_cpu_pct, and
 * with -P server_cpu_us_per_rt, server_cpu_pct) and exits 0, or
 * "ws_load: error: ..." and exits 1 at the first thing that is wrong (a
 * connection refused, closed, stalled for 5 s, a wrong echo, a frame RFC
 * 6455 forbids a server to send). Bounded: everything ends within WARMUP +
 * SECONDS + 30 s (an alarm ends it with an error beyond that).
 *
 * Build: cc -std=c99 -O2 bench/ws_load.c -o ws_load -lssl -lcrypto */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define MAX_CONNS 1000
#define MAX_BYTES 65536      /* longest message: a 16-bit length, at most */
#define IN_CAP (2 * MAX_BYTES + 256)
#define HIST_US 200000       /* latencies kept to the microsecond up to 200 ms */
#define STALL_NS 5000000000LL

typedef struct conn {
  int fd;
  SSL *ssl;
  int id;
  uint64_t seq;              /* of the message in flight */
  uint64_t counted;          /* its round trips in the window */
  long long sent_ns;         /* when its first byte was handed to SSL_write */
  unsigned char out[MAX_BYTES + 14];
  size_t out_len, out_off;   /* a write SSL_write has not finished (WANT_WRITE) */
  unsigned char in[IN_CAP];
  size_t in_len;
  int want_write;            /* SSL_write or SSL_read waits for POLLOUT */
  int polls_out;             /* EPOLLOUT is in its epoll events */
  int closing, closed;       /* close sent; the server's close received */
} conn;

static conn *conns;
static int nconns = 1;
static size_t msg_bytes = 32;
static int msg_type = 1;     /* 1 text, 2 binary */
static uint32_t hist[HIST_US + 1];
static uint64_t rng_state;

static void die(const char *fmt, ...) {
  va_list ap;
  unsigned long e;
  char buf[256];
  fputs("ws_load: error: ", stdout);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  while ((e = ERR_get_error()) != 0) {
    ERR_error_string_n(e, buf, sizeof buf);
    printf(" [%s]", buf);
  }
  putchar('\n');
  fflush(stdout);
  exit(1);
}

static void on_alarm(int sig) {
  static const char m[] = "ws_load: error: not done in time (alarm)\n";
  (void)sig;
  if (write(1, m, sizeof m - 1) < 0) _exit(1);
  _exit(1);
}

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

/* Masking keys: RFC 6455 5.3 wants them unpredictable to a script in a
   browser; a bench has no such script, and a cheap generator (seeded from
   OpenSSL's) keeps the client's cost per message down. */
static uint32_t next_mask(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 16);
}

/* The message of connection id, number seq: printable ASCII (valid UTF-8
   for a text message), BYTES long, unique to (id, seq). */
static void make_payload(unsigned char *p, int id, uint64_t seq) {
  char head[48];
  size_t i, n = (size_t)snprintf(head, sizeof head, "ws %d %llu ", id, (unsigned long long)seq);
  for (i = 0; i < msg_bytes; i++) p[i] = i < n ? (unsigned char)head[i] : (unsigned char)('a' + i % 26);
}

static void build_frame(conn *c, int opcode, const unsigned char *payload, size_t len) {
  unsigned char *f = c->out;
  size_t h = 0, i;
  uint32_t m = next_mask();
  unsigned char mask[4];
  f[h++] = (unsigned char)(0x80 | opcode);
  if (len < 126) {
    f[h++] = (unsigned char)(0x80 | len);
  } else {
    f[h++] = 0x80 | 126;
    f[h++] = (unsigned char)(len >> 8);
    f[h++] = (unsigned char)len;
  }
  mask[0] = (unsigned char)(m >> 24), mask[1] = (unsigned char)(m >> 16);
  mask[2] = (unsigned char)(m >> 8), mask[3] = (unsigned char)m;
  memcpy(f + h, mask, 4);
  h += 4;
  for (i = 0; i < len; i++) f[h + i] = payload[i] ^ mask[i & 3];
  c->out_len = h + len;
  c->out_off = 0;
}

/* Hands the pending frame to TLS. 1: all written; 0: waits for POLLOUT. */
static int flush_out(conn *c) {
  while (c->out_off < c->out_len) {
    int n = SSL_write(c->ssl, c->out + c->out_off, (int)(c->out_len - c->out_off));
    if (n > 0) {
      c->out_off += (size_t)n;
      continue;
    }
    switch (SSL_get_error(c->ssl, n)) {
      case SSL_ERROR_WANT_WRITE: c->want_write = 1; return 0;
      case SSL_ERROR_WANT_READ: c->want_write = 0; return 0;
      default: die("connection %d: SSL_write failed", c->id);
    }
  }
  c->want_write = 0;
  return 1;
}

static void send_next(conn *c) {
  unsigned char p[MAX_BYTES];
  c->seq++;
  make_payload(p, c->id, c->seq);
  build_frame(c, msg_type, p, msg_bytes);
  c->sent_ns = now_ns();
  flush_out(c);
}

/* ---- connecting ------------------------------------------------------------ */

static const char *b64(const unsigned char *in, int n, char *out) {
  EVP_EncodeBlock((unsigned char *)out, in, n);
  return out;
}

/* A header's value in an HTTP head (names case-insensitive), copied. */
static int header(const char *head, const char *name, char *val, size_t cap) {
  size_t nl = strlen(name);
  const char *p = strstr(head, "\r\n");
  while (p && p[2] != '\r') {
    const char *line = p + 2, *end = strstr(line, "\r\n");
    if (!end) return 0;
    if ((size_t)(end - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
      const char *v = line + nl + 1;
      size_t len;
      while (v < end && (*v == ' ' || *v == '\t')) v++;
      len = (size_t)(end - v);
      while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t')) len--;
      if (len >= cap) return 0;
      memcpy(val, v, len);
      val[len] = 0;
      return 1;
    }
    p = end;
  }
  return 0;
}

static void open_conn(conn *c, SSL_CTX *ctx, const struct addrinfo *ai, const char *name, const char *host,
                      const char *port, const char *path, int ver, char *tls_seen, size_t tls_cap) {
  struct timeval tv = {10, 0};
  int one = 1, n, fl;
  unsigned char key[16], sha[20];
  char key64[32], want64[40], got[128], req[512], acc[128], tls_desc[128];
  const char *v, *suite, *want_v = ver == 12 ? "TLSv1.2" : "TLSv1.3";
  const char *want_s = ver == 12 ? "ECDHE-ECDSA-AES128-GCM-SHA256" : "TLS_AES_128_GCM_SHA256";
  char *end;
  EVP_PKEY *tmp = NULL;
  char group[64] = "?";
  size_t gl = 0;

  c->fd = socket(ai->ai_family, SOCK_STREAM, 0);
  if (c->fd < 0) die("socket: %s", strerror(errno));
  setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) != 0)
    die("connection %d: connect to %s:%s: %s", c->id, host, port, strerror(errno));
  c->ssl = SSL_new(ctx);
  if (!c->ssl) die("SSL_new");
  SSL_set_fd(c->ssl, c->fd);
  SSL_set_tlsext_host_name(c->ssl, name);
  if (!SSL_set1_host(c->ssl, name)) die("SSL_set1_host");
  if (SSL_connect(c->ssl) != 1) die("connection %d: TLS handshake failed", c->id);

  /* the version, suite and group both sides were told to use */
  v = SSL_get_version(c->ssl);
  suite = SSL_get_cipher_name(c->ssl);
  if (SSL_get_peer_tmp_key(c->ssl, &tmp) == 1 && tmp) {
    if (!EVP_PKEY_get_group_name(tmp, group, sizeof group, &gl)) strcpy(group, "?");
    EVP_PKEY_free(tmp);
  }
  snprintf(tls_desc, sizeof tls_desc, "%s %s %s", v, suite ? suite : "?", group);
  if (strcmp(v, want_v) != 0 || !suite || strcmp(suite, want_s) != 0 ||
      (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0 && strcmp(group, "secp256r1") != 0))
    die("connection %d negotiated %s, not %s %s P-256", c->id, tls_desc, want_v, want_s);
  if (c->id == 0) snprintf(tls_seen, tls_cap, "%s", tls_desc);

  /* RFC 6455 4.1: the opening handshake */
  if (RAND_bytes(key, sizeof key) != 1) die("RAND_bytes");
  b64(key, sizeof key, key64);
  snprintf(req, sizeof req,
           "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
           path, name, port, key64);
  if (SSL_write(c->ssl, req, (int)strlen(req)) != (int)strlen(req)) die("connection %d: sending the upgrade", c->id);
  c->in_len = 0;
  for (;;) {
    if (c->in_len >= sizeof c->in - 1) die("connection %d: the answer's head is too long", c->id);
    n = SSL_read(c->ssl, c->in + c->in_len, (int)(sizeof c->in - 1 - c->in_len));
    if (n <= 0) die("connection %d: no answer to the upgrade (closed or 10 s)", c->id);
    c->in_len += (size_t)n;
    c->in[c->in_len] = 0;
    end = strstr((char *)c->in, "\r\n\r\n");
    if (end) break;
  }
  end[2] = 0; /* the head, with its last line's CRLF */
  if (strncmp((char *)c->in, "HTTP/1.1 101", 12) != 0) {
    char *eol = strstr((char *)c->in, "\r\n");
    if (eol) *eol = 0;
    die("connection %d: %s%s answered '%s', not 101", c->id, host, path, (char *)c->in);
  }
  snprintf(acc, sizeof acc, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key64);
  SHA1((const unsigned char *)acc, strlen(acc), sha);
  b64(sha, sizeof sha, want64);
  if (!header((char *)c->in, "Sec-WebSocket-Accept", got, sizeof got) || strcmp(got, want64) != 0)
    die("connection %d: Sec-WebSocket-Accept is not %s", c->id, want64);
  if (header((char *)c->in, "Sec-WebSocket-Extensions", got, sizeof got))
    die("connection %d: the server chose an extension (%s)", c->id, got);
  /* bytes after the head (a frame already) stay in the buffer */
  {
    size_t head_len = (size_t)(end + 4 - (char *)c->in);
    memmove(c->in, c->in + head_len, c->in_len - head_len);
    c->in_len -= head_len;
  }
  fl = fcntl(c->fd, F_GETFL);
  if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0) die("fcntl: %s", strerror(errno));
}

/* ---- the load ------------------------------------------------------------------ */

static long long win_start, win_end;
static uint64_t counted;
static long long max_us;

/* Takes the frames in c->in. Returns 1 when a round trip completed. */
static int take_frames(conn *c, long long t) {
  int done = 0;
  for (;;) {
    size_t h = 2, len;
    int op, fin;
    unsigned char *f = c->in;
    if (c->in_len < 2) break;
    fin = f[0] & 0x80;
    op = f[0] & 0x0f;
    if (f[0] & 0x70) die("connection %d: a reserved bit set (RFC 6455 5.2)", c->id);
    if (f[1] & 0x80) die("connection %d: a masked frame from the server (RFC 6455 5.1)", c->id);
    len = f[1] & 0x7f;
    if (len == 126) {
      if (c->in_len < 4) break;
      len = ((size_t)f[2] << 8) | f[3];
      h = 4;
    } else if (len == 127) {
      die("connection %d: a 64-bit length: longer than any message sent", c->id);
    }
    if (len > MAX_BYTES) die("connection %d: a frame of %zu bytes", c->id, len);
    if (c->in_len < h + len) break;
    if (op == 9) { /* ping: the pong, after the message in flight if any */
      if (c->out_off < c->out_len) die("connection %d: a ping while a write waits", c->id);
      build_frame(c, 10, f + h, len);
      flush_out(c);
    } else if (op == 10) { /* pong: ignored */
    } else if (op == 8) {
      if (!c->closing) {
        die("connection %d: the server closed (code %d)", c->id, len >= 2 ? (f[h] << 8) | f[h + 1] : 1005);
      }
      c->closed = 1;
    } else {
      unsigned char p[MAX_BYTES];
      if (c->closing) {
        /* an echo still on its way when the close went out */
      } else {
        if (!fin || op != msg_type) die("connection %d: the echo is opcode %d%s, not %d", c->id, op,
                                        fin ? "" : " (fragmented)", msg_type);
        make_payload(p, c->id, c->seq);
        if (len != msg_bytes || memcmp(f + h, p, len) != 0)
          die("connection %d: the echo of message %llu is not its bytes", c->id, (unsigned long long)c->seq);
        if (t >= win_start && t < win_end) {
          long long us = (t - c->sent_ns) / 1000;
          hist[us > HIST_US ? HIST_US : us]++;
          if (us > max_us) max_us = us;
          counted++;
          c->counted++;
        }
        done = 1;
      }
    }
    memmove(c->in, c->in + h + len, c->in_len - h - len);
    c->in_len -= h + len;
  }
  return done;
}

/* Reads what TLS has. Returns 0, or -1 when the connection ended. */
static int read_some(conn *c) {
  for (;;) {
    int n;
    if (c->in_len == sizeof c->in) die("connection %d: the receive buffer is full", c->id);
    n = SSL_read(c->ssl, c->in + c->in_len, (int)(sizeof c->in - c->in_len));
    if (n > 0) {
      c->in_len += (size_t)n;
      continue;
    }
    switch (SSL_get_error(c->ssl, n)) {
      case SSL_ERROR_WANT_READ: return 0;
      case SSL_ERROR_WANT_WRITE: c->want_write = 1; return 0;
      case SSL_ERROR_ZERO_RETURN: return -1;
      default: return -1;
    }
  }
}

/* On-CPU nanoseconds of every thread of process pid (-1: unreadable). */
static long long proc_cpu_ns(int pid) {
  char path[64], line[128];
  long long sum = 0;
  struct dirent *d;
  DIR *dir;
  snprintf(path, sizeof path, "/proc/%d/task", pid);
  dir = opendir(path);
  if (!dir) return -1;
  while ((d = readdir(dir)) != NULL) {
    FILE *f;
    if (d->d_name[0] < '0' || d->d_name[0] > '9' || strlen(d->d_name) > 20) continue;
    snprintf(path, sizeof path, "/proc/%d/task/%s/schedstat", pid, d->d_name);
    f = fopen(path, "r");
    if (!f) continue; /* a thread that has just ended */
    if (fgets(line, sizeof line, f)) sum += atoll(line);
    fclose(f);
  }
  closedir(dir);
  return sum;
}

static int pct_us(uint64_t total, double q) {
  uint64_t want = (uint64_t)(q * (double)total), seen = 0;
  int i;
  if (want >= total) want = total - 1;
  for (i = 0; i <= HIST_US; i++) {
    seen += hist[i];
    if (seen > want) return i;
  }
  return HIST_US;
}

int main(int argc, char **argv) {
  double seconds = 5, warmup = 1;
  int ver = 12, opt, ep, i, srv_pid = 0;
  long long s0 = -1, s1 = -1;
  const char *ca = "build/certs/ca.pem", *name = "localhost", *path = "/ws", *host, *port;
  struct addrinfo hints, *ai;
  SSL_CTX *ctx;
  char tls_seen[160] = "";
  long long t0, last_progress, t_close;
  double c0 = 0, c1 = 0;
  struct epoll_event evs[64];
  uint64_t seed;

  while ((opt = getopt(argc, argv, "c:d:w:s:t:T:A:n:p:P:")) != -1) {
    switch (opt) {
      case 'c': nconns = atoi(optarg); break;
      case 'd': seconds = atof(optarg); break;
      case 'w': warmup = atof(optarg); break;
      case 's': msg_bytes = (size_t)atol(optarg); break;
      case 't':
        if (strcmp(optarg, "text") == 0) msg_type = 1;
        else if (strcmp(optarg, "binary") == 0) msg_type = 2;
        else die("-t text or -t binary");
        break;
      case 'T': ver = atoi(optarg); break;
      case 'A': ca = optarg; break;
      case 'n': name = optarg; break;
      case 'p': path = optarg; break;
      case 'P': srv_pid = atoi(optarg); break;
      default: die("usage: ws_load [-c CONNS] [-d S] [-w S] [-s BYTES] [-t text|binary] [-T 12|13] "
                   "[-A CA] [-n NAME] [-p PATH] [-P PID] HOST PORT");
    }
  }
  if (argc - optind != 2) die("usage: ws_load [options] HOST PORT");
  if (srv_pid < 0 || (srv_pid > 0 && proc_cpu_ns(srv_pid) < 0)) die("-P %d: no such process", srv_pid);
  host = argv[optind];
  port = argv[optind + 1];
  if (nconns < 1 || nconns > MAX_CONNS) die("-c: 1 to %d", MAX_CONNS);
  if (!(seconds > 0 && seconds <= 600) || !(warmup >= 0 && warmup <= 60)) die("-d: (0, 600], -w: [0, 60]");
  if (msg_bytes < 24 || msg_bytes > MAX_BYTES) die("-s: 24 to %d bytes", MAX_BYTES);
  if (ver != 12 && ver != 13) die("-T 12 or -T 13");
  if (path[0] != '/' || strlen(path) > 200 || strlen(name) > 200 || strlen(port) > 10) die("bad -p, -n or PORT");
  signal(SIGPIPE, SIG_IGN);
  signal(SIGALRM, on_alarm);
  alarm((unsigned)(warmup + seconds + 30));

  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host, port, &hints, &ai) != 0) die("cannot resolve %s:%s", host, port);

  ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) die("SSL_CTX_new");
  SSL_CTX_set_min_proto_version(ctx, ver == 12 ? TLS1_2_VERSION : TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx, ver == 12 ? TLS1_2_VERSION : TLS1_3_VERSION);
  if (ver == 12 && !SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256")) die("cipher list");
  if (ver == 13 && !SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256")) die("ciphersuites");
  if (!SSL_CTX_set1_groups_list(ctx, "P-256")) die("groups");
  if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) die("cannot load %s", ca);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  /* no session kept between the connections: each pays a full handshake,
     outside the measured window anyway */
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);

  conns = calloc((size_t)nconns, sizeof *conns);
  if (!conns) die("out of memory");
  if (RAND_bytes((unsigned char *)&seed, sizeof seed) != 1) die("RAND_bytes");
  rng_state = seed | 1;
  for (i = 0; i < nconns; i++) {
    conns[i].id = i;
    open_conn(&conns[i], ctx, ai, name, host, port, path, ver, tls_seen, sizeof tls_seen);
  }
  freeaddrinfo(ai);

  ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1: %s", strerror(errno));
  for (i = 0; i < nconns; i++) {
    struct epoll_event ev;
    ev.events = EPOLLIN;
    ev.data.u32 = (uint32_t)i;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev) != 0) die("epoll_ctl: %s", strerror(errno));
  }

  t0 = now_ns();
  win_start = t0 + (long long)(warmup * 1e9);
  win_end = win_start + (long long)(seconds * 1e9);
  for (i = 0; i < nconns; i++) send_next(&conns[i]);
  last_progress = t0;
  {
    int in_window = 0;
    for (;;) {
      long long t = now_ns();
      int n, k;
      if (!in_window && t >= win_start) {
        in_window = 1;
        c0 = cpu_s();
        if (srv_pid) s0 = proc_cpu_ns(srv_pid);
      }
      if (t >= win_end) break;
      if (t - last_progress > STALL_NS) die("no echo for 5 s");
      n = epoll_wait(ep, evs, 64, 100);
      if (n < 0 && errno != EINTR) die("epoll_wait: %s", strerror(errno));
      t = now_ns();
      for (k = 0; k < n; k++) {
        conn *c = &conns[evs[k].data.u32];
        if (c->want_write && c->out_off < c->out_len) flush_out(c);
        if (read_some(c) < 0) die("connection %d: the server ended the connection", c->id);
        if (c->out_off < c->out_len && !c->want_write) flush_out(c);
        if (take_frames(c, t)) {
          last_progress = t;
          if (t < win_end) send_next(c);
        }
        if (c->want_write != c->polls_out) {
          struct epoll_event ev;
          ev.events = EPOLLIN | (c->want_write ? EPOLLOUT : 0u);
          ev.data.u32 = evs[k].data.u32;
          if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0) die("epoll_ctl: %s", strerror(errno));
          c->polls_out = c->want_write;
        }
      }
    }
    c1 = cpu_s();
    if (srv_pid) s1 = proc_cpu_ns(srv_pid);
  }

  /* RFC 6455 7.1.2: close, and wait (3 s at most) for the server's close */
  for (i = 0; i < nconns; i++) {
    static const unsigned char code[2] = {0x03, 0xe8};
    conn *c = &conns[i];
    int fl = fcntl(c->fd, F_GETFL);
    struct epoll_event ev;
    if (fl >= 0) fcntl(c->fd, F_SETFL, fl & ~O_NONBLOCK); /* SO_SNDTIMEO bounds the writes */
    if (!flush_out(c)) die("connection %d: a message could not be sent in 10 s", c->id);
    c->closing = 1;
    build_frame(c, 8, code, 2);
    if (!flush_out(c)) die("connection %d: the close could not be sent in 10 s", c->id);
    if (fl >= 0) fcntl(c->fd, F_SETFL, fl);
    ev.events = EPOLLIN;
    ev.data.u32 = (uint32_t)i;
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
  }
  t_close = now_ns();
  {
    int open = nconns, closes = 0;
    while (open > 0 && now_ns() - t_close < 3000000000LL) {
      int n = epoll_wait(ep, evs, 64, 100), k;
      for (k = 0; k < n; k++) {
        conn *c = &conns[evs[k].data.u32];
        int ended;
        if (c->fd < 0) continue;
        ended = read_some(c);
        take_frames(c, 0);
        if (c->closed || ended < 0) {
          closes += c->closed;
          SSL_shutdown(c->ssl);
          epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
          close(c->fd);
          SSL_free(c->ssl);
          c->fd = -1;
          open--;
        }
      }
    }
    if (closes != nconns) printf("ws_load: note: %d of %d connections answered the close in 3 s\n", closes, nconns);
  }

  if (counted == 0) die("no round trip completed in the window");
  printf("ws_load: tls %s\n", tls_seen);
  printf("ws_load: message %zu bytes %s\n", msg_bytes, msg_type == 1 ? "text" : "binary");
  printf("ws_load: conns %d\n", nconns);
  printf("ws_load: round_trips %llu\n", (unsigned long long)counted);
  printf("ws_load: seconds %.3f\n", seconds);
  printf("ws_load: rt_per_s %.1f\n", (double)counted / seconds);
  printf("ws_load: p50_us %d\n", pct_us(counted, 0.50));
  printf("ws_load: p99_us %d\n", pct_us(counted, 0.99));
  printf("ws_load: max_us %lld\n", max_us);
  {
    uint64_t lo = conns[0].counted, hi = conns[0].counted;
    for (i = 1; i < nconns; i++) {
      if (conns[i].counted < lo) lo = conns[i].counted;
      if (conns[i].counted > hi) hi = conns[i].counted;
    }
    printf("ws_load: per_conn_min %llu\n", (unsigned long long)lo);
    printf("ws_load: per_conn_max %llu\n", (unsigned long long)hi);
  }
  printf("ws_load: client_cpu_pct %.0f\n", 100.0 * (c1 - c0) / seconds);
  if (srv_pid) {
    if (s0 < 0 || s1 < s0) die("the server's CPU time (/proc/%d) could not be read", srv_pid);
    printf("ws_load: server_cpu_us_per_rt %.2f\n", (double)(s1 - s0) / 1000.0 / (double)counted);
    printf("ws_load: server_cpu_pct %.0f\n", 100.0 * (double)(s1 - s0) / 1e9 / seconds);
  }
  SSL_CTX_free(ctx);
  free(conns);
  return 0;
}
