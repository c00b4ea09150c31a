/* enet.c - the LM3S6965's Ethernet MAC as an lwIP netif (see enet.h for the
   design: received frames drained from the interrupt into a ring of pbufs).
   Written from the Ethernet Controller chapter of TI's LM3S6965 datasheet
   and checked against QEMU's model (hw/net/stellaris_enet.c), which is what
   answers on lm3s6965evb.

   The MAC in brief: sixteen 32-bit registers at ENET_BASE.
     0x00 MACRIS (read) / MACIACK (write)  interrupt status / acknowledge
     0x04 MACIM     interrupt mask          0x08 MACRCTL  receive control
     0x0C MACTCTL   transmit control        0x10 MACDATA  the FIFOs' port
     0x14 MACIA0, 0x18 MACIA1  the station address (filtering)
     0x20 MACMCTL, 0x24 MACMDV, 0x2C MACMTXD, 0x30 MACMRXD  MII (the PHY)
     0x34 MACNP     frames waiting in the RX FIFO
     0x38 MACTR     transmit request
   A received frame is read from MACDATA as words: the first word's low
   half is the frame length as the MAC counts it (these 2 length bytes, the
   frame, and its 4-byte FCS), its high half the frame's first two bytes;
   then the rest, rounded up to words. A frame is sent by writing the same
   way round (the payload length without the 14-byte header first, then
   the frame from its destination address) and setting MACTR's NEWTX; the
   MAC pads short frames and appends the FCS itself. */
#include "enet.h"

#include <string.h>

#include "board.h"
#include "lwip/etharp.h"
#include "lwip/pbuf.h"
#include "netif/ethernet.h"

/* ---- registers ---------------------------------------------------------- */
#define REG(off) (*(volatile uint32_t *) (ENET_BASE + (off)))
#define MACRIS REG(0x00u) /* reads */
#define MACIACK REG(0x00u) /* writes */
#define MACIM REG(0x04u)
#define MACRCTL REG(0x08u)
#define MACTCTL REG(0x0Cu)
#define MACDATA REG(0x10u)
#define MACIA0 REG(0x14u)
#define MACIA1 REG(0x18u)
#define MACMCTL REG(0x20u)
#define MACMDV REG(0x24u)
#define MACMRXD REG(0x30u)
#define MACNP REG(0x34u)
#define MACTR REG(0x38u)

#define INT_RXINT 0x01u /* a frame was received */
#define INT_FOV 0x08u   /* the RX FIFO overran: a frame was lost */
#define INT_RXER 0x10u  /* a frame was received with an error */
#define RCTL_RXEN 0x01u
#define RCTL_BADCRC 0x08u  /* drop frames with a bad FCS */
#define RCTL_RSTFIFO 0x10u /* empty the RX FIFO */
#define TCTL_TXEN 0x01u
#define TCTL_PADEN 0x02u  /* pad short frames to 60 bytes */
#define TCTL_CRC 0x04u    /* append the FCS */
#define TCTL_DUPLEX 0x08u /* full duplex */
#define TR_NEWTX 0x01u    /* set: send the frame in the TX FIFO; clears when it is out */
#define NP_MASK 0x3Fu
#define MCTL_START 0x01u
#define MCTL_REG(r) ((uint32_t) (r) << 3)
#define PHY_MR1 1u          /* the PHY's status register (IEEE 802.3 BMSR) */
#define MR1_LINK 0x0004u

/* System control: the MAC's and PHY's clocks, and the MAC address the
   factory programmed into the USER0/USER1 registers (bytes 0-2 and 3-5 in
   bits 0-23; all ones when unprogrammed). */
#define SYSCTL_RCGC2 (*(volatile uint32_t *) 0x400FE108u)
#define SYSCTL_USER0 (*(volatile uint32_t *) 0x400FE1E0u)
#define SYSCTL_USER1 (*(volatile uint32_t *) 0x400FE1E4u)
#define RCGC2_EMAC0 (1u << 28)
#define RCGC2_EPHY0 (1u << 30)

/* The interrupt: line 42 at the NVIC (enable and set-pending, second word) */
#define NVIC_ISER1 (*(volatile uint32_t *) 0xE000E104u)
#define NVIC_ISPR1 (*(volatile uint32_t *) 0xE000E204u)
#define IRQ_ETHERNET_BIT (1u << (42u - 32u))

#define FRAME_MAX 1514u /* without the FCS: 1500-byte MTU + the Ethernet header */
#define WAIT_MS 10u     /* the longest a transmission or an MII access may take */

#if PBUF_POOL_BUFSIZE < FRAME_MAX
#error "enet.c: the receive ring puts each frame in one PBUF_POOL pbuf: PBUF_POOL_BUFSIZE must hold 1514 bytes"
#endif

