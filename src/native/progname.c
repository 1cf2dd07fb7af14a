/*
 * progname: the process behind an event's requester port id, looked up as early as
 * possible, for `[USERSPACE] portid=N progname=NAME` (conntrack -E prints it).
 *
 * The race. A requester such as `conntrack -D` exits right after the kernel acknowledges
 * its request; the event it caused is queued to listeners before that ACK. The name is
 * found through its socket (port id -> socket inode via the namespace's
 * /proc/net/netlink -> the process holding socket:[inode] among /proc/PID/fd ->
 * /proc/PID/stat's comm), so it must be found before the requester closes it. conntrack
 * -E looks it up when its callback runs; we start when the receive thread gets the
 * datagram, before JavaScript even wakes.
 *
 * Threads. The receive thread (nlsock.c) calls pn_note() for each datagram it keeps: it
 * reads only the nlmsghdr's nlmsg_pid of each message (0 = the kernel itself: skipped)
 * and looks a port id it has not answered within PN_KEEP_NS up at once, inline: it has
 * entered the socket's network namespace at its start (pn_enter: SIOCGSKNS on the
 * socket, then setns; it is its own thread, the JS thread never changes namespace).
 * Inline work is bounded (PN_INLINE_NS of lookups per PN_WINDOW_NS, a scan of at most
 * PN_INLINE_SCAN_NS); what does not fit is queued (PN_QUEUE; when full the request is
 * dropped and JavaScript looks the name up itself) for the lookup thread. That thread,
 * also inside the namespace, waits on the socket as well (edge-triggered; it never
 * reads, it peeks at the head datagram's nlmsghdr), so the kernel wakes both threads for
 * each event and a busy machine gives two chances to run before the requester exits;
 * the first name found answers, "none" only once every attempt failed. After a wake-up
 * that brought no new port id it rests PN_PEEK_REST_NS (a flood from known requesters
 * keeps the socket readable). Both threads ask for a short scheduler slice (see
 * short_slice).
 *
 * A lookup: when the port id looks like a pid, that process's fds (with its comm) and
 * /proc/thread-self/net/netlink (that namespace's socket table: port id -> inode); the
 * receive thread reads the fds first (an exiting process loses its fd table before its
 * sockets leave the socket table), the lookup thread the table first, and each adds what
 * it saw to the port id's slot (merge): a table that listed portid -> inode and a process
 * that held inode prove the name whichever thread saw which. Then the processes whose pid
 * is another netfilter socket's port id (a requester's second socket has a random port
 * id, its first usually its pid), then every process, newest pid first (bounded by
 * PN_SCAN_MAX_NS). The name is the comm of /proc/PID/stat, as conntrack prints it.
 *
 * Answers stay PN_KEEP_NS per port id (a flush's 100,000 events from one requester cost
 * one lookup); after that the next event with that port id is looked up again (a port id
 * reused by a new socket). pn_get() (JS thread, when a line is printed) returns the
 * answer, waiting up to its bound for a lookup still running: conntrack -E blocks its
 * only thread for the same lookup, and the receive thread keeps draining meanwhile.
 */
#include "progname.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/sockios.h>

#ifndef SIOCGSKNS
#define SIOCGSKNS 0x894C
#endif

#define PN_SLOTS 256
#define PN_QUEUE 64
#define PN_NAME 64
#define PN_KEEP_NS (2000ull * 1000000ull)
#define PN_DEDUP_NS (50ull * 1000000ull)
#define PN_SCAN_MAX_NS (250ull * 1000000ull)
/* The receive thread looks up inline (no second thread to wake: the requester is racing
 * to exit) for at most PN_INLINE_NS per PN_WINDOW_NS, a scan of at most PN_INLINE_SCAN_NS;
 * what does not fit goes to the lookup thread. The kernel's receive queue (64 MiB by
 * default) holds what arrives meanwhile. */
