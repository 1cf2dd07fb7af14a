/// <reference types="node" />
/**
 * `ctevents/constants`: every kernel constant the package mirrors, under its kernel name:
 * netlink (linux/netlink.h), nfnetlink (nfnetlink.h, nfnetlink_compat.h), ctnetlink
 * (nfnetlink_conntrack.h, nf_conntrack_common.h, nf_conntrack_tcp.h ...) and cttimeout
 * (nfnetlink_cttimeout.h).
 */
export * from './netlink/constants.js';
export * from './nfnetlink/constants.js';
export * from './ctnetlink/constants.js';
export * from './cttimeout/constants.js';
