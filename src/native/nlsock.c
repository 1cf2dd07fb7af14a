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
 *   start(onBatch, onError)                    begin receiving (uv_poll on the fd)
 *   pause() / resume() / ref() / unref() / close()
 *
 * Receive batches. When the fd is readable we drain it with recvmsg(MSG_DONTWAIT)
 * until EAGAIN, or RECV_MAX_DATAGRAMS items, or RECV_MAX_BYTES bytes, so the event
 * loop is never starved; then JavaScript gets ONE call:
 *
 *   onBatch(data: ArrayBuffer, meta: Uint32Array)
 *     data  the datagrams' bytes, back to back (exactly the bytes received)
 *     meta  4 x u32 per item, in arrival order:
 *           [0] byte length of the item in `data` (0 for an overrun marker)
 *           [1] sender nl_pid   (0 = the kernel)
 *           [2] sender nl_groups (multicast group mask; 0 = unicast)
 *           [3] flags: RECV_FLAG_TRUNCATED (MSG_TRUNC was set: the kernel had
 *               more bytes than we took) | RECV_FLAG_OVERRUN (recvmsg failed
 *               with ENOBUFS: the receive queue overflowed and messages were
 *               dropped at this point; reading continues after it)
 *
 * Each recvmsg is given at least RECV_MIN_AREA bytes (64 KiB, and more than the
 * largest datagram we ever sent, so an error ACK echoing it fits); netlink
 * datagrams from the kernel are at most ~32 KiB (dumps), so our own buffer never
 * truncates one. Any other recvmsg errno stops polling and calls
 * onError(error) with an Error carrying { errno, syscall: 'recvmsg' }.
 *
 * Synchronous failures throw an Error with { errno, syscall } (the name of the
 * errno is attached in TypeScript).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netlink.h>

#include <node_api.h>
#include <uv.h>

#define RECV_MAX_DATAGRAMS 256
#define RECV_MAX_BYTES (1u << 20)
#define RECV_MIN_AREA (64u * 1024u)
#define RECV_FLAG_TRUNCATED 1u
#define RECV_FLAG_OVERRUN 2u
#define META_STRIDE 4

typedef struct nlsock {
  napi_env env;
  int fd;
  int closed;
  int paused;
  int unrefd;
  uv_poll_t *poll;          /* allocated by start(); freed by its uv_close callback */
  napi_ref self;            /* strong while receiving: keeps the wrapper alive */
  napi_ref on_batch;
  napi_ref on_error;
  napi_async_context actx;
  uint8_t *scratch;         /* recvmsg target; copied once per batch into an ArrayBuffer */
  size_t scratch_cap;
  uint32_t meta[RECV_MAX_DATAGRAMS * META_STRIDE];
  size_t max_sent;          /* largest datagram sent; its error echo must fit */
  size_t max_bytes;         /* batch bound in bytes (RECV_MAX_BYTES unless set lower) */
  /* Read-ahead (dumps): recvmsg runs on a libuv pool thread one batch ahead of JS, so the
   * kernel builds the next dump datagram (inside recvmsg) while JS handles this one. */
  int readahead;
  struct readahead_work *ra; /* the one work item in flight, or NULL */
  struct readahead_work *ra_spare; /* a finished item kept for reuse (its buffer) */
  int free_pending;         /* finalize() ran while work was in flight: free in after_work */
  int fd_pending;           /* do_close() ran while work was in flight: its fd, closed in after_work */
} nlsock;

typedef struct readahead_work {
  uv_work_t req;
  nlsock *s;
  int fd;
  size_t max_bytes, max_sent;
  uint8_t *buf;
  size_t cap, used, count;
  int err;
  uint32_t meta[RECV_MAX_DATAGRAMS * META_STRIDE];
} readahead_work;

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

/* ---- opening ----------------------------------------------------------- */

static int open_socket(int protocol) {
  return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
}

/* Enters the network namespace at `path` on the calling thread; *home receives an fd of
 * the namespace to return to. On failure returns -1 with *failed_syscall and errno set. */
