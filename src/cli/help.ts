import type { Command } from './args.js'

const SHARED = `Flags every command takes:
  --json        one JSON event per line instead of human output
  --quiet       only the result and errors
  --help, -h    this help
  --version     the package version
Network commands (put, seed, get) also take:
  --bootstrap host:port[,host:port…]  DHT bootstrap nodes (binds to 127.0.0.1 when all are on loopback)
  --lan                 also find peers on the local network (mDNS, then direct TCP); works
                        with no internet: when no DHT node answers, the command goes on LAN-only
  --tcp <port>          also accept direct TCP connections on this port (0: any free one)
get also takes:
  --peer host:port      fetch straight from this address (a seed with --tcp), no discovery;
                        repeat it for several peers
demo also takes --lan (its networkers find each other by mDNS, no DHT) and --tcp <port>
(the writer accepts TCP on this port and readers dial it, no discovery).
seed, get and demo also take:
  --metrics host:port  serve Prometheus metrics at http://host:port/metrics (port 0: any free one)
seed and get also take:
  --stats              a live peer table on a terminal (with --json: a stats event each second)

Exit codes: 0 done or stopped by Ctrl-C while serving; 1 a one-line error; 130 interrupted
before done (a get still fetching, a put still writing); 141 standard output was closed.`

export const MAIN_HELP = `chainstore-networker: share and fetch Corestore cores over Hyperswarm

Commands:
  demo [--peers N] [--blocks N]            a private testnet in-process: one writer, the rest replicate
  testnet [--nodes N] [--port P]           run a local HyperDHT bootstrap on loopback and print its address
  put <file|-> --storage <dir>             append a file (or stdin) to a new core, print its key, seed it
  seed --storage <dir> [--key <hex>...]    announce and serve cores (default: all that put wrote)
  get <key> --storage <dir> [--out <file|->] [--live]
                                           fetch a whole core with progress, write it out, verify it
  status --storage <dir>                   what a storage directory holds (reads only)
  topics --storage <dir>                   the topics this storage remembers, and which command restores them
  forget <key>... --storage <dir>          stop remembering topics (--all: every one); the data stays

${SHARED}

Examples:
  chainstore-networker demo --peers 5
  chainstore-networker testnet --port 49737
  chainstore-networker put ./photo.jpg --storage ./a --bootstrap 127.0.0.1:49737
  chainstore-networker get <key> --storage ./b --out ./copy.jpg --bootstrap 127.0.0.1:49737
  chainstore-networker seed --storage ./a --lan        # two laptops on one Wi-Fi, no internet:
  chainstore-networker get <key> --storage ./b --lan   # run this on the other one
  chainstore-networker seed --storage ./a --tcp 7000   # a known address:
  chainstore-networker get <key> --storage ./b --peer 192.168.1.20:7000
`

