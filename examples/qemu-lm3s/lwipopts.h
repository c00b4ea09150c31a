/* lwipopts.h (examples/qemu-lm3s) - lwIP for a 64 KiB part: the values the
   sn_lm3s firmware changes, then the project's examples/lwip/lwipopts.h for
   the rest. lwIP includes "lwipopts.h" by name: the board's build puts this
   directory first on the include path.

   What sets the sizes (README "RAM budget" has the measured figures):
   - TCP_WND: securenet_port_lwip.h requires one whole incoming TLS record,
     MBEDTLS_SSL_IN_CONTENT_LEN (4096 here) + 261 = 4357 bytes: 3 segments.
   - PBUF_POOL: lwIP's own sanity check (init.c) refuses to build unless
     PBUF_POOL_SIZE pbufs hold a whole TCP_WND (3 here). The port keeps
     received pbufs until securenet reads them, so a connection receiving a
     full record holds 3; two at once 6; the Ethernet driver's ring holds
     ENET_RX_RING (2) stocked. 7 lets one record complete while the other
     connection holds a partial one and the ring has one slot (enet.c
     restocks it as pbufs come back); each is 1516 + 16 bytes.
   - TCP_OOSEQ_MAX_PBUFS: out-of-order segments held per connection; without
     a bound they could pin the whole pool (lwIP then drops in-order ones
     too until the retransmission timer).
   - MEM_SIZE: lwIP's heap holds the copies of sent data (the port writes
     with TCP_WRITE_FLAG_COPY): up to TCP_SND_BUF per sending connection,
     one 2 KiB TLS record (MBEDTLS_SSL_OUT_CONTENT_LEN) at a time, plus
     segment headers; two connections sending at once. */
#ifndef SN_LM3S_LWIPOPTS_H
#define SN_LM3S_LWIPOPTS_H

#define TCP_MSS 1460
#define TCP_WND (3 * TCP_MSS)        /* 4380 >= 4096 + 261: one 4 KiB record (the port's #error) */
#define TCP_SND_BUF (2 * TCP_MSS)    /* lwIP's minimum; one 2 KiB TLS record and its header */
#define TCP_SND_QUEUELEN 8           /* segments queued per connection (lwIP: >= 2 * TCP_SND_BUF / TCP_MSS) */
#define TCP_OOSEQ_MAX_PBUFS 2        /* out-of-order segments held per connection */
#define MEM_SIZE (7 * 1024)          /* sent data not yet acknowledged, two connections */
#define MEMP_NUM_TCP_PCB 8           /* SN_MAX_CONNS (2) + SN_LWIP_BACKLOG (4) + two closing (lwIP reuses TIME_WAIT ones) */
#define MEMP_NUM_TCP_PCB_LISTEN 1    /* one HTTPS listener */
#define MEMP_NUM_TCP_SEG 16          /* TCP_SND_QUEUELEN for two sending connections */
#define MEMP_NUM_PBUF 4              /* PBUF_REF/ROM headers: the port sends copies, so few */
#define PBUF_POOL_SIZE 7             /* received frames: see above */
#define MEMP_NUM_ARP_QUEUE 4         /* packets waiting for an ARP answer (the gateway's, at boot) */
#define ARP_TABLE_SIZE 4             /* the gateway, and little else on a point-to-point link */
#define LWIP_DNS 0                   /* a server only: no names to resolve (and no UDP) */
#define IP_REASSEMBLY 0              /* TCP peers do not fragment (path MTU): saves the reassembly buffers */
#define IP_FRAG 0

#include "../lwip/lwipopts.h"

#endif /* SN_LM3S_LWIPOPTS_H */