#define PN_INLINE_NS (100ull * 1000000ull)
#define PN_WINDOW_NS (1000ull * 1000000ull)
#define PN_INLINE_SCAN_NS (20ull * 1000000ull)
#define PN_TABLE_MAX (16u << 20)
#define PN_CAND 64
#define PN_HELD 16
#define PN_PID_MAX 4194304u /* PID_MAX_LIMIT */

enum { PN_FREE = 0, PN_PENDING = 1, PN_DONE = 2 };
enum { PN_RX = 1, PN_BG = 2 };
/* The lookup thread, woken by the socket itself, rests this long after a wake-up that
 * brought no new port id (a flood from known requesters keeps the socket readable). */
#define PN_PEEK_REST_NS (1000000L)

/* Buffers of one looking thread. */
typedef struct {
  char *table;
  size_t table_cap;
  int *pids;
  size_t pids_cap;
  int cand[PN_CAND];
  size_t ncand;
} pn_scratch;

typedef struct {
  uint32_t portid;
  uint8_t state;
  uint8_t found;
  uint8_t who;   /* attempts started: PN_RX (receive thread) | PN_BG (lookup thread) */
  uint8_t tries, fails;
  /* Evidence so far, from either thread (see merge): the socket's inode from a socket
   * table that listed the port id, and the socket inodes held by the process whose pid is
   * the port id, with its comm. */
  uint8_t nheld, named;
  unsigned long inode;
  unsigned long held[PN_HELD];
  char comm[PN_NAME];
  uint64_t at; /* CLOCK_MONOTONIC ns: when asked (pending) or answered (done) */
  char name[PN_NAME];
} pn_slot;

struct pn_state {
  pthread_t tid;
  pthread_mutex_t mu;
  pthread_cond_t done; /* waiters in pn_get */
  int sock_fd;         /* the subscription socket (owned by nlsock.c, closed after pn_stop) */
  int efd;             /* eventfd: the queue has items, or stop */
  int stop;
  int disabled; /* could not enter the socket's namespace: no answers (JS looks up itself) */
  pn_slot slots[PN_SLOTS];
  uint32_t queue[PN_QUEUE];
  size_t qhead, qlen;
  uint64_t lookups, dropped, found;
  int ns_fd;
  /* noting thread only */
  uint32_t last_pid;
  uint64_t last_at;
  uint64_t window_at, window_used; /* inline lookup time in the current window */
  int inline_ok;                   /* pn_enter() put the noting thread in the namespace */
  pn_scratch inl;
  /* lookup thread only */
  pn_scratch bg;
  uint32_t bg_last_pid;
};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* mu held */
static pn_slot *slot_find(pn_state *pn, uint32_t portid) {
  for (size_t i = 0; i < PN_SLOTS; i++)
    if (pn->slots[i].state != PN_FREE && pn->slots[i].portid == portid) return &pn->slots[i];
  return NULL;
}

/* A slot for a new port id: a free one, else the oldest answered one; NULL if all are pending. */
static pn_slot *slot_new(pn_state *pn) {
  pn_slot *old = NULL;
  for (size_t i = 0; i < PN_SLOTS; i++) {
    pn_slot *s = &pn->slots[i];
    if (s->state == PN_FREE) return s;
    if (s->state == PN_DONE && (old == NULL || s->at < old->at)) old = s;
  }
  return old;
}

enum { PN_NONE = 0, PN_FOUND = 1, PN_CUT = 2 };
static int resolve(pn_state *pn, pn_scratch *sc, uint32_t portid, char *name, size_t cap, uint64_t max_ns, int table_first);
static void short_slice(void);

/* mu held: one attempt for a pending slot ended; the slot is answered by the first name
 * found, or "none" once every attempt started has ended without one. Wakes waiters. */
