/**
 * Link-layer type numbers of netlink captures and the cooked-header lengths (layouts in
 * linktype.ts). No imports: the capture writer needs these without loading the reader.
 */

/** DLT/LINKTYPE_NETLINK: nlmon capture, 16-byte cooked header then the datagram. */
export const LINKTYPE_NETLINK = 253;
/** LINKTYPE_LINUX_SLL: Linux cooked capture v1 (e.g. the "any" device). */
export const LINKTYPE_LINUX_SLL = 113;
/** LINKTYPE_LINUX_SLL2: Linux cooked capture v2. */
export const LINKTYPE_LINUX_SLL2 = 276;
/** ARPHRD_NETLINK: hardware type of an nlmon device (linux/if_arp.h). */
export const ARPHRD_NETLINK = 824;

/** Length of the SLL v1 cooked header (also used by LINKTYPE_NETLINK). */
export const SLL_HEADER_LENGTH = 16;
/** Length of the SLL v2 cooked header. */
export const SLL2_HEADER_LENGTH = 20;
