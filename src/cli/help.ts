/**
 * Help texts: `ctevents --help` (every command), `ctevents help CMD` / `ctevents CMD --help`
 * (one command: what it does and exactly the options it accepts, from the OPTIONS table in
 * args.ts, so help never lists an option the command would refuse).
 */
import { COMMANDS, OPTIONS, type Command } from './args.js';

const SUMMARY: Record<Command, [usage: string, what: string]> = {
  watch: ['ctevents [watch] [options]', 'stream conntrack events until interrupted (the default command; conntrack -E)'],
  dump: ['ctevents dump [options]', 'print the table and exit (conntrack -L); --follow keeps streaming events after it without a gap'],
  stats: ['ctevents stats [options]', 'entries, maximum, hash buckets, fill and the per-CPU counters (conntrack -S, -C)'],
  read: ['ctevents read FILE|- [options]', 'decode a pcap or pcapng capture of netlink traffic (no privilege needed)'],
  get: ['ctevents get -p PROTO -s SRC -d DST [--sport P --dport P] [options]', 'print one entry by its original tuple (conntrack -G)'],
  create: ['ctevents create -p PROTO -s SRC -d DST [ports] -t SECONDS [options]', 'create an entry (conntrack -I); the reply tuple defaults to the original one reversed'],
  update: ['ctevents update [-p PROTO -s SRC -d DST ports ...] [-m MARK[/MASK]] [-t SECONDS] [-l LABELS]', 'change the mark, labels, timeout or status of one entry, or of every entry the tuple options select (conntrack -U)'],
  help: ['ctevents help [COMMAND]', 'show the help of every command or of one'],
  completion: ['ctevents completion bash|zsh', 'print a shell completion script (bash: source <(ctevents completion bash))'],
};

/** Commands with their own option parser (ctevents help CMD prints their own help). */
export const STANDALONE_SUMMARY: Record<string, string> = {
  delete: 'delete the entries a filter selects, in the kernel where it can (conntrack -D); --dry-run counts them (ctevents help delete)',
  flush: 'flush the table, or what a filter selects (conntrack -F); asks on a terminal, --yes otherwise (ctevents help flush)',
  guard: 'keep new connections succeeding when the table fills: evicts by a fair policy (dry run unless --apply; ctevents help guard)',
  metrics: 'serve the table\'s pressure to Prometheus on /metrics (ctevents help metrics)',
  top: 'live view of what fills the table: count, rates, diagnosis, top holders (ctevents help top)',
};