static void finish(pn_state *pn, uint32_t portid, int ok, const char *name) {
  pn->lookups++;
  if (ok) pn->found++;
  pn_slot *s = slot_find(pn, portid);
  if (s != NULL && s->state == PN_PENDING) {
    if (!ok) s->fails++;
    if (ok || s->fails >= s->tries) {
      s->state = PN_DONE;
      s->found = (uint8_t)(ok != 0);
      if (ok) memcpy(s->name, name, PN_NAME);
      s->at = now_ns();
    }
  }
  pthread_cond_broadcast(&pn->done);
}

/* mu held: claim an attempt at `pid` for thread `who` (PN_RX / PN_BG) at time t; 0 when
 * it is answered and fresh, this thread already tried, or no slot is free. */
static int claim(pn_state *pn, uint32_t pid, int who, uint64_t t) {
  pn_slot *s = slot_find(pn, pid);
  if (s != NULL && s->state == PN_PENDING) {
    if (s->who & who) return 0;
    s->who |= (uint8_t)who;
    s->tries++;
    return 1;
  }
  if (s != NULL && t - s->at < PN_KEEP_NS) return 0; /* answered, fresh */
  if (s == NULL && (s = slot_new(pn)) == NULL) return -1;
  s->portid = pid;
  s->state = PN_PENDING;
  s->found = 0;
  s->name[0] = 0;
  s->who = (uint8_t)who;
  s->tries = 1;
  s->fails = 0;
  s->nheld = 0;
  s->named = 0;
  s->inode = 0;
  s->at = t;
  return 1;
}

/* Adds one thread's evidence about `portid` to its slot (inode: 0 when this read of the
 * socket table did not list it; held/comm: the fds and name of process `portid`, nheld 0
 * when not read) and returns 1 with the name when the evidence of both threads together
 * proves it: the socket table listed portid -> inode, and that process held inode (inode
 * numbers are not reused while the socket lives, and a socket's port id never changes,
 * so the two reads need not be simultaneous). *inode_out: the inode known so far. */
static int merge(pn_state *pn, uint32_t portid, unsigned long inode, const unsigned long *held, size_t nheld,
                 const char *comm, char *name, size_t cap, unsigned long *inode_out) {
  int ok = 0;
  pthread_mutex_lock(&pn->mu);
  pn_slot *s = slot_find(pn, portid);
  if (s != NULL && s->state == PN_DONE && s->found) {
    snprintf(name, cap, "%s", s->name);
    ok = 1;
  } else if (s != NULL && s->state == PN_PENDING) {
    if (inode != 0) s->inode = inode;
    if (nheld > 0 && comm != NULL && s->nheld == 0) {
      size_t n = nheld < PN_HELD ? nheld : PN_HELD;
      memcpy(s->held, held, n * sizeof *held);
      s->nheld = (uint8_t)n;
      snprintf(s->comm, sizeof s->comm, "%s", comm);
      s->named = 1;
    }
    if (s->inode != 0 && s->named)
      for (size_t i = 0; i < s->nheld && !ok; i++)
        if (s->held[i] == s->inode) {
          snprintf(name, cap, "%s", s->comm);
          ok = 1;
        }
    *inode_out = s->inode;
  }
  pthread_mutex_unlock(&pn->mu);
  return ok;
}

/* mu held: hand `portid` (slot pending) to the lookup thread; 0 when the queue is full. */
static int enqueue(pn_state *pn, uint32_t portid) {
  if (pn->qlen >= PN_QUEUE) return 0;
  pn->queue[(pn->qhead + pn->qlen) % PN_QUEUE] = portid;
  pn->qlen++;
  return 1;
}

