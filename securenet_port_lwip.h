/* securenet_port_lwip.h - securenet's port for lwIP's raw API - MIT license, see securenet.h

   The port contract of securenet.h on lwIP 2.1 or later: TCP pcbs for
   listeners and connections, received pbufs queued per connection, sends
   bounded by tcp_sndbuf(). Two ways to run it:

   Bare metal (NO_SYS=1). One main loop does everything; nothing waits:

       #define SN_LWIP_ENTROPY(buf, len) board_trng_read(buf, len)   // 0 = ok
       #define SN_LWIP_WALL_S() board_rtc_seconds()                  // or -1
       #define SECURENET_IMPLEMENTATION
       #include "securenet.h"
       #include "securenet_port_lwip.h"

       static sn_lwip lw;                  // the port's state (about 40 B a socket)
       lwip_init(); ...netif_add(...)...
       sn_mgr_opts o = {0};
       o.port = sn_lwip_port(&lw);
       sn_mgr_create(&mgr, &o); ...sn_http_listen(mgr, &ho)...  // ho.tls set: HTTPS
       for (;;) {
         board_netif_poll(&netif);        // the driver feeds received frames to netif->input
         sys_check_timeouts();            // lwIP's timers
         sn_poll(mgr, 0);                 // securenet's work; returns at once
       }

   With an RTOS (NO_SYS=0, LWIP_TCPIP_CORE_LOCKING=1). lwIP runs in its
   tcpip thread; one application thread owns the sn_mgr and calls
   sn_lwip_port(), sn_mgr_create() (after tcpip_init()), sn_poll(mgr, -1 or a
   timeout) and every other sn_* function. The port takes LOCK_TCPIP_CORE()
   around each raw-API call and for its own state; the lwIP callbacks run in
   the tcpip thread, under the same lock, and wake the application thread
   through a semaphore, so sn_poll(mgr, -1) sleeps until there is work or a
   timer is due. Do not call sn_* functions from lwIP callbacks or from a
   second thread, except sn_mgr_wakeup: from any thread it queues a function
   for the manager's thread under sys_arch_protect and signals the same
   semaphore (from an interrupt only where the RTOS's sys_sem_signal is safe
   there). On bare metal sn_mgr_wakeup may be called from an interrupt when
   SN_LWIP_LOCK(lw) / SN_LWIP_UNLOCK(lw) are defined (save and disable
   interrupts, restore them) or SYS_LIGHTWEIGHT_PROT is 1; the main loop
   runs the queue at its next sn_poll.
   Name resolution (sn_connect, mail to a host name) uses lwIP's
   dns_gethostbyname, which never blocks: connect says SN_WANT_READ until the
   answer's callback has run.

   What the application provides, at compile time, before the implementation:
   - SN_LWIP_ENTROPY(buf, len): fills buf with len bytes from a hardware
     entropy source (the MCU's TRNG), evaluates to 0 on success. Required: a
     build without it stops with #error. There is no fallback to a clock or
     a counter, because TLS keys made from those can be guessed.
   - SN_LWIP_WALL_S(): seconds since 1970 UTC from an RTC or SNTP, or -1
     while the time is unknown. Certificate validity dates are checked only
     when it is known. A device with no clock at all must say so with
     `#define SN_LWIP_NO_WALL_CLOCK 1`: then dates are never checked (a
     warning is logged at every handshake that verifies a certificate) and
     an expired or not-yet-valid certificate is accepted. One of the two is
     required; the build stops otherwise.
   Milliseconds come from sys_now() (32 bits, extended here to 64).

   Options (define before the implementation)
   | macro                | default                      | what it does
   | SN_LWIP_MAX_SOCKETS  | SN_MAX_SOCKETS + SN_LWIP_BACKLOG | sockets of the port: listeners, connections, accepted ones waiting for securenet
   |                      |                              | (SN_MAX_SOCKETS counts SN_MAX_LISTENERS, default 4: a device with one
   |                      |                              | HTTPS listener sets SN_MAX_LISTENERS 1 and saves three sockets' state)
   | SN_LWIP_BACKLOG      | 4                            | established connections a listener holds while securenet is full (tcp_listen_with_backlog)

   Window and records. mbedTLS decrypts a TLS record only when all of it
   has arrived, and the port gives lwIP back receive window
   (tcp_recved) only as securenet consumes bytes, so that a slow connection
   pushes back on its sender instead of filling the pbuf pool. A window
   smaller than one record costs a round trip per window per record; the
   port therefore requires TCP_WND >= MBEDTLS_SSL_IN_CONTENT_LEN + 261 (the
   largest record mbedTLS accepts, plus header and the most expansion TLS
   allows) and stops the build otherwise. With 16 KiB records (what
   browsers and mail servers send) that is TCP_WND >= 16645, e.g.
   12 * TCP_MSS with TCP_MSS 1460. Each connection may then hold up to
   TCP_WND bytes of pbufs in the worst case: size PBUF_POOL_SIZE for the
   connections that receive at once, not for all of them (see the README's
   lwIP memory table). A smaller window needs smaller records on both
   sides (MBEDTLS_SSL_IN_CONTENT_LEN and a peer that honours
   max_fragment_length or record_size_limit); browsers do not.

   When lwIP runs out
   - no pcb for a new connection (MEMP_NUM_TCP_PCB): lwIP drops the SYN;
     the client retries. No socket of the port free: the connection is
     reset. Neither disturbs open connections.
   - no pbuf for received data (PBUF_POOL_SIZE): lwIP drops the segment;
     TCP retransmits it.
   - no memory for a send (tcp_write returns ERR_MEM): the send hook
     says SN_WANT_WRITE and the port retries when data is acknowledged or
     at lwIP's next TCP poll (about a second).
   - connect with no pcb: SN_ERR_NOMEM, reported to the mail job.
   In every case the server goes on serving the others. */
