/*
 * listener: the minimal conntrack event listener, the limit the burst benchmark compares
 * ours with. No library, no decoding beyond the netlink header:
 *
 *   socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER); SO_RCVBUFFORCE BYTES;
 *   bind(nl_groups = NFNLGRP_CONNTRACK_NEW | NFNLGRP_CONNTRACK_DESTROY as a legacy mask);
 *   loop: recv(64 KiB) and count the messages by nlmsg_type (CT_NEW 0x0100, CT_DELETE 0x0102);
 *   ENOBUFS: count it and go on; at the end, the socket's drop count from SO_MEMINFO.
 *
 * Usage: listener [--expect N] [--idle-ms MS] [--rcvbuf BYTES]
 * Prints {"ready":true} once bound, then, when N messages arrived, when nothing came for
 * MS after the first message, or on SIGINT/SIGTERM, one JSON line:
 *   {"new":N,"destroy":N,"messages":N,"datagrams":N,"enobufs":N,"drops":N,"rcvbuf":N}
 *
 * Built at benchmark time (cc -O2) into a temporary directory, like flood.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif
#define SK_MEMINFO_DROPS 8
#define SK_MEMINFO_VARS 9

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
  unsigned long expect = 0, idle_ms = 3000, rcvbuf = 64ul << 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--expect") == 0) expect = strtoul(argv[i + 1], NULL, 10);
    else if (strcmp(argv[i], "--idle-ms") == 0) idle_ms = strtoul(argv[i + 1], NULL, 10);
    else if (strcmp(argv[i], "--rcvbuf") == 0) rcvbuf = strtoul(argv[i + 1], NULL, 10);
    else { fprintf(stderr, "usage: listener [--expect N] [--idle-ms MS] [--rcvbuf BYTES]\n"); return 2; }
  }
  struct sigaction sa = { .sa_handler = on_signal };
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) { perror("socket"); return 1; }
  int v = (int)rcvbuf;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) < 0) perror("SO_RCVBUFFORCE");
  struct sockaddr_nl addr = { .nl_family = AF_NETLINK, .nl_groups = (1u << 0) | (1u << 2) };
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); return 1; }
  int eff = 0;
  socklen_t len = sizeof eff;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &eff, &len);
  printf("{\"ready\":true}\n");
  fflush(stdout);

  static uint8_t buf[65536];
  unsigned long news = 0, destroys = 0, messages = 0, datagrams = 0, enobufs = 0;
  struct pollfd pf = { .fd = fd, .events = POLLIN };
  while (!stop && (expect == 0 || messages < expect)) {
    int r = poll(&pf, 1, messages > 0 ? (int)idle_ms : 600000);
    if (r == 0) break; /* idle */
    if (r < 0) { if (errno == EINTR) continue; perror("poll"); break; }
    for (;;) {
      ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == ENOBUFS) { enobufs++; continue; }
        break; /* EAGAIN */
      }
      datagrams++;
      for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
        messages++;
        if (h->nlmsg_type == 0x0100) news++;
        else if (h->nlmsg_type == 0x0102) destroys++;
      }
    }
  }
  uint32_t mem[SK_MEMINFO_VARS] = { 0 };
  len = sizeof mem;
  getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len);
  printf("{\"ready\":false,\"new\":%lu,\"destroy\":%lu,\"messages\":%lu,\"datagrams\":%lu,\"enobufs\":%lu,\"drops\":%u,\"rcvbuf\":%d}\n",
         news, destroys, messages, datagrams, enobufs, mem[SK_MEMINFO_DROPS], eff);
  return 0;
}
