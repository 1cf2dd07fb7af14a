/*
 * nlsock: a raw AF_NETLINK socket for Node.js, as thin as possible.
 *
 * Only system calls live here; every protocol decision (which options, which
 * groups, what the bytes mean) is made in TypeScript (src/socket/).
 *
 * Exports one class, NlSocket:
 *   new NlSocket(protocol, netnsPath | null)   socket(AF_NETLINK, SOCK_RAW|CLOEXEC|NONBLOCK, protocol),
 *                                              optionally created inside another network namespace
 *   bind(portid, groups) -> portid             bind() + getsockname(); groups = legacy bitmask
 *   setsockopt(level, name, int) / getsockopt(level, name) -> int
 *   send(bytes) -> bytes sent                  sendto() the kernel (nl_pid 0)
 *   setReceiveThread(bufferBytes[, holdMs])    receive on a dedicated thread (subscriptions), see below
 *   setReadAhead(on)                           the same thread, lossless (dumps), see below
 *   setBatchBytes(n)                           at most about n bytes per onBatch call
 *   start(onBatch, onError)                    begin receiving
 *   pause() / resume() / ref() / unref() / close()
 *   netnsInode                                 nsfs inode of the namespace file opened (0: none)
 *   setProgramNames(on)                        name events' requesters as they arrive (progname.c)
 *   programName(portid, waitMs) -> string | null | undefined   that name (null: none found)
 *   programNameStats() -> { lookups, found, dropped }
 * and readFileInNetns(nsPath, filePath, maxBytes), and _fault(name, count) (tests only).
 *
 * Namespaces. The calling (JS) thread never changes namespace: a short-lived pthread
 * opens the namespace file, setns()es into it, creates the socket (or reads the file),
 * and exits; the main thread joins it and gets the fd (or the errno and the failed system
 * call). A namespace the thread cannot enter, or cannot leave, cannot strand the caller.
 *
 * Receive batches (inline path). When the fd is readable we drain it
 * with recvmsg(MSG_DONTWAIT) until EAGAIN, or RECV_MAX_DATAGRAMS items, or max_bytes
 * bytes; then JavaScript gets ONE call:
 *
 *   onBatch(data: ArrayBuffer, meta: Uint32Array)
 *     data  the datagrams' bytes, back to back (exactly the bytes received)
 *     meta  META_STRIDE (6) x u32 per item, in arrival order:
 *           [0] byte length of the item in `data` (0 for a marker)
 *           [1] sender nl_pid (0 = the kernel); for RECV_FLAG_LOCAL_DROP: messages lost
 *           [2] sender nl_groups (multicast group mask; 0 = unicast)
 *           [3] flags: RECV_FLAG_TRUNCATED (MSG_TRUNC: the kernel had more bytes than we
 *               took) | RECV_FLAG_OVERRUN (recvmsg failed with ENOBUFS: the kernel's
 *               receive queue overflowed and it dropped messages here) |
 *               RECV_FLAG_LOCAL_DROP (our own receive-thread buffer was full: [1]
 *               netlink messages were read from the socket and discarded here)
 *           [4] receive time, CLOCK_REALTIME seconds (u32)
 *           [5] receive time, nanoseconds
 *     The time is taken right after each recvmsg (netlink has no SO_TIMESTAMP: on
 *     6.18 SO_TIMESTAMPNS is accepted but netlink_recvmsg adds no control message); the
 *     receive thread's recvmmsg (RX_MMSG) gives the datagrams of one call one time.
 *
 * Receive thread (setReceiveThread, for subscription sockets). A pthread drains the
 * socket as fast as the kernel fills it (poll + recvmsg until EAGAIN) into chunks of
 * memory (CHUNK_DATA bytes + their meta rows), at most bufferBytes in total; full chunks
 * (and the partly filled one when JavaScript is waiting) go to the main thread through a
 * uv_async handle, one onBatch call per chunk. pause() stops delivery to JavaScript, not
 * reading: the thread keeps reading into its buffer, and once that is full it still
 * reads, discards and counts (a RECV_FLAG_LOCAL_DROP row before the next datagram it
 * keeps), so the kernel's queue drains at the kernel's speed whatever JS does.
 *
 * Read-ahead (setReadAhead, for dump sockets): the same thread, but lossless. A dump
 * datagram is built by the kernel inside our recvmsg, so the thread's reading IS the
 * kernel's dump work, and it runs while JS decodes what was read before (two cores busy
 * instead of taking turns). When the buffer (RA_BUFFER) is full the thread waits until JS
 * hands a chunk back; it never discards: the kernel simply builds nothing meanwhile. JS is
 * signalled after every recvmmsg, and each onBatch carries at most about setBatchBytes.
 * No memory for even one chunk fails the dump with ENOMEM (syscall "mmap").
 *
 * Each recvmsg is given at least RECV_MIN_AREA bytes (64 KiB, and more than the largest
 * datagram we ever sent, so an error ACK echoing it fits); netlink datagrams from the
 * kernel are at most ~32 KiB (dumps), so our own buffer never truncates one. Any other
 * recvmsg errno stops receiving and calls onError(error) with an Error carrying
 * { errno, syscall: 'recvmsg' }. Out of memory while receiving never spins: the inline
 * path retries after RETRY_MS, the receive thread counts what it had to discard (and the
 * read-ahead fails with ENOMEM when it has no chunk at all).
 *
 * Synchronous failures throw an Error with { errno, syscall } (the name of the errno is
 * attached in TypeScript); bad arguments throw a TypeError.
 *
 * Fault injection (tests only): _fault("realloc" | "scope" | "chunk", n) makes the next
 * n buffer reallocations in drain / N-API handle scopes when the receive thread's batches
 * are handed to JS / chunk allocations of the receive thread fail, so the recovery paths
 * can be tested; it returns how many failures of the previous setting were still left.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/netlink.h>

#include <node_api.h>
#include <uv.h>

#include "progname.h"

#define RECV_MAX_DATAGRAMS 256
#define RECV_MAX_BYTES (1u << 20)
#define RECV_MIN_AREA (64u * 1024u)
#define RECV_FLAG_TRUNCATED 1u
#define RECV_FLAG_OVERRUN 2u
#define RECV_FLAG_LOCAL_DROP 4u
#define META_STRIDE 6
#define RETRY_MS 20
/* Receive thread chunks: data bytes, and meta rows (one per datagram or marker). */
#define CHUNK_DATA_MAX (1u << 20)
#define CHUNK_DATA_MIN (128u * 1024u)
#define CHUNK_ITEMS_DIV 128u
#define CHUNK_KEEP 4           /* idle chunks kept for reuse; the rest go back to the OS */
#define DELIVER_BUDGET (8u << 20) /* bytes handed to JS per async wake-up before yielding */
/* Receive-thread coalescing (issue 14): when a drain found fewer than RX_COALESCE_MIN
 * datagrams (a paced stream, one event at a time), the thread waits RX_COALESCE_MS before
 * polling again, so the next wake-up takes a batch: one poll, one EAGAIN and one JS
 * wake-up per batch instead of per event. A burst drains >= RX_COALESCE_MIN per pass and
 * never waits; the first event after a quiet spell is handed on at once. The kernel queue
 * holds the millisecond (at 1M events/s, ~1 MB; the event socket's buffer is larger). */
#define RX_COALESCE_MIN 32
#define RX_COALESCE_MS 1
/* JS wake-ups (issue 14, listening CPU): each costs the main thread an epoll return, an
 * N-API call into JS, microtasks and an output write (measured: ~0.4 ms of CPU per wake-up
 * at 10k events/s on this VM, more than the events it carries), so the thread signals JS
 * once per RX_SIGNAL_ROWS rows committed, or once the oldest row not yet signalled is
 * RX_HOLD_MS old, not once per drain. The first row after a quiet spell (no signal for
 * RX_HOLD_MS) is signalled at once, so a lone event sees no delay; a steady stream waits
 * at most RX_HOLD_MS (a flood fills RX_SIGNAL_ROWS in ~1-3 ms). setReceiveThread's holdMs
 * sets another bound per socket (0: JS is signalled after every drain and the thread never
 * waits for a paced stream to gather either: latency before CPU). */
#define RX_SIGNAL_ROWS 1024
#define RX_HOLD_MS 40
/* The receive thread takes up to RX_MMSG datagrams per recvmmsg (issue 14): one system
 * call (entry, fd lookup, libc wrapper) per RX_MMSG datagrams instead of one each, and no
 * EAGAIN call when fewer were queued. Each lands in a staging slot of rx->need bytes (the
 * largest datagram a recvmsg would get), then is copied into the chunk, back to back. */
#define RX_MMSG 16
/* Read-ahead (dumps): the receive thread in lossless mode. RA_BUFFER bounds how far it
 * reads ahead of JavaScript (4 chunks of 256 KiB: ~4,000 entries); RA_MMSG datagrams per
 * recvmmsg, fewer than RX_MMSG because each dump datagram is built inside that call, so
 * JS would wait for all of them before its first batch (measured: 1-4 all faster than 16). */
#define RA_BUFFER (1u << 20)
#define RA_MMSG 4

/* ---- fault injection (tests) ------------------------------------------- */

static atomic_int fault_realloc, fault_scope, fault_chunk;

static int fault_hit(atomic_int *f) {
  int v = atomic_load(f);
  while (v > 0) {
    if (atomic_compare_exchange_weak(f, &v, v - 1)) return 1;
  }
  return 0;
}

