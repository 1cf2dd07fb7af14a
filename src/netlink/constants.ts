/**
 * Netlink core constants, mirrored from include/uapi/linux/netlink.h (Linux 6.18).
 * Names are the kernel's own so that the header can be grepped.
 */

export const AF_NETLINK = 16;
export const NETLINK_NETFILTER = 12;
export const SOL_SOCKET = 1;
export const SOL_NETLINK = 270;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;

// SOL_NETLINK socket options.
export const NETLINK_ADD_MEMBERSHIP = 1;
export const NETLINK_DROP_MEMBERSHIP = 2;
export const NETLINK_PKTINFO = 3;
export const NETLINK_BROADCAST_ERROR = 4;
export const NETLINK_NO_ENOBUFS = 5;
export const NETLINK_LISTEN_ALL_NSID = 8;
export const NETLINK_LIST_MEMBERSHIPS = 9;
export const NETLINK_CAP_ACK = 10;
export const NETLINK_EXT_ACK = 11;
export const NETLINK_GET_STRICT_CHK = 12;

export const NLMSG_ALIGNTO = 4;
export const NLMSG_HDRLEN = 16;
export const NLA_HDRLEN = 4;

// Control message types (< NLMSG_MIN_TYPE).
export const NLMSG_NOOP = 0x1;
export const NLMSG_ERROR = 0x2;
export const NLMSG_DONE = 0x3;
export const NLMSG_OVERRUN = 0x4;
export const NLMSG_MIN_TYPE = 0x10;

// nlmsg_flags, generic bits.
export const NLM_F_REQUEST = 0x01;
export const NLM_F_MULTI = 0x02;
export const NLM_F_ACK = 0x04;
export const NLM_F_ECHO = 0x08;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_DUMP_FILTERED = 0x20;
// Modifiers of GET requests.
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_ATOMIC = 0x400;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
// Modifiers of NEW requests (ctnetlink also marks NEW events with CREATE|EXCL).
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;
// Modifiers of DELETE requests.
export const NLM_F_NONREC = 0x100;
export const NLM_F_BULK = 0x200;
// Flags of NLMSG_ERROR / NLMSG_DONE sent by the kernel.
export const NLM_F_CAPPED = 0x100;
export const NLM_F_ACK_TLVS = 0x200;

// nlattr type bits.
export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = 0x3fff;

// enum nlmsgerr_attrs: extended-ACK TLVs after struct nlmsgerr.
export const NLMSGERR_ATTR_UNUSED = 0;
export const NLMSGERR_ATTR_MSG = 1;
export const NLMSGERR_ATTR_OFFS = 2;
export const NLMSGERR_ATTR_COOKIE = 3;
export const NLMSGERR_ATTR_POLICY = 4;
export const NLMSGERR_ATTR_MISS_TYPE = 5;
export const NLMSGERR_ATTR_MISS_NEST = 6;

/** Byte order of netlink headers produced on this machine. */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Round up to the netlink 4-byte alignment. */
export function align4(n: number): number {
  return (n + 3) & ~3;
}
