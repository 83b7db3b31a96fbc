/**
 * Reads a callgrind dump kept by `ICOUNT_KEEP=1 npm run bench:icount` and prints where the
 * instructions went: self instructions per request by function, JIT-compiled JavaScript named
 * through node's --perf-basic-prof map. Given two dumps, prints the difference per function (the
 * first minus the second), e.g. project against floor, or a build against the one before it.
 *
 *   node dist/bench/icount-profile.js <dump> <perf map> <requests> [<dump> <perf map> <requests>]
 *
 * TOP=n limits the rows (default 60).
 */
import { readFileSync } from 'node:fs';
import { selfCostsOf } from './lib/callgrind.js';

type Symbolizer = (address: number) => string;

/** JIT code ranges from /tmp/perf-<pid>.map: "start size name" in hex, one per line. */
function symbolizer(mapFile: string): Symbolizer {
  const ranges = readFileSync(mapFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [start, size, ...name] = line.split(' ');
      return { start: parseInt(start!, 16), end: parseInt(start!, 16) + parseInt(size!, 16), name: name.join(' ') };
    })
    .sort((a, b) => a.start - b.start);
  return (address) => {
    let lo = 0;
    let hi = ranges.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (ranges[mid]!.start <= address) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found >= 0 && address < ranges[found]!.end ? ranges[found]!.name : 'unnamed JIT code';
  };
}

/** One function's name, with JIT tier marks and source positions dropped so tiers add up. */
const normalized = (name: string, symbolize: Symbolizer): string =>
  (/^0x[0-9a-f]+$/.test(name) ? symbolize(parseInt(name, 16)) : name)
    .replace(/^JS:[*~^+]?/, 'JS:')
    .replace(/'\d+$/, '')
    .replace(/:\d+:\d+$/, '');

/** Self cost per function and request, JIT code named through the perf map. */
function selfCosts(dumpFile: string, mapFile: string, requests: number): Map<string, number> {
  const symbolize = symbolizer(mapFile);
  const costs = new Map<string, number>();
  // Several raw names (JIT tiers of one function) can map to one normalized name: summed here.
  for (const [raw, cost] of selfCostsOf(readFileSync(dumpFile, 'utf8'))) {
    const name = normalized(raw, symbolize);
    costs.set(name, (costs.get(name) ?? 0) + cost / requests);
  }
  return costs;
}

const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
const fmt = (n: number): string => Math.round(n).toString().padStart(9);

function main(args: string[]): void {
  const top = Number(process.env.TOP ?? 60);
  if (args.length !== 3 && args.length !== 6) {
    console.error('usage: icount-profile <dump> <perf map> <requests> [<dump> <perf map> <requests>]');
    process.exit(2);
  }
  const a = selfCosts(args[0]!, args[1]!, Number(args[2]));
  if (args.length === 3) {
    console.log(`${fmt(sum(a))} instructions per request in all`);
    for (const [name, cost] of [...a].sort((x, y) => y[1] - x[1]).slice(0, top)) console.log(`${fmt(cost)} ${name.slice(0, 160)}`);
    return;
  }
  const b = selfCosts(args[3]!, args[4]!, Number(args[5]));
  console.log(`${fmt(sum(a))} vs ${fmt(sum(b))} instructions per request (difference ${Math.round(sum(a) - sum(b))})`);
  console.log('     diff     first    second function');
  const rows = [...new Set([...a.keys(), ...b.keys()])].map((name) => ({ name, a: a.get(name) ?? 0, b: b.get(name) ?? 0 }));
  rows.sort((x, y) => y.a - y.b - (x.a - x.b));
  for (const r of rows.slice(0, top)) console.log(`${fmt(r.a - r.b)} ${fmt(r.a)} ${fmt(r.b)} ${r.name.slice(0, 140)}`);
}

main(process.argv.slice(2));