/* ---- receive thread state ---------------------------------------------- */

typedef struct rx_chunk {
  struct rx_chunk *next;
  size_t used, count;             /* committed by the thread (under mu) */
  size_t taken_used, taken_count; /* handed to JS (main thread only) */
  uint8_t *data;   /* chunk_data bytes */
  uint32_t *meta;  /* chunk_items * META_STRIDE words */
} rx_chunk;

typedef struct rx_state {
  pthread_t tid;
  int started;
  int wake_fd;               /* eventfd: stop, or "publish what you hold" */
  atomic_int stop;
  pthread_mutex_t mu;
  /* under mu */
  rx_chunk *head, *tail;     /* in use, oldest first; the thread fills the tail */
  rx_chunk *idle;            /* free chunks */
  size_t idle_count;
  size_t chunks;             /* allocated chunks, wherever they are */
  int drops_waiting;         /* the thread discarded messages and waits for room to say so */
  int err;                   /* fatal recvmsg errno; the thread has ended */
  int ended;
  uint64_t local_drops;      /* messages discarded so far (all time) */
  /* set at start, read-only afterwards */
  size_t max_chunks, chunk_data, chunk_items, need;
  int hold_ms;               /* RX_HOLD_MS unless setReceiveThread said otherwise */
  int lossless;              /* read-ahead (dumps): wait for room, never discard */
  int mmsg;                  /* datagrams per recvmmsg: RX_MMSG, or RA_MMSG (read-ahead) */
  int room_waiting;          /* under mu: the thread waits on `room` for a chunk back */
  pthread_cond_t room;
  const char *err_call;      /* the system call that failed with err */
  int fd;
  uv_async_t *async;
  pn_state *pn;              /* requester names (progname.c), or NULL */
} rx_state;

typedef struct nlsock {
  napi_env env;
  int fd;
  int closed;
  int paused;
  int unrefd;
  uv_poll_t *poll;          /* allocated by start(); freed by its uv_close callback */
  uv_timer_t *retry;        /* re-arms receiving after a transient failure (ENOMEM, N-API) */
  napi_ref self;            /* strong while receiving: keeps the wrapper alive */
  napi_ref on_batch;
  napi_ref on_error;
  napi_async_context actx;
  uint8_t *scratch;         /* recvmsg target; copied once per batch into an ArrayBuffer */
  size_t scratch_cap;
  uint32_t meta[RECV_MAX_DATAGRAMS * META_STRIDE];
  size_t max_sent;          /* largest datagram sent; its error echo must fit */
  size_t max_bytes;         /* batch bound in bytes (RECV_MAX_BYTES unless set lower) */
  double ns_ino;            /* nsfs inode of the namespace the socket was created in via a path */
  /* Read-ahead (dumps): the receive thread reads on while JS decodes, and waits instead
   * of discarding when its buffer is full (see "Read-ahead" above). */
  int readahead;
  /* Receive thread (subscriptions). */
  size_t rx_buffer;         /* 0: no thread */
  int rx_hold_ms;           /* setReceiveThread's holdMs, or -1: RX_HOLD_MS */
  rx_state *rx;
  /* Requesters' program names (setProgramNames; progname.c). */
  int want_names;
  pn_state *pn;
} nlsock;

/* ---- errors ------------------------------------------------------------ */

static napi_value errno_error(napi_env env, int err, const char *syscall) {
  char text[256];
  napi_value msg, e, v;
  snprintf(text, sizeof text, "%s: %s", syscall, strerror(err));
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &e);
  napi_create_int32(env, err, &v);
  napi_set_named_property(env, e, "errno", v);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, e, "syscall", v);
  return e;
}

static napi_value throw_errno(napi_env env, int err, const char *syscall) {
  napi_throw(env, errno_error(env, err, syscall));
  return NULL;
}

#define CHECK_NAPI(env, call)                                        \
  do {                                                               \
    if ((call) != napi_ok) {                                         \
      bool pending_ = false;                                         \
      napi_is_exception_pending((env), &pending_);                   \
      if (!pending_) napi_throw_error((env), NULL, "napi: " #call);  \
      return NULL;                                                   \
    }                                                                \
  } while (0)

/* A path argument: a string without NUL bytes, shorter than PATH_MAX. Returns 0, or -1
 * with a JS exception pending (TypeError; ENAMETOOLONG as an errno error). */
static int get_path(napi_env env, napi_value v, char *out, size_t cap, const char *what, const char *syscall) {
  napi_valuetype t = napi_undefined;
  size_t len = 0;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string ||
      napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    char m[128];
    snprintf(m, sizeof m, "%s must be a string", what);
    napi_throw_type_error(env, NULL, m);
    return -1;
  }
  if (len >= cap) { throw_errno(env, ENAMETOOLONG, syscall); return -1; }
  size_t got = 0;
  if (napi_get_value_string_utf8(env, v, out, cap, &got) != napi_ok) {
    napi_throw_type_error(env, NULL, "path conversion failed");
    return -1;
  }
  if (strlen(out) != got || got == 0) {
    /* A NUL inside the path would silently cut it at the system call: refuse. */
    char m[160];
    snprintf(m, sizeof m, "%s %s", what, got == 0 ? "is empty" : "contains a NUL byte");
    napi_value code, msg, e;
    napi_create_string_utf8(env, m, NAPI_AUTO_LENGTH, &msg);
    napi_create_string_utf8(env, "ERR_INVALID_ARG_VALUE", NAPI_AUTO_LENGTH, &code);
    napi_create_type_error(env, code, msg, &e);
    napi_throw(env, e);
    return -1;
  }
  return 0;
}

/* ---- namespaces: work on a short-lived thread -------------------------- */

typedef struct ns_job {
  const char *ns_path;
  int mode;                 /* 0: create a socket; 1: read a file */
  int protocol;
  const char *file;
  size_t max;
  uint8_t *buf;             /* mode 1: malloc'd by the thread, owned by the caller after */
  size_t len;
  int fd;
  int err;
  const char *failed;
  double ns_ino;
} ns_job;

static int open_socket(int protocol) {
  return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
}

static void *ns_thread(void *arg) {
  ns_job *j = arg;
  int target = open(j->ns_path, O_RDONLY | O_CLOEXEC);
  if (target < 0) { j->err = errno; j->failed = "open"; return NULL; }
  struct stat st;
  if (fstat(target, &st) == 0) j->ns_ino = (double)st.st_ino;
  if (setns(target, CLONE_NEWNET) < 0) {
    j->err = errno; j->failed = "setns";
    close(target);
    return NULL;
  }
  close(target);
  /* This thread is now inside the target namespace; it ends right after, so nothing
   * ever has to come back. */
  if (j->mode == 0) {
    j->fd = open_socket(j->protocol);
    if (j->fd < 0) { j->err = errno; j->failed = "socket"; }
    return NULL;
  }
  j->buf = malloc(j->max);
  if (j->buf == NULL) { j->err = ENOMEM; j->failed = "read"; return NULL; }
  int fd = open(j->file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) { j->err = errno; j->failed = "open"; return NULL; }
  size_t total = 0;
  for (;;) {
    ssize_t n = read(fd, j->buf + total, j->max - total);
    if (n < 0) { if (errno == EINTR) continue; j->err = errno; j->failed = "read"; break; }
    if (n == 0 || (total += (size_t)n) >= j->max) break;
  }
  close(fd);
  j->len = total;
  return NULL;
}

/* Runs the job on its own thread and waits for it. Returns 0 or the errno (j->failed). */
static int ns_run(ns_job *j) {
  pthread_t t;
  j->fd = -1;
  j->err = 0;
  j->failed = "";
  int r = pthread_create(&t, NULL, ns_thread, j);
  if (r != 0) { j->err = r; j->failed = "pthread_create"; return r; }
  pthread_join(t, NULL);
  return j->err;
}

/* ---- lifecycle --------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h) { free(h); }

static void cleanup_hook(void *arg);
static void rx_stop(nlsock *s);

/* Stops everything; after this no callback reaches JavaScript. Idempotent. */
static void do_close(nlsock *s, int from_hook) {
  if (s->closed) return;
  s->closed = 1;
  rx_stop(s); /* joins the receive thread before the fd can be closed */
  pn_stop(s->pn); /* after the receive thread, its only other user */
  s->pn = NULL;
  if (s->poll != NULL) {
    s->poll->data = NULL;
    uv_close((uv_handle_t *)s->poll, on_handle_closed); /* stops polling now */
    s->poll = NULL;
  }
  if (s->retry != NULL) {
    s->retry->data = NULL;
    uv_close((uv_handle_t *)s->retry, on_handle_closed);
    s->retry = NULL;
  }
  if (s->fd >= 0) {
    close(s->fd); /* after rx_stop: no thread of ours is inside recvmsg on it */
    s->fd = -1;
  }
  if (s->on_batch) { napi_delete_reference(s->env, s->on_batch); s->on_batch = NULL; }
  if (s->on_error) { napi_delete_reference(s->env, s->on_error); s->on_error = NULL; }
  if (s->actx) { napi_async_destroy(s->env, s->actx); s->actx = NULL; }
  if (s->self) { napi_delete_reference(s->env, s->self); s->self = NULL; }
  free(s->scratch);
  s->scratch = NULL;
  s->scratch_cap = 0;
  if (!from_hook) napi_remove_env_cleanup_hook(s->env, cleanup_hook, s);
}

