// Per-room game state kept in module scope, like in one Node process.
const games = {};
const rules = require("./rules");

function state(roomId) {
  if (!games[roomId]) {
    games[roomId] = { moves: [], turn: "white" };
  }
  return games[roomId];
}

exports.processMove = function (roomId, session, message) {
  const g = state(roomId);
  if (!rules.validMove(message.content)) {
    return { accept: false, rejectReason: "illegal move" };
  }
  g.moves.push(message.content.move);
  g.turn = g.turn === "white" ? "black" : "white";
  return {
    accept: true,
    serverMessages: [{ type: "system", content: { moveCount: g.moves.length, by: session.userId }, to: "all" }],
  };
};

exports.getState = function (roomId) {
  return state(roomId);
};
