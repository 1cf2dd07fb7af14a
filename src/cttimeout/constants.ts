/**
 * cttimeout constants, mirrored from include/uapi/linux/netfilter/nfnetlink_cttimeout.h
 * (Linux 6.18). Subsystem NFNL_SUBSYS_CTNETLINK_TIMEOUT (8): timeout policies that
 * conntrack entries can be attached to (nfct, nft `ct timeout`), and the per-netns default
 * timeouts of each layer-4 protocol (the nf_conntrack_*_timeout sysctls).
 */

// enum ctnl_timeout_msg_types
export const IPCTNL_MSG_TIMEOUT_NEW = 0;
export const IPCTNL_MSG_TIMEOUT_GET = 1;
export const IPCTNL_MSG_TIMEOUT_DELETE = 2;
export const IPCTNL_MSG_TIMEOUT_DEFAULT_SET = 3;
export const IPCTNL_MSG_TIMEOUT_DEFAULT_GET = 4;
export const IPCTNL_MSG_TIMEOUT_MAX = 5;

// enum ctattr_timeout
export const CTA_TIMEOUT_UNSPEC = 0;
/** NUL-terminated policy name, at most CTNL_TIMEOUT_NAME_MAX - 1 characters. */
export const CTA_TIMEOUT_NAME = 1;
/** u16 BE: the layer-3 family (AF_INET, AF_INET6). */
export const CTA_TIMEOUT_L3PROTO = 2;
/** u8: the IP protocol number (255 for the generic policy). */
export const CTA_TIMEOUT_L4PROTO = 3;
/** Nest of u32 BE seconds, one attribute per state (enum ctattr_timeout_<proto>). */
export const CTA_TIMEOUT_DATA = 4;
/** u32 BE: reference count of the policy. */
export const CTA_TIMEOUT_USE = 5;

export const CTNL_TIMEOUT_NAME_MAX = 32;

// enum ctattr_timeout_generic
export const CTA_TIMEOUT_GENERIC_TIMEOUT = 1;

// enum ctattr_timeout_tcp
export const CTA_TIMEOUT_TCP_SYN_SENT = 1;
export const CTA_TIMEOUT_TCP_SYN_RECV = 2;
export const CTA_TIMEOUT_TCP_ESTABLISHED = 3;
export const CTA_TIMEOUT_TCP_FIN_WAIT = 4;
export const CTA_TIMEOUT_TCP_CLOSE_WAIT = 5;
export const CTA_TIMEOUT_TCP_LAST_ACK = 6;
export const CTA_TIMEOUT_TCP_TIME_WAIT = 7;
export const CTA_TIMEOUT_TCP_CLOSE = 8;
export const CTA_TIMEOUT_TCP_SYN_SENT2 = 9;
export const CTA_TIMEOUT_TCP_RETRANS = 10;
export const CTA_TIMEOUT_TCP_UNACK = 11;

// enum ctattr_timeout_udp
export const CTA_TIMEOUT_UDP_UNREPLIED = 1;
export const CTA_TIMEOUT_UDP_REPLIED = 2;

// enum ctattr_timeout_udplite
export const CTA_TIMEOUT_UDPLITE_UNREPLIED = 1;
export const CTA_TIMEOUT_UDPLITE_REPLIED = 2;

// enum ctattr_timeout_icmp
export const CTA_TIMEOUT_ICMP_TIMEOUT = 1;

// enum ctattr_timeout_dccp (the kernel dropped DCCP conntrack in 6.16: EOPNOTSUPP)
export const CTA_TIMEOUT_DCCP_REQUEST = 1;
export const CTA_TIMEOUT_DCCP_RESPOND = 2;
export const CTA_TIMEOUT_DCCP_PARTOPEN = 3;
export const CTA_TIMEOUT_DCCP_OPEN = 4;
export const CTA_TIMEOUT_DCCP_CLOSEREQ = 5;
export const CTA_TIMEOUT_DCCP_CLOSING = 6;
export const CTA_TIMEOUT_DCCP_TIMEWAIT = 7;

// enum ctattr_timeout_sctp
export const CTA_TIMEOUT_SCTP_CLOSED = 1;
export const CTA_TIMEOUT_SCTP_COOKIE_WAIT = 2;
export const CTA_TIMEOUT_SCTP_COOKIE_ECHOED = 3;
export const CTA_TIMEOUT_SCTP_ESTABLISHED = 4;
export const CTA_TIMEOUT_SCTP_SHUTDOWN_SENT = 5;
export const CTA_TIMEOUT_SCTP_SHUTDOWN_RECD = 6;
export const CTA_TIMEOUT_SCTP_SHUTDOWN_ACK_SENT = 7;
export const CTA_TIMEOUT_SCTP_HEARTBEAT_SENT = 8;
/** No longer used by the kernel. */
export const CTA_TIMEOUT_SCTP_HEARTBEAT_ACKED = 9;

// enum ctattr_timeout_icmpv6
export const CTA_TIMEOUT_ICMPV6_TIMEOUT = 1;

// enum ctattr_timeout_gre
export const CTA_TIMEOUT_GRE_UNREPLIED = 1;
export const CTA_TIMEOUT_GRE_REPLIED = 2;

/** The l4proto of the generic policy (any protocol without a tracker of its own). */
export const CTTIMEOUT_L4PROTO_GENERIC = 255;