static void cleanup_hook(void *arg) { do_close((nlsock *)arg, 1); }

static void finalize(napi_env env, void *data, void *hint) {
  nlsock *s = data;
  do_close(s, 0);
  free(s);
}

static nlsock *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "not an NlSocket");
    return NULL;
  }
  return data;
}

static nlsock *unwrap_open(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv,
                           const char *syscall) {
  nlsock *s = unwrap(env, info, argc, argv);
  if (s != NULL && s->closed) {
    throw_errno(env, EBADF, syscall);
    return NULL;
  }
  return s;
}

/* ---- methods ----------------------------------------------------------- */

static napi_value js_new(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self, target;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  CHECK_NAPI(env, napi_get_new_target(env, info, &target));
  if (target == NULL) {
    napi_throw_type_error(env, NULL, "NlSocket must be called with new");
    return NULL;
  }
  int32_t protocol;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &protocol) != napi_ok) {
    napi_throw_type_error(env, NULL, "protocol must be a number");
    return NULL;
  }
  napi_valuetype t = napi_undefined;
  if (argc >= 2) napi_typeof(env, argv[1], &t);
  int fd;
  double ns_ino = 0;
  if (t == napi_string) {
    char path[PATH_MAX];
    if (get_path(env, argv[1], path, sizeof path, "netns path", "open") < 0) return NULL;
    ns_job j = { .ns_path = path, .mode = 0, .protocol = protocol };
    if (ns_run(&j) != 0) return throw_errno(env, j.err, j.failed);
    fd = j.fd;
    ns_ino = j.ns_ino;
  } else if (t == napi_undefined || t == napi_null) {
    fd = open_socket(protocol);
    if (fd < 0) return throw_errno(env, errno, "socket");
  } else {
    napi_throw_type_error(env, NULL, "netns path must be a string or null");
    return NULL;
  }
  nlsock *s = calloc(1, sizeof *s);
  if (s == NULL) {
    close(fd);
    return throw_errno(env, ENOMEM, "socket");
  }
  s->env = env;
  s->rx_hold_ms = -1;
  s->fd = fd;
  s->ns_ino = ns_ino;
  s->max_bytes = RECV_MAX_BYTES;
  if (napi_wrap(env, self, s, finalize, NULL, NULL) != napi_ok) {
    close(fd);
    free(s);
    napi_throw_error(env, NULL, "napi_wrap failed");
    return NULL;
  }
  napi_add_env_cleanup_hook(env, cleanup_hook, s);
  return self;
}

/* A uint32 argument; a TypeError (pending) and -1 when it is not one. */
static int get_u32(napi_env env, napi_value v, uint32_t *out, const char *what) {
  napi_valuetype t = napi_undefined;
  double d = 0;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number || napi_get_value_double(env, v, &d) != napi_ok ||
      !(d >= 0 && d <= 4294967295.0) || d != (double)(uint32_t)d) {
    char m[128];
    snprintf(m, sizeof m, "%s must be an integer 0..4294967295", what);
    napi_throw_type_error(env, NULL, m);
    return -1;
  }
  *out = (uint32_t)d;
  return 0;
}

static napi_value js_bind(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  nlsock *s = unwrap_open(env, info, &argc, argv, "bind");
  if (s == NULL) return NULL;
  uint32_t portid = 0, groups = 0;
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "bind(portid, groups) takes two numbers");
    return NULL;
  }
  if (get_u32(env, argv[0], &portid, "bind portid") < 0 || get_u32(env, argv[1], &groups, "bind groups") < 0) return NULL;
  struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_pid = portid, .nl_groups = groups };
  if (bind(s->fd, (struct sockaddr *)&sa, sizeof sa) < 0) return throw_errno(env, errno, "bind");
  socklen_t len = sizeof sa;
  if (getsockname(s->fd, (struct sockaddr *)&sa, &len) < 0) return throw_errno(env, errno, "getsockname");
  CHECK_NAPI(env, napi_create_uint32(env, sa.nl_pid, &out));
  return out;
}

static napi_value js_setsockopt(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  nlsock *s = unwrap_open(env, info, &argc, argv, "setsockopt");
  if (s == NULL) return NULL;
  int32_t level = 0, name = 0, value = 0;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &level) != napi_ok ||
      napi_get_value_int32(env, argv[1], &name) != napi_ok ||
      napi_get_value_int32(env, argv[2], &value) != napi_ok) {
    napi_throw_type_error(env, NULL, "setsockopt(level, name, value) takes three numbers");
    return NULL;
  }
  int v = value;
  if (setsockopt(s->fd, level, name, &v, sizeof v) < 0) return throw_errno(env, errno, "setsockopt");
  return NULL;
}

static napi_value js_getsockopt(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  nlsock *s = unwrap_open(env, info, &argc, argv, "getsockopt");
  if (s == NULL) return NULL;
  int32_t level = 0, name = 0;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &level) != napi_ok ||
      napi_get_value_int32(env, argv[1], &name) != napi_ok) {
    napi_throw_type_error(env, NULL, "getsockopt(level, name) takes two numbers");
    return NULL;
  }
  int v = 0;
  socklen_t len = sizeof v;
  if (getsockopt(s->fd, level, name, &v, &len) < 0) return throw_errno(env, errno, "getsockopt");
  CHECK_NAPI(env, napi_create_int32(env, v, &out));
  return out;
}

/* getsockopt returning raw bytes (e.g. SO_MEMINFO's u32 array): (level, name, size) -> ArrayBuffer. */
static napi_value js_getsockopt_bytes(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], out;
  nlsock *s = unwrap_open(env, info, &argc, argv, "getsockopt");
  if (s == NULL) return NULL;
  int32_t level = 0, name = 0, size = 0;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &level) != napi_ok ||
      napi_get_value_int32(env, argv[1], &name) != napi_ok ||
      napi_get_value_int32(env, argv[2], &size) != napi_ok || size <= 0 || size > 4096) {
    napi_throw_type_error(env, NULL, "getsockoptBytes(level, name, size) takes three numbers, size 1..4096");
    return NULL;
  }
  void *data = NULL;
  CHECK_NAPI(env, napi_create_arraybuffer(env, (size_t)size, &data, &out));
  memset(data, 0, (size_t)size);
  socklen_t len = (socklen_t)size;
  if (getsockopt(s->fd, level, name, data, &len) < 0) return throw_errno(env, errno, "getsockopt");
  return out;
}

/* setBatchBytes(n): hand JavaScript at most about n bytes per onBatch call (at least
 * one datagram). A dump is produced one datagram per recvmsg, so a small bound keeps the
 * decoded entries of one turn few and short-lived; event sockets keep the large bound. */
static napi_value js_set_batch_bytes(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  nlsock *s = unwrap_open(env, info, &argc, argv, "setBatchBytes");
  if (s == NULL) return NULL;
  int32_t n = 0;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n <= 0) {
    napi_throw_type_error(env, NULL, "setBatchBytes(n) takes a positive number");
    return NULL;
  }
  s->max_bytes = (size_t)n < RECV_MAX_BYTES ? (size_t)n : RECV_MAX_BYTES;
  return NULL;
}

/* setReadAhead(on): receive on the receive thread, lossless, ahead of JavaScript (dumps;
 * see "Read-ahead" above). Before start(). */
