// Baseline socket.io 4 server speaking the minimal hub protocol used by the
// hubd benchmarks: namespace /hub/chatHub, HS256 token checked at handshake,
// hub:join and hub:send with acks, hub:messageArrived fan-out to the room.
//
// It keeps messages in memory only (a per-room sequence counter); it does not
// persist anything, so comparisons against hubd with persistence on favour it.
//
// Usage: node [--expose-gc] server.mjs [--port 0] [--host 127.0.0.1] [--secret S] [--namespace /hub/chatHub]
// Prints "listening <port>" on stdout once bound.

import { createServer } from "node:http";
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { Server } from "socket.io";

function parseArgs(argv) {
  const opts = {
    port: 0,
    host: "127.0.0.1",
    secret: process.env.HUBD_BENCH_SECRET || "bench-secret",
    namespace: "/hub/chatHub",
  };
  for (let i = 2; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, "");
    const val = argv[++i];
    if (!(key in opts) || val === undefined) {
      console.error(`unknown or incomplete flag: ${argv[i - 1]}`);
      process.exit(2);
    }
    opts[key] = key === "port" ? Number(val) : val;
  }
  return opts;
}

const opts = parseArgs(process.argv);

function b64urlDecode(s) {
  return Buffer.from(s.replace(/-/g, "+").replace(/_/g, "/"), "base64");
}

// verifyHS256 returns the claims of a valid, unexpired HS256 JWT or throws.
function verifyHS256(token, secret) {
  const parts = typeof token === "string" ? token.split(".") : [];
  if (parts.length !== 3) throw new Error("malformed token");
  const header = JSON.parse(b64urlDecode(parts[0]).toString("utf8"));
  if (header.alg !== "HS256") throw new Error("unexpected alg");
  const want = createHmac("sha256", secret).update(`${parts[0]}.${parts[1]}`).digest();
  const got = b64urlDecode(parts[2]);
  if (got.length !== want.length || !timingSafeEqual(got, want)) throw new Error("bad signature");
  const claims = JSON.parse(b64urlDecode(parts[1]).toString("utf8"));
  if (typeof claims.exp === "number" && claims.exp * 1000 < Date.now()) throw new Error("expired");
  if (typeof claims.userId !== "string" || claims.userId === "") throw new Error("no userId");
  return claims;
}

function tokenFrom(handshake) {
  if (handshake.auth && typeof handshake.auth.token === "string") return handshake.auth.token;
  const h = handshake.headers.authorization;
  if (typeof h === "string" && h.startsWith("Bearer ")) return h.slice(7);
  if (typeof handshake.query.token === "string") return handshake.query.token;
  return "";
}

function fail(ack, socket, event, code, message, roomId) {
  const error = { code, message };
  if (typeof ack === "function") ack({ ok: false, error });
  socket.emit("hub:error", { error: message, code, event, roomId });
}

const httpServer = createServer();
const io = new Server(httpServer, {
  transports: ["websocket"],
  serveClient: false,
  perMessageDeflate: false,
});

const nsp = io.of(opts.namespace);
const seqByRoom = new Map();

nsp.use((socket, next) => {
  const token = tokenFrom(socket.handshake);
  if (!token) return next(new Error("Authentication required"));
  try {
    socket.data.session = verifyHS256(token, opts.secret);
  } catch {
    return next(new Error("Invalid token"));
  }
  next();
});

nsp.on("connection", (socket) => {
  const userId = socket.data.session.userId;

  socket.on("hub:join", (payload, ack) => {
    if (!payload || typeof payload.roomId !== "string" || payload.roomId === "") {
      return fail(ack, socket, "hub:join", "BAD_REQUEST", "roomId is required");
    }
    const roomId = payload.roomId;
    socket.join(roomId);
    const permissions = { canRead: true, canSend: true };
    if (typeof ack === "function") {
      ack({ ok: true, roomId, hubRole: "member", permissions, silenced: false });
    }
    socket.emit("hub:joined", { roomId, hubRole: "member", permissions });
    socket.emit("hub:history", { roomId, messages: [] });
  });

  socket.on("hub:send", (payload, ack) => {
    if (!payload || typeof payload.roomId !== "string" || payload.roomId === "") {
      return fail(ack, socket, "hub:send", "BAD_REQUEST", "roomId is required");
    }
    const roomId = payload.roomId;
    if (!socket.rooms.has(roomId)) {
      return fail(ack, socket, "hub:send", "NOT_JOINED", "join the room first", roomId);
    }
    const seq = (seqByRoom.get(roomId) || 0) + 1;
    seqByRoom.set(roomId, seq);
    const message = {
      id: randomUUID(),
      roomId,
      seq,
      senderId: userId,
      messageType: payload.messageType || "text",
      content: payload.content || {},
      timestamp: new Date().toISOString(),
      status: "published",
    };
    if (payload.clientMessageId !== undefined) message.clientMessageId = payload.clientMessageId;
    nsp.to(roomId).emit("hub:messageArrived", { roomId, message, sender: { id: userId } });
    if (typeof ack === "function") ack({ ok: true, message });
  });
});

httpServer.listen(opts.port, opts.host, () => {
  console.log(`listening ${httpServer.address().port}`);
});

function shutdown() {
  io.close();
  httpServer.close(() => process.exit(0));
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
// Started with --expose-gc (bench/run.sh does), SIGUSR2 runs a full garbage
// collection: hubload --gc-signal USR2 sends it before each memory reading.
if (typeof globalThis.gc === "function") process.on("SIGUSR2", () => globalThis.gc());
