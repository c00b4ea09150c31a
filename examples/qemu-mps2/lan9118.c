/* lan9118.c - SMSC LAN9118 Ethernet controller as a polled lwIP netif (see
   lan9118.h). Written from the register descriptions of SMSC's LAN9118
   datasheet and checked against QEMU's model of the chip
   (hw/net/lan9118.c), which is what answers on mps2-an386.

   The chip in brief. Everything is at one 256-byte window of 32-bit
   registers:
     0x00-0x1c  RX data FIFO port (any address in the range pops one word)
     0x20-0x3c  TX data FIFO port
     0x40       RX status FIFO: one word per received frame (length, errors)
     0x48       TX status FIFO: one word per sent frame
     0x50...    control and status registers (below)
   and, behind MAC_CSR_CMD/MAC_CSR_DATA, the MAC's own registers (enable,
   address, MII access to the PHY). A received frame is: pop its status word,
   then pop ceil(length / 4) data words (length counts the 4-byte FCS at the
   end). A frame is sent by pushing two command words (buffer size, first
   and last segment; frame length) and then the data, rounded up to words;
   a status word per frame comes back in the TX status FIFO. */
#include "lan9118.h"

#include <string.h>

#include "board.h"
#include "lwip/etharp.h"
#include "lwip/pbuf.h"
#include "netif/ethernet.h"

/* ---- registers ---------------------------------------------------------- */
#define REG(off) (*(volatile uint32_t *) (LAN9118_BASE + (off)))
#define RX_DATA_FIFO REG(0x00u)
#define TX_DATA_FIFO REG(0x20u)
#define RX_STATUS_FIFO REG(0x40u)
#define TX_STATUS_FIFO REG(0x48u)
#define ID_REV REG(0x50u)
#define IRQ_CFG REG(0x54u)
#define INT_STS REG(0x58u)
#define INT_EN REG(0x5cu)
#define BYTE_TEST REG(0x64u)
#define FIFO_INT REG(0x68u)
#define RX_CFG REG(0x6cu)
#define TX_CFG REG(0x70u)
#define HW_CFG REG(0x74u)
#define RX_FIFO_INF REG(0x7cu)
#define TX_FIFO_INF REG(0x80u)
#define PMT_CTRL REG(0x84u)
#define MAC_CSR_CMD REG(0xa4u)
#define MAC_CSR_DATA REG(0xa8u)

#define BYTE_TEST_VALUE 0x87654321u /* reads back this way round when the bus is set up right */
#define HW_CFG_SRST 0x1u            /* soft reset; clears itself */
#define PMT_CTRL_READY 0x1u         /* the chip is out of reset */
#define TX_CFG_TX_ON 0x2u
#define IRQ_CFG_TYPE 0x1u /* push-pull */
#define IRQ_CFG_POL 0x10u /* active high */
#define IRQ_CFG_EN 0x100u
#define INT_RSFL 0x8u        /* RX status FIFO above its level (FIFO_INT bits 7:0) */
#define RX_FIFO_INF_FRAMES(v) (((v) >> 16) & 0xffu) /* RXSUSED: status words waiting */
#define TX_FIFO_INF_STATUS(v) (((v) >> 16) & 0xffu) /* TXSUSED */
#define TX_FIFO_INF_FREE(v) ((v) & 0xffffu)         /* TDFREE: bytes free in the TX data FIFO */
#define RX_STS_LENGTH(v) (((v) >> 16) & 0x3fffu)    /* frame length, FCS included */
#define RX_STS_ERROR 0x8000u                        /* ES: CRC, length, collision... */
#define TX_STS_ERROR 0x8000u
#define TX_CMD_A_FIRST 0x2000u /* first segment of the frame */
#define TX_CMD_A_LAST 0x1000u  /* last segment */

/* MAC registers, through the CSR window */
#define MAC_CSR_BUSY 0x80000000u
#define MAC_CSR_READ 0x40000000u
#define MAC_CR 1u
#define MAC_ADDRH 2u
#define MAC_ADDRL 3u
#define MAC_MII_ACC 6u
#define MAC_MII_DATA 7u
#define MAC_CR_RXEN 0x4u
#define MAC_CR_TXEN 0x8u
#define MAC_CR_FDPX 0x100000u /* full duplex */
#define MII_ACC_BUSY 0x1u
#define MII_ACC_WRITE 0x2u
#define MII_PHY_ADDR (1u << 11) /* the internal PHY */

/* PHY registers (IEEE 802.3 clause 22) */
#define PHY_BMCR 0u
#define PHY_BMSR 1u
#define BMCR_AUTONEG 0x1000u
#define BMCR_RESTART_AUTONEG 0x0200u
#define BMSR_LINK 0x0004u