static napi_value js_set_read_ahead(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  nlsock *s = unwrap_open(env, info, &argc, argv, "setReadAhead");
  if (s == NULL) return NULL;
  bool on = false;
  if (argc < 1 || napi_get_value_bool(env, argv[0], &on) != napi_ok) {
    napi_throw_type_error(env, NULL, "setReadAhead(on) takes a boolean");
    return NULL;
  }
  if (s->poll != NULL || s->rx != NULL) {
    napi_throw_error(env, NULL, "setReadAhead() must come before start()");
    return NULL;
  }
  if (on && s->rx_buffer > 0) {
    napi_throw_error(env, NULL, "setReadAhead() and setReceiveThread() exclude each other");
    return NULL;
  }
  s->readahead = on ? 1 : 0;
  return NULL;
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  nlsock *s = unwrap_open(env, info, &argc, argv, "sendto");
  if (s == NULL) return NULL;
  void *data = NULL;
  size_t len = 0;
  bool is_ta = false, is_ab = false;
  if (argc >= 1) napi_is_typedarray(env, argv[0], &is_ta);
  if (argc >= 1 && !is_ta) napi_is_arraybuffer(env, argv[0], &is_ab);
  if (is_ta) {
    napi_typedarray_type type;
    size_t n;
    CHECK_NAPI(env, napi_get_typedarray_info(env, argv[0], &type, &n, &data, NULL, NULL));
    if (type != napi_uint8_array && type != napi_int8_array && type != napi_uint8_clamped_array) {
      napi_throw_type_error(env, NULL, "send() takes a Uint8Array");
      return NULL;
    }
    len = n;
  } else if (is_ab) {
    CHECK_NAPI(env, napi_get_arraybuffer_info(env, argv[0], &data, &len));
  } else {
    napi_throw_type_error(env, NULL, "send() takes a Uint8Array");
    return NULL;
  }
  struct sockaddr_nl to = { .nl_family = AF_NETLINK, .nl_pid = 0, .nl_groups = 0 };
  ssize_t n;
  do {
    n = sendto(s->fd, data, len, 0, (struct sockaddr *)&to, sizeof to);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return throw_errno(env, errno, "sendto");
  if (len > s->max_sent) s->max_sent = len;
  CHECK_NAPI(env, napi_create_uint32(env, (uint32_t)n, &out));
  return out;
}

/* setReceiveThread(bufferBytes[, holdMs]): receive on a dedicated thread into a buffer of
 * at most bufferBytes; signal JS at least every holdMs (0..1000) in a steady stream (see
 * RX_HOLD_MS). Before start(); not with read-ahead. */
static napi_value js_set_receive_thread(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  nlsock *s = unwrap_open(env, info, &argc, argv, "setReceiveThread");
  if (s == NULL) return NULL;
  double n = 0;
  if (argc < 1 || napi_get_value_double(env, argv[0], &n) != napi_ok || !(n >= 2.0 * CHUNK_DATA_MIN) || n > 1099511627776.0) {
    napi_throw_type_error(env, NULL, "setReceiveThread(bytes) takes a number of bytes, at least 256 KiB");
    return NULL;
  }
  if (s->poll != NULL || s->rx != NULL) {
    napi_throw_error(env, NULL, "setReceiveThread() must come before start()");
    return NULL;
  }
  double hold = -1;
  if (argc >= 2) {
    napi_valuetype t;
    if (napi_typeof(env, argv[1], &t) != napi_ok || (t != napi_undefined && (napi_get_value_double(env, argv[1], &hold) != napi_ok || !(hold >= 0 && hold <= 1000)))) {
      napi_throw_type_error(env, NULL, "setReceiveThread(bytes, holdMs): holdMs is a number of milliseconds, 0 to 1000");
      return NULL;
    }
  }
  s->rx_buffer = (size_t)n;
  s->rx_hold_ms = hold < 0 ? -1 : (int)hold;
  s->readahead = 0;
  return NULL;
}

/* setProgramNames(on): look up the program behind each event's nlmsg_pid as it arrives
 * (progname.c). Before start(). */
static napi_value js_set_program_names(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  nlsock *s = unwrap_open(env, info, &argc, argv, "setProgramNames");
  if (s == NULL) return NULL;
  bool on = false;
  if (argc < 1 || napi_get_value_bool(env, argv[0], &on) != napi_ok) {
    napi_throw_type_error(env, NULL, "setProgramNames(on) takes a boolean");
    return NULL;
  }
  if (s->poll != NULL || s->rx != NULL) {
    napi_throw_error(env, NULL, "setProgramNames() must come before start()");
    return NULL;
  }
  s->want_names = on;
  return NULL;
}

/* programName(portid, waitMs) -> name | null (looked up, none found) | undefined (never
 * asked for: no lookup thread, queue full, or evicted). Waits up to waitMs (0..1000) for
 * a lookup in progress. */
static napi_value js_program_name(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  nlsock *s = unwrap(env, info, &argc, argv);
  if (s == NULL) return NULL;
  uint32_t portid = 0, wait = 0;
  if (argc < 1 || napi_get_value_uint32(env, argv[0], &portid) != napi_ok) {
    napi_throw_type_error(env, NULL, "programName(portid, waitMs) takes numbers");
    return NULL;
  }
  if (argc >= 2 && napi_get_value_uint32(env, argv[1], &wait) != napi_ok) wait = 0;
  if (wait > 1000) wait = 1000;
  char name[64];
  int r = s->closed ? -1 : pn_get(s->pn, portid, name, sizeof name, (int)wait);
  if (r > 0) CHECK_NAPI(env, napi_create_string_latin1(env, name, NAPI_AUTO_LENGTH, &out));
  else if (r == 0) CHECK_NAPI(env, napi_get_null(env, &out));
  else CHECK_NAPI(env, napi_get_undefined(env, &out));
  return out;
}

/* programNameStats() -> { lookups, found, dropped } of the lookup thread (zeros without one). */
static napi_value js_program_name_stats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value out, v;
  nlsock *s = unwrap(env, info, &argc, NULL);
  if (s == NULL) return NULL;
  uint64_t lookups, dropped, found;
  pn_stats(s->closed ? NULL : s->pn, &lookups, &dropped, &found);
  CHECK_NAPI(env, napi_create_object(env, &out));
  napi_create_double(env, (double)lookups, &v);
  napi_set_named_property(env, out, "lookups", v);
  napi_create_double(env, (double)found, &v);
  napi_set_named_property(env, out, "found", v);
  napi_create_double(env, (double)dropped, &v);
  napi_set_named_property(env, out, "dropped", v);
  return out;
}

static napi_value js_netns_inode(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value out;
  nlsock *s = unwrap(env, info, &argc, NULL);
  if (s == NULL) return NULL;
  CHECK_NAPI(env, napi_create_double(env, s->ns_ino, &out));
  return out;
}

/* ---- receiving --------------------------------------------------------- */

/* Calls a stored JS function as a top-level callback (async hooks, microtasks);
 * an exception it throws becomes an uncaught exception, as with any I/O callback. */
static void call_js(nlsock *s, napi_value self, napi_ref fn_ref, size_t argc, napi_value *argv) {
  napi_env env = s->env;
  napi_value fn, result;
  if (fn_ref == NULL || napi_get_reference_value(env, fn_ref, &fn) != napi_ok || fn == NULL) return;
  if (napi_make_callback(env, s->actx, self, fn, argc, argv, &result) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
      napi_fatal_exception(env, exc);
    }
  }
}

/* An ArrayBuffer of exactly `len` bytes holding a copy of `src`: napi_create_buffer_copy
 * (not zero-filled first, unlike napi_create_arraybuffer), else a zeroed one and memcpy. */
static int copy_arraybuffer(napi_env env, const void *src, size_t len, napi_value *out) {
  void *p, *d;
  napi_value buf, ab;
  napi_typedarray_type type;
  size_t n, off, ab_len;
  if (len > 0 && napi_create_buffer_copy(env, len, src, &p, &buf) == napi_ok &&
      napi_get_typedarray_info(env, buf, &type, &n, &d, &ab, &off) == napi_ok && off == 0 &&
      napi_get_arraybuffer_info(env, ab, &d, &ab_len) == napi_ok && ab_len == len) {
    *out = ab;
    return 0;
  }
  if (napi_create_arraybuffer(env, len, &p, out) != napi_ok) return -1;
  if (len > 0) memcpy(p, src, len);
  return 0;
}

/* Returns 0 when JS got the batch, -1 when an N-API call failed before the call. */
static int deliver_from(nlsock *s, napi_value self, const uint8_t *buf, const uint32_t *metas,
                        size_t used, size_t count) {
  napi_env env = s->env;
  napi_value data, meta_ab, meta;
  if (s->pn != NULL && s->rx == NULL) {
    /* No receive thread: note the requesters here, before JS decodes the batch. */
    const uint8_t *d = buf;
    for (size_t i = 0; i < count; i++) {
      const uint32_t *m = &metas[i * META_STRIDE];
      if (m[0] > 0 && m[1] == 0) pn_note(s->pn, d, m[0], 0);
      d += m[0];
    }
  }
  if (copy_arraybuffer(env, buf, used, &data) != 0) return -1;
  size_t words = count * META_STRIDE;
  if (copy_arraybuffer(env, metas, words * sizeof(uint32_t), &meta_ab) != 0) return -1;
  if (napi_create_typedarray(env, napi_uint32_array, words, meta_ab, 0, &meta) != napi_ok) return -1;
  napi_value argv[2] = { data, meta };
  call_js(s, self, s->on_batch, 2, argv);
  return 0;
}

static void deliver_error(nlsock *s, napi_value self, int err, const char *syscall) {
  napi_value argv[1] = { errno_error(s->env, err, syscall) };
  call_js(s, self, s->on_error, 1, argv);
}

static void stamp(uint32_t *m) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  m[4] = (uint32_t)ts.tv_sec;
  m[5] = (uint32_t)ts.tv_nsec;
}

/* Reads datagrams with MSG_DONTWAIT into *buf (grown as needed, keeping room for the
 * largest datagram plus the echo of our largest request) until EAGAIN, RECV_MAX_DATAGRAMS
 * items or about max_bytes. One META_STRIDE row per item; ENOBUFS becomes an overrun row
 * and reading goes on. Returns 0 or the errno that stopped it; ENOMEM only when nothing
 * could be read (no memory for the buffer; the caller retries later, never spins). */
static int drain(int fd, uint8_t **buf, size_t *cap, uint32_t *meta, size_t max_bytes,
                 size_t max_sent, size_t *used_out, size_t *count_out) {
  size_t need = RECV_MIN_AREA;
  if (max_sent + 4096 > need) need = max_sent + 4096;
  size_t used = 0, count = 0;
  int err = 0;
  while (count < RECV_MAX_DATAGRAMS && used < max_bytes) {
    if (*cap - used < need) {
      size_t want = used + need;
      if (want < max_bytes + need) want = max_bytes + need;
      uint8_t *p = fault_hit(&fault_realloc) ? NULL : realloc(*buf, want);
      if (p == NULL) {
        if (count == 0) err = ENOMEM;
        break;
      }
      *buf = p;
      *cap = want;
    }
    struct sockaddr_nl from;
    struct iovec iov = { .iov_base = *buf + used, .iov_len = *cap - used };
    struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1 };
    memset(&from, 0, sizeof from);
    /* MSG_TRUNC: the return value is the datagram's real length even if it did not fit. */
    ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_TRUNC);
    uint32_t *m = &meta[count * META_STRIDE];
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == ENOBUFS) {
        m[0] = 0; m[1] = 0; m[2] = 0; m[3] = RECV_FLAG_OVERRUN;
        stamp(m);
        count++;
        continue;
      }
      err = errno;
      break;
    }
    stamp(m);
    size_t got = (size_t)n < iov.iov_len ? (size_t)n : iov.iov_len;
    m[0] = (uint32_t)got;
    m[1] = from.nl_pid;
    m[2] = from.nl_groups;
    m[3] = (mh.msg_flags & MSG_TRUNC) || (size_t)n > iov.iov_len ? RECV_FLAG_TRUNCATED : 0;
    used += got;
    count++;
  }
  *used_out = used;
  *count_out = count;
  return err;
}