void pn_note(pn_state *pn, const uint8_t *data, size_t len, int may_inline) {
  if (pn == NULL) return;
  size_t off = 0;
  uint64_t t = 0;
  int signal = 0;
  char name[PN_NAME];
  while (off + sizeof(struct nlmsghdr) <= len) {
    struct nlmsghdr h;
    memcpy(&h, data + off, sizeof h);
    uint32_t pid = h.nlmsg_pid;
    if (pid != 0) {
      if (t == 0) t = now_ns();
      /* A flood from one requester: one look at the table per PN_DEDUP_NS. */
      if (!(pid == pn->last_pid && t - pn->last_at < PN_DEDUP_NS)) {
        pn->last_pid = pid;
        pn->last_at = t;
        pthread_mutex_lock(&pn->mu);
        int c = claim(pn, pid, PN_RX, t);
        if (c > 0) {
          if (t - pn->window_at >= PN_WINDOW_NS) { pn->window_at = t; pn->window_used = 0; }
          int r = PN_CUT;
          if (may_inline && pn->inline_ok && !pn->disabled && pn->window_used < PN_INLINE_NS) {
            pthread_mutex_unlock(&pn->mu);
            r = resolve(pn, &pn->inl, pid, name, sizeof name, PN_INLINE_SCAN_NS, 0);
            uint64_t t2 = now_ns();
            pn->window_used += t2 - t;
            t = t2;
            pthread_mutex_lock(&pn->mu);
          }
          if (r != PN_CUT) finish(pn, pid, r == PN_FOUND, name);
          else if (enqueue(pn, pid)) signal = 1;
          else { pn->dropped++; finish(pn, pid, 0, name); }
        } else if (c < 0) {
          pn->dropped++;
        }
        pthread_mutex_unlock(&pn->mu);
      }
    }
    if (h.nlmsg_len < sizeof(struct nlmsghdr)) break;
    off += NLMSG_ALIGN(h.nlmsg_len);
  }
  if (signal) {
    uint64_t one = 1;
    ssize_t w = write(pn->efd, &one, sizeof one);
    (void)w;
  }
}

int pn_get(pn_state *pn, uint32_t portid, char *out, size_t cap, int wait_ms) {
  if (pn == NULL || cap == 0) return -1;
  int r;
  pthread_mutex_lock(&pn->mu);
  pn_slot *s = slot_find(pn, portid);
  if (s != NULL && s->state == PN_PENDING && wait_ms > 0) {
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += wait_ms / 1000;
    dl.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) { dl.tv_sec++; dl.tv_nsec -= 1000000000L; }
    while (s->state == PN_PENDING && s->portid == portid && !pn->stop) {
      if (pthread_cond_timedwait(&pn->done, &pn->mu, &dl) == ETIMEDOUT) break;
    }
    if (s->portid != portid || s->state == PN_FREE) s = slot_find(pn, portid);
  }
  if (s == NULL || pn->disabled) r = -1;
  else if (s->state == PN_DONE && s->found) {
    snprintf(out, cap, "%s", s->name);
    r = 1;
  } else r = 0;
  pthread_mutex_unlock(&pn->mu);
  return r;
}

void pn_stats(pn_state *pn, uint64_t *lookups, uint64_t *dropped, uint64_t *found) {
  if (pn == NULL) { *lookups = *dropped = *found = 0; return; }
  pthread_mutex_lock(&pn->mu);
  *lookups = pn->lookups;
  *dropped = pn->dropped;
  *found = pn->found;
  pthread_mutex_unlock(&pn->mu);
}

/* ---- the lookup (lookup thread) ----------------------------------------- */

