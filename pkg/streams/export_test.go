package streams

// AsDefined is asDefined, for the external tests (package streams_test
// imports natstest, which imports streams).
var AsDefined = asDefined
