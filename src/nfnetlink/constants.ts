/**
 * nfnetlink constants, mirrored from include/uapi/linux/netfilter/nfnetlink.h and
 * nfnetlink_compat.h (Linux 6.18).
 */

export const NFNETLINK_V0 = 0;

// Subsystem ids: the high byte of nlmsg_type.
export const NFNL_SUBSYS_NONE = 0;
export const NFNL_SUBSYS_CTNETLINK = 1;
export const NFNL_SUBSYS_CTNETLINK_EXP = 2;
export const NFNL_SUBSYS_QUEUE = 3;
export const NFNL_SUBSYS_ULOG = 4;
export const NFNL_SUBSYS_OSF = 5;
export const NFNL_SUBSYS_IPSET = 6;
export const NFNL_SUBSYS_ACCT = 7;
export const NFNL_SUBSYS_CTNETLINK_TIMEOUT = 8;
export const NFNL_SUBSYS_CTHELPER = 9;
export const NFNL_SUBSYS_NFTABLES = 10;
export const NFNL_SUBSYS_NFT_COMPAT = 11;
export const NFNL_SUBSYS_HOOK = 12;
export const NFNL_SUBSYS_COUNT = 13;

// enum nfnetlink_groups: numbers for NETLINK_ADD_MEMBERSHIP.
export const NFNLGRP_NONE = 0;
export const NFNLGRP_CONNTRACK_NEW = 1;
export const NFNLGRP_CONNTRACK_UPDATE = 2;
export const NFNLGRP_CONNTRACK_DESTROY = 3;
export const NFNLGRP_CONNTRACK_EXP_NEW = 4;
export const NFNLGRP_CONNTRACK_EXP_UPDATE = 5;
export const NFNLGRP_CONNTRACK_EXP_DESTROY = 6;
export const NFNLGRP_NFTABLES = 7;
export const NFNLGRP_ACCT_QUOTA = 8;
export const NFNLGRP_NFTRACE = 9;
export const NFNLGRP_MAX = 9;

// Legacy bind() bitmask (nfnetlink_compat.h): bit (group - 1).
export const NF_NETLINK_CONNTRACK_NEW = 0x01;
export const NF_NETLINK_CONNTRACK_UPDATE = 0x02;
export const NF_NETLINK_CONNTRACK_DESTROY = 0x04;
export const NF_NETLINK_CONNTRACK_EXP_NEW = 0x08;
export const NF_NETLINK_CONNTRACK_EXP_UPDATE = 0x10;
export const NF_NETLINK_CONNTRACK_EXP_DESTROY = 0x20;

/** Legacy nl_groups bitmask for a list of group numbers (1..32). */
export function groupMask(groups: readonly number[]): number {
  let m = 0;
  for (const g of groups) if (g >= 1 && g <= 32) m |= 1 << (g - 1);
  return m >>> 0;
}

// Batches (only nf_tables accepts them; ctnetlink answers EOPNOTSUPP).
export const NFNL_MSG_BATCH_BEGIN = 0x10;
export const NFNL_MSG_BATCH_END = 0x11;
export const NFNL_BATCH_GENID = 1;

// Address families carried in nfgenmsg.nfgen_family.
export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const NFPROTO_UNSPEC = 0;
export const NFPROTO_INET = 1;
export const NFPROTO_IPV4 = 2;
export const NFPROTO_ARP = 3;
export const NFPROTO_NETDEV = 5;
export const NFPROTO_BRIDGE = 7;
export const NFPROTO_IPV6 = 10;