#define FRAME_MAX 1518u /* 1514 bytes and the FCS */
#define WAIT_MS 100u    /* the longest any register handshake may take */

/* Interrupt line 13 of the board, at the NVIC */
#define NVIC_ISER0 (*(volatile uint32_t *) 0xE000E100u)
#define IRQ_ETHERNET 13u

static lan9118_stats stats;
static uint32_t frame[(FRAME_MAX + 3) / 4]; /* one frame's words, either way */

/* Waits until (reg & mask) == want, at most WAIT_MS: 0, or -1. */
static int wait_reg(volatile uint32_t *reg, uint32_t mask, uint32_t want) {
  uint32_t start = board_ms();
  while ((*reg & mask) != want)
    if (board_ms() - start > WAIT_MS) return -1;
  return 0;
}

static int mac_read(uint32_t index, uint32_t *val) {
  if (wait_reg(&MAC_CSR_CMD, MAC_CSR_BUSY, 0) != 0) return -1;
  MAC_CSR_CMD = MAC_CSR_BUSY | MAC_CSR_READ | index;
  if (wait_reg(&MAC_CSR_CMD, MAC_CSR_BUSY, 0) != 0) return -1;
  *val = MAC_CSR_DATA;
  return 0;
}

static int mac_write(uint32_t index, uint32_t val) {
  if (wait_reg(&MAC_CSR_CMD, MAC_CSR_BUSY, 0) != 0) return -1;
  MAC_CSR_DATA = val;
  MAC_CSR_CMD = MAC_CSR_BUSY | index;
  return wait_reg(&MAC_CSR_CMD, MAC_CSR_BUSY, 0);
}

/* The PHY is reached through the MAC's MII management registers. */
static int mii_wait(void) {
  uint32_t start = board_ms(), acc;
  do {
    if (mac_read(MAC_MII_ACC, &acc) != 0) return -1;
    if (!(acc & MII_ACC_BUSY)) return 0;
  } while (board_ms() - start <= WAIT_MS);
  return -1;
}

static int phy_read(uint32_t reg, uint32_t *val) {
  if (mii_wait() != 0 || mac_write(MAC_MII_ACC, MII_PHY_ADDR | (reg << 6) | MII_ACC_BUSY) != 0 || mii_wait() != 0)
    return -1;
  return mac_read(MAC_MII_DATA, val);
}

static int phy_write(uint32_t reg, uint32_t val) {
  if (mii_wait() != 0 || mac_write(MAC_MII_DATA, val) != 0) return -1;
  if (mac_write(MAC_MII_ACC, MII_PHY_ADDR | (reg << 6) | MII_ACC_WRITE | MII_ACC_BUSY) != 0) return -1;
  return mii_wait();
}

/* The interrupt only wakes the core (board_idle's WFI); the frames are read
   by lan9118_poll from the main loop. Acknowledge, and return. */
void ETHERNET_IRQHandler(void);
void ETHERNET_IRQHandler(void) { INT_STS = INT_RSFL; }

/* ---- transmit -------------------------------------------------------- */
static err_t lan9118_linkoutput(struct netif *netif, struct pbuf *p) {
  uint32_t len = p->tot_len, words = (len + 3u) / 4u, i, start;
  (void) netif;
  if (len > FRAME_MAX - 4u) return ERR_BUF;
  /* Room for the two command words and the data; the chip drains the FIFO
     onto the wire by itself, so this waits only under a burst. */
  start = board_ms();
  while (TX_FIFO_INF_FREE(TX_FIFO_INF) < 8u + 4u * words) {
    if (board_ms() - start > WAIT_MS) {
      stats.tx_errors++;
      return ERR_IF;
    }
  }
  frame[words - 1u] = 0; /* the padding bytes of the last word */
  pbuf_copy_partial(p, frame, (u16_t) len, 0);
  TX_DATA_FIFO = TX_CMD_A_FIRST | TX_CMD_A_LAST | len; /* one segment: the whole frame */
  TX_DATA_FIFO = (len << 16) | len;                    /* tag (echoed in the status) and frame length */
  for (i = 0; i < words; i++) TX_DATA_FIFO = frame[i];
  stats.tx_frames++;
  /* Collect the status words of frames sent so far (the status FIFO would
     fill and stop the transmitter otherwise). */
  while (TX_FIFO_INF_STATUS(TX_FIFO_INF) > 0)
    if (TX_STATUS_FIFO & TX_STS_ERROR) stats.tx_errors++;
  return ERR_OK;
}