static int enter_netns(const char *path, int *home, const char **failed_syscall) {
  *home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (*home < 0) { *failed_syscall = "open"; return -1; }
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int e = errno;
    close(*home);
    errno = e;
    *failed_syscall = "open";
    return -1;
  }
  int rc = setns(target, CLONE_NEWNET);
  int e = errno;
  close(target);
  if (rc < 0) {
    close(*home);
    errno = e;
    *failed_syscall = "setns";
    return -1;
  }
  return 0;
}

/* Returns the calling thread to `home` (from enter_netns), preserving errno. */
static void leave_netns(int home) {
  int e = errno;
  if (setns(home, CLONE_NEWNET) < 0) {
    /* The main thread would stay in the wrong namespace: nothing is safe after that. */
    napi_fatal_error("nlsock", NAPI_AUTO_LENGTH,
                     "setns() back to the original network namespace failed", NAPI_AUTO_LENGTH);
  }
  close(home);
  errno = e;
}

/* Creates the socket inside the network namespace at `path`; the calling thread
 * enters it only for the socket() call and always returns to where it was. */
static int open_socket_in_netns(const char *path, int protocol, const char **failed_syscall) {
  int home;
  if (enter_netns(path, &home, failed_syscall) < 0) return -1;
  int fd = open_socket(protocol);
  if (fd < 0) *failed_syscall = "socket";
  leave_netns(home);
  return fd;
}

/* ---- lifetime ---------------------------------------------------------- */

static void on_poll_closed(uv_handle_t *h) { free(h); }

static void cleanup_hook(void *arg);

/* Stops everything; after this no callback reaches JavaScript. Idempotent. */
static void do_close(nlsock *s, int from_hook) {
  if (s->closed) return;
  s->closed = 1;
  if (s->poll != NULL) {
    s->poll->data = NULL;
    uv_close((uv_handle_t *)s->poll, on_poll_closed); /* stops polling now */
    s->poll = NULL;
  }
  if (s->fd >= 0) {
    /* A pool thread may be inside recvmsg on this fd: close it when that work ends, so
     * the number cannot be reused under it. */
    if (s->ra != NULL) s->fd_pending = s->fd;
    else close(s->fd);
    s->fd = -1;
  }
  if (s->on_batch) { napi_delete_reference(s->env, s->on_batch); s->on_batch = NULL; }
  if (s->on_error) { napi_delete_reference(s->env, s->on_error); s->on_error = NULL; }
  if (s->actx) { napi_async_destroy(s->env, s->actx); s->actx = NULL; }
  if (s->self) { napi_delete_reference(s->env, s->self); s->self = NULL; }
  free(s->scratch);
  s->scratch = NULL;
  s->scratch_cap = 0;
  if (s->ra_spare != NULL) {
    free(s->ra_spare->buf);
    free(s->ra_spare);
    s->ra_spare = NULL;
  }
  if (!from_hook) napi_remove_env_cleanup_hook(s->env, cleanup_hook, s);
}

static void cleanup_hook(void *arg) { do_close((nlsock *)arg, 1); }

