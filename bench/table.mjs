// Prints the comparison table of bench/run.sh from the hubload JSON reports
// in DIR: node table.mjs DIR target...
//
// When hubd runs next to the ceiling or Node, the rows with a figure to
// compare get "hubd / ceiling" and "hubd / node" columns: hubd's figure
// divided by the other server's, from the same run.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const [dir, ...targets] = process.argv.slice(2);
const load = (scenario, target) => {
  const f = join(dir, `${scenario}-${target}.json`);
  if (!existsSync(f)) return null;
  try {
    return JSON.parse(readFileSync(f, "utf8"));
  } catch {
    return null;
  }
};
const num = (v, digits = 0) =>
  v === undefined || v === null || Number.isNaN(v) ? "n/a" : Number(v).toLocaleString("en-US", { maximumFractionDigits: digits });
const errs = (r) => (r ? Object.values(r.errors || {}).reduce((a, b) => a + b, 0) : undefined);
const pair = (a, b, digits = 1) => `${num(a, digits)} / ${num(b, digits)}`;
const kib = (v) => (v === undefined || v === null ? undefined : v / 1024);
const mib = (v) => (v === undefined || v === null ? undefined : v / (1 << 20));

// perCore divides a rate by the server's CPU cores over the same window: the
// work done per CPU-second, which neighbours on a shared box do not change.
const perCore = (rate, r) => (r.cpu?.serverCores > 0 ? rate / r.cpu.serverCores : undefined);