const COMMAND_HELP: Record<Command, string> = {
  demo: `chainstore-networker demo [--peers N] [--blocks N] [--lan] [--tcp <port>] [--metrics host:port] [--json|--quiet]
  An embedded local testnet, N networkers (default 3), one writer appending N blocks
  (default 200, 4 KiB each); prints peers joining and blocks arriving, then a summary.
  --lan: no testnet; the networkers find each other by mDNS on this machine and connect
  over TCP. --tcp <port>: the writer also accepts TCP on this port (0: any free one) and
  each reader dials it straight, beside the DHT.
  Leaves nothing behind: its storage is temporary. --metrics serves every networker's
  metrics while it runs, each series labelled node="writer", "reader-1", …

Examples:
  chainstore-networker demo
  chainstore-networker demo --peers 5 --blocks 1000 --json`,
  testnet: `chainstore-networker testnet [--nodes N] [--port P] [--json]
  A local HyperDHT bootstrap of N nodes (default 3) on 127.0.0.1; prints the address to
  pass as --bootstrap in other terminals. Ctrl-C stops it.

Examples:
  chainstore-networker testnet --port 49737
  chainstore-networker testnet --nodes 5 --json`,
  put: `chainstore-networker put <file|-> --storage <dir> [--block-size BYTES] [--bootstrap …] [--lan] [--tcp <port>]
  Appends the file (or stdin with -) to a new core in blocks (default 65536 bytes, at most
  15 MiB), showing progress, prints the core's key, and seeds it until Ctrl-C. The file,
  the block size, the storage directory and the bootstrap are checked before anything is
  written; an interrupted or failed put leaves no core behind.
  Remembers: the new core's announcement (seed restores it; see topics, forget).

Examples:
  chainstore-networker put ./photo.jpg --storage ./a --bootstrap 127.0.0.1:49737
  tar c ./dir | chainstore-networker put - --storage ./a --bootstrap 127.0.0.1:49737`,
  seed: `chainstore-networker seed --storage <dir> [--key <hex>...] [--bootstrap …] [--lan] [--tcp <port>] [--metrics host:port] [--stats]
  Announces and serves the cores (default: every core this storage wrote), plus every topic
  the storage remembers (announced ones are served, looked-up ones followed); prints peers
  as they come and go and bytes served, until Ctrl-C. --metrics serves Prometheus metrics
  (peers, bytes, RTT, …) at /metrics; --stats shows a live table of the peers.
  Remembers: the announcement of every core it serves (see topics, forget).

Examples:
  chainstore-networker seed --storage ./a --bootstrap 127.0.0.1:49737
  chainstore-networker seed --storage ./a --lan --tcp 7000
  chainstore-networker seed --storage ./a --metrics 127.0.0.1:9464 --stats
  chainstore-networker seed --storage ./b --key <hex> --key <hex> --bootstrap 127.0.0.1:49737`,
  get: `chainstore-networker get <key> --storage <dir> [--out <file|->] [--live] [--timeout SECONDS] [--bootstrap …] [--lan] [--tcp <port>] [--peer host:port…] [--metrics host:port] [--stats]
  Looks the core up, replicates all of it with a progress bar, writes it (default: stdout,
  with messages on stderr), verifies its length. The --out path is checked first; the file
  appears only once complete. --timeout (default 30) bounds the wait for a peer that has the
  core; --live keeps following new blocks until Ctrl-C.
  Remembers: nothing for a plain get (the blocks stay in the storage: run it again to
  resume); with --live, the lookup, so seed on this storage keeps following the core.
  Ctrl-C before the whole core is written exits 130 and says how far it got.
  --metrics serves Prometheus metrics at /metrics; --stats shows a live table of the peers.

Examples:
  chainstore-networker get <key> --storage ./b --out ./copy.jpg --bootstrap 127.0.0.1:49737
  chainstore-networker get <key> --storage ./b --quiet --bootstrap 127.0.0.1:49737 > copy.jpg
  chainstore-networker get <key> --storage ./b --lan --out ./copy.jpg
  chainstore-networker get <key> --storage ./b --peer 192.168.1.20:7000 --out ./copy.jpg`,
  status: `chainstore-networker status --storage <dir> [--json]
  Every core the storage directory holds (written here or a replica, blocks held, bytes)
  and the topics it remembers. Only reads: a directory that is not a storage directory is
  reported and left untouched, and a storage a running command holds can still be read.

Examples:
  chainstore-networker status --storage ./a
  chainstore-networker status --storage ./a --json`,
  topics: `chainstore-networker topics --storage <dir> [--json]
  The topics this storage remembers: each one's core key (when the storage holds the core),
  whether it is announced (served) or looked up (followed), and which commands restore it
  (seed and put). Only reads.

Examples:
  chainstore-networker topics --storage ./a`,
  forget: `chainstore-networker forget <key>... --storage <dir> [--all] [--json]
  Stops remembering the topics of the given cores (a core key, or a discovery key as topics
  lists it); --all forgets every one. The cores' data stays in the storage. The storage must
  not be in use by a running command.

Examples:
  chainstore-networker forget <key> --storage ./a
  chainstore-networker forget --all --storage ./a`,
}

export function commandHelp(command: Command): string {
  return `${COMMAND_HELP[command]}\n\n${SHARED}\n`
}
