/* host_tap.c - see host_tap.h. Linux only (TUNSETIFF). */
#define _DEFAULT_SOURCE
#include "host_tap.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/if.h>
#include <linux/if_tun.h>

#include "lwip/etharp.h"
#include "lwip/pbuf.h"
#include "netif/ethernet.h"

#define HOST_TAP_FRAME 1514

typedef struct host_tap {
  int fd;
} host_tap;

static host_tap tap_state = {-1};
static unsigned long dropped;

static err_t tap_output(struct netif *netif, struct pbuf *p) {
  host_tap *t = (host_tap *) netif->state;
  unsigned char frame[HOST_TAP_FRAME];
  u16_t n = pbuf_copy_partial(p, frame, sizeof frame, 0);
  if (write(t->fd, frame, n) != (ssize_t) n) return ERR_IF;
  return ERR_OK;
}

err_t host_tap_init(struct netif *netif) {
  const char *name = (const char *) netif->state;
  struct ifreq ifr;
  if (tap_state.fd >= 0) return ERR_IF; /* one device per process */
  tap_state.fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (tap_state.fd < 0) {
    perror("host_tap: /dev/net/tun");
    return ERR_IF;
  }
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name ? name : "tap0");
  if (ioctl(tap_state.fd, TUNSETIFF, &ifr) < 0) {
    fprintf(stderr, "host_tap: cannot attach to TAP device %s: %s\n", ifr.ifr_name, strerror(errno));
    close(tap_state.fd);
    tap_state.fd = -1;
    return ERR_IF;
  }
  netif->state = &tap_state;
  netif->name[0] = 't';
  netif->name[1] = 'p';
  netif->output = etharp_output;
  netif->linkoutput = tap_output;
  netif->mtu = 1500;
  netif->hwaddr_len = 6;
  /* a locally administered MAC address (bit 1 of the first byte) */
  netif->hwaddr[0] = 0x02, netif->hwaddr[1] = 0x53, netif->hwaddr[2] = 0x4e;
  netif->hwaddr[3] = 0x00, netif->hwaddr[4] = 0x00, netif->hwaddr[5] = 0x02;
  netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_LINK_UP;
  return ERR_OK;
}

int host_tap_poll(struct netif *netif, int timeout_ms) {
  host_tap *t = (host_tap *) netif->state;
  struct pollfd pfd;
  int frames = 0;
  pfd.fd = t->fd;
  pfd.events = POLLIN;
  pfd.revents = 0;
  if (poll(&pfd, 1, timeout_ms) <= 0) return 0;
  while (frames < 256) { /* bounded: timers and securenet get their turn */
    unsigned char frame[HOST_TAP_FRAME];
    ssize_t n = read(t->fd, frame, sizeof frame);
    struct pbuf *p;
    if (n <= 0) break;
    frames++;
    p = pbuf_alloc(PBUF_RAW, (u16_t) n, PBUF_POOL);
    if (p == NULL) {
      dropped++;
      continue;
    }
    pbuf_take(p, frame, (u16_t) n);
    if (netif->input(p, netif) != ERR_OK) pbuf_free(p);
  }
  return frames;
}

unsigned long host_tap_dropped(void) { return dropped; }
