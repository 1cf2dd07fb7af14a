/**
 * ctnetlink constants, mirrored from include/uapi/linux/netfilter/nfnetlink_conntrack.h,
 * nf_conntrack_common.h, nf_conntrack_tcp.h, nf_conntrack_sctp.h (Linux 6.18), and the
 * CTA_FILTER flag bits from the kernel-internal net/netfilter/nf_internals.h.
 */

// enum cntl_msg_types (subsystem NFNL_SUBSYS_CTNETLINK).
export const IPCTNL_MSG_CT_NEW = 0;
export const IPCTNL_MSG_CT_GET = 1;
export const IPCTNL_MSG_CT_DELETE = 2;
export const IPCTNL_MSG_CT_GET_CTRZERO = 3;
export const IPCTNL_MSG_CT_GET_STATS_CPU = 4;
export const IPCTNL_MSG_CT_GET_STATS = 5;
export const IPCTNL_MSG_CT_GET_DYING = 6;
export const IPCTNL_MSG_CT_GET_UNCONFIRMED = 7;

// enum ctnl_exp_msg_types (subsystem NFNL_SUBSYS_CTNETLINK_EXP).
export const IPCTNL_MSG_EXP_NEW = 0;
export const IPCTNL_MSG_EXP_GET = 1;
export const IPCTNL_MSG_EXP_DELETE = 2;
export const IPCTNL_MSG_EXP_GET_STATS_CPU = 3;

// enum ctattr_type
export const CTA_UNSPEC = 0;
export const CTA_TUPLE_ORIG = 1;
export const CTA_TUPLE_REPLY = 2;
export const CTA_STATUS = 3;
export const CTA_PROTOINFO = 4;
export const CTA_HELP = 5;
export const CTA_NAT_SRC = 6;
export const CTA_TIMEOUT = 7;
export const CTA_MARK = 8;
export const CTA_COUNTERS_ORIG = 9;
export const CTA_COUNTERS_REPLY = 10;
export const CTA_USE = 11;
export const CTA_ID = 12;
export const CTA_NAT_DST = 13;
export const CTA_TUPLE_MASTER = 14;
export const CTA_SEQ_ADJ_ORIG = 15;
export const CTA_SEQ_ADJ_REPLY = 16;
export const CTA_SECMARK = 17;
export const CTA_ZONE = 18;
export const CTA_SECCTX = 19;
export const CTA_TIMESTAMP = 20;
export const CTA_MARK_MASK = 21;
export const CTA_LABELS = 22;
export const CTA_LABELS_MASK = 23;
export const CTA_SYNPROXY = 24;
export const CTA_FILTER = 25;
export const CTA_STATUS_MASK = 26;
export const CTA_TIMESTAMP_EVENT = 27;

// enum ctattr_tuple
export const CTA_TUPLE_IP = 1;
export const CTA_TUPLE_PROTO = 2;
export const CTA_TUPLE_ZONE = 3;

// enum ctattr_ip
export const CTA_IP_V4_SRC = 1;
export const CTA_IP_V4_DST = 2;
export const CTA_IP_V6_SRC = 3;
export const CTA_IP_V6_DST = 4;

// enum ctattr_l4proto
export const CTA_PROTO_NUM = 1;
export const CTA_PROTO_SRC_PORT = 2;
export const CTA_PROTO_DST_PORT = 3;
export const CTA_PROTO_ICMP_ID = 4;
export const CTA_PROTO_ICMP_TYPE = 5;
export const CTA_PROTO_ICMP_CODE = 6;
export const CTA_PROTO_ICMPV6_ID = 7;
export const CTA_PROTO_ICMPV6_TYPE = 8;
export const CTA_PROTO_ICMPV6_CODE = 9;

// enum ctattr_protoinfo
export const CTA_PROTOINFO_TCP = 1;
export const CTA_PROTOINFO_DCCP = 2;
export const CTA_PROTOINFO_SCTP = 3;

// enum ctattr_protoinfo_tcp
export const CTA_PROTOINFO_TCP_STATE = 1;
export const CTA_PROTOINFO_TCP_WSCALE_ORIGINAL = 2;
export const CTA_PROTOINFO_TCP_WSCALE_REPLY = 3;
export const CTA_PROTOINFO_TCP_FLAGS_ORIGINAL = 4;
export const CTA_PROTOINFO_TCP_FLAGS_REPLY = 5;

// enum ctattr_protoinfo_dccp (kernels <= 6.16 emit it)
export const CTA_PROTOINFO_DCCP_STATE = 1;
export const CTA_PROTOINFO_DCCP_ROLE = 2;
export const CTA_PROTOINFO_DCCP_HANDSHAKE_SEQ = 3;
export const CTA_PROTOINFO_DCCP_PAD = 4;

// enum ctattr_protoinfo_sctp
export const CTA_PROTOINFO_SCTP_STATE = 1;
export const CTA_PROTOINFO_SCTP_VTAG_ORIGINAL = 2;
export const CTA_PROTOINFO_SCTP_VTAG_REPLY = 3;

