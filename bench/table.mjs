// Prints the comparison table of bench/run.sh from the hubload JSON reports
// in DIR: node table.mjs DIR target...
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

// perCore divides a rate by the server's CPU cores over the same window: the
// work done per CPU-second, which neighbours on a shared box do not change.
const perCore = (rate, r) => (r.cpu?.serverCores > 0 ? num(rate / r.cpu.serverCores) : "n/a");

const rows = [
  ["fanout", "deliveries/s", ">= 500,000", (r) => num(r.traffic?.deliveredPerSec)],
  ["fanout", "delivery p50 / p99 ms", "p99 < 50", (r) => `${num(r.traffic?.latency.p50Ms, 1)} / ${num(r.traffic?.latency.p99Ms, 1)}`],
  ["fanout", "delivered of expected", "100%", (r) => `${num((100 * r.traffic?.delivered) / r.traffic?.expectedDeliveries, 2)}%`],
  ["fanout", "send rate msgs/s", "", (r) => num(r.traffic?.sendRate)],
  ["fanout", "CPU cores server / hubload", "", (r) => `${num(r.cpu?.serverCores, 2)} / ${num(r.cpu?.clientCores, 2)}`],
  ["fanout", "deliveries per server CPU-second", "", (r) => perCore(r.traffic?.deliveredPerSec, r)],
  ["rooms", "persisted (acked) msgs/s", ">= 10,000", (r) => num(r.traffic?.persistedPerSec)],
  ["rooms", "delivery p50 / p99 ms", "", (r) => `${num(r.traffic?.latency.p50Ms, 1)} / ${num(r.traffic?.latency.p99Ms, 1)}`],
  ["rooms", "ack p99 ms", "", (r) => num(r.traffic?.ackLatency.p99Ms, 1)],
  ["rooms", "CPU cores server / hubload", "", (r) => `${num(r.cpu?.serverCores, 2)} / ${num(r.cpu?.clientCores, 2)}`],
  ["rooms", "persisted per server CPU-second", "", (r) => perCore(r.traffic?.persistedPerSec, r)],
  ["idle", "server RSS bytes/conn", "<= 8,192", (r) => num(r.memory?.perConnBytes)],
  ["idle", "connections opened", "", (r) => num(r.connect?.opened)],
  ["idle", "conn+join/s", "", (r) => num(r.connect?.perSec)],
  ["connect", "conn/s (JWT + namespace)", ">= 6,000", (r) => num(r.connect?.perSec)],
  ["connect", "connect p99 ms", "", (r) => num(r.connect?.latency.p99Ms, 1)],
  ["connect", "CPU cores server / hubload", "", (r) => `${num(r.cpu?.serverCores, 2)} / ${num(r.cpu?.clientCores, 2)}`],
  ["connect", "connections per server CPU-second", "", (r) => perCore(r.connect?.perSec, r)],
];

const header = ["scenario", "metric", "hubd target", ...targets];
const lines = [header, header.map(() => "---")];
for (const [scenario, metric, target, f] of rows) {
  lines.push([scenario, metric, target, ...targets.map((t) => {
    const r = load(scenario, t);
    return r ? f(r) : "not run";
  })]);
}
for (const scenario of ["fanout", "rooms", "idle", "connect"]) {
  lines.push([scenario, "errors", "0", ...targets.map((t) => {
    const r = load(scenario, t);
    return r ? num(errs(r)) : "not run";
  })]);
}
for (const scenario of ["fanout", "rooms", "idle", "connect"]) {
  lines.push([scenario, "load average at end", "", ...targets.map((t) => {
    const r = load(scenario, t);
    return r ? r.loadAverage ?? "n/a" : "not run";
  })]);
}
for (const l of lines) console.log(`| ${l.join(" | ")} |`);