/* Reads the namespace's socket table into pn->table; its length, or -1. */
static ssize_t read_table(pn_scratch *pn) {
  int fd = open("/proc/thread-self/net/netlink", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t used = 0;
  for (;;) {
    if (pn->table_cap - used < 4096) {
      size_t cap = pn->table_cap ? pn->table_cap * 2 : 65536;
      if (cap > PN_TABLE_MAX) break;
      char *p = realloc(pn->table, cap + 1);
      if (p == NULL) break;
      pn->table = p;
      pn->table_cap = cap;
    }
    ssize_t n = read(fd, pn->table + used, pn->table_cap - used);
    if (n < 0) { if (errno == EINTR) continue; close(fd); return -1; }
    if (n == 0) break;
    used += (size_t)n;
  }
  close(fd);
  if (pn->table == NULL) return -1;
  pn->table[used] = 0;
  return (ssize_t)used;
}

/* The inode of the NETLINK_NETFILTER socket with port id `portid`, 0 if none. Lines:
 * "sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode" (the first is the header). The
 * other NETLINK_NETFILTER port ids that look like pids go to sc->cand: a requester's
 * second socket has a random port id, but its first usually has its pid, so its holder
 * is nearly always among them. */
static unsigned long find_inode(pn_scratch *sc, uint32_t portid) {
  const char *line = strchr(sc->table, '\n');
  unsigned long inode = 0;
  sc->ncand = 0;
  while (line != NULL && *++line) {
    const char *end = strchr(line, '\n');
    const char *p = line;
    char *q;
    unsigned long f[10];
    int n = 0;
    for (; n < 10; n++) {
      while (*p == ' ' || *p == '\t') p++;
      if (*p == '\n' || *p == 0) break;
      f[n] = strtoul(p, &q, n == 0 || n == 3 ? 16 : 10);
      if (q == p) break;
      p = q;
      while (*p != ' ' && *p != '\t' && *p != '\n' && *p != 0) p++; /* rest of a token */
    }
    if (n == 10 && f[1] == NETLINK_NETFILTER) {
      if ((uint32_t)f[2] == portid) inode = f[9];
      else if (f[2] > 1 && f[2] <= PN_PID_MAX && sc->ncand < PN_CAND) sc->cand[sc->ncand++] = (int)f[2];
    }
    line = end;
  }
  return inode;
}

/* True when one of `pid`'s fds is `target` ("socket:[inode]"). */
static int holds(int pid, const char *target, size_t tlen) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd", pid);
  int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return 0;
  DIR *d = fdopendir(dfd);
  if (d == NULL) { close(dfd); return 0; }
  int hit = 0;
  char link[64];
  for (struct dirent *e; !hit && (e = readdir(d)) != NULL;) {
    if (e->d_name[0] == '.') continue;
    ssize_t n = readlinkat(dfd, e->d_name, link, sizeof link);
    if (n == (ssize_t)tlen && memcmp(link, target, tlen) == 0) hit = 1;
  }
  closedir(d);
  return hit;
}

/* comm of `pid` from /proc/PID/stat ("pid (comm) ..."; up to the first ')', as conntrack reads it). */
static int comm_of(int pid, char *out, size_t cap) {
  char path[64], buf[256];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  char *a = strchr(buf, '(');
  if (a == NULL) return 0;
  char *b = strchr(a + 1, ')');
  if (b == NULL || b == a + 1) return 0;
  size_t len = (size_t)(b - a - 1);
  if (len >= cap) len = cap - 1;
  memcpy(out, a + 1, len);
  out[len] = 0;
  return 1;
}

static int cmp_desc(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return x < y ? 1 : x > y ? -1 : 0;
}

static int tried(const pn_scratch *sc, int pid) {
  for (size_t i = 0; i < sc->ncand; i++)
    if (sc->cand[i] == pid) return 1;
  return 0;
}

/* The socket inodes among `pid`'s fds (at most cap): read before the socket table
 * because an exiting process loses its fd table first (exit_files) and its sockets leave
 * the socket table only later (the deferred final fput). */
static int pn_self; /* our pid (never a requester we name), set by pn_start */
static size_t sockets_of(int pid, unsigned long *out, size_t cap) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd", pid);
  int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return 0;
  DIR *d = fdopendir(dfd);
  if (d == NULL) { close(dfd); return 0; }
  size_t n = 0;
  char link[64];
  for (struct dirent *e; n < cap && (e = readdir(d)) != NULL;) {
    if (e->d_name[0] == '.') continue;
    ssize_t k = readlinkat(dfd, e->d_name, link, sizeof link - 1);
    if (k < 9 || memcmp(link, "socket:[", 8) != 0) continue;
    link[k] = 0;
    out[n++] = strtoul(link + 8, NULL, 10);
  }
  closedir(d);
  return n;
}