// enum ctattr_counters
export const CTA_COUNTERS_PACKETS = 1;
export const CTA_COUNTERS_BYTES = 2;
export const CTA_COUNTERS32_PACKETS = 3;
export const CTA_COUNTERS32_BYTES = 4;
export const CTA_COUNTERS_PAD = 5;

// enum ctattr_tstamp
export const CTA_TIMESTAMP_START = 1;
export const CTA_TIMESTAMP_STOP = 2;
export const CTA_TIMESTAMP_PAD = 3;

// enum ctattr_nat
export const CTA_NAT_V4_MINIP = 1;
export const CTA_NAT_V4_MAXIP = 2;
export const CTA_NAT_PROTO = 3;
export const CTA_NAT_V6_MINIP = 4;
export const CTA_NAT_V6_MAXIP = 5;

// enum ctattr_protonat
export const CTA_PROTONAT_PORT_MIN = 1;
export const CTA_PROTONAT_PORT_MAX = 2;

// enum ctattr_seqadj (= legacy ctattr_natseq)
export const CTA_SEQADJ_CORRECTION_POS = 1;
export const CTA_SEQADJ_OFFSET_BEFORE = 2;
export const CTA_SEQADJ_OFFSET_AFTER = 3;

// enum ctattr_synproxy
export const CTA_SYNPROXY_ISN = 1;
export const CTA_SYNPROXY_ITS = 2;
export const CTA_SYNPROXY_TSOFF = 3;

// enum ctattr_help
export const CTA_HELP_NAME = 1;
export const CTA_HELP_INFO = 2;

// enum ctattr_secctx
export const CTA_SECCTX_NAME = 1;

// enum ctattr_filter; the two flag words are HOST byte order.
export const CTA_FILTER_ORIG_FLAGS = 1;
export const CTA_FILTER_REPLY_FLAGS = 2;

// CTA_FILTER_F_* (nf_internals.h): which fields of the partial tuple must match.
export const CTA_FILTER_F_CTA_IP_SRC = 1 << 0;
export const CTA_FILTER_F_CTA_IP_DST = 1 << 1;
export const CTA_FILTER_F_CTA_TUPLE_ZONE = 1 << 2;
export const CTA_FILTER_F_CTA_PROTO_NUM = 1 << 3;
export const CTA_FILTER_F_CTA_PROTO_SRC_PORT = 1 << 4;
export const CTA_FILTER_F_CTA_PROTO_DST_PORT = 1 << 5;
export const CTA_FILTER_F_CTA_PROTO_ICMP_TYPE = 1 << 6;
export const CTA_FILTER_F_CTA_PROTO_ICMP_CODE = 1 << 7;
export const CTA_FILTER_F_CTA_PROTO_ICMP_ID = 1 << 8;
export const CTA_FILTER_F_CTA_PROTO_ICMPV6_TYPE = 1 << 9;
export const CTA_FILTER_F_CTA_PROTO_ICMPV6_CODE = 1 << 10;
export const CTA_FILTER_F_CTA_PROTO_ICMPV6_ID = 1 << 11;
export const CTA_FILTER_F_ALL = 0xfff;

// enum ctattr_stats_cpu (all u32 BE)
export const CTA_STATS_SEARCHED = 1;
export const CTA_STATS_FOUND = 2;
export const CTA_STATS_NEW = 3;
export const CTA_STATS_INVALID = 4;
export const CTA_STATS_IGNORE = 5;
export const CTA_STATS_DELETE = 6;
export const CTA_STATS_DELETE_LIST = 7;
export const CTA_STATS_INSERT = 8;
export const CTA_STATS_INSERT_FAILED = 9;
export const CTA_STATS_DROP = 10;
export const CTA_STATS_EARLY_DROP = 11;
export const CTA_STATS_ERROR = 12;
export const CTA_STATS_SEARCH_RESTART = 13;
export const CTA_STATS_CLASH_RESOLVE = 14;
export const CTA_STATS_CHAIN_TOOLONG = 15;

// enum ctattr_stats_global
export const CTA_STATS_GLOBAL_ENTRIES = 1;
export const CTA_STATS_GLOBAL_MAX_ENTRIES = 2;

// enum ctattr_expect_stats
export const CTA_STATS_EXP_NEW = 1;
export const CTA_STATS_EXP_CREATE = 2;
export const CTA_STATS_EXP_DELETE = 3;

// enum ctattr_expect
export const CTA_EXPECT_MASTER = 1;
export const CTA_EXPECT_TUPLE = 2;
export const CTA_EXPECT_MASK = 3;
export const CTA_EXPECT_TIMEOUT = 4;
export const CTA_EXPECT_ID = 5;
export const CTA_EXPECT_HELP_NAME = 6;
export const CTA_EXPECT_ZONE = 7;
export const CTA_EXPECT_FLAGS = 8;
export const CTA_EXPECT_CLASS = 9;
export const CTA_EXPECT_NAT = 10;
export const CTA_EXPECT_FN = 11;