static int poll_apply(nlsock *s);

static void retry_later(nlsock *s, uint64_t ms);

static void on_retry(uv_timer_t *t) {
  nlsock *s = t->data;
  if (s == NULL || s->closed) return;
  poll_apply(s);
}

static void retry_later(nlsock *s, uint64_t ms) {
  if (s->poll != NULL) uv_poll_stop(s->poll);
  if (s->retry != NULL) uv_timer_start(s->retry, on_retry, ms, 0);
}

static void on_readable(uv_poll_t *h, int status, int events) {
  nlsock *s = h->data;
  if (s == NULL || s->closed) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_value self = NULL;
  if (napi_open_handle_scope(env, &scope) != napi_ok) { retry_later(s, RETRY_MS); return; }
  /* Holding the wrapper in this scope keeps `s` alive even if JS closes and drops it. */
  napi_get_reference_value(env, s->self, &self);

  /* libuv reports POLLERR as status UV_EBADF and stops the handle. A netlink socket
   * signals a pending sk_err that way, typically ENOBUFS after an overrun; recvmsg
   * below returns (and clears) it, so drain as usual and then poll again. */
  int pollerr = status < 0;

  size_t used = 0, count = 0;
  int err = drain(s->fd, &s->scratch, &s->scratch_cap, s->meta, s->max_bytes, s->max_sent, &used, &count);
  const char *failed = "recvmsg";
  if (err == ENOMEM && count == 0) {
    /* No memory for the receive buffer: the kernel keeps the data; retry after a pause
     * instead of letting the level-triggered poll spin. */
    retry_later(s, RETRY_MS);
    napi_close_handle_scope(env, scope);
    return;
  }
  if (pollerr && err == 0 && count == 0) {
    /* Nothing to read yet an error condition: take sk_err directly, never spin. */
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) soerr = errno;
    if (soerr == ENOBUFS) {
      s->meta[0] = 0; s->meta[1] = 0; s->meta[2] = 0; s->meta[3] = RECV_FLAG_OVERRUN;
      stamp(s->meta);
      count = 1;
    } else {
      err = soerr != 0 ? soerr : -status;
      failed = soerr != 0 ? "recvmsg" : "poll";
    }
  }
  if (err != 0) {
    if (s->poll != NULL) uv_poll_stop(s->poll);
  } else if (pollerr) {
    poll_apply(s); /* libuv stopped the handle; restart unless paused */
  }
  if (count > 0) deliver_from(s, self, s->scratch, s->meta, used, count);
  if (err != 0 && !s->closed) deliver_error(s, self, err, failed);
  napi_close_handle_scope(env, scope);
}

static int poll_apply(nlsock *s) {
  if (s->poll == NULL || s->closed) return 0;
  if (s->paused) return uv_poll_stop(s->poll);
  return uv_poll_start(s->poll, UV_READABLE, on_readable);
}

/* ---- receive thread ---------------------------------------------------- */
/*
 * The chunks form a list head..tail. The thread appends datagrams (and marker rows) to
 * the tail beyond what it has committed, and commits each one (used/count) under mu;
 * the main thread hands the committed part of the head chunk to JS (its own cursor
 * taken_used/taken_count), and returns a chunk once it is not the tail and fully taken.
 * So a trickle fills one chunk instead of taking one per datagram, and the bound is on
 * chunks (memory), not on what they hold.
 */

/* Chunks are mapped, not malloc'd: a freed backlog goes back to the OS at once (malloc
 * would keep it in the receive thread's arena), so memory after a burst is flat again. */
static size_t rx_chunk_bytes(const rx_state *rx) {
  return rx->chunk_data + rx->chunk_items * META_STRIDE * sizeof(uint32_t);
}

static void rx_chunk_free_sz(rx_chunk *c, size_t bytes) {
  if (c == NULL) return;
  munmap(c->data, bytes);
  free(c);
}

/* A chunk to fill: an idle one, or a new one while under the bound; NULL when full.
 * Called with rx->mu held. */
static rx_chunk *rx_take_chunk(rx_state *rx) {
  rx_chunk *c = rx->idle;
  if (c != NULL) {
    rx->idle = c->next;
    rx->idle_count--;
  } else {
    if (rx->chunks >= rx->max_chunks || fault_hit(&fault_chunk)) return NULL;
    c = calloc(1, sizeof *c);
    if (c == NULL) return NULL;
    void *m = mmap(NULL, rx_chunk_bytes(rx), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) { free(c); return NULL; }
    c->data = m;
    c->meta = (uint32_t *)((uint8_t *)m + rx->chunk_data);
    rx->chunks++;
  }
  c->next = NULL;
  c->used = c->count = 0;
  c->taken_used = c->taken_count = 0;
  if (rx->tail != NULL) rx->tail->next = c;
  else rx->head = c;
  rx->tail = c;
  return c;
}

/* Returns a delivered chunk (rx->mu held; it is already off the list). */
static void rx_give_back(rx_state *rx, rx_chunk *c) {
  if (rx->idle_count < CHUNK_KEEP) {
    c->next = rx->idle;
    rx->idle = c;
    rx->idle_count++;
  } else {
    rx_chunk_free_sz(c, rx_chunk_bytes(rx));
    rx->chunks--;
  }
}

/* Netlink messages in a datagram (for the count of what had to be discarded). */
static uint32_t count_messages(const uint8_t *p, size_t len) {
  uint32_t n = 0;
  size_t off = 0;
  while (off + sizeof(struct nlmsghdr) <= len) {
    const struct nlmsghdr *h = (const struct nlmsghdr *)(p + off);
    if (h->nlmsg_len < sizeof(struct nlmsghdr)) break;
    n++;
    off += NLMSG_ALIGN(h->nlmsg_len);
  }
  return n > 0 ? n : 1;
}

static void rx_wake(rx_state *rx) {
  uint64_t one = 1;
  ssize_t w = write(rx->wake_fd, &one, sizeof one);
  (void)w;
}

/* The thread's chunk with room for one more datagram (or just a row when rows_only),
 * or NULL when the buffer is full. */
