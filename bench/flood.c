/*
 * flood: create COUNT new UDP conntrack entries as fast as the kernel allows.
 *
 * One unconnected UDP socket bound to 127.0.0.1 sends one 1-byte datagram per flow with
 * sendmmsg(2), 1024 messages per call, to COUNT distinct destinations on loopback:
 *
 *   flow i (i = FIRST .. FIRST+COUNT-1)  ->  127.1.H.L : P
 *     P     = 1 + i % 65535          (destination ports 1..65535)
 *     H.L   = i / 65535              (127.1.0.0, 127.1.0.1, ...: 127.0.0.0/8 is all loopback)
 *
 * Each datagram is a new tuple, so each one creates (and confirms) one conntrack entry in
 * the network namespace the program runs in. Loopback traffic only: nothing leaves the
 * machine. The benchmark's nftables ruleset drops the datagrams on input, after the entry
 * was confirmed on output, so no ICMP port-unreachable is generated.
 *
 * Usage: flood COUNT [FIRST]
 * Prints one JSON line: {"flows":N,"sent":N,"failed":N,"seconds":S,"perSecond":R}
 * Exit status 0 when every datagram was sent, 1 otherwise (e.g. table full: EPERM).
 *
 * Built at benchmark time (cc -O2) into a temporary directory; no binary is kept.
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

static int parse_count(const char *s, unsigned long *out) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno != 0 || *s == '\0' || *end != '\0' || v > 16000000ul) return -1;
  *out = v;
  return 0;
}

int main(int argc, char **argv) {
  unsigned long count, first = 0;
  if (argc < 2 || argc > 3 || parse_count(argv[1], &count) != 0 || (argc == 3 && parse_count(argv[2], &first) != 0)) {
    fprintf(stderr, "usage: flood COUNT [FIRST]   (COUNT, FIRST <= 16000000)\n");
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
  int sndbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);

  static struct sockaddr_in dst[BATCH];
  static struct mmsghdr msgs[BATCH];
  static struct iovec iov[BATCH];
  static char payload = 'x';

  unsigned long sent = 0, failed = 0, next = first, last = first + count;
  int last_errno = 0;
  double t0 = now();
  while (next < last) {
    unsigned n = 0;
    for (; n < BATCH && next + n < last; n++) {
      unsigned long i = next + n;
      uint32_t host = (uint32_t)(i / PORTS);
      dst[n].sin_family = AF_INET;
      dst[n].sin_port = htons((uint16_t)(1 + i % PORTS));
      dst[n].sin_addr.s_addr = htonl(0x7f010000u + host);
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
        /* This message failed (EPERM: dropped by netfilter, e.g. table full). Skip it. */
        last_errno = errno;
        failed++;
        done++;
        continue;
      }
      sent += (unsigned)r;
      done += (unsigned)r;
    }
    next += n;
  }
  double t = now() - t0;
  close(fd);
  printf("{\"flows\":%lu,\"sent\":%lu,\"failed\":%lu,\"lastErrno\":%d,\"seconds\":%.6f,\"perSecond\":%.0f}\n", count, sent,
         failed, last_errno, t, t > 0 ? (double)sent / t : 0.0);
  return failed == 0 ? 0 : 1;
}