// enum ctattr_expect_nat
export const CTA_EXPECT_NAT_DIR = 1;
export const CTA_EXPECT_NAT_TUPLE = 2;

// Expectation flags (CTA_EXPECT_FLAGS).
export const NF_CT_EXPECT_PERMANENT = 0x1;
export const NF_CT_EXPECT_INACTIVE = 0x2;
export const NF_CT_EXPECT_USERSPACE = 0x4;

// enum ip_conntrack_status (CTA_STATUS bits)
export const IPS_EXPECTED = 1 << 0;
export const IPS_SEEN_REPLY = 1 << 1;
export const IPS_ASSURED = 1 << 2;
export const IPS_CONFIRMED = 1 << 3;
export const IPS_SRC_NAT = 1 << 4;
export const IPS_DST_NAT = 1 << 5;
export const IPS_NAT_MASK = IPS_SRC_NAT | IPS_DST_NAT;
export const IPS_SEQ_ADJUST = 1 << 6;
export const IPS_SRC_NAT_DONE = 1 << 7;
export const IPS_DST_NAT_DONE = 1 << 8;
export const IPS_NAT_DONE_MASK = IPS_SRC_NAT_DONE | IPS_DST_NAT_DONE;
export const IPS_DYING = 1 << 9;
export const IPS_FIXED_TIMEOUT = 1 << 10;
export const IPS_TEMPLATE = 1 << 11;
export const IPS_UNTRACKED = 1 << 12;
export const IPS_HELPER = 1 << 13;
export const IPS_OFFLOAD = 1 << 14;
export const IPS_HW_OFFLOAD = 1 << 15;

/** Status bit names, index = bit number, without the IPS_ prefix. */
export const IPS_NAMES: readonly string[] = [
  'EXPECTED', 'SEEN_REPLY', 'ASSURED', 'CONFIRMED', 'SRC_NAT', 'DST_NAT', 'SEQ_ADJUST',
  'SRC_NAT_DONE', 'DST_NAT_DONE', 'DYING', 'FIXED_TIMEOUT', 'TEMPLATE', 'UNTRACKED',
  'HELPER', 'OFFLOAD', 'HW_OFFLOAD',
];

// enum tcp_conntrack
export const TCP_CONNTRACK_NONE = 0;
export const TCP_CONNTRACK_SYN_SENT = 1;
export const TCP_CONNTRACK_SYN_RECV = 2;
export const TCP_CONNTRACK_ESTABLISHED = 3;
export const TCP_CONNTRACK_FIN_WAIT = 4;
export const TCP_CONNTRACK_CLOSE_WAIT = 5;
export const TCP_CONNTRACK_LAST_ACK = 6;
export const TCP_CONNTRACK_TIME_WAIT = 7;
export const TCP_CONNTRACK_CLOSE = 8;
export const TCP_CONNTRACK_SYN_SENT2 = 9;

/** TCP state names as conntrack(8) prints them, index = state. */
export const TCP_STATE_NAMES: readonly string[] = [
  'NONE', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK',
  'TIME_WAIT', 'CLOSE', 'SYN_SENT2',
];

/** SCTP state names (enum sctp_conntrack), index = state. */
export const SCTP_STATE_NAMES: readonly string[] = [
  'NONE', 'CLOSED', 'COOKIE_WAIT', 'COOKIE_ECHOED', 'ESTABLISHED', 'SHUTDOWN_SENT',
  'SHUTDOWN_RECD', 'SHUTDOWN_ACK_SENT', 'HEARTBEAT_SENT', 'HEARTBEAT_ACKED',
];

/** DCCP state names (kernel nf_conntrack_dccp.h, <= 6.16), index = state. */
export const DCCP_STATE_NAMES: readonly string[] = [
  'NONE', 'REQUEST', 'RESPOND', 'PARTOPEN', 'OPEN', 'CLOSEREQ', 'CLOSING', 'TIMEWAIT',
  'IGNORE', 'INVALID',
];

// TCP per-direction flags (struct nf_ct_tcp_flags.flags).
export const IP_CT_TCP_FLAG_WINDOW_SCALE = 0x01;
export const IP_CT_TCP_FLAG_SACK_PERM = 0x02;
export const IP_CT_TCP_FLAG_CLOSE_INIT = 0x04;
export const IP_CT_TCP_FLAG_BE_LIBERAL = 0x08;
export const IP_CT_TCP_FLAG_DATA_UNACKNOWLEDGED = 0x10;
export const IP_CT_TCP_FLAG_MAXACK_SET = 0x20;
export const IP_CT_EXP_CHALLENGE_ACK = 0x40;
export const IP_CT_TCP_SIMULTANEOUS_OPEN = 0x80;

// IP protocol numbers with protocol-specific tuple attributes.
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_DCCP = 33;
export const IPPROTO_GRE = 47;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_SCTP = 132;
export const IPPROTO_UDPLITE = 136;
