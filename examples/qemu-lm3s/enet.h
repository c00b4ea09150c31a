/* enet.h - the LM3S6965's on-chip Ethernet MAC as an lwIP netif (NO_SYS=1),
   for the sn_lm3s firmware (QEMU models the MAC as `stellaris_enet`).

   Why it is interrupt-driven when the mps2 board's LAN9118 is polled: the
   LM3S6965's receive FIFO is 2 KiB, about one full-size frame. A frame
   that arrives while the FIFO is full is lost, and a main loop busy with a
   TLS handshake (tens of milliseconds of ECC on a Cortex-M3) would lose
   most of a TCP window. So the receive interrupt empties the FIFO into a
   small ring of pbufs (ENET_RX_RING), and the main loop hands those to
   lwIP (enet_poll). The interrupt never calls lwIP: the main loop keeps the
   ring stocked with empty pbufs from PBUF_POOL, and the interrupt only
   copies into them, so lwIP needs no locking (SYS_LIGHTWEIGHT_PROT 0).
   When every slot is full (lwIP is slower than the wire, or the pool is
   empty), the interrupt masks itself and leaves frames in the FIFO; the
   main loop unmasks it when it has refilled a slot. On the silicon the
   FIFO then overflows and the MAC drops frames, which TCP sends again;
   QEMU's model holds up to 31 frames and holds the rest back in the
   network (nothing is lost).

     enet_netif_init  netif_add()'s init callback: the MAC's clocks, its
                      address (the board's USER0/USER1 registers), receive
                      and transmit on, the ring stocked, the interrupt on
     linkoutput       one frame out (a pbuf chain) through the TX FIFO
     enet_poll        main loop: every frame in the ring to netif->input,
                      the ring refilled */
#ifndef ENET_H
#define ENET_H

#include "lwip/err.h"
#include "lwip/netif.h"

#define ENET_BASE 0x40048000u /* the LM3S6965's Ethernet controller */

/* Received frames held between the interrupt and the main loop. Each slot
   holds one PBUF_POOL pbuf at all times (stocked empty, or full): they come
   out of PBUF_POOL_SIZE. */
#ifndef ENET_RX_RING
#define ENET_RX_RING 2
#endif

typedef struct enet_stats {
  unsigned long rx_frames, tx_frames;
  unsigned long rx_dropped;   /* bad length, or too large for a pbuf */
  unsigned long rx_ring_full; /* times the interrupt found no free slot and left frames in the FIFO */
  unsigned long rx_no_pbuf;   /* times a slot could not be restocked (PBUF_POOL empty) */
  unsigned long tx_errors;    /* the transmitter did not take a frame in time */
  unsigned rx_ring_peak;      /* slots full at once, most seen */
} enet_stats;

/* netif_add(..., enet_netif_init, ethernet_input). ERR_IF when the MAC does
   not answer; ERR_MEM when the ring cannot be stocked. */
err_t enet_netif_init(struct netif *netif);

/* Hands every frame in the ring to netif->input and restocks the ring.
   Returns the number of frames handed on. */
int enet_poll(struct netif *netif);

/* Nonzero while a received frame waits in the ring. */
int enet_rx_pending(void);

void enet_stats_get(enet_stats *out);

#endif /* ENET_H */
