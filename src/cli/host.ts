/**
 * What the CLI reads from the host, handed to the layers below as providers so that they
 * do no I/O of their own: the formatters get a file reader for the --netns namespace (the
 * socket layer's setns-based reader) instead of reaching into src/socket themselves.
 */
import { readFileInNetns } from '../socket/netlink-socket.js';

/** Reads a file as seen from inside a network namespace (a name, a path or a pid). */
export type NetnsFileReader = (netns: string, path: string) => Uint8Array;

export const netnsFileReader: NetnsFileReader = (netns, path) => readFileInNetns(netns, path);
