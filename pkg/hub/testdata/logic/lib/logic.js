// Library of the hubLogic tests: the handler's behaviour is chosen by the
// message's op field.
var counts = {};
var beats = {};
var forevers = {};
var slowBeat = {};

function sys(action, to) {
  return { type: "system", content: { systemAction: action }, to: to };
}

exports.handle = function (roomId, session, message, room) {
  var c = message.content;
  switch (c.op) {
    case "accept":
      return { accept: true };
    case "echo":
      // Shows the context variables the handler sees.
      return {
        accept: true,
        modifiedContent: {
          op: "echo",
          arg: [message.type, message.senderId, session.userId, roomId, room && room.title].join("|"),
        },
      };
    case "keys":
      // Shows the members of the message variable, in their order.
      return { accept: true, modifiedContent: { op: "keys", arg: Object.keys(message).join(",") + "|" + message.clientMessageId } };
    case "reject":
      return { accept: false, rejectReason: "nope", serverMessages: [sys("rejected", "sender")] };
    case "rejectNoReason":
      return { accept: false };
    case "modify":
      return { accept: true, modifiedContent: { op: "modified", num: 42 } };
    case "modifyBad":
      return { accept: true, modifiedContent: { op: 5 } };
    case "ephemeral":
      return { accept: true, persist: false, broadcastTo: "others" };
    case "silent":
      return { accept: true, broadcast: false };
    case "server":
      return {
        accept: true,
        broadcastTo: ["u2", "u3"],
        serverMessages: [
          { type: "system", content: { systemAction: "first", systemData: { x: 1 } }, to: ["u2"] },
          { type: "note", content: { text: "second" }, persist: false },
          { type: "note", content: { text: "third" }, to: "others", persist: true },
        ],
      };
    case "badServerType":
      return { accept: true, serverMessages: [{ type: "video", content: {} }] };
    case "badResult":
      return 42;
    case "noAccept":
      return { broadcast: true };
    case "unknownKey":
      return { accept: true, brodcast: false };
    case "throw":
      throw new Error("kaboom");
    case "loop":
      for (;;) {}
    case "panic":
      return { accept: kv.get("boom") === null };
    case "count":
      counts[roomId] = (counts[roomId] || 0) + 1;
      return { accept: true, modifiedContent: { op: "count", num: counts[roomId], arg: c.arg } };
  }
  return { accept: false, rejectReason: "unknown op " + c.op };
};

exports.beat = function (roomId, room) {
  beats[roomId] = (beats[roomId] || 0) + 1;
  if (slowBeat[roomId]) {
    var until = Date.now() + slowBeat[roomId];
    while (Date.now() < until) {}
  }
  if (roomId.indexOf("failing") === 0) throw new Error("beat failed");
  return {
    serverMessages: [
      { type: "system", content: { systemAction: "beat", systemData: { n: beats[roomId], title: room && room.title } } },
    ],
  };
};

exports.forever = function (roomId) {
  forevers[roomId] = (forevers[roomId] || 0) + 1;
  return null;
};

exports.stats = function (roomId) {
  return { beats: beats[roomId] || 0, forevers: forevers[roomId] || 0 };
};

exports.setSlowBeat = function (roomId, ms) {
  slowBeat[roomId] = ms;
};