static rx_chunk *rx_room(rx_state *rx, int rows_only) {
  rx_chunk *t = rx->tail; /* only this thread changes tail */
  if (t != NULL && t->count + 2 <= rx->chunk_items && (rows_only || rx->chunk_data - t->used >= rx->need)) return t;
  pthread_mutex_lock(&rx->mu);
  t = rx_take_chunk(rx);
  /* Read-ahead: a full buffer means JS is behind; wait until it hands a chunk back (the
   * kernel builds the next dump datagram only when we read, so nothing waits in its queue
   * and nothing is lost). Without any chunk there is nothing to wait for: no memory. */
  while (t == NULL && rx->lossless && rx->chunks > 0 && !atomic_load(&rx->stop)) {
    rx->room_waiting = 1;
    uv_async_send(rx->async); /* JS may have taken everything already: let it look again */
    pthread_cond_wait(&rx->room, &rx->mu);
    rx->room_waiting = 0;
    t = rx_take_chunk(rx);
  }
  pthread_mutex_unlock(&rx->mu);
  return t;
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Our buffer was full and `c` messages were read and discarded: counted, and a marker row
 * is owed as soon as there is room (drops_waiting). */
static void rx_note_local_drops(rx_state *rx, uint32_t c) {
  pthread_mutex_lock(&rx->mu);
  rx->local_drops += c;
  rx->drops_waiting = 1;
  pthread_mutex_unlock(&rx->mu);
}

/* The kernel's queue overflowed (recvmsg/recvmmsg failed with ENOBUFS): a marker row, its
 * count read later from SO_MEMINFO. 1 if the row was committed, 0 without room. */
static int rx_mark_overrun(rx_state *rx) {
  rx_chunk *k = rx_room(rx, 1);
  if (k == NULL) return 0;
  uint32_t *m = &k->meta[k->count * META_STRIDE];
  m[0] = 0; m[1] = 0; m[2] = 0; m[3] = RECV_FLAG_OVERRUN;
  stamp(m);
  pthread_mutex_lock(&rx->mu);
  k->count++;
  pthread_mutex_unlock(&rx->mu);
  return 1;
}

/* Commits the datagram of `got` bytes at k->used (its receive time already in m[4..5]):
 * its row, the requester's name lookup, and the count under mu. */
static void rx_commit(rx_state *rx, rx_chunk *k, uint32_t *m, size_t got, const struct sockaddr_nl *from, int truncated) {
  m[0] = (uint32_t)got;
  m[1] = from->nl_pid;
  m[2] = from->nl_groups;
  m[3] = truncated ? RECV_FLAG_TRUNCATED : 0;
  /* Start naming the requester now: it may exit any moment (progname.c). */
  if (rx->pn != NULL && from->nl_pid == 0) pn_note(rx->pn, k->data + k->used, got, 1);
  pthread_mutex_lock(&rx->mu);
  k->used += got;
  k->count++;
  pthread_mutex_unlock(&rx->mu);
}

/* A burst (RX_SIGNAL_ROWS rows not yet signalled): JS starts on them while we read on. */
static void rx_signal_burst(rx_state *rx, size_t *unsignalled, size_t *committed, int64_t *signal_ms) {
  if (*unsignalled + *committed < RX_SIGNAL_ROWS) return;
  uv_async_send(rx->async);
  *signal_ms = mono_ms();
  *unsignalled = *committed = 0;
}

/* What a failed recvmsg/recvmmsg (errno e) means to the receive thread's drain loop. */
enum { RX_AGAIN, RX_EMPTY, RX_FATAL };
static int rx_recv_failed(rx_state *rx, int e, size_t *committed) {
  if (e == EINTR) return RX_AGAIN;
  if (e == EAGAIN || e == EWOULDBLOCK) return RX_EMPTY;
  if (e == ENOBUFS) {
    *committed += rx_mark_overrun(rx); /* the kernel dropped here: say so, read on */
    return RX_AGAIN;
  }
  return RX_FATAL;
}

static void *rx_main(void *arg) {
  rx_state *rx = arg;
  uint8_t *discard = malloc(RECV_MIN_AREA);
  uint64_t pending_drops = 0;
  prctl(PR_SET_NAME, "nlsock-rx", 0, 0, 0); /* per-thread CPU figures (top -H, /proc/PID/task) */
  /* recvmmsg staging (RX_MMSG slots); without the memory, one recvmsg per datagram. */
  uint8_t *stage = malloc((size_t)RX_MMSG * rx->need);
  struct mmsghdr mm[RX_MMSG];
  struct iovec iv[RX_MMSG];
  struct sockaddr_nl fr[RX_MMSG];
  /* Rows committed and not yet signalled to JS, since when; when JS was last signalled. */
  size_t unsignalled = 0;
  const int64_t hold = rx->hold_ms;
  int64_t first_ms = 0, signal_ms = -hold - 1;
  /* Into the socket's namespace, to name requesters inline (progname.c); this thread
   * does nothing else that depends on it. On failure the lookup thread names them. */
  if (rx->pn != NULL) pn_enter(rx->pn);
  int err = 0;
  const char *err_call = "recvmsg";
  struct pollfd pf[2] = { { .fd = rx->fd, .events = POLLIN }, { .fd = rx->wake_fd, .events = POLLIN } };
  for (;;) {
    if (atomic_load(&rx->stop)) break;
    int timeout = -1;
    if (unsignalled > 0) {
      int64_t left = first_ms + hold - mono_ms();
      if (left <= 0) {
        uv_async_send(rx->async);
        signal_ms = mono_ms();
        unsignalled = 0;
      } else {
        timeout = (int)left;
      }
    }
    int r = poll(pf, 2, timeout);
    if (r < 0 && errno != EINTR) { err = errno; break; }
    if (pf[1].revents & POLLIN) {
      uint64_t v;
      ssize_t rd = read(rx->wake_fd, &v, sizeof v);
      (void)rd;
      if (atomic_load(&rx->stop)) break;
    }
    size_t committed = 0;
    uint32_t drained = 0; /* datagrams received in this pass */
    /* Drain until EAGAIN (or until asked to stop: a sustained flood may never run dry,
     * and close() waits for this thread). */
    for (;;) {
      if (atomic_load_explicit(&rx->stop, memory_order_relaxed)) break;
      if (pending_drops > 0) {
        /* Say where messages were discarded, once there is room again for the next one
         * we keep (one marker per stretch of discarded messages, not one per message). */
        rx_chunk *t = rx_room(rx, 0);
        if (t != NULL) {
          uint32_t *m = &t->meta[t->count * META_STRIDE];
          m[0] = 0;
          m[1] = pending_drops > UINT32_MAX ? UINT32_MAX : (uint32_t)pending_drops;
          m[2] = 0;
          m[3] = RECV_FLAG_LOCAL_DROP;
          stamp(m);
          pending_drops -= m[1];
          pthread_mutex_lock(&rx->mu);
          t->count++;
          rx->drops_waiting = pending_drops > 0;
          pthread_mutex_unlock(&rx->mu);
          committed++;
        }
      }
      rx_chunk *t = rx_room(rx, 0);
      if (t == NULL && rx->lossless) {
        /* Read-ahead never discards: we are stopping, or there is no memory for a chunk. */
        if (!atomic_load(&rx->stop)) { err = ENOMEM; err_call = "mmap"; }
        break;
      }
      if (t != NULL && stage != NULL) {
        for (int i = 0; i < RX_MMSG; i++) {
          iv[i].iov_base = stage + (size_t)i * rx->need;
          iv[i].iov_len = rx->need;
          memset(&mm[i], 0, sizeof mm[i]);
          memset(&fr[i], 0, sizeof fr[i]);
          mm[i].msg_hdr.msg_name = &fr[i];
          mm[i].msg_hdr.msg_namelen = sizeof fr[i];
          mm[i].msg_hdr.msg_iov = &iv[i];
          mm[i].msg_hdr.msg_iovlen = 1;
        }
        int got_n = recvmmsg(rx->fd, mm, rx->mmsg, MSG_DONTWAIT | MSG_TRUNC, NULL);
        if (got_n < 0) {
          int e = errno, what = rx_recv_failed(rx, e, &committed);
          if (what == RX_AGAIN) continue;
          if (what == RX_FATAL) err = e;
          break;
        }
        uint32_t when[META_STRIDE];
        stamp(when); /* one receive time for the datagrams of one call */
        int halt = 0;
        for (int i = 0; i < got_n; i++) {
          drained++;
          const uint8_t *src = stage + (size_t)i * rx->need;
          size_t len = mm[i].msg_len;
          size_t got = len < rx->need ? len : rx->need;
          rx_chunk *k = rx_room(rx, 0);
          if (k == NULL && rx->lossless) {
            if (!atomic_load(&rx->stop)) { err = ENOMEM; err_call = "mmap"; }
            halt = 1;
            break;
          }
          if (k == NULL) {
            /* Our buffer is full: discard and count, as below. */
            uint32_t c = count_messages(src, got);
            pending_drops += c;
            rx_note_local_drops(rx, c);
            continue;
          }
          memcpy(k->data + k->used, src, got);
          uint32_t *m = &k->meta[k->count * META_STRIDE];
          m[4] = when[4];
          m[5] = when[5];
          rx_commit(rx, k, m, got, &fr[i], (mm[i].msg_hdr.msg_flags & MSG_TRUNC) || len > rx->need);
          committed++;
          rx_signal_burst(rx, &unsignalled, &committed, &signal_ms);
        }
        if (rx->lossless && committed > 0) {
          /* A dump never runs dry until it ends: JS takes each call's datagrams at once. */
          uv_async_send(rx->async);
          signal_ms = mono_ms();
          unsignalled = committed = 0;
        }
        if (halt) break;
        if (got_n < rx->mmsg) break; /* the queue is empty (an error after some datagrams wakes poll) */
        continue;
      }
      struct sockaddr_nl from;
      memset(&from, 0, sizeof from);
      struct iovec iov;
      if (t != NULL) { iov.iov_base = t->data + t->used; iov.iov_len = rx->chunk_data - t->used; }
      else if (discard != NULL) { iov.iov_base = discard; iov.iov_len = RECV_MIN_AREA; }
      else { iov.iov_base = &from; iov.iov_len = 0; } /* no memory at all: count datagrams only */
      struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1 };
      ssize_t n = recvmsg(rx->fd, &mh, MSG_DONTWAIT | MSG_TRUNC);
      if (n < 0) {
        int e = errno, what = rx_recv_failed(rx, e, &committed);
        if (what == RX_AGAIN) continue;
        if (what == RX_FATAL) err = e;
        break;
      }
      drained++;
      if (t == NULL) {
        /* Our buffer is full: read and discard, so the kernel never has to drop. */
        size_t got = (size_t)n < iov.iov_len ? (size_t)n : iov.iov_len;
        uint32_t k = iov.iov_len > 0 ? count_messages(discard, got) : 1;
        pending_drops += k;
        rx_note_local_drops(rx, k);
        continue;
      }
      uint32_t *m = &t->meta[t->count * META_STRIDE];
      stamp(m);
      size_t got = (size_t)n < iov.iov_len ? (size_t)n : iov.iov_len;
      rx_commit(rx, t, m, got, &from, (mh.msg_flags & MSG_TRUNC) || (size_t)n > iov.iov_len);
      committed++;
      rx_signal_burst(rx, &unsignalled, &committed, &signal_ms);
    }
    if (committed > 0) {
      int64_t now = mono_ms();
      if (unsignalled == 0) first_ms = now;
      unsignalled += committed;
      /* After a quiet spell at once; in a stream once the oldest row waited RX_HOLD_MS. */
      if (now - signal_ms >= hold || now - first_ms >= hold) {
        uv_async_send(rx->async);
        signal_ms = now;
        unsignalled = 0;
      }
    }
    if (err != 0) break;
    if (hold > 0 && drained > 0 && drained < RX_COALESCE_MIN && !atomic_load(&rx->stop)) {
      /* Let a paced stream gather (see RX_COALESCE_MIN); close() still wakes us at once. */
      int w = poll(&pf[1], 1, RX_COALESCE_MS);
      (void)w;
    }
  }
  pthread_mutex_lock(&rx->mu);
  if (err != 0) { rx->err = err; rx->err_call = err_call; }
  rx->ended = 1;
  pthread_mutex_unlock(&rx->mu);
  if (err != 0) uv_async_send(rx->async);
  free(discard);
  free(stage);
  return NULL;
}

