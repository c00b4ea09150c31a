/* lwipopts.h - lwIP settings for securenet's lwIP examples (NO_SYS=1, raw API).
   (The pool sizes can be given on the command line: the tests build a starved
   variant to see what happens when they run out.)

   A starting point for a device: the values marked "host" are sized for the
   test on a Linux TAP interface (50 clients at once); the comment beside each
   says what a Cortex-M with 128-256 KiB of RAM would use, and what a 64 KiB
   part uses (4 KiB TLS records: MBEDTLS_SSL_IN_CONTENT_LEN 4096; 2 connections,
   as examples/qemu-lm3s). Every value can be overridden: define it first
   (-D, or a lwipopts of your own that sets some and includes this one).
   What securenet needs and why is in the README's "lwIP memory" table.
   Two rules tie the values together:
   - securenet_port_lwip.h stops the build unless TCP_WND holds one TLS
     record (MBEDTLS_SSL_IN_CONTENT_LEN + 261 bytes);
   - lwIP itself stops it unless the pbuf pool can hold a whole TCP_WND
     (PBUF_POOL_SIZE * payload per pbuf >= TCP_WND), so the record size
     sets the pool's least size too.
   The port keeps received pbufs until securenet reads them (the window
   closes meanwhile): on a small pool, out-of-order segments could pin it,
   so a small part bounds them with TCP_OOSEQ_MAX_PBUFS. */
#ifndef LWIPOPTS_H
#define LWIPOPTS_H

/* ---- system: bare metal, one main loop ---- */
#define NO_SYS 1                 /* no threads: the main loop calls everything */
#define SYS_LIGHTWEIGHT_PROT 0   /* nothing runs concurrently (no lwIP calls from interrupts) */
#define LWIP_SOCKET 0            /* raw API only */
#define LWIP_NETCONN 0
#define LWIP_CALLBACK_API 1      /* securenet_port_lwip.h uses tcp_recv/tcp_sent/tcp_err */

/* ---- protocols ---- */
#define LWIP_IPV4 1
#define LWIP_IPV6 0              /* securenet works with either; IPv6 costs about 10 KiB of flash */
#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define LWIP_ICMP 1              /* ping */
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
#define LWIP_TCP 1
#define TCP_LISTEN_BACKLOG 1     /* connections securenet has not taken yet count against a backlog */
#define LWIP_TCP_KEEPALIVE 0     /* securenet's idle timers close idle connections */
#ifndef TCP_QUEUE_OOSEQ
#define TCP_QUEUE_OOSEQ 1
#endif
#ifndef TCP_OOSEQ_MAX_PBUFS
#define TCP_OOSEQ_MAX_PBUFS 0    /* host: unbounded; 64 KiB part: 2 (out-of-order segments
                                    must not pin a small pool while securenet holds the rest) */
#endif

/* ---- TCP window and send buffer (see securenet_port_lwip.h "Window and records") ---- */
#ifndef TCP_MSS
#define TCP_MSS 1460
#endif
#ifndef TCP_WND
#define TCP_WND (12 * TCP_MSS)   /* >= one 16 KiB TLS record + 261; MCU: the same (browsers send 16 KiB
                                    records); 64 KiB part with 4 KiB records: 3 * TCP_MSS (4380 >= 4357) */
#endif
#ifndef TCP_SND_BUF
#define TCP_SND_BUF (8 * TCP_MSS) /* MCU: 4 * TCP_MSS; 64 KiB part: 2 * TCP_MSS (2 KiB records out,
                                    examples/qemu-lm3s); securenet queues one TLS record at a time anyway */
#endif
#ifndef TCP_SND_QUEUELEN
#define TCP_SND_QUEUELEN ((4 * TCP_SND_BUF + TCP_MSS - 1) / TCP_MSS)
#endif

/* ---- memory ---- */
#if defined(__LP64__) || defined(_WIN64)
#define MEM_ALIGNMENT 8          /* a 64-bit PC: pointers in pool elements need 8 */
#else
#define MEM_ALIGNMENT 4          /* Cortex-M */
#endif
#ifndef MEM_SIZE /* lwIP's heap holds copies of sent data (tcp_write with COPY): up to
                    TCP_SND_BUF per sending connection. MCU: 16-24 KiB */
#define MEM_SIZE (256 * 1024)    /* host; 64 KiB part: 6-8 KiB (TCP_SND_BUF for each sending connection) */
#endif
#ifndef MEMP_NUM_TCP_PCB
#define MEMP_NUM_TCP_PCB 96      /* host: 50 clients + TIME_WAIT; MCU: SN_MAX_CONNS + backlog + a few; 64 KiB
                                    part: 8 (2 connections, SN_LWIP_BACKLOG 4: lwIP counts a connection
                                    against the backlog from its SYN, and a burst beyond it waits 1-6 s
                                    for the client's retransmission; measured on examples/qemu-lm3s) */
#endif
#ifndef MEMP_NUM_TCP_PCB_LISTEN
#define MEMP_NUM_TCP_PCB_LISTEN 4 /* HTTPS and HTTP listeners; one HTTPS listener: 1 (and SN_MAX_LISTENERS 1) */
#endif
#ifndef MEMP_NUM_TCP_SEG
#define MEMP_NUM_TCP_SEG 256     /* host; MCU: TCP_SND_QUEUELEN * connections sending at once; 64 KiB part: 16 */
#endif
#ifndef MEMP_NUM_PBUF
#define MEMP_NUM_PBUF 32         /* pbufs that point at ROM (static files sent without a copy); 64 KiB part: 8 */
#endif
#ifndef PBUF_POOL_SIZE
#define PBUF_POOL_SIZE 192       /* host: 50 clients at once; MCU: 24 (about two windows in flight);
                                    64 KiB part: 8 (a TCP_WND of 3 segments, with room for a second one) */
#endif
#define PBUF_POOL_BUFSIZE LWIP_MEM_ALIGN_SIZE(TCP_MSS + 40 + PBUF_LINK_ENCAPSULATION_HLEN + PBUF_LINK_HLEN)

/* ---- statistics: the examples print high-water marks at exit ---- */
#define LWIP_STATS 1
#define MEM_STATS 1
#define MEMP_STATS 1
#define LWIP_STATS_DISPLAY 0

/* ---- randomness for DNS ids and ports: the board's TRNG, never a counter ---- */
#include <stdint.h>
uint32_t example_lwip_rand(void);
#define LWIP_RAND() example_lwip_rand()

#endif /* LWIPOPTS_H */
