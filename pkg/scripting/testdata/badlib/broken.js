exports.f = function ( {
