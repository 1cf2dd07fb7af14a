/*
 * progname: name the process behind an event's requester port id, as early as possible
 * (see progname.c). Used by nlsock.c; system calls only, no N-API.
 */
#ifndef CTEVENTS_PROGNAME_H
#define CTEVENTS_PROGNAME_H

#include <stddef.h>
#include <stdint.h>

typedef struct pn_state pn_state;

/* Starts the lookup thread for the namespace of socket `sock_fd`; NULL (errno set) on failure. */
pn_state *pn_start(int sock_fd);
/* Stops and joins the thread and frees everything. NULL is fine. */
void pn_stop(pn_state *pn);
/* The receive thread, once at its start: enter the socket's namespace so that it may
 * look up inline (its own thread: nothing else it does depends on the namespace). 0 or -1. */
int pn_enter(pn_state *pn);
/* Receive thread (or main thread without one): the nlmsg_pid of every message in a
 * datagram from the kernel; port ids not already known or asked for are looked up now
 * (may_inline, after pn_enter, within a time budget) or queued for the lookup thread. */
void pn_note(pn_state *pn, const uint8_t *data, size_t len, int may_inline);
/* The answer for `portid`: 1 (name copied to out, NUL-terminated), 0 (looked up: no
 * such process, or still pending after wait_ms), -1 (never asked for). Waits up to
 * wait_ms for a lookup in progress. */
int pn_get(pn_state *pn, uint32_t portid, char *out, size_t cap, int wait_ms);
/* Figures for tests: lookups done, requests dropped because the queue was full. */
void pn_stats(pn_state *pn, uint64_t *lookups, uint64_t *dropped, uint64_t *found);

#endif
