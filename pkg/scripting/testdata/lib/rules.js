module.exports = {
  validMove: function (content) {
    return !!content && typeof content.move === "string" && /^[a-h][1-8][a-h][1-8]$/.test(content.move);
  },
};