/* PN_FOUND and the name; PN_NONE (no such socket, or no holder); PN_CUT (the scan of
 * /proc took longer than max_ns: undecided). When the port id looks like a pid: that
 * process's fds and the socket table, in the order table_first says (the receive thread
 * takes the fds first: an exiting process loses its fd table before its sockets leave
 * the socket table; the lookup thread the table first), each merged with what the other
 * thread found. Then the processes whose pid is another netfilter socket's port id
 * (newest first), then every process, newest first. */
static int resolve(pn_state *pn, pn_scratch *sc, uint32_t portid, char *name, size_t cap, uint64_t max_ns, int table_first) {
  int self = pn_self;
  int pidlike = portid > 1 && portid <= PN_PID_MAX && (int)portid != self;
  unsigned long held[PN_HELD];
  size_t nheld = 0;
  unsigned long inode = 0, known = 0;
  int have_table = 0;
  for (int step = 0; step < 2; step++) {
    if ((step == 0) == (table_first != 0)) {
      if (read_table(sc) >= 0) {
        have_table = 1;
        inode = find_inode(sc, portid);
      }
    } else if (pidlike) {
      char comm[PN_NAME];
      nheld = sockets_of((int)portid, held, PN_HELD);
      if (nheld > 0 && !comm_of((int)portid, comm, sizeof comm)) nheld = 0;
      if (nheld > 0 && merge(pn, portid, inode, held, nheld, comm, name, cap, &known)) return PN_FOUND;
      continue;
    }
    if (pidlike && merge(pn, portid, inode, NULL, 0, NULL, name, cap, &known)) return PN_FOUND;
  }
  if (!have_table) return PN_NONE;
  if (inode == 0) inode = known; /* listed in the other thread's read of the table */
  if (inode == 0) return PN_NONE;
  char target[48];
  int tlen = snprintf(target, sizeof target, "socket:[%lu]", inode);
  /* The pid's own fds again, all of them (the evidence above keeps at most PN_HELD). */
  if (pidlike && holds((int)portid, target, (size_t)tlen)) return comm_of((int)portid, name, cap) ? PN_FOUND : PN_NONE;
  qsort(sc->cand, sc->ncand, sizeof *sc->cand, cmp_desc);
  for (size_t i = 0; i < sc->ncand; i++)
    if (sc->cand[i] != self && holds(sc->cand[i], target, (size_t)tlen)) return comm_of(sc->cand[i], name, cap) ? PN_FOUND : PN_NONE;
  DIR *d = opendir("/proc");
  if (d == NULL) return PN_NONE;
  size_t n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    char *q;
    long v = strtol(e->d_name, &q, 10);
    if (*q != 0 || v <= 1 || v == self || (uint32_t)v == portid || tried(sc, (int)v)) continue;
    if (n == sc->pids_cap) {
      size_t c = sc->pids_cap ? sc->pids_cap * 2 : 1024;
      int *p = realloc(sc->pids, c * sizeof *p);
      if (p == NULL) break;
      sc->pids = p;
      sc->pids_cap = c;
    }
    sc->pids[n++] = (int)v;
  }
  closedir(d);
  qsort(sc->pids, n, sizeof *sc->pids, cmp_desc);
  uint64_t start = now_ns();
  for (size_t i = 0; i < n; i++) {
    if (holds(sc->pids[i], target, (size_t)tlen)) return comm_of(sc->pids[i], name, cap) ? PN_FOUND : PN_NONE;
    if ((i & 15) == 15 && now_ns() - start > max_ns) return PN_CUT;
  }
  return PN_NONE;
}

/* Lookup thread: port ids the receive thread queued, and a second, independent look at
 * each new requester. It waits on the socket too (edge-triggered, never reading: it
 * peeks at the head datagram's nlmsghdr), so the kernel wakes it together with the
 * receive thread; whichever of the two runs first on a busy machine finds the requester
 * still alive. Both may look; the first name found answers. */
