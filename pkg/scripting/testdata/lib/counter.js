let calls = 0;
exports.next = function () {
  calls += 1;
  return calls;
};