/* ---- the receive ring ------------------------------------------------------
   A slot is free to the interrupt when it holds a pbuf (stocked by the main
   loop) and no length; the interrupt fills it and sets the length last; the
   main loop takes the pbuf, clears the slot and stocks it again. Each side
   writes only its own fields at its own index, so neither needs a lock. */
typedef struct rx_slot {
  struct pbuf *volatile p;
  volatile uint16_t len; /* 0: empty; else the frame's length in p */
} rx_slot;

static rx_slot ring[ENET_RX_RING];
static unsigned rx_in;            /* the interrupt's next slot */
static unsigned rx_out;           /* the main loop's next slot */
static volatile int rx_masked;    /* the interrupt found no free slot and masked itself */
static enet_stats stats;

/* Reads one frame out of the FIFO into the slot's pbuf (or drops it). */
static void rx_frame(rx_slot *s) {
  uint32_t w = MACDATA, flen = w & 0xFFFFu, words = (flen + 3u) / 4u, n, i;
  uint8_t *dst;
  if (flen < 6u + 14u || flen - 6u > FRAME_MAX) { /* a frame the MAC counted wrong, or a giant: out of the FIFO */
    for (i = 1; i < words; i++) (void) MACDATA;
    stats.rx_dropped++;
    return;
  }
  n = flen - 6u; /* the frame without the length bytes and the FCS */
  dst = (uint8_t *) s->p->payload;
  dst[0] = (uint8_t) (w >> 16), dst[1] = (uint8_t) (w >> 24);
  for (i = 1; i < words; i++) { /* every word out, the FCS's too: the next word belongs to the next frame */
    uint32_t at = 4u * i - 2u, k;
    w = MACDATA;
    for (k = 0; k < 4u && at + k < n; k++) dst[at + k] = (uint8_t) (w >> (8u * k));
  }
  __asm__ volatile("dmb" ::: "memory"); /* the bytes before the length the main loop looks at */
  s->len = (uint16_t) n;
  rx_in = (rx_in + 1u) % ENET_RX_RING;
}

void ETHERNET_IRQHandler(void);
void ETHERNET_IRQHandler(void) {
  uint32_t ris = MACRIS;
  /* Acknowledge first: a frame arriving while the FIFO is being emptied
     raises the interrupt again, and the next run finds it. */
  MACIACK = ris & (INT_RXINT | INT_FOV | INT_RXER);
  if (ris & (INT_FOV | INT_RXER)) stats.rx_dropped++;
  while (MACNP & NP_MASK) {
    rx_slot *s = &ring[rx_in];
    if (s->p == NULL || s->len != 0) { /* no free slot: leave the rest in the FIFO until enet_poll makes room */
      MACIM &= ~INT_RXINT;
      rx_masked = 1;
      stats.rx_ring_full++;
      return;
    }
    rx_frame(s);
  }
}

/* Gives every empty slot a pbuf; 0, or -1 if the pool had none for one. */
static int ring_stock(void) {
  unsigned i;
  int r = 0;
  for (i = 0; i < ENET_RX_RING; i++) {
    struct pbuf *p;
    if (ring[i].p != NULL) continue;
    p = pbuf_alloc(PBUF_RAW, FRAME_MAX, PBUF_POOL);
    if (p == NULL) {
      stats.rx_no_pbuf++;
      r = -1;
      continue;
    }
    ring[i].p = p; /* one aligned pointer store: the interrupt sees NULL or p */
  }
  return r;
}

int enet_rx_pending(void) { return ring[rx_out].len != 0; }

int enet_poll(struct netif *netif) {
  int taken = 0;
  unsigned full = 0, i;
  for (i = 0; i < ENET_RX_RING; i++) full += ring[i].len != 0;
  if (full > stats.rx_ring_peak) stats.rx_ring_peak = full;
  while (taken < (int) ENET_RX_RING && ring[rx_out].len != 0) {
    rx_slot *s = &ring[rx_out];
    struct pbuf *p = s->p;
    uint16_t len = s->len;
    s->p = NULL; /* the interrupt skips a slot without a pbuf */
    s->len = 0;
    rx_out = (rx_out + 1u) % ENET_RX_RING;
    pbuf_realloc(p, len);
    stats.rx_frames++;
    taken++;
    if (netif->input(p, netif) != ERR_OK) pbuf_free(p);
  }
  (void) ring_stock();
  if (rx_masked && ring[rx_in].p != NULL && ring[rx_in].len == 0) {
    /* Room again: unmask, and pend the interrupt by hand, since the frames
       left in the FIFO raised theirs already. */
    rx_masked = 0;
    MACIM |= INT_RXINT;
    NVIC_ISPR1 = IRQ_ETHERNET_BIT;
  }
  return taken;
}