// Each row: scenario, metric, hubd's target, and either `value` (a number:
// printed, and divided for the ratio columns) or `text` (printed only).
const rows = [
  { s: "fanout", m: "deliveries/s", t: ">= 0.8 x ceiling", value: (r) => r.traffic?.deliveredPerSec },
  { s: "fanout", m: "delivery p50 / p99 ms", t: "p99 < 50", text: (r) => pair(r.traffic?.latency.p50Ms, r.traffic?.latency.p99Ms) },
  { s: "fanout", m: "delivered of expected", t: "100%", text: (r) => `${num((100 * r.traffic?.delivered) / r.traffic?.expectedDeliveries, 2)}%` },
  { s: "fanout", m: "send rate msgs/s", t: "", value: (r) => r.traffic?.sendRate },
  { s: "fanout", m: "CPU cores server / hubload", t: "", text: (r) => pair(r.cpu?.serverCores, r.cpu?.clientCores, 2) },
  { s: "fanout", m: "deliveries per server CPU-second", t: "", value: (r) => perCore(r.traffic?.deliveredPerSec, r) },
  { s: "rooms", m: "deliveries/s", t: ">= 0.6 x ceiling", value: (r) => r.traffic?.deliveredPerSec },
  { s: "rooms", m: "acked msgs/s (hubd persists first)", t: "", value: (r) => r.traffic?.persistedPerSec },
  { s: "rooms", m: "delivery p50 / p99 ms", t: "p99 < 250", text: (r) => pair(r.traffic?.latency.p50Ms, r.traffic?.latency.p99Ms) },
  { s: "rooms", m: "delivered of expected", t: "100%", text: (r) => `${num((100 * r.traffic?.delivered) / r.traffic?.expectedDeliveries, 2)}%` },
  { s: "rooms", m: "ack p99 ms", t: "", value: (r) => r.traffic?.ackLatency.p99Ms, digits: 1 },
  { s: "rooms", m: "CPU cores server / hubload", t: "", text: (r) => pair(r.cpu?.serverCores, r.cpu?.clientCores, 2) },
  { s: "rooms", m: "deliveries per server CPU-second", t: "", value: (r) => perCore(r.traffic?.deliveredPerSec, r) },
  { s: "idle", m: "server RSS KiB/conn", t: "<= 8", value: (r) => kib(r.memory?.perConnBytes), digits: 1 },
  { s: "idle", m: "Go heap in use / stacks KiB/conn", t: "", text: (r) => pair(kib(r.memory?.heapPerConnBytes), kib(r.memory?.stackPerConnBytes)) },
  { s: "idle", m: "connections opened", t: "", value: (r) => r.connect?.opened },
  { s: "idle", m: "conn+join/s", t: "", value: (r) => r.connect?.perSec },
  { s: "connect", m: "conn/s (JWT + namespace)", t: ">= 0.9 x ceiling", value: (r) => r.connect?.perSec },
  { s: "connect", m: "connect p99 ms", t: "", value: (r) => r.connect?.latency.p99Ms, digits: 1 },
  { s: "connect", m: "CPU cores server / hubload", t: "", text: (r) => pair(r.cpu?.serverCores, r.cpu?.clientCores, 2) },
  { s: "connect", m: "connections per server CPU-second", t: "", value: (r) => perCore(r.connect?.perSec, r) },
  { s: "idle100k", m: "server RSS MiB, idle (after GC)", t: "< 1,024", value: (r) => mib(r.memory?.afterBytes), digits: 1 },
  { s: "idle100k", m: "server RSS KiB/conn, idle", t: "", value: (r) => kib(r.memory?.perConnBytes), digits: 1 },
  { s: "idle100k", m: "Go heap in use / stacks KiB/conn", t: "", text: (r) => pair(kib(r.memory?.heapPerConnBytes), kib(r.memory?.stackPerConnBytes)) },
  { s: "idle100k", m: "idle held to the end / opened", t: "all", text: (r) => `${num(r.crowd?.heldAtEnd)} / ${num(r.crowd?.idle)}` },
  { s: "idle100k", m: "pings answered by the idle ones", t: "", value: (r) => r.crowd?.pingsAnswered },
  { s: "idle100k", m: "fan-out deliveries/s", t: "", value: (r) => r.traffic?.deliveredPerSec },
  { s: "idle100k", m: "fan-out delivery p50 / p99 ms", t: "p99 as in fanout", text: (r) => pair(r.traffic?.latency.p50Ms, r.traffic?.latency.p99Ms) },
  { s: "idle100k", m: "fan-out delivered of expected", t: "100%", text: (r) => `${num((100 * r.traffic?.delivered) / r.traffic?.expectedDeliveries, 2)}%` },
  { s: "idle100k", m: "server RSS MiB at the end of the fan-out", t: "", value: (r) => mib(r.crowd?.rssAtEndBytes), digits: 1 },
];
const scenarios = [...new Set(rows.map((r) => r.s))];
for (const s of scenarios) {
  rows.push({ s, m: "errors", t: "0", value: errs });
}
for (const s of scenarios) {
  rows.push({ s, m: "load average at end", t: "", text: (r) => r.loadAverage ?? "n/a" });
}

const ratioOf = targets.includes("hubd") ? ["ceiling", "node"].filter((t) => targets.includes(t)) : [];
const ratio = (row, other) => {
  if (!row.value || row.m === "errors") return "";
  const a = load(row.s, "hubd");
  const b = load(row.s, other);
  const x = a && row.value(a);
  const y = b && row.value(b);
  return x > 0 && y > 0 ? num(x / y, 2) : "n/a";
};

const header = ["scenario", "metric", "hubd target", ...targets, ...ratioOf.map((t) => `hubd / ${t}`)];
const lines = [header, header.map(() => "---")];
// Scenarios no target ran are left out.
const ran = new Set(scenarios.filter((s) => targets.some((t) => load(s, t))));
for (const row of rows.filter((r) => ran.has(r.s))) {
  lines.push([row.s, row.m, row.t,
    ...targets.map((t) => {
      const r = load(row.s, t);
      if (!r) return "not run";
      return row.text ? row.text(r) : num(row.value(r), row.digits ?? 0);
    }),
    ...ratioOf.map((t) => ratio(row, t))]);
}
for (const l of lines) console.log(`| ${l.join(" | ")} |`);
