module faultline.local/bench/porcupine

go 1.19

// Porcupine's source is never vendored here: bench/porcupine_compare.sh
// copies this module to a temporary directory and adds
//   replace github.com/anishathalye/porcupine => $PORCUPINE_SRC
// there before building.
require github.com/anishathalye/porcupine v0.0.0-00010101000000-000000000000
