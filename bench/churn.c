/*
 * churn: create new UDP conntrack entries at a steady RATE per second for SECONDS, paced
 * in 10 ms slices (sendmmsg), so a table churns at a known new-flow rate (with a short
 * UDP timeout in the namespace, old entries expire as fast as new ones come).
 *
 *   flow i (i = FIRST, FIRST+1, ...)  ->  127.2.H.L : P    P = 1 + i % 65535, H.L = i / 65535
 *
 * One unconnected UDP socket bound to 127.0.0.1; loopback only: nothing leaves the machine
 * (the benchmark's nftables ruleset drops the datagrams on input after the entry was
 * confirmed on output). Same flow layout as flood.c, on 127.2.0.0/16 so both can run in
 * one namespace without reusing a tuple.
 *
 * Usage: churn RATE SECONDS [FIRST]
 * Prints one JSON line: {"sent":N,"failed":N,"seconds":S,"perSecond":R}
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 1024
#define PORTS 65535u

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4) {
    fprintf(stderr, "usage: churn RATE SECONDS [FIRST]\n");
    return 2;
  }
  double rate = strtod(argv[1], NULL), seconds = strtod(argv[2], NULL);
  unsigned long first = argc == 4 ? strtoul(argv[3], NULL, 10) : 0;
  if (!(rate > 0 && rate <= 5e6) || !(seconds > 0 && seconds <= 3600)) {
    fprintf(stderr, "churn: RATE in (0, 5e6], SECONDS in (0, 3600]\n");
    return 2;
  }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    perror("socket");
    return 2;
  }
  struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0) {
    perror("bind");
    return 2;
  }
  static struct sockaddr_in dst[BATCH];
  static struct mmsghdr msgs[BATCH];
  static struct iovec iov[BATCH];
  static char payload = 'x';
  unsigned long sent = 0, failed = 0, next = first;
  double t0 = now(), end = t0 + seconds;
  for (;;) {
    double t = now();
    if (t >= end) break;
    /* flows due by now */
    unsigned long due = first + (unsigned long)((t - t0) * rate);
    while (next < due) {
      unsigned n = 0;
      for (; n < BATCH && next + n < due; n++) {
        unsigned long i = next + n;
        dst[n].sin_family = AF_INET;
        dst[n].sin_port = htons((uint16_t)(1 + i % PORTS));
        dst[n].sin_addr.s_addr = htonl(0x7f020000u + (uint32_t)((i / PORTS) & 0xffff));
        iov[n].iov_base = &payload;
        iov[n].iov_len = 1;
        memset(&msgs[n].msg_hdr, 0, sizeof msgs[n].msg_hdr);
        msgs[n].msg_hdr.msg_name = &dst[n];
        msgs[n].msg_hdr.msg_namelen = sizeof dst[n];
        msgs[n].msg_hdr.msg_iov = &iov[n];
        msgs[n].msg_hdr.msg_iovlen = 1;
      }
      unsigned done = 0;
      while (done < n) {
        int r = sendmmsg(fd, msgs + done, n - done, 0);
        if (r < 0) {
          if (errno == EINTR) continue;
          failed++;
          done++;
          continue;
        }
        sent += (unsigned)r;
        done += (unsigned)r;
      }
      next += n;
    }
    struct timespec nap = {0, 10 * 1000 * 1000};
    nanosleep(&nap, NULL);
  }
  double t = now() - t0;
  close(fd);
  printf("{\"sent\":%lu,\"failed\":%lu,\"seconds\":%.3f,\"perSecond\":%.0f}\n", sent, failed, t, t > 0 ? (double)sent / t : 0.0);
  return 0;
}