/* Main thread: hand committed rows to JS (up to DELIVER_BUDGET bytes per wake-up). */
static void on_rx_async(uv_async_t *h) {
  nlsock *s = h->data;
  if (s == NULL || s->closed || s->rx == NULL) return;
  rx_state *rx = s->rx;
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_value self = NULL;
  if (fault_hit(&fault_scope) || napi_open_handle_scope(env, &scope) != napi_ok) { uv_async_send(h); return; }
  napi_get_reference_value(env, s->self, &self);
  size_t budget = DELIVER_BUDGET;
  int err = 0;
  const char *err_call = "recvmsg";
  for (;;) {
    if (s->closed || s->paused || s->rx != rx) break;
    pthread_mutex_lock(&rx->mu);
    rx_chunk *c = rx->head;
    size_t used = 0, count = 0;
    if (c != NULL) { used = c->used; count = c->count; }
    if (c != NULL && count == c->taken_count && c == rx->tail && rx->room_waiting) {
      /* The read-ahead thread waits for room with its tail chunk taken (the others could
       * not be allocated): recycle it too; the thread takes a chunk anew under mu. */
      rx->head = rx->tail = NULL;
      rx_give_back(rx, c);
      pthread_cond_signal(&rx->room);
      pthread_mutex_unlock(&rx->mu);
      continue;
    }
    if (c == NULL || (count == c->taken_count && c == rx->tail)) {
      if (rx->ended && rx->err != 0) { err = rx->err; err_call = rx->err_call; rx->err = 0; }
      pthread_mutex_unlock(&rx->mu);
      break;
    }
    if (count == c->taken_count) {
      /* Fully taken and the thread has moved on: recycle it. */
      rx->head = c->next;
      rx_give_back(rx, c);
      if (rx->room_waiting) pthread_cond_signal(&rx->room); /* read-ahead: room again */
      int wake = rx->drops_waiting;
      pthread_mutex_unlock(&rx->mu);
      if (wake) rx_wake(rx); /* room again: let the thread report what it discarded */
      continue;
    }
    pthread_mutex_unlock(&rx->mu);
    if (budget == 0) { uv_async_send(h); break; } /* yield to the event loop, go on next turn */
    size_t from_used = c->taken_used, from_count = c->taken_count;
    if (used - from_used > s->max_bytes) {
      /* At most about max_bytes per call (setBatchBytes; at least one row): a dump's
       * entries of one turn stay few and short-lived however far the thread read ahead. */
      size_t u = from_used, k = from_count;
      while (k < count && (k == from_count || u - from_used + c->meta[k * META_STRIDE] <= s->max_bytes)) { u += c->meta[k * META_STRIDE]; k++; }
      used = u;
      count = k;
    }
    c->taken_used = used;
    c->taken_count = count;
    deliver_from(s, self, c->data + from_used, c->meta + from_count * META_STRIDE, used - from_used, count - from_count);
    size_t n = used - from_used;
    budget = n >= budget ? 0 : budget - n;
  }
  if (err != 0 && !s->closed) deliver_error(s, self, err, err_call);
  napi_close_handle_scope(env, scope);
}

static int rx_start(nlsock *s, uv_loop_t *loop) {
  rx_state *rx = calloc(1, sizeof *rx);
  if (rx == NULL) return ENOMEM;
  size_t chunk = s->rx_buffer / 4;
  if (chunk > CHUNK_DATA_MAX) chunk = CHUNK_DATA_MAX;
  if (chunk < CHUNK_DATA_MIN) chunk = CHUNK_DATA_MIN;
  rx->chunk_data = chunk;
  rx->chunk_items = chunk / CHUNK_ITEMS_DIV;
  size_t per = chunk + rx->chunk_items * META_STRIDE * sizeof(uint32_t);
  rx->max_chunks = s->rx_buffer / per;
  if (rx->max_chunks < 2) rx->max_chunks = 2;
  rx->need = RECV_MIN_AREA;
  if (s->max_sent + 4096 > rx->need) rx->need = s->max_sent + 4096;
  rx->hold_ms = s->rx_hold_ms >= 0 ? s->rx_hold_ms : RX_HOLD_MS;
  rx->fd = s->fd;
  rx->pn = s->pn;
  rx->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (rx->wake_fd < 0) { int e = errno; free(rx); return e; }
  pthread_mutex_init(&rx->mu, NULL);
  pthread_cond_init(&rx->room, NULL);
  rx->lossless = s->readahead;
  rx->mmsg = s->readahead ? RA_MMSG : RX_MMSG;
  rx->async = malloc(sizeof *rx->async);
  if (rx->async == NULL) { close(rx->wake_fd); free(rx); return ENOMEM; }
  int r = uv_async_init(loop, rx->async, on_rx_async);
  if (r < 0) { free(rx->async); close(rx->wake_fd); free(rx); return -r; }
  rx->async->data = s;
  if (s->unrefd) uv_unref((uv_handle_t *)rx->async);
  s->rx = rx;
  r = pthread_create(&rx->tid, NULL, rx_main, rx);
  if (r != 0) {
    s->rx = NULL;
    rx->async->data = NULL;
    uv_close((uv_handle_t *)rx->async, on_handle_closed);
    close(rx->wake_fd);
    free(rx);
    return r;
  }
  rx->started = 1;
  return 0;
}

/* Stops and joins the thread, frees every chunk (main thread). */
static void rx_stop(nlsock *s) {
  rx_state *rx = s->rx;
  if (rx == NULL) return;
  s->rx = NULL;
  if (rx->started) {
    atomic_store(&rx->stop, 1);
    pthread_mutex_lock(&rx->mu);
    pthread_cond_broadcast(&rx->room);
    pthread_mutex_unlock(&rx->mu);
    rx_wake(rx);
    pthread_join(rx->tid, NULL);
  }
  rx->async->data = NULL;
  uv_close((uv_handle_t *)rx->async, on_handle_closed);
  for (rx_chunk *c = rx->head; c != NULL;) { rx_chunk *n = c->next; rx_chunk_free_sz(c, rx_chunk_bytes(rx)); c = n; }
  for (rx_chunk *c = rx->idle; c != NULL;) { rx_chunk *n = c->next; rx_chunk_free_sz(c, rx_chunk_bytes(rx)); c = n; }
  close(rx->wake_fd);
  pthread_mutex_destroy(&rx->mu);
  pthread_cond_destroy(&rx->room);
  free(rx);
}

static void rx_set_want(nlsock *s) {
  if (s->rx != NULL && !s->paused) uv_async_send(s->rx->async); /* deliver what is committed */
}

/* receiveStats() -> { localDrops, chunks, maxChunks, chunkBytes } of the receive thread. */
static napi_value js_receive_stats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value out, v;
  nlsock *s = unwrap(env, info, &argc, NULL);
  if (s == NULL) return NULL;
  CHECK_NAPI(env, napi_create_object(env, &out));
  if (s->rx == NULL) return out;
  rx_state *rx = s->rx;
  pthread_mutex_lock(&rx->mu);
  double drops = (double)rx->local_drops, chunks = (double)rx->chunks;
  pthread_mutex_unlock(&rx->mu);
  napi_create_double(env, drops, &v);
  napi_set_named_property(env, out, "localDrops", v);
  napi_create_double(env, chunks, &v);
  napi_set_named_property(env, out, "chunks", v);
  napi_create_double(env, (double)rx->max_chunks, &v);
  napi_set_named_property(env, out, "maxChunks", v);
  napi_create_double(env, (double)(rx->chunk_data + rx->chunk_items * META_STRIDE * sizeof(uint32_t)), &v);
  napi_set_named_property(env, out, "chunkBytes", v);
  return out;
}