static void finalize(napi_env env, void *data, void *hint) {
  nlsock *s = data;
  do_close(s, 0);
  if (s->ra != NULL) {
    s->free_pending = 1; /* after_work frees it */
  } else {
    if (s->ra_spare != NULL) { free(s->ra_spare->buf); free(s->ra_spare); }
    free(s);
  }
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
  if (t == napi_string) {
    char path[PATH_MAX];
    size_t len;
    CHECK_NAPI(env, napi_get_value_string_utf8(env, argv[1], path, sizeof path, &len));
    if (len >= sizeof path - 1) return throw_errno(env, ENAMETOOLONG, "open");
    const char *failed = "socket";
    fd = open_socket_in_netns(path, protocol, &failed);
    if (fd < 0) return throw_errno(env, errno, failed);
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
  s->fd = fd;
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

static napi_value js_bind(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  nlsock *s = unwrap_open(env, info, &argc, argv, "bind");
  if (s == NULL) return NULL;
  uint32_t portid = 0, groups = 0;
  if (argc >= 1) napi_get_value_uint32(env, argv[0], &portid);
  if (argc >= 2) napi_get_value_uint32(env, argv[1], &groups);
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

/* setBatchBytes(n): hand JavaScript at most about n bytes per readable wake-up (at least
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

/* setReadAhead(on): read on a libuv pool thread, one batch ahead of JavaScript (dumps). */
static napi_value js_set_read_ahead(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  nlsock *s = unwrap_open(env, info, &argc, argv, "setReadAhead");
  if (s == NULL) return NULL;
  bool on = false;
  if (argc >= 1) napi_get_value_bool(env, argv[0], &on);
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

static void deliver_from(nlsock *s, napi_value self, const uint8_t *buf, const uint32_t *metas,
                         size_t used, size_t count) {
  napi_env env = s->env;
  napi_value data, meta_ab, meta;
  void *p;
  if (napi_create_arraybuffer(env, used, &p, &data) != napi_ok) return;
  if (used > 0) memcpy(p, buf, used);
  size_t words = count * META_STRIDE;
  if (napi_create_arraybuffer(env, words * sizeof(uint32_t), &p, &meta_ab) != napi_ok) return;
  memcpy(p, metas, words * sizeof(uint32_t));
  if (napi_create_typedarray(env, napi_uint32_array, words, meta_ab, 0, &meta) != napi_ok) return;
  napi_value argv[2] = { data, meta };
  call_js(s, self, s->on_batch, 2, argv);
}

static void deliver_batch(nlsock *s, napi_value self, size_t used, size_t count) {
  deliver_from(s, self, s->scratch, s->meta, used, count);
}

static void deliver_error(nlsock *s, napi_value self, int err, const char *syscall) {
  napi_value argv[1] = { errno_error(s->env, err, syscall) };
  call_js(s, self, s->on_error, 1, argv);
}

/* Reads datagrams with MSG_DONTWAIT into *buf (grown as needed, keeping room for the
 * largest datagram plus the echo of our largest request) until EAGAIN, RECV_MAX_DATAGRAMS
 * items or about max_bytes. One META_STRIDE row per item: length, sender port id, groups,
 * flags; ENOBUFS becomes an overrun row and reading goes on. Returns 0 or the errno that
 * stopped it. Touches no JS state: it also runs on a libuv pool thread (read-ahead). */
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
      uint8_t *p = realloc(*buf, want);
      if (p == NULL) break; /* out of memory: try again on the next wake-up */
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
        count++;
        continue;
      }
      err = errno;
      break;
    }
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

/* ---- read-ahead (pool thread) ------------------------------------------ */

static void ra_work(uv_work_t *req) {
  readahead_work *w = req->data;
  w->err = drain(w->fd, &w->buf, &w->cap, w->meta, w->max_bytes, w->max_sent, &w->used, &w->count);
}

static void ra_after(uv_work_t *req, int status);

/* Queue the next read on the pool (main thread). Returns 0, or -1 to fall back to inline. */
static int ra_queue(nlsock *s) {
  if (s->ra != NULL || s->closed || s->paused) return 0;
  readahead_work *w = s->ra_spare != NULL ? s->ra_spare : calloc(1, sizeof *w);
  if (w == NULL) return -1;
  s->ra_spare = NULL;
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(s->env, &loop) != napi_ok) { s->ra_spare = w; return -1; }
  w->s = s;
  w->fd = s->fd;
  w->max_bytes = s->max_bytes;
  w->max_sent = s->max_sent;
  w->req.data = w;
  if (uv_queue_work(loop, &w->req, ra_work, ra_after) != 0) { s->ra_spare = w; return -1; }
  s->ra = w;
  return 0;
}

static void ra_free(readahead_work *w) {
  if (w == NULL) return;
  free(w->buf);
  free(w);
}

static void ra_after(uv_work_t *req, int status) {
  readahead_work *w = req->data;
  nlsock *s = w->s;
  s->ra = NULL;
  if (s->fd_pending > 0) { close(s->fd_pending); s->fd_pending = 0; }
  if (s->closed) {
    ra_free(w);
    if (s->free_pending) { ra_free(s->ra_spare); free(s); }
    return;
  }
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_value self = NULL;
  if (napi_open_handle_scope(env, &scope) != napi_ok) { s->ra_spare = w; return; }
  napi_get_reference_value(env, s->self, &self);
  size_t count = w->count, used = w->used;
  int err = w->err;
  /* Swap buffers: the next read fills the spare while JS takes this one. */
  readahead_work *done = w;
  if (count > 0 && err == 0) {
    /* More is likely queued (a dump builds its next datagram inside recvmsg): read ahead. */
    if (ra_queue(s) < 0) poll_apply(s);
  } else if (err == 0) {
    poll_apply(s); /* nothing there: wait for readability */
  }
  if (count > 0) deliver_from(s, self, done->buf, done->meta, used, count);
  if (err != 0 && !s->closed) deliver_error(s, self, err, "recvmsg");
  if (s->ra_spare == NULL) s->ra_spare = done;
  else ra_free(done);
  napi_close_handle_scope(env, scope);
}

static void on_readable(uv_poll_t *h, int status, int events) {
  nlsock *s = h->data;
  if (s == NULL || s->closed) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_value self = NULL;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  /* Holding the wrapper in this scope keeps `s` alive even if JS closes and drops it. */
  napi_get_reference_value(env, s->self, &self);

  /* libuv reports POLLERR as status UV_EBADF and stops the handle. A netlink socket
   * signals a pending sk_err that way, typically ENOBUFS after an overrun; recvmsg
   * below returns (and clears) it, so drain as usual and then poll again. */
  int pollerr = status < 0;

  if (s->readahead && !pollerr) {
    /* Hand the read to the pool; the poll waits until the read-ahead chain ends. */
    uv_poll_stop(s->poll);
    if (ra_queue(s) == 0) {
      napi_close_handle_scope(env, scope);
      return;
    }
    poll_apply(s);
  }

  size_t used = 0, count = 0;
  int err = drain(s->fd, &s->scratch, &s->scratch_cap, s->meta, s->max_bytes, s->max_sent, &used, &count);
  const char *failed = "recvmsg";
  if (pollerr && err == 0 && count == 0) {
    /* Nothing to read yet an error condition: take sk_err directly, never spin. */
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) soerr = errno;
    if (soerr == ENOBUFS) {
      s->meta[0] = 0; s->meta[1] = 0; s->meta[2] = 0; s->meta[3] = RECV_FLAG_OVERRUN;
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
  if (count > 0) deliver_batch(s, self, used, count);
  if (err != 0 && !s->closed) deliver_error(s, self, err, failed);
  napi_close_handle_scope(env, scope);
}

static int poll_apply(nlsock *s) {
  if (s->poll == NULL || s->closed) return 0;
  if (s->paused || s->ra != NULL) return uv_poll_stop(s->poll);
  return uv_poll_start(s->poll, UV_READABLE, on_readable);
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
  if (s->poll == NULL) {
    uv_loop_t *loop;
    napi_value name;
    CHECK_NAPI(env, napi_get_uv_event_loop(env, &loop));
    uv_poll_t *p = malloc(sizeof *p);
    if (p == NULL) return throw_errno(env, ENOMEM, "poll");
    int r = uv_poll_init(loop, p, s->fd);
    if (r < 0) {
      free(p);
      return throw_errno(env, -r, "poll");
    }
    p->data = s;
    s->poll = p;
    if (s->unrefd) uv_unref((uv_handle_t *)p);
    CHECK_NAPI(env, napi_create_string_utf8(env, "NETLINK_SOCKET", NAPI_AUTO_LENGTH, &name));
    CHECK_NAPI(env, napi_async_init(env, self, name, &s->actx));
    CHECK_NAPI(env, napi_create_reference(env, self, 1, &s->self));
  }
  int r = poll_apply(s);
  if (r < 0) return throw_errno(env, -r, "poll");
  return NULL;
}

static napi_value set_paused(napi_env env, napi_callback_info info, int paused) {
  size_t argc = 0;
  nlsock *s = unwrap(env, info, &argc, NULL);
  if (s == NULL || s->closed) return NULL;
  s->paused = paused;
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
  if (s->poll != NULL) {
    if (unrefd) uv_unref((uv_handle_t *)s->poll);
    else uv_ref((uv_handle_t *)s->poll);
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
 * /proc/thread-self/net/netlink) while the calling thread is inside another network
 * namespace, so per-namespace /proc views can be read without moving the process. */
static napi_value js_read_file_in_netns(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], out;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char ns[PATH_MAX], file[PATH_MAX];
  size_t len;
  int32_t max = 0;
  if (argc < 3 || napi_get_value_string_utf8(env, argv[0], ns, sizeof ns, &len) != napi_ok ||
      napi_get_value_string_utf8(env, argv[1], file, sizeof file, &len) != napi_ok ||
      napi_get_value_int32(env, argv[2], &max) != napi_ok || max <= 0) {
    napi_throw_type_error(env, NULL, "readFileInNetns(nsPath, filePath, maxBytes)");
    return NULL;
  }
  const char *failed = "open";
  int home;
  if (enter_netns(ns, &home, &failed) < 0) return throw_errno(env, errno, failed);
  char *buf = malloc((size_t)max);
  ssize_t total = 0;
  int fd = buf ? open(file, O_RDONLY | O_CLOEXEC) : -1;
  if (buf == NULL) errno = ENOMEM;
  int err = 0;
  if (fd >= 0) {
    for (;;) {
      ssize_t n = read(fd, buf + total, (size_t)(max - total));
      if (n < 0) { if (errno == EINTR) continue; err = errno; break; }
      if (n == 0 || (total += n) >= max) break;
    }
    close(fd);
  } else {
    err = errno;
  }
  leave_netns(home);
  if (err != 0) {
    free(buf);
    return throw_errno(env, err, fd < 0 ? "open" : "read");
  }
  void *data = NULL;
  napi_status st = napi_create_arraybuffer(env, (size_t)total, &data, &out);
  if (st == napi_ok && total > 0) memcpy(data, buf, (size_t)total);
  free(buf);
  CHECK_NAPI(env, st);
  return out;
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
    { "start", NULL, js_start, NULL, NULL, NULL, napi_default, NULL },
    { "pause", NULL, js_pause, NULL, NULL, NULL, napi_default, NULL },
    { "resume", NULL, js_resume, NULL, NULL, NULL, napi_default, NULL },
    { "ref", NULL, js_ref, NULL, NULL, NULL, napi_default, NULL },
    { "unref", NULL, js_unref, NULL, NULL, NULL, napi_default, NULL },
    { "close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL },
    { "fd", NULL, NULL, js_fd, NULL, NULL, napi_default, NULL },
  };
  napi_value cls, v;
  CHECK_NAPI(env, napi_define_class(env, "NlSocket", NAPI_AUTO_LENGTH, js_new, NULL,
                                    sizeof methods / sizeof methods[0], methods, &cls));
  CHECK_NAPI(env, napi_set_named_property(env, exports, "NlSocket", cls));
  napi_value fn;
  CHECK_NAPI(env, napi_create_function(env, "readFileInNetns", NAPI_AUTO_LENGTH, js_read_file_in_netns, NULL, &fn));
  CHECK_NAPI(env, napi_set_named_property(env, exports, "readFileInNetns", fn));
  CHECK_NAPI(env, napi_create_uint32(env, RECV_FLAG_TRUNCATED, &v));
  CHECK_NAPI(env, napi_set_named_property(env, exports, "RECV_FLAG_TRUNCATED", v));
  CHECK_NAPI(env, napi_create_uint32(env, RECV_FLAG_OVERRUN, &v));
  CHECK_NAPI(env, napi_set_named_property(env, exports, "RECV_FLAG_OVERRUN", v));
  CHECK_NAPI(env, napi_create_uint32(env, META_STRIDE, &v));
  CHECK_NAPI(env, napi_set_named_property(env, exports, "META_STRIDE", v));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