/* ---- receive ---------------------------------------------------------- */
int lan9118_rx_pending(void) { return RX_FIFO_INF_FRAMES(RX_FIFO_INF) != 0; }

int lan9118_poll(struct netif *netif, int budget) {
  int taken = 0;
  uint32_t waiting;
  while (taken < budget && (waiting = RX_FIFO_INF_FRAMES(RX_FIFO_INF)) != 0) {
    uint32_t status = RX_STATUS_FIFO, len = RX_STS_LENGTH(status), words = (len + 3u) / 4u, i;
    struct pbuf *p;
    if (waiting > stats.rx_fifo_peak) stats.rx_fifo_peak = waiting;
    taken++;
    if (len > FRAME_MAX) { /* cannot happen with a 1500-byte MTU; read it out word by word anyway */
      for (i = 0; i < words; i++) (void) RX_DATA_FIFO;
      stats.rx_dropped++;
      continue;
    }
    /* Always take every word of the frame out, even to drop it: the next
       status word belongs to the next frame. */
    for (i = 0; i < words; i++) frame[i] = RX_DATA_FIFO;
    if ((status & RX_STS_ERROR) || len < 14u + 4u) {
      stats.rx_dropped++;
      continue;
    }
    p = pbuf_alloc(PBUF_RAW, (u16_t) (len - 4u), PBUF_POOL); /* the FCS stays behind */
    if (p == NULL) {
      stats.rx_dropped++; /* TCP will send it again */
      continue;
    }
    pbuf_take(p, frame, (u16_t) (len - 4u));
    stats.rx_frames++;
    if (netif->input(p, netif) != ERR_OK) pbuf_free(p);
  }
  return taken;
}

/* ---- set-up -------------------------------------------------------------- */
err_t lan9118_netif_init(struct netif *netif) {
  uint32_t lo, hi, bmsr;
  if (BYTE_TEST != BYTE_TEST_VALUE) return ERR_IF; /* nothing (or something else) at LAN9118_BASE */
  HW_CFG = HW_CFG_SRST;
  if (wait_reg(&HW_CFG, HW_CFG_SRST, 0) != 0 || wait_reg(&PMT_CTRL, PMT_CTRL_READY, PMT_CTRL_READY) != 0) return ERR_IF;

  /* The MAC address the chip loaded from its EEPROM (QEMU: the -nic's
     macaddr, 52:54:00:12:34:56 by default). A board without one would set
     a locally administered address from its unique ID here. */
  if (mac_read(MAC_ADDRL, &lo) != 0 || mac_read(MAC_ADDRH, &hi) != 0) return ERR_IF;
  netif->hwaddr[0] = (u8_t) lo, netif->hwaddr[1] = (u8_t) (lo >> 8);
  netif->hwaddr[2] = (u8_t) (lo >> 16), netif->hwaddr[3] = (u8_t) (lo >> 24);
  netif->hwaddr[4] = (u8_t) hi, netif->hwaddr[5] = (u8_t) (hi >> 8);
  netif->hwaddr_len = ETH_HWADDR_LEN;

  /* The PHY: auto-negotiate (QEMU's completes at once), then read the link. */
  if (phy_write(PHY_BMCR, BMCR_AUTONEG | BMCR_RESTART_AUTONEG) != 0 || phy_read(PHY_BMSR, &bmsr) != 0) return ERR_IF;

  /* Interrupt when at least one frame's status is waiting (RX status level
     0), active high, only to wake the core. */
  INT_EN = 0;
  INT_STS = 0xffffffffu;
  FIFO_INT = 0;
  INT_EN = INT_RSFL;
  IRQ_CFG = IRQ_CFG_EN | IRQ_CFG_POL | IRQ_CFG_TYPE;
  NVIC_ISER0 = 1u << IRQ_ETHERNET;

  RX_CFG = 0; /* frames start at the first byte of a word, no end padding */
  TX_CFG = TX_CFG_TX_ON;
  /* MAC on: transmit, receive, full duplex; only frames to our address and
     broadcasts (the reset value was promiscuous). */
  if (mac_write(MAC_CR, MAC_CR_TXEN | MAC_CR_RXEN | MAC_CR_FDPX) != 0) return ERR_IF;

  netif->name[0] = 'e', netif->name[1] = 'n';
  netif->mtu = 1500;
  netif->output = etharp_output;
  netif->linkoutput = lan9118_linkoutput;
  netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
  if (bmsr & BMSR_LINK) netif->flags |= NETIF_FLAG_LINK_UP;
  return ERR_OK;
}

void lan9118_stats_get(lan9118_stats *out) { *out = stats; }