const DESCRIBE: Record<string, [arg: string, text: string]> = {
  events: ['LIST', 'events: new,update,destroy or ALL (default new,destroy; all three with --state)'],
  count: ['N', 'stop after N printed records: events, or entries then events with dump --follow, or messages with read'],
  duration: ['SECONDS', 'stop after SECONDS (dump: with --follow)'],
  follow: ['', 'after the table, stream events without a gap'],
  format: ['FORMAT', 'text (default), json (one object per line, schema/ctevents.schema.json), conntrack, xml'],
  output: ['LIST', 'conntrack -o: extended,id,timestamp,ktimestamp,labels (conntrack format) or xml'],
  netns: ['NS', 'network namespace: a name under /var/run/netns, an absolute path, or a pid'],
  'buffer-size': ['BYTES', 'event socket receive buffer, 4096 to 1G, suffix K/M/G (default 64M)'],
  'backlog-size': ['BYTES', 'what the receive thread may hold while the output falls behind (default 256M, at least 256K; beyond it: OVERRUN, source buffer)'],
  write: ['FILE.pcap|-', 'record the raw netlink datagrams to a pcap file (Wireshark: Netlink); - writes the pcap to stdout (the lines are then not printed)'],
  force: ['', 'let --write replace an existing file (written under a temporary name, renamed into place once the run has started)'],
  dying: ['', 'dump the dying list (entries awaiting DESTROY delivery)'],
  unconfirmed: ['', 'dump the unconfirmed list'],
  expect: ['', 'expectations instead of connections (dump: the expectation table; watch: their events; stats: their counters)'],
  zero: ['', 'read and zero the counters (dump, get)'],
  timeout: ['SECONDS', 'create/update: the timeout'],
  family: ['ipv4|ipv6', 'address family'],
  proto: ['NAME|NUMBER', 'layer-4 protocol: tcp, udp, icmp, icmpv6, sctp, udplite, gre, dccp or a number'],
  src: ['ADDR[/LEN]', 'original source address (get/create/update: exact)'],
  dst: ['ADDR[/LEN]', 'original destination address'],
  'reply-src': ['ADDR[/LEN]', 'reply source address'],
  'reply-dst': ['ADDR[/LEN]', 'reply destination address'],
  sport: ['PORT', 'original source port'],
  dport: ['PORT', 'original destination port'],
  'reply-port-src': ['PORT', 'reply source port'],
  'reply-port-dst': ['PORT', 'reply destination port'],
  'icmp-type': ['N', 'ICMP / ICMPv6 type'],
  'icmp-code': ['N', 'ICMP / ICMPv6 code'],
  'icmp-id': ['N', 'ICMP / ICMPv6 identifier'],
  zone: ['N', 'conntrack zone'],
  'orig-zone': ['N', 'zone of the original direction'],
  'reply-zone': ['N', 'zone of the reply direction'],
  mark: ['VALUE[/MASK]', 'connection mark (create/update: the value to set)'],
  status: ['LIST', 'status flags: ASSURED,SEEN_REPLY,... (create/update: the flags to set)'],
  state: ['LIST', 'TCP state: ESTABLISHED,TIME_WAIT,... (create/update: one state)'],
  label: ['LIST', 'connection labels, names from connlabel.conf or bit numbers (create/update: the labels to set)'],
  'src-nat': ['[ADDR]', 'source-NATed entries (to ADDR if given; "" for any)'],
  'dst-nat': ['[ADDR]', 'destination-NATed entries (to ADDR if given; "" for any)'],
  'any-nat': ['[ADDR]', 'NATed entries in either direction (ADDR on either side)'],
  help: ['', 'show this help'],
  version: ['', 'show the version'],
};

function optionLines(cmd?: Command): string {
  const lines: string[] = [];
  for (const o of OPTIONS) {
    if (cmd !== undefined && !o.commands.includes(cmd)) continue;
    const [arg, text] = DESCRIBE[o.name] ?? ['', ''];
    const names = [o.short ? `-${o.short}, --${o.name}` : `    --${o.name}`, ...(o.aliases ?? []).map((a) => `--${a}`)].join(', ');
    const left = `  ${names}${arg ? ' ' + arg : ''}`;
    lines.push(left.length >= 34 ? `${left}\n${' '.repeat(34)}${text}` : `${left.padEnd(34)}${text}`);
  }
  return lines.join('\n');
}

export const HELP = `Usage: ctevents [command] [options]

Linux connection tracking over netlink: live events, dumps, statistics, single entries,
and offline decoding of captures. conntrack(8)'s option letters work as aliases.

Commands:
${COMMANDS.map((c) => `  ${c.padEnd(12)}${SUMMARY[c][1]}`).join('\n')}
${Object.entries(STANDALONE_SUMMARY).map(([c, what]) => `  ${c.padEnd(12)}${what}`).join('\n')}

Options (ctevents help COMMAND lists the ones a command accepts):
${optionLines()}

On exit (Ctrl-C, --count, --duration, a closed pipe) a summary line goes to stderr.
Exit codes: 0 success, 1 failure (no privilege, missing namespace or file, kernel
refusal), 2 bad command line.
`;

/** The help of one command. */
export function commandHelp(cmd: Command): string {
  const [usage, what] = SUMMARY[cmd];
  const opts = optionLines(cmd);
  return `Usage: ${usage}\n\n${what}.\n\nOptions:\n${opts}\n`;
}
