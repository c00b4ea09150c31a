/* lan9118.h - a polled driver for the SMSC LAN9118 Ethernet controller as
   an lwIP netif (NO_SYS=1), for the sn_mps2 firmware on QEMU's mps2-an386.

   The shape every lwIP Ethernet driver has, and what a port to another MAC
   replaces:
     lan9118_netif_init  netif_add()'s init callback: resets the chip, reads
                         its MAC address, turns the transmitter and receiver
                         on, fills in the netif (MTU, flags, linkoutput)
     linkoutput          one frame out (a pbuf chain): into the TX FIFO
     lan9118_poll        the main loop's receive poll: every frame waiting in
                         the RX FIFO into a pbuf, handed to netif->input
   No DMA, no descriptors: the LAN9118 is programmed through FIFO ports and
   registers at one address window, 32-bit accesses only. Receiving does not
   need interrupts; the chip's interrupt line is enabled only so that a frame
   wakes the core from WFI (board_idle) at once. */
#ifndef LAN9118_H
#define LAN9118_H

#include "lwip/err.h"
#include "lwip/netif.h"

#define LAN9118_BASE 0x40200000u /* mps2-an385/an386: the Ethernet controller's window */

typedef struct lan9118_stats {
  unsigned long rx_frames, tx_frames;
  unsigned long rx_dropped;   /* no pbuf, or a frame the chip marked bad */
  unsigned long tx_errors;    /* the chip reported a transmit error */
  unsigned long rx_fifo_peak; /* frames waiting in the RX FIFO at once, most seen */
} lan9118_stats;

/* netif_add(..., lan9118_netif_init, ethernet_input). ERR_IF when the chip
   does not answer (no LAN9118 at LAN9118_BASE). */
err_t lan9118_netif_init(struct netif *netif);

/* Hands every waiting frame (at most `budget`, so that one busy link cannot
   starve the rest of the main loop) to netif->input. Returns the number of
   frames taken. */
int lan9118_poll(struct netif *netif, int budget);

/* Nonzero while a received frame waits in the chip. */
int lan9118_rx_pending(void);

void lan9118_stats_get(lan9118_stats *out);

#endif /* LAN9118_H */
