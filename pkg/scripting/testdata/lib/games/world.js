const ticks = {};
exports.tick = function (roomId) {
  ticks[roomId] = (ticks[roomId] || 0) + 1;
  return { serverMessages: [{ type: "tick", content: { n: ticks[roomId] }, to: "all" }] };
};
exports.usesParent = function () {
  return require("../counter").next() > 0;
};
exports.viaIndex = function () {
  return require("../util").name;
};