/* ---- transmit -------------------------------------------------------------
   The frame goes into the TX FIFO as the byte stream (payload length, 2
   bytes little-endian; the frame), four bytes to a word, straight from
   the pbuf chain: no copy buffer. */
static err_t enet_linkoutput(struct netif *netif, struct pbuf *p) {
  uint32_t len = p->tot_len, word, start, nbytes;
  const struct pbuf *q;
  (void) netif;
  if (len < 14u || len > FRAME_MAX) return ERR_BUF;
  /* The FIFO holds one frame: wait until the previous one is out (at 100
     Mbit/s a 1514-byte frame takes 0.12 ms). */
  start = board_ms();
  while (MACTR & TR_NEWTX) {
    if (board_ms() - start > WAIT_MS) {
      stats.tx_errors++;
      return ERR_IF;
    }
  }
  word = len - 14u;
  nbytes = 2;
  for (q = p; q != NULL; q = q->next) {
    const uint8_t *b = (const uint8_t *) q->payload;
    uint16_t i;
    for (i = 0; i < q->len; i++) {
      word |= (uint32_t) b[i] << (8u * nbytes);
      if (++nbytes == 4u) {
        MACDATA = word;
        word = 0;
        nbytes = 0;
      }
    }
  }
  if (nbytes != 0) MACDATA = word;
  MACTR = TR_NEWTX;
  stats.tx_frames++;
  return ERR_OK;
}

/* ---- the PHY (through the MAC's MII management registers) ----------------- */
static int mii_read(uint32_t reg, uint32_t *val) {
  uint32_t start = board_ms();
  MACMCTL = MCTL_REG(reg) | MCTL_START;
  while (MACMCTL & MCTL_START)
    if (board_ms() - start > WAIT_MS) return -1;
  *val = MACMRXD & 0xFFFFu;
  return 0;
}

/* ---- set-up ---------------------------------------------------------------- */
err_t enet_netif_init(struct netif *netif) {
  uint32_t u0, u1, mr1 = 0;
  unsigned i;
  SYSCTL_RCGC2 |= RCGC2_EMAC0 | RCGC2_EPHY0;
  for (i = 0; i < 16u; i++) __asm__ volatile("nop"); /* a few cycles before the MAC answers */

  /* The MAC address: the factory's, from USER0/USER1. A part without one
     (all ones) would get a locally administered address from its serial
     number here; this firmware refuses to guess. */
  u0 = SYSCTL_USER0, u1 = SYSCTL_USER1;
  if (u0 == 0xFFFFFFFFu || u1 == 0xFFFFFFFFu) return ERR_IF;
  netif->hwaddr[0] = (u8_t) u0, netif->hwaddr[1] = (u8_t) (u0 >> 8), netif->hwaddr[2] = (u8_t) (u0 >> 16);
  netif->hwaddr[3] = (u8_t) u1, netif->hwaddr[4] = (u8_t) (u1 >> 8), netif->hwaddr[5] = (u8_t) (u1 >> 16);
  netif->hwaddr_len = ETH_HWADDR_LEN;
  MACIA0 = u0 & 0xFFFFFFu; /* bytes 0-3 of the address in bits 0-31 */
  MACIA0 |= (u1 & 0xFFu) << 24;
  MACIA1 = (u1 >> 8) & 0xFFFFu; /* bytes 4-5 */

  /* MII clock: at most 2.5 MHz, 50 MHz / (2 * (9 + 1)). */
  MACMDV = BOARD_SYSCLK_HZ / (2u * 2500000u) - 1u;

  MACIM = 0;
  MACIACK = 0xFFu;
  MACRCTL = RCTL_BADCRC | RCTL_RSTFIFO;
  MACRCTL = RCTL_BADCRC | RCTL_RXEN; /* our address and broadcasts (no AMUL, no PRMS) */
  MACTCTL = TCTL_TXEN | TCTL_PADEN | TCTL_CRC | TCTL_DUPLEX;

  if (ring_stock() != 0) return ERR_MEM;
  MACIM = INT_RXINT | INT_FOV | INT_RXER;
  NVIC_ISER1 = IRQ_ETHERNET_BIT;

  netif->name[0] = 'e', netif->name[1] = 'n';
  netif->mtu = 1500;
  netif->output = etharp_output;
  netif->linkoutput = enet_linkoutput;
  netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
  /* The link: the PHY's MR1. QEMU models no PHY (its MII registers only
     complete at once, and MRXD reads back 0): a status of 0 or all ones is
     "no PHY answered", taken as link up; a real board watches the PHY's
     link interrupt instead. */
  if (mii_read(PHY_MR1, &mr1) != 0 || mr1 == 0 || mr1 == 0xFFFFu || (mr1 & MR1_LINK)) netif->flags |= NETIF_FLAG_LINK_UP;
  return ERR_OK;
}

void enet_stats_get(enet_stats *out) { *out = stats; }