static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self;
  nlsock *s = unwrap_open(env, info, &argc, argv, "recvmsg");
  if (s == NULL) return NULL;
  napi_valuetype t0 = napi_undefined, t1 = napi_undefined;
  if (argc >= 2) { napi_typeof(env, argv[0], &t0); napi_typeof(env, argv[1], &t1); }
  if (t0 != napi_function || t1 != napi_function) {
    napi_throw_type_error(env, NULL, "start(onBatch, onError) takes two functions");
    return NULL;
  }
  CHECK_NAPI(env, napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  if (s->on_batch) napi_delete_reference(env, s->on_batch);
  if (s->on_error) napi_delete_reference(env, s->on_error);
  s->on_batch = s->on_error = NULL;
  CHECK_NAPI(env, napi_create_reference(env, argv[0], 1, &s->on_batch));
  CHECK_NAPI(env, napi_create_reference(env, argv[1], 1, &s->on_error));
  if (s->poll == NULL && s->rx == NULL) {
    uv_loop_t *loop;
    napi_value name;
    CHECK_NAPI(env, napi_get_uv_event_loop(env, &loop));
    CHECK_NAPI(env, napi_create_string_utf8(env, "NETLINK_SOCKET", NAPI_AUTO_LENGTH, &name));
    if (s->actx == NULL) CHECK_NAPI(env, napi_async_init(env, self, name, &s->actx));
    if (s->self == NULL) CHECK_NAPI(env, napi_create_reference(env, self, 1, &s->self));
    /* Without the lookup thread (no memory, no thread) names come from JS as before. */
    if (s->want_names && s->pn == NULL) s->pn = pn_start(s->fd);
    if (s->readahead) {
      s->rx_buffer = RA_BUFFER;
      s->rx_hold_ms = 0;
    }
    if (s->rx_buffer > 0) {
      int r = rx_start(s, loop);
      if (r != 0) return throw_errno(env, r, "pthread_create");
      return NULL;
    }
    uv_poll_t *p = malloc(sizeof *p);
    uv_timer_t *tm = malloc(sizeof *tm);
    if (p == NULL || tm == NULL) { free(p); free(tm); return throw_errno(env, ENOMEM, "poll"); }
    int r = uv_poll_init(loop, p, s->fd);
    if (r < 0) {
      free(p);
      free(tm);
      return throw_errno(env, -r, "poll");
    }
    uv_timer_init(loop, tm);
    tm->data = s;
    p->data = s;
    s->poll = p;
    s->retry = tm;
    /* A pending retry stands in for the stopped poll: both follow ref()/unref(). */
    if (s->unrefd) { uv_unref((uv_handle_t *)p); uv_unref((uv_handle_t *)tm); }
  }
  if (s->rx != NULL) return NULL;
  int r = poll_apply(s);
  if (r < 0) return throw_errno(env, -r, "poll");
  return NULL;
}

static napi_value set_paused(napi_env env, napi_callback_info info, int paused) {
  size_t argc = 0;
  nlsock *s = unwrap(env, info, &argc, NULL);
  if (s == NULL || s->closed) return NULL;
  s->paused = paused;
  if (s->rx != NULL) {
    rx_set_want(s);
    return NULL;
  }
  int r = poll_apply(s);
  if (r < 0) return throw_errno(env, -r, "poll");
  return NULL;
}

static napi_value js_pause(napi_env env, napi_callback_info info) { return set_paused(env, info, 1); }
static napi_value js_resume(napi_env env, napi_callback_info info) { return set_paused(env, info, 0); }

static napi_value set_ref(napi_env env, napi_callback_info info, int unrefd) {
  size_t argc = 0;
  nlsock *s = unwrap(env, info, &argc, NULL);
  if (s == NULL || s->closed) return NULL;
  s->unrefd = unrefd;
  uv_handle_t *hs[3] = { (uv_handle_t *)s->poll, (uv_handle_t *)s->retry, s->rx != NULL ? (uv_handle_t *)s->rx->async : NULL };
  for (int i = 0; i < 3; i++) {
    if (hs[i] == NULL) continue;
    if (unrefd) uv_unref(hs[i]);
    else uv_ref(hs[i]);
  }
  return NULL;
}

static napi_value js_ref(napi_env env, napi_callback_info info) { return set_ref(env, info, 0); }
static napi_value js_unref(napi_env env, napi_callback_info info) { return set_ref(env, info, 1); }

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  nlsock *s = unwrap(env, info, &argc, NULL);
  if (s != NULL) do_close(s, 0);
  return NULL;
}

static napi_value js_fd(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value out;
  nlsock *s = unwrap(env, info, &argc, NULL);
  if (s == NULL) return NULL;
  CHECK_NAPI(env, napi_create_int32(env, s->fd, &out));
  return out;
}

/* readFileInNetns(nsPath, filePath, maxBytes) -> ArrayBuffer: reads a file (e.g.
 * /proc/thread-self/net/netlink) as seen from inside another network namespace. A
 * short-lived thread enters the namespace, allocates and reads, and exits; the calling
 * thread never changes namespace. */
static napi_value js_read_file_in_netns(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], out;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char ns[PATH_MAX], file[PATH_MAX];
  int32_t max = 0;
  if (argc < 3) {
    napi_throw_type_error(env, NULL, "readFileInNetns(nsPath, filePath, maxBytes)");
    return NULL;
  }
  if (get_path(env, argv[0], ns, sizeof ns, "netns path", "open") < 0) return NULL;
  if (get_path(env, argv[1], file, sizeof file, "file path", "open") < 0) return NULL;
  if (napi_get_value_int32(env, argv[2], &max) != napi_ok || max <= 0) {
    napi_throw_type_error(env, NULL, "readFileInNetns: maxBytes must be a positive number");
    return NULL;
  }
  ns_job j = { .ns_path = ns, .mode = 1, .file = file, .max = (size_t)max };
  if (ns_run(&j) != 0) {
    free(j.buf);
    return throw_errno(env, j.err, j.failed);
  }
  void *data = NULL;
  napi_status st = napi_create_arraybuffer(env, j.len, &data, &out);
  if (st == napi_ok && j.len > 0) memcpy(data, j.buf, j.len);
  free(j.buf);
  CHECK_NAPI(env, st);
  return out;
}

/* _fault(name, count): tests only, see the header. */
static napi_value js_fault(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[32];
  size_t len = 0;
  int32_t n = 0;
  if (argc < 2 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok ||
      napi_get_value_int32(env, argv[1], &n) != napi_ok) {
    napi_throw_type_error(env, NULL, "_fault(name, count)");
    return NULL;
  }
  int prev;
  if (strcmp(name, "realloc") == 0) prev = atomic_exchange(&fault_realloc, n);
  else if (strcmp(name, "scope") == 0) prev = atomic_exchange(&fault_scope, n);
  else if (strcmp(name, "chunk") == 0) prev = atomic_exchange(&fault_chunk, n);
  else { napi_throw_type_error(env, NULL, "_fault: unknown fault"); return NULL; }
  napi_value out;
  CHECK_NAPI(env, napi_create_int32(env, prev, &out));
  return out; /* how many of the previous setting were left */
}

/* ---- module ------------------------------------------------------------ */

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
    { "bind", NULL, js_bind, NULL, NULL, NULL, napi_default, NULL },
    { "setsockopt", NULL, js_setsockopt, NULL, NULL, NULL, napi_default, NULL },
    { "getsockopt", NULL, js_getsockopt, NULL, NULL, NULL, napi_default, NULL },
    { "getsockoptBytes", NULL, js_getsockopt_bytes, NULL, NULL, NULL, napi_default, NULL },
    { "send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL },
    { "setBatchBytes", NULL, js_set_batch_bytes, NULL, NULL, NULL, napi_default, NULL },
    { "setReadAhead", NULL, js_set_read_ahead, NULL, NULL, NULL, napi_default, NULL },
    { "setReceiveThread", NULL, js_set_receive_thread, NULL, NULL, NULL, napi_default, NULL },
    { "receiveStats", NULL, js_receive_stats, NULL, NULL, NULL, napi_default, NULL },
    { "start", NULL, js_start, NULL, NULL, NULL, napi_default, NULL },
    { "pause", NULL, js_pause, NULL, NULL, NULL, napi_default, NULL },
    { "resume", NULL, js_resume, NULL, NULL, NULL, napi_default, NULL },
    { "ref", NULL, js_ref, NULL, NULL, NULL, napi_default, NULL },
    { "unref", NULL, js_unref, NULL, NULL, NULL, napi_default, NULL },
    { "close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL },
    { "fd", NULL, NULL, js_fd, NULL, NULL, napi_default, NULL },
    { "netnsInode", NULL, NULL, js_netns_inode, NULL, NULL, napi_default, NULL },
    { "setProgramNames", NULL, js_set_program_names, NULL, NULL, NULL, napi_default, NULL },
    { "programName", NULL, js_program_name, NULL, NULL, NULL, napi_default, NULL },
    { "programNameStats", NULL, js_program_name_stats, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_value cls, v;
  CHECK_NAPI(env, napi_define_class(env, "NlSocket", NAPI_AUTO_LENGTH, js_new, NULL,
                                    sizeof methods / sizeof methods[0], methods, &cls));
  CHECK_NAPI(env, napi_set_named_property(env, exports, "NlSocket", cls));
  napi_value fn;
  CHECK_NAPI(env, napi_create_function(env, "readFileInNetns", NAPI_AUTO_LENGTH, js_read_file_in_netns, NULL, &fn));
  CHECK_NAPI(env, napi_set_named_property(env, exports, "readFileInNetns", fn));
  CHECK_NAPI(env, napi_create_function(env, "_fault", NAPI_AUTO_LENGTH, js_fault, NULL, &fn));
  CHECK_NAPI(env, napi_set_named_property(env, exports, "_fault", fn));
  CHECK_NAPI(env, napi_create_uint32(env, RECV_FLAG_TRUNCATED, &v));
  CHECK_NAPI(env, napi_set_named_property(env, exports, "RECV_FLAG_TRUNCATED", v));
  CHECK_NAPI(env, napi_create_uint32(env, RECV_FLAG_OVERRUN, &v));
  CHECK_NAPI(env, napi_set_named_property(env, exports, "RECV_FLAG_OVERRUN", v));
  CHECK_NAPI(env, napi_create_uint32(env, RECV_FLAG_LOCAL_DROP, &v));
  CHECK_NAPI(env, napi_set_named_property(env, exports, "RECV_FLAG_LOCAL_DROP", v));
  CHECK_NAPI(env, napi_create_uint32(env, META_STRIDE, &v));
  CHECK_NAPI(env, napi_set_named_property(env, exports, "META_STRIDE", v));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
