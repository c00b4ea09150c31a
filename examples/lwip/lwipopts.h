/* lwipopts.h - lwIP settings for securenet's lwIP examples (NO_SYS=1, raw API).
   (The pool sizes can be given on the command line: the tests build a starved
   variant to see what happens when they run out.)

   A starting point for a device: the values marked "host" are sized for the
   test on a Linux TAP interface (50 clients at once); the comment beside each
   says what a Cortex-M with 128-256 KiB of RAM would use. Every value is
   overridable (-D, or a board's own lwipopts.h that defines what it changes
   and then includes this one): examples/qemu-lm3s/lwipopts.h is the set for a
   64 KiB part (4 KiB TLS records in, TCP_WND 3 * TCP_MSS, a 7-pbuf pool).
   lwIP refuses to build (init.c's sanity checks) unless PBUF_POOL_SIZE pbufs
   can hold a whole TCP_WND; on a small pool set TCP_OOSEQ_MAX_PBUFS, since
   the port holds received pbufs until securenet reads them and out-of-order
   segments could pin the rest of the pool. What securenet needs
   and why is in the README's "lwIP memory" table; securenet_port_lwip.h stops
   the build when TCP_WND cannot hold one TLS record. */
#ifndef LWIPOPTS_H
#define LWIPOPTS_H

/* ---- system: bare metal, one main loop ---- */
#ifndef NO_SYS
#define NO_SYS 1                 /* no threads: the main loop calls everything */
#endif
#ifndef SYS_LIGHTWEIGHT_PROT
#define SYS_LIGHTWEIGHT_PROT 0   /* nothing runs concurrently (no lwIP calls from interrupts) */
#endif
#ifndef LWIP_SOCKET
#define LWIP_SOCKET 0            /* raw API only */
#endif
#ifndef LWIP_NETCONN
#define LWIP_NETCONN 0
#endif
#ifndef LWIP_CALLBACK_API
#define LWIP_CALLBACK_API 1      /* securenet_port_lwip.h uses tcp_recv/tcp_sent/tcp_err */
#endif

/* ---- protocols ---- */
#ifndef LWIP_IPV4
#define LWIP_IPV4 1
#endif
#ifndef LWIP_IPV6
#define LWIP_IPV6 0              /* securenet works with either; IPv6 costs about 10 KiB of flash */
#endif
#ifndef LWIP_ARP
#define LWIP_ARP 1
#endif
#ifndef LWIP_ETHERNET
#define LWIP_ETHERNET 1
#endif
#ifndef LWIP_ICMP
#define LWIP_ICMP 1              /* ping */
#endif
#ifndef LWIP_DNS
#define LWIP_DNS 1               /* the mail sender and clients resolve names; a server alone: 0 */
#endif
#ifndef LWIP_UDP
#define LWIP_UDP LWIP_DNS        /* for DNS */
#endif
#ifndef IP_REASSEMBLY
#define IP_REASSEMBLY 1          /* TCP peers do not fragment (path MTU): 0 saves about 2.5 KiB */
#endif
#ifndef IP_FRAG
#define IP_FRAG 1
#endif
#ifndef LWIP_DHCP
#define LWIP_DHCP 0              /* the examples set a static address; enable for a real network */
#endif
#ifndef LWIP_TCP
#define LWIP_TCP 1
#endif
#ifndef TCP_LISTEN_BACKLOG
#define TCP_LISTEN_BACKLOG 1     /* connections securenet has not taken yet count against a backlog */
#endif
#ifndef LWIP_TCP_KEEPALIVE
#define LWIP_TCP_KEEPALIVE 0     /* securenet's idle timers close idle connections */
#endif
#ifndef TCP_QUEUE_OOSEQ
#define TCP_QUEUE_OOSEQ 1
#endif

/* ---- TCP window and send buffer (see securenet_port_lwip.h "Window and records") ---- */
#ifndef TCP_MSS
#define TCP_MSS 1460
#endif
#ifndef TCP_WND
#define TCP_WND (12 * TCP_MSS)   /* >= one 16 KiB TLS record + 261; MCU: the same (browsers send 16 KiB records) */
#endif
#ifndef TCP_SND_BUF
#define TCP_SND_BUF (8 * TCP_MSS) /* MCU: 4 * TCP_MSS; securenet queues one TLS record at a time anyway */
#endif
#ifndef TCP_SND_QUEUELEN
#define TCP_SND_QUEUELEN ((4 * TCP_SND_BUF + TCP_MSS - 1) / TCP_MSS)
#endif

/* ---- memory ---- */
#ifndef MEM_ALIGNMENT
#if defined(__LP64__) || defined(_WIN64)
#define MEM_ALIGNMENT 8          /* a 64-bit PC: pointers in pool elements need 8 */
#else
#define MEM_ALIGNMENT 4          /* Cortex-M */
#endif
#endif
#ifndef MEM_SIZE /* lwIP's heap holds copies of sent data (tcp_write with COPY): up to
                    TCP_SND_BUF per sending connection. MCU: 16-24 KiB */
#define MEM_SIZE (256 * 1024)    /* host */
#endif
#ifndef MEMP_NUM_TCP_PCB
#define MEMP_NUM_TCP_PCB 96      /* host: 50 clients + TIME_WAIT; MCU: SN_MAX_CONNS + backlog + a few */
#endif
#ifndef MEMP_NUM_TCP_PCB_LISTEN
#define MEMP_NUM_TCP_PCB_LISTEN 4 /* HTTPS and HTTP listeners */
#endif
#ifndef MEMP_NUM_TCP_SEG
#define MEMP_NUM_TCP_SEG 256     /* host; MCU: TCP_SND_QUEUELEN * connections sending at once */
#endif
#ifndef MEMP_NUM_PBUF
#define MEMP_NUM_PBUF 32
#endif
#ifndef PBUF_POOL_SIZE
#define PBUF_POOL_SIZE 192       /* host: 50 clients at once; MCU: 24 (about two windows in flight) */
#endif
#ifndef PBUF_POOL_BUFSIZE
#define PBUF_POOL_BUFSIZE LWIP_MEM_ALIGN_SIZE(TCP_MSS + 40 + PBUF_LINK_ENCAPSULATION_HLEN + PBUF_LINK_HLEN)
#endif

/* ---- statistics: the examples print high-water marks at exit ---- */
#ifndef LWIP_STATS
#define LWIP_STATS 1
#endif
#ifndef MEM_STATS
#define MEM_STATS 1
#endif
#ifndef MEMP_STATS
#define MEMP_STATS 1
#endif
#ifndef LWIP_STATS_DISPLAY
#define LWIP_STATS_DISPLAY 0
#endif

/* ---- randomness for DNS ids and ports: the board's TRNG, never a counter ---- */
#include <stdint.h>
uint32_t example_lwip_rand(void);
#define LWIP_RAND() example_lwip_rand()

#endif /* LWIPOPTS_H */