#ifndef SECURENET_PORT_LWIP_H
#define SECURENET_PORT_LWIP_H

#include "securenet.h"
#include "lwip/opt.h"
#include "lwip/tcp.h"
#include "lwip/ip_addr.h"
#include "lwip/sys.h" /* sys_now(); with NO_SYS=0 also semaphores */

#ifdef __cplusplus
extern "C" {
#endif

#ifndef SN_LWIP_BACKLOG
#define SN_LWIP_BACKLOG 4
#endif
#ifndef SN_LWIP_MAX_SOCKETS
#define SN_LWIP_MAX_SOCKETS (SN_MAX_SOCKETS + SN_LWIP_BACKLOG)
#endif

struct sn_lwip;

/* Names are resolved for outgoing connections only (mail, sn_connect): a
   server-only build keeps no resolver state, whatever LWIP_DNS says. */
#define SN__LW_DNS (LWIP_DNS && (SN_ENABLE_SMTP || SN_ENABLE_CLIENT))

/* A name being resolved by lwIP's DNS client for connect (one at a time:
   securenet calls connect again with the same name until it is known). */
typedef struct sn__lw_dns {
  volatile int state; /* 0 idle, 1 asking, 2 found, 3 failed */
  ip_addr_t ip;
  char name[DNS_MAX_NAME_LENGTH + 1]; /* what state is about */
} sn__lw_dns;

/* One socket of the port. Private: read only through sn_lwip_stats. */
typedef struct sn__lw_sock {
  struct sn_lwip *lw;
  struct tcp_pcb *pcb;   /* NULL once lwIP freed it (err callback) or it was closed */
  struct pbuf *rx;       /* received, not yet consumed; its window is still closed */
  uint8_t state;         /* SN__LW_FREE, _LISTEN, _PENDING, _CONNECTING, _OPEN */
  uint8_t fin;           /* the peer closed its side */
  uint8_t nomem;         /* the last tcp_write failed for memory: not writable until sent/poll */
  int8_t err;            /* 0, or the SN_ERR_* that ended it (reset, abort, timeout) */
  uint8_t listener;      /* for an accepted one: its listener's index */
  uint32_t order;        /* accept order of a pending one */
} sn__lw_sock;

/* sn_mgr_wakeup's lock: SN_LWIP_LOCK(lw) / SN_LWIP_UNLOCK(lw) when the
   application defines them (bare metal: save PRIMASK and disable interrupts,
   then restore it), else lwIP's sys_arch_protect with SYS_LIGHTWEIGHT_PROT,
   else none (sn_mgr_wakeup from the main loop only, not from interrupts). */
#if defined(SN_LWIP_LOCK) || SYS_LIGHTWEIGHT_PROT
#define SN__LW_HAS_LOCK 1
#else
#define SN__LW_HAS_LOCK 0
#endif

/* The port's state: the application keeps one (static) per lwIP stack. */
typedef struct sn_lwip {
  sn_port port;
  sn__lw_sock socks[SN_LWIP_MAX_SOCKETS];
  uint32_t accepted_seq;
  uint32_t last_ms;      /* sys_now() extended to 64 bits */
  uint64_t high_ms;
  unsigned used, peak;   /* sockets in use now, at most */
  unsigned long refused; /* connections reset because no socket was free */
#if SN__LW_DNS
  sn__lw_dns dns;
#endif
#if !NO_SYS
  sys_sem_t wake;        /* signalled by the callbacks and sn_mgr_wakeup */
#endif
#if SN__LW_HAS_LOCK && !defined(SN_LWIP_LOCK)
  sys_prot_t prot;       /* the interrupt state sys_arch_protect saved (one lock at a time) */
#endif
} sn_lwip;

/* Sets up lw (zeroes it) and returns its port table for sn_mgr_opts.port.
   Call after lwip_init() (bare metal) or tcpip_init() (RTOS), from the thread
   that will own the manager. Returns NULL only if the RTOS semaphore cannot
   be made. */
SNDEF const sn_port *sn_lwip_port(sn_lwip *lw);

typedef struct sn_lwip_stats {
  unsigned sockets;      /* in use now (listeners, connections, waiting ones) */
  unsigned sockets_peak; /* most at once */
  unsigned long refused; /* connections reset because the table was full */
} sn_lwip_stats;
SNDEF void sn_lwip_stats_get(sn_lwip *lw, sn_lwip_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* SECURENET_PORT_LWIP_H */

#if defined(SECURENET_IMPLEMENTATION) && !defined(SECURENET_PORT_LWIP_DONE)
#define SECURENET_PORT_LWIP_DONE

#include <string.h>
#include "lwip/tcp.h"
#include "lwip/dns.h"
#include "lwip/pbuf.h"
#if !NO_SYS
#include "lwip/tcpip.h"
#endif

#if !LWIP_TCP || !LWIP_CALLBACK_API
#error "securenet_port_lwip.h needs LWIP_TCP 1 and LWIP_CALLBACK_API 1 in lwipopts.h"
#endif
#if !defined(SN_LWIP_ENTROPY)
#error "securenet_port_lwip.h: define SN_LWIP_ENTROPY(buf, len) as your MCU's hardware entropy read (TRNG), evaluating to 0 on success. There is no fallback to a clock or a counter: TLS keys made from those can be guessed."
#endif
#if !defined(SN_LWIP_WALL_S) && !defined(SN_LWIP_NO_WALL_CLOCK)
#error "securenet_port_lwip.h: define SN_LWIP_WALL_S() (seconds since 1970 UTC from an RTC or SNTP, -1 while unknown), or define SN_LWIP_NO_WALL_CLOCK 1 to accept that certificate dates are never checked."
#endif
#if !NO_SYS && !LWIP_TCPIP_CORE_LOCKING
#error "securenet_port_lwip.h with NO_SYS=0 calls the raw API from the application thread: set LWIP_TCPIP_CORE_LOCKING 1 in lwipopts.h"
#endif
#if TCP_WND < MBEDTLS_SSL_IN_CONTENT_LEN + 261
#error "securenet_port_lwip.h: TCP_WND is smaller than one TLS record (MBEDTLS_SSL_IN_CONTENT_LEN + 261). Raise TCP_WND in lwipopts.h (16645 or more for 16 KiB records, e.g. 12 * TCP_MSS with TCP_MSS 1460, and PBUF_POOL_SIZE to match), or lower MBEDTLS_SSL_IN_CONTENT_LEN if every peer negotiates a smaller record size (browsers do not)."
#endif
#if SN_LWIP_MAX_SOCKETS > 255
#error "SN_LWIP_MAX_SOCKETS: at most 255"
#endif

enum { SN__LW_FREE, SN__LW_LISTEN, SN__LW_PENDING, SN__LW_CONNECTING, SN__LW_OPEN };

#if NO_SYS
#define SN__LW_LOCK() ((void) 0)
#define SN__LW_UNLOCK() ((void) 0)
#define SN__LW_WAKE(lw) ((void) (lw))
#else
#define SN__LW_LOCK() LOCK_TCPIP_CORE()
#define SN__LW_UNLOCK() UNLOCK_TCPIP_CORE()
#define SN__LW_WAKE(lw) sys_sem_signal(&(lw)->wake)
#endif

static sn__lw_sock *sn__lw_get(sn_lwip *lw, sn_sock s) {
  if (s < 0 || s >= SN_LWIP_MAX_SOCKETS || lw->socks[s].state == SN__LW_FREE) return NULL;
  return &lw->socks[s];
}

static sn__lw_sock *sn__lw_alloc(sn_lwip *lw, uint8_t state) {
  int i;
  for (i = 0; i < SN_LWIP_MAX_SOCKETS; i++) {
    sn__lw_sock *k = &lw->socks[i];
    if (k->state == SN__LW_FREE) {
      memset(k, 0, sizeof *k);
      k->lw = lw;
      k->state = state;
      if (++lw->used > lw->peak) lw->peak = lw->used;
      return k;
    }
  }
  return NULL;
}

/* Gives back the window of what was received and never read, so that a
   close is an orderly FIN, not a reset for unread data. */
static void sn__lw_drop_rx(sn__lw_sock *k) {
  if (k->rx != NULL) {
    uint32_t n = k->rx->tot_len;
    pbuf_free(k->rx);
    k->rx = NULL;
    while (k->pcb != NULL && n > 0) {
      u16_t step = (u16_t) (n > 0xffff ? 0xffff : n);
      tcp_recved(k->pcb, step);
      n -= step;
    }
  }
}

static void sn__lw_detach(struct tcp_pcb *pcb) {
  tcp_arg(pcb, NULL);
  tcp_recv(pcb, NULL);
  tcp_sent(pcb, NULL);
  tcp_err(pcb, NULL);
  tcp_poll(pcb, NULL, 0);
}

/* Frees the slot and ends its pcb: an orderly close, or a reset if lwIP
   cannot queue the FIN now (out of memory). */
static void sn__lw_release(sn__lw_sock *k) {
  sn__lw_drop_rx(k);
  if (k->pcb != NULL) {
    struct tcp_pcb *pcb = k->pcb;
    int listening = k->state == SN__LW_LISTEN;
    k->pcb = NULL;
    if (listening) {
      tcp_accept(pcb, NULL);
      tcp_arg(pcb, NULL);
    } else {
      sn__lw_detach(pcb);
    }
    if (tcp_close(pcb) != ERR_OK) tcp_abort(pcb);
  }
  k->state = SN__LW_FREE;
  k->lw->used--;
}

/* ---- lwIP callbacks (tcpip thread under an RTOS, the main loop otherwise) -- */
static err_t sn__lw_on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err) {
  sn__lw_sock *k = (sn__lw_sock *) arg;
  (void) err;
  if (k == NULL) { /* closed meanwhile: take and drop */
    if (p != NULL) {
      tcp_recved(pcb, p->tot_len);
      pbuf_free(p);
    }
    return ERR_OK;
  }
  if (p == NULL) k->fin = 1;
  else if (k->rx == NULL) k->rx = p;
  else pbuf_cat(k->rx, p);
  SN__LW_WAKE(k->lw);
  return ERR_OK;
}

static err_t sn__lw_on_sent(void *arg, struct tcp_pcb *pcb, u16_t len) {
  sn__lw_sock *k = (sn__lw_sock *) arg;
  (void) pcb, (void) len;
  if (k != NULL) {
    k->nomem = 0;
    SN__LW_WAKE(k->lw);
  }
  return ERR_OK;
}

static err_t sn__lw_on_poll(void *arg, struct tcp_pcb *pcb) {
  sn__lw_sock *k = (sn__lw_sock *) arg;
  (void) pcb;
  if (k != NULL && k->nomem) {
    k->nomem = 0; /* memory may be back: let securenet try the send again */
    SN__LW_WAKE(k->lw);
  }
  return ERR_OK;
}

/* lwIP freed the pcb already (reset, retransmission timeout, abort). */
static void sn__lw_on_err(void *arg, err_t err) {
  sn__lw_sock *k = (sn__lw_sock *) arg;
  if (k == NULL) return;
  k->pcb = NULL;
  k->err = (int8_t) (err == ERR_RST || err == ERR_CLSD ? SN_ERR_CLOSED : SN_ERR_IO);
  if (k->state == SN__LW_PENDING) { /* securenet never saw it */
    if (k->rx != NULL) pbuf_free(k->rx), k->rx = NULL;
    k->state = SN__LW_FREE;
    k->lw->used--;
  }
  SN__LW_WAKE(k->lw);
}

static void sn__lw_attach(sn__lw_sock *k, struct tcp_pcb *pcb) {
  k->pcb = pcb;
  tcp_arg(pcb, k);
  tcp_recv(pcb, sn__lw_on_recv);
  tcp_sent(pcb, sn__lw_on_sent);
  tcp_err(pcb, sn__lw_on_err);
  tcp_poll(pcb, sn__lw_on_poll, 2);
  tcp_nagle_disable(pcb);
}

static err_t sn__lw_on_accept(void *arg, struct tcp_pcb *pcb, err_t err) {
  sn__lw_sock *l = (sn__lw_sock *) arg, *k;
  if (pcb == NULL || err != ERR_OK || l == NULL) return ERR_VAL;
  k = sn__lw_alloc(l->lw, SN__LW_PENDING);
  if (k == NULL) {
    l->lw->refused++;
    tcp_abort(pcb);
    return ERR_ABRT;
  }
  k->listener = (uint8_t) (l - l->lw->socks);
  k->order = l->lw->accepted_seq++;
  sn__lw_attach(k, pcb);
#if TCP_LISTEN_BACKLOG
  tcp_backlog_delayed(pcb); /* counts against the backlog until securenet takes it */
#endif
  SN__LW_WAKE(l->lw);
  return ERR_OK;
}

static err_t sn__lw_on_connected(void *arg, struct tcp_pcb *pcb, err_t err) {
  sn__lw_sock *k = (sn__lw_sock *) arg;
  (void) pcb, (void) err; /* lwIP reports a failed connect through the err callback */
  if (k != NULL) {
    k->state = SN__LW_OPEN;
    SN__LW_WAKE(k->lw);
  }
  return ERR_OK;
}

/* ---- the hooks (application thread) ---------------------------------------- */
static int sn__lw_listen(void *ctx, const char *addr, uint16_t port, sn_sock *out) {
  sn_lwip *lw = (sn_lwip *) ctx;
  ip_addr_t ip;
  struct tcp_pcb *pcb, *lpcb;
  sn__lw_sock *k;
  int r = SN_ERR_ADDR;
  if (addr != NULL && !ipaddr_aton(addr, &ip)) return SN_ERR_ADDR;
  SN__LW_LOCK();
  k = sn__lw_alloc(lw, SN__LW_LISTEN);
  pcb = k ? tcp_new_ip_type(addr ? (u8_t) IP_GET_TYPE(&ip) : (u8_t) IPADDR_TYPE_ANY) : NULL;
  if (k == NULL || pcb == NULL) {
    r = SN_ERR_NOMEM;
  } else if (tcp_bind(pcb, addr ? &ip : IP_ANY_TYPE, port) == ERR_OK &&
             (lpcb = tcp_listen_with_backlog(pcb, SN_LWIP_BACKLOG)) != NULL) {
    k->pcb = lpcb;
    tcp_arg(lpcb, k);
    tcp_accept(lpcb, sn__lw_on_accept);
    *out = (sn_sock) (k - lw->socks);
    pcb = NULL;
    r = SN_OK;
  }
  if (r != SN_OK) {
    if (pcb != NULL) tcp_abort(pcb);
    if (k != NULL) k->state = SN__LW_FREE, lw->used--;
  }
  SN__LW_UNLOCK();
  return r;
}

static int sn__lw_accept(void *ctx, sn_sock listener, sn_sock *out, char *peer, size_t peer_len) {
  sn_lwip *lw = (sn_lwip *) ctx;
  sn__lw_sock *best = NULL;
  int i, r = SN_WANT_READ;
  SN__LW_LOCK();
  for (i = 0; i < SN_LWIP_MAX_SOCKETS; i++) { /* the oldest waiting one first */
    sn__lw_sock *k = &lw->socks[i];
    if (k->state == SN__LW_PENDING && k->listener == listener && (best == NULL || (int32_t) (k->order - best->order) < 0))
      best = k;
  }
  if (best != NULL) {
    best->state = SN__LW_OPEN;
#if TCP_LISTEN_BACKLOG
    if (best->pcb != NULL) tcp_backlog_accepted(best->pcb);
#endif
    if (peer_len > 0) {
      peer[0] = '\0';
      if (best->pcb != NULL) ipaddr_ntoa_r(&best->pcb->remote_ip, peer, (int) (peer_len > 64 ? 64 : peer_len));
    }
    *out = (sn_sock) (best - lw->socks);
    r = SN_OK;
  }
  SN__LW_UNLOCK();
  return r;
}

#if SN__LW_DNS
static void sn__lw_on_dns(const char *name, const ip_addr_t *ip, void *arg) {
  sn__lw_dns *d = (sn__lw_dns *) arg;
  (void) name;
  if (ip != NULL) d->ip = *ip, d->state = 2;
  else d->state = 3;
  SN__LW_WAKE((sn_lwip *) ((char *) d - offsetof(sn_lwip, dns)));
}
#endif

static int sn__lw_connect(void *ctx, const char *host, uint16_t port, sn_sock *out) {
  sn_lwip *lw = (sn_lwip *) ctx;
  ip_addr_t ip;
  struct tcp_pcb *pcb;
  sn__lw_sock *k;
  int r = SN_OK;
  SN__LW_LOCK();
  if (!ipaddr_aton(host, &ip)) {
#if SN__LW_DNS
    sn__lw_dns *d = &lw->dns;
    if (strlen(host) > DNS_MAX_NAME_LENGTH) {
      r = SN_ERR_ADDR;
    } else if (d->state == 1 && strcmp(d->name, host) != 0) {
      r = SN_WANT_READ; /* another name is being looked up: its answer first */
    } else {
      if (d->state == 0 || strcmp(d->name, host) != 0) {
        err_t e;
        strcpy(d->name, host);
        d->state = 1;
        e = dns_gethostbyname(host, &d->ip, sn__lw_on_dns, d);
        if (e != ERR_INPROGRESS) d->state = e == ERR_OK ? 2 : 3;
      }
      if (d->state == 1) r = SN_WANT_READ;
      else if (d->state == 3) r = SN_ERR_ADDR;
      else ip = d->ip;
      if (d->state >= 2) d->state = 0;
    }
#else
    r = SN_ERR_ADDR;
#endif
  }
  if (r == SN_OK) {
    k = sn__lw_alloc(lw, SN__LW_CONNECTING);
    pcb = k ? tcp_new_ip_type((u8_t) IP_GET_TYPE(&ip)) : NULL;
    if (pcb == NULL) {
      if (k != NULL) k->state = SN__LW_FREE, lw->used--;
      r = SN_ERR_NOMEM;
    } else {
      sn__lw_attach(k, pcb);
      if (tcp_connect(pcb, &ip, port, sn__lw_on_connected) != ERR_OK) {
        sn__lw_release(k); /* no route, or no memory for the SYN */
        r = SN_ERR_IO;
      } else {
        *out = (sn_sock) (k - lw->socks);
      }
    }
  }
  SN__LW_UNLOCK();
  return r;
}

static int sn__lw_send(void *ctx, sn_sock s, const void *buf, size_t len) {
  sn_lwip *lw = (sn_lwip *) ctx;
  sn__lw_sock *k;
  int r;
  SN__LW_LOCK();
  k = sn__lw_get(lw, s);
  if (k == NULL || k->pcb == NULL) {
    r = k != NULL && k->err ? k->err : SN_ERR_CLOSED;
  } else if (k->state != SN__LW_OPEN || k->nomem) {
    r = SN_WANT_WRITE;
  } else {
    size_t n = tcp_sndbuf(k->pcb);
    err_t e;
    if (n > len) n = len;
    if (n > 0xffff) n = 0xffff;
    if (n == 0 || tcp_sndqueuelen(k->pcb) >= TCP_SND_QUEUELEN) {
      r = SN_WANT_WRITE;
    } else if ((e = tcp_write(k->pcb, buf, (u16_t) n, TCP_WRITE_FLAG_COPY)) == ERR_OK) {
      tcp_output(k->pcb);
      r = (int) n;
    } else if (e == ERR_MEM) {
      k->nomem = 1;
      tcp_output(k->pcb); /* what is queued goes; its ACK brings the sent callback */
      r = SN_WANT_WRITE;
    } else {
      r = e == ERR_CONN ? SN_ERR_CLOSED : SN_ERR_IO;
    }
  }
  SN__LW_UNLOCK();
  return r;
}

static int sn__lw_recv(void *ctx, sn_sock s, void *buf, size_t len) {
  sn_lwip *lw = (sn_lwip *) ctx;
  sn__lw_sock *k;
  int r;
  SN__LW_LOCK();
  k = sn__lw_get(lw, s);
  if (k == NULL) {
    r = SN_ERR_CLOSED;
  } else if (k->rx != NULL) {
    u16_t n = (u16_t) (len < k->rx->tot_len ? len : k->rx->tot_len);
    n = pbuf_copy_partial(k->rx, buf, n, 0);
    k->rx = pbuf_free_header(k->rx, n);
    if (k->pcb != NULL) tcp_recved(k->pcb, n); /* only now does the window reopen */
    r = n;
  } else if (k->fin) {
    r = 0;
  } else if (k->err) {
    r = k->err;
  } else {
    r = k->state == SN__LW_OPEN || k->state == SN__LW_CONNECTING ? SN_WANT_READ : SN_ERR_CLOSED;
  }
  SN__LW_UNLOCK();
  return r;
}

static void sn__lw_close(void *ctx, sn_sock s) {
  sn_lwip *lw = (sn_lwip *) ctx;
  sn__lw_sock *k;
  int i;
  SN__LW_LOCK();
  k = sn__lw_get(lw, s);
  if (k != NULL) {
    if (k->state == SN__LW_LISTEN) /* connections it accepted that securenet never took */
      for (i = 0; i < SN_LWIP_MAX_SOCKETS; i++)
        if (lw->socks[i].state == SN__LW_PENDING && lw->socks[i].listener == s) sn__lw_release(&lw->socks[i]);
    sn__lw_release(k);
  }
  SN__LW_UNLOCK();
}

static void sn__lw_shutdown(void *ctx, sn_sock s) {
  sn_lwip *lw = (sn_lwip *) ctx;
  sn__lw_sock *k;
  SN__LW_LOCK();
  k = sn__lw_get(lw, s);
  if (k != NULL && k->pcb != NULL && k->state == SN__LW_OPEN) tcp_shutdown(k->pcb, 0, 1);
  SN__LW_UNLOCK();
}

static uint8_t sn__lw_ready(sn_lwip *lw, sn_sock s, uint8_t want) {
  sn__lw_sock *k = sn__lw_get(lw, s);
  uint8_t ready = 0;
  int i;
  if (k == NULL) return SN_ERROR;
  if (k->state == SN__LW_LISTEN) {
    for (i = 0; i < SN_LWIP_MAX_SOCKETS; i++)
      if (lw->socks[i].state == SN__LW_PENDING && lw->socks[i].listener == s) return want & SN_READABLE;
    return 0;
  }
  if (k->rx != NULL || k->fin) ready |= SN_READABLE;
  if (k->pcb == NULL) ready |= SN_ERROR | SN_READABLE | SN_WRITABLE; /* the next call tells what */
  else if (k->state == SN__LW_OPEN && !k->nomem && tcp_sndbuf(k->pcb) > 0 && tcp_sndqueuelen(k->pcb) < TCP_SND_QUEUELEN)
    ready |= SN_WRITABLE;
  return (uint8_t) (ready & (want | SN_ERROR));
}

static int sn__lw_scan(sn_lwip *lw, sn_wait_item *items, int n) {
  int i, count = 0;
  for (i = 0; i < n; i++) {
    items[i].ready = sn__lw_ready(lw, items[i].sock, items[i].want);
    if (items[i].ready) count++;
  }
  return count;
}

/* Bare metal: reports what the callbacks recorded and returns at once (the
   main loop runs the driver and lwIP's timers between calls). RTOS: sleeps on
   the semaphore the callbacks signal, at most timeout_ms. */
static int sn__lw_wait(void *ctx, sn_wait_item *items, int n, int timeout_ms) {
  sn_lwip *lw = (sn_lwip *) ctx;
  int count;
  SN__LW_LOCK();
  count = sn__lw_scan(lw, items, n);
  SN__LW_UNLOCK();
#if !NO_SYS
  if (count == 0 && timeout_ms != 0) {
    /* lwIP's 0 means forever; a stale signal only costs one extra round */
    (void) sys_arch_sem_wait(&lw->wake, timeout_ms < 0 ? 0 : (u32_t) timeout_ms);
    SN__LW_LOCK();
    count = sn__lw_scan(lw, items, n);
    SN__LW_UNLOCK();
  }
#else
  (void) timeout_ms;
#endif
  return count;
}

static int sn__lw_entropy(void *ctx, unsigned char *buf, size_t len) {
  (void) ctx;
#if defined(SN_LWIP_ENTROPY) /* (without it the #error above has said what to do) */
  return (SN_LWIP_ENTROPY(buf, len)) == 0 ? 0 : -1;
#else
  (void) buf, (void) len;
  return -1;
#endif
}

static uint64_t sn__lw_now_ms(void *ctx) {
  sn_lwip *lw = (sn_lwip *) ctx;
  uint32_t now = sys_now();
  if (now < lw->last_ms) lw->high_ms += (uint64_t) 1 << 32; /* sys_now() wraps after 49 days */
  lw->last_ms = now;
  return lw->high_ms + now;
}

static int64_t sn__lw_wall_s(void *ctx) {
  (void) ctx;
#if defined(SN_LWIP_WALL_S)
  return (int64_t) (SN_LWIP_WALL_S());
#else
  return -1; /* SN_LWIP_NO_WALL_CLOCK: the application chose not to check dates */
#endif
}

#if !NO_SYS
/* sn_mgr_wakeup from another thread: the wait sleeps on this semaphore. On
   bare metal the main loop never sleeps in wait, so there is nothing to do. */
static void sn__lw_wake(void *ctx) { sys_sem_signal(&((sn_lwip *) ctx)->wake); }
#endif
#if SN__LW_HAS_LOCK
static void sn__lw_wlock(void *ctx) {
#if defined(SN_LWIP_LOCK)
  SN_LWIP_LOCK((sn_lwip *) ctx);
#else
  sys_prot_t prot = sys_arch_protect();
  ((sn_lwip *) ctx)->prot = prot;
#endif
}
static void sn__lw_wunlock(void *ctx) {
#if defined(SN_LWIP_LOCK)
  SN_LWIP_UNLOCK((sn_lwip *) ctx);
#else
  sys_arch_unprotect(((sn_lwip *) ctx)->prot);
#endif
}
#endif

SNDEF const sn_port *sn_lwip_port(sn_lwip *lw) {
  if (lw == NULL) return NULL;
  memset(lw, 0, sizeof *lw);
#if !NO_SYS
  if (sys_sem_new(&lw->wake, 0) != ERR_OK) return NULL;
#endif
  lw->last_ms = sys_now();
  lw->port.ctx = lw;
  lw->port.listen = sn__lw_listen;
  lw->port.accept = sn__lw_accept;
  lw->port.connect = sn__lw_connect;
  lw->port.send = sn__lw_send;
  lw->port.recv = sn__lw_recv;
  lw->port.close = sn__lw_close;
  lw->port.shutdown = sn__lw_shutdown;
  lw->port.wait = sn__lw_wait;
  lw->port.entropy = sn__lw_entropy;
  lw->port.now_ms = sn__lw_now_ms;
  lw->port.wall_s = sn__lw_wall_s;
#if !NO_SYS
  lw->port.wake = sn__lw_wake;
#endif
#if SN__LW_HAS_LOCK
  lw->port.lock = sn__lw_wlock;
  lw->port.unlock = sn__lw_wunlock;
#endif
  return &lw->port;
}

SNDEF void sn_lwip_stats_get(sn_lwip *lw, sn_lwip_stats *out) {
  SN__LW_LOCK();
  out->sockets = lw->used;
  out->sockets_peak = lw->peak;
  out->refused = lw->refused;
  SN__LW_UNLOCK();
}

#endif /* SECURENET_IMPLEMENTATION */