static void *pn_main(void *arg) {
  pn_state *pn = arg;
  short_slice();
  if (pn->ns_fd >= 0 && setns(pn->ns_fd, CLONE_NEWNET) < 0) {
    pthread_mutex_lock(&pn->mu);
    pn->disabled = 1;
    pthread_mutex_unlock(&pn->mu);
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep >= 0) {
    struct epoll_event e1 = { .events = EPOLLIN, .data.u32 = 0 };
    struct epoll_event e2 = { .events = EPOLLIN | EPOLLET, .data.u32 = 1 };
    if (epoll_ctl(ep, EPOLL_CTL_ADD, pn->efd, &e1) < 0) { close(ep); ep = -1; }
    else if (pn->sock_fd >= 0 && !pn->disabled) epoll_ctl(ep, EPOLL_CTL_ADD, pn->sock_fd, &e2);
  }
  char name[PN_NAME];
  for (;;) {
    struct epoll_event ev[2];
    int sock_ready = 0;
    if (ep >= 0) {
      int n = epoll_wait(ep, ev, 2, -1);
      if (n < 0 && errno != EINTR) break;
      for (int i = 0; i < n; i++) {
        if (ev[i].data.u32 == 0) {
          uint64_t v;
          ssize_t rd = read(pn->efd, &v, sizeof v);
          (void)rd;
        } else sock_ready = 1;
      }
    } else {
      struct pollfd pf = { .fd = pn->efd, .events = POLLIN };
      if (poll(&pf, 1, -1) < 0 && errno != EINTR) break;
      uint64_t v;
      ssize_t rd = read(pn->efd, &v, sizeof v);
      (void)rd;
    }
    pthread_mutex_lock(&pn->mu);
    if (pn->stop) { pthread_mutex_unlock(&pn->mu); break; }
    int disabled = pn->disabled;
    pthread_mutex_unlock(&pn->mu);
    int fresh = 0;
    if (sock_ready && !disabled) {
      struct nlmsghdr h;
      struct sockaddr_nl from;
      memset(&from, 0, sizeof from);
      struct iovec iov = { .iov_base = &h, .iov_len = sizeof h };
      struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1 };
      ssize_t n = recvmsg(pn->sock_fd, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
      if (n >= (ssize_t)sizeof h && from.nl_pid == 0 && h.nlmsg_pid != 0 && h.nlmsg_pid != pn->bg_last_pid) {
        uint32_t pid = h.nlmsg_pid;
        pn->bg_last_pid = pid;
        pthread_mutex_lock(&pn->mu);
        int c = claim(pn, pid, PN_BG, now_ns());
        pthread_mutex_unlock(&pn->mu);
        if (c > 0) {
          fresh = 1;
          int ok = resolve(pn, &pn->bg, pid, name, sizeof name, PN_SCAN_MAX_NS, 1) == PN_FOUND;
          pthread_mutex_lock(&pn->mu);
          finish(pn, pid, ok, name);
          pthread_mutex_unlock(&pn->mu);
        }
      }
    }
    /* Queued by the receive thread (its inline budget or scan bound ran out). */
    for (;;) {
      pthread_mutex_lock(&pn->mu);
      if (pn->stop || pn->qlen == 0) { pthread_mutex_unlock(&pn->mu); break; }
      uint32_t portid = pn->queue[pn->qhead];
      pn->qhead = (pn->qhead + 1) % PN_QUEUE;
      pn->qlen--;
      pn_slot *s = slot_find(pn, portid);
      if (s != NULL && s->state == PN_PENDING) s->who |= PN_BG;
      pthread_mutex_unlock(&pn->mu);
      int ok = !disabled && resolve(pn, &pn->bg, portid, name, sizeof name, PN_SCAN_MAX_NS, 0) == PN_FOUND;
      pthread_mutex_lock(&pn->mu);
      finish(pn, portid, ok, name);
      pthread_mutex_unlock(&pn->mu);
    }
    if (sock_ready && !fresh) {
      struct timespec rest = { 0, PN_PEEK_REST_NS };
      nanosleep(&rest, NULL);
    }
  }
  if (ep >= 0) close(ep);
  return NULL;
}

