/* host_tap.h - a Linux TAP device as an lwIP netif: the "Ethernet driver" of
   the lwIP examples when they run on a PC. On a board this is the MAC driver:
   an init function for netif_add(), a linkoutput that sends one frame, and a
   poll that hands received frames to netif->input. */
#ifndef HOST_TAP_H
#define HOST_TAP_H

#include "lwip/netif.h"

/* For netif_add(..., state = "tap0" (the TAP device's name), host_tap_init, ...).
   The device must exist and be up (ip tuntap add dev tap0 mode tap). */
err_t host_tap_init(struct netif *netif);

/* Waits up to timeout_ms for frames (0: just look), passes every waiting
   frame to netif->input, and returns how many. Frames that find no pbuf are
   dropped, as a real MAC does when its DMA ring is full; TCP resends them. */
int host_tap_poll(struct netif *netif, int timeout_ms);

/* Frames dropped for lack of pbufs since start. */
unsigned long host_tap_dropped(void);

#endif /* HOST_TAP_H */
