// Tic-tac-toe rules for the ticTacToe hub (configs/hubs/game.yaml).
//
// One game per room, kept in a module-level map. The first player to move
// plays X, the second distinct player O; they alternate. Cells are numbered
// 0-8 row by row. A player who does not move within TURN_TIMEOUT_MS loses
// when the clock action notices it.

var TURN_TIMEOUT_MS = 30000;

var LINES = [
  [0, 1, 2], [3, 4, 5], [6, 7, 8],
  [0, 3, 6], [1, 4, 7], [2, 5, 8],
  [0, 4, 8], [2, 4, 6],
];

var games = {};

function game(roomId) {
  var g = games[roomId];
  if (!g) {
    g = {
      board: [null, null, null, null, null, null, null, null, null],
      players: { X: null, O: null },
      turn: "X",
      winner: null,
      finished: false,
      moves: 0,
      lastMoveAt: null,
    };
    games[roomId] = g;
  }
  return g;
}

function markOf(g, userId) {
  if (g.players.X === userId) return "X";
  if (g.players.O === userId) return "O";
  return null;
}

function winnerOf(board) {
  for (var i = 0; i < LINES.length; i++) {
    var l = LINES[i];
    if (board[l[0]] && board[l[0]] === board[l[1]] && board[l[0]] === board[l[2]]) {
      return board[l[0]];
    }
  }
  return null;
}

function snapshot(g) {
  return {
    board: g.board.slice(),
    players: { X: g.players.X, O: g.players.O },
    turn: g.finished ? null : g.turn,
    winner: g.winner,
    finished: g.finished,
    moves: g.moves,
  };
}

function gameOver(g, reason) {
  g.finished = true;
  return {
    type: "system",
    content: {
      systemAction: "gameOver",
      systemData: { winner: g.winner, reason: reason, board: g.board.slice(), players: snapshot(g).players },
    },
    to: "all",
  };
}

function reject(reason) {
  return { accept: false, rejectReason: reason };
}

// move is the handler of the "move" message type.
function move(roomId, session, message) {
  var g = game(roomId);
  var userId = session.userId;
  var cell = message.content.cell;
  if (g.finished) return reject("the game is over");
  if (typeof cell !== "number" || cell < 0 || cell > 8 || Math.floor(cell) !== cell) {
    return reject("cell must be an integer from 0 to 8");
  }
  var mark = markOf(g, userId);
  if (mark === null) {
    if (g.players.X === null) {
      g.players.X = userId;
      mark = "X";
    } else if (g.players.O === null) {
      g.players.O = userId;
      mark = "O";
    } else {
      return reject("the game already has two players");
    }
  }
  if (mark !== g.turn) return reject("it is not your turn");
  if (g.board[cell] !== null) return reject("cell " + cell + " is taken");

  g.board[cell] = mark;
  g.moves++;
  g.lastMoveAt = Date.now();
  g.turn = mark === "X" ? "O" : "X";

  var result = { accept: true, broadcast: true, serverMessages: [] };
  var winner = winnerOf(g.board);
  if (winner) {
    g.winner = winner;
    result.serverMessages.push(gameOver(g, "line"));
  } else if (g.moves === 9) {
    result.serverMessages.push(gameOver(g, "draw"));
  }
  return result;
}

// resign is the handler of the "resign" message type.
function resign(roomId, session, message) {
  var g = game(roomId);
  if (g.finished) return reject("the game is over");
  var mark = markOf(g, session.userId);
  if (mark === null) return reject("you are not playing in this game");
  g.winner = mark === "X" ? "O" : "X";
  return { accept: true, broadcast: true, serverMessages: [gameOver(g, "resign")] };
}

// state is the hub's stateScript.
function state(roomId) {
  return snapshot(game(roomId));
}

// tick is the "clock" scheduled action: it ends a game whose player to
// move has let the turn time out.
function tick(roomId) {
  var g = games[roomId];
  if (!g || g.finished || g.lastMoveAt === null || g.players.O === null) {
    return { serverMessages: [] };
  }
  if (Date.now() - g.lastMoveAt < TURN_TIMEOUT_MS) {
    return { serverMessages: [] };
  }
  g.winner = g.turn === "X" ? "O" : "X";
  return { serverMessages: [gameOver(g, "timeout")] };
}

// reset forgets a room's game; used by tests.
function reset(roomId) {
  delete games[roomId];
}

module.exports = { move: move, resign: resign, state: state, tick: tick, reset: reset };