/* Ask the scheduler for a short slice for the calling thread (SCHED_OTHER, its nice kept;
 * EEVDF's custom slice, Linux 6.12+, no privilege needed): a thread woken with a shorter
 * slice may preempt the running task at once (PREEMPT_SHORT) instead of waiting for that
 * task's slice to end, on a busy machine the difference between naming a requester and
 * finding it gone. It changes latency, not the thread's share of CPU. Older kernels
 * ignore sched_runtime for SCHED_OTHER; failure is harmless. */
static void short_slice(void) {
#ifdef SYS_sched_setattr
  struct {
    uint32_t size, sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime, sched_deadline, sched_period;
  } a;
  memset(&a, 0, sizeof a);
  a.size = sizeof a; /* SCHED_ATTR_SIZE_VER0 */
  a.sched_policy = 0; /* SCHED_OTHER */
  errno = 0;
  int nice = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
  if (errno != 0) return;
  a.sched_nice = nice;
  a.sched_runtime = 100000; /* 0.1 ms, the shortest the kernel takes */
  (void)syscall(SYS_sched_setattr, 0, &a, 0);
#endif
}

int pn_enter(pn_state *pn) {
  if (pn == NULL) return -1;
  short_slice();
  /* The first lookup should not wait for memory. */
  if (pn->inl.table == NULL && (pn->inl.table = malloc(65536 + 1)) != NULL) pn->inl.table_cap = 65536;
  if (pn->ns_fd >= 0 && setns(pn->ns_fd, CLONE_NEWNET) < 0) return -1;
  pn->inline_ok = 1;
  return 0;
}

pn_state *pn_start(int sock_fd) {
  pn_state *pn = calloc(1, sizeof *pn);
  if (pn == NULL) { errno = ENOMEM; return NULL; }
  pn->sock_fd = sock_fd;
  pn_self = (int)getpid();
  pn->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (pn->efd < 0) { int e = errno; free(pn); errno = e; return NULL; }
  /* The socket's own namespace (needs CAP_NET_ADMIN there; without it the socket is in
   * ours, and the thread stays where it is). */
  pn->ns_fd = ioctl(sock_fd, SIOCGSKNS);
  if (pn->ns_fd < 0) pn->ns_fd = -1;
  else fcntl(pn->ns_fd, F_SETFD, FD_CLOEXEC);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_mutex_init(&pn->mu, NULL);
  pthread_cond_init(&pn->done, &ca);
  pthread_condattr_destroy(&ca);
  int r = pthread_create(&pn->tid, NULL, pn_main, pn);
  if (r != 0) {
    if (pn->ns_fd >= 0) close(pn->ns_fd);
    close(pn->efd);
    pthread_mutex_destroy(&pn->mu);
    pthread_cond_destroy(&pn->done);
    free(pn);
    errno = r;
    return NULL;
  }
  return pn;
}

void pn_stop(pn_state *pn) {
  if (pn == NULL) return;
  pthread_mutex_lock(&pn->mu);
  pn->stop = 1;
  pthread_cond_broadcast(&pn->done);
  pthread_mutex_unlock(&pn->mu);
  uint64_t one = 1;
  ssize_t w = write(pn->efd, &one, sizeof one);
  (void)w;
  pthread_join(pn->tid, NULL);
  if (pn->ns_fd >= 0) close(pn->ns_fd);
  close(pn->efd);
  pthread_mutex_destroy(&pn->mu);
  pthread_cond_destroy(&pn->done);
  free(pn->bg.table);
  free(pn->bg.pids);
  free(pn->inl.table);
  free(pn->inl.pids);
  free(pn);
}
