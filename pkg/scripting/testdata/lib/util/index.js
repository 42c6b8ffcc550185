exports.name = "util";
