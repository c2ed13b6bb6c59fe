// Package archtest holds tests of the repository's structure: the layering
// rule of DESIGN.md (cmd/redund → scheme packages → internal/*) and that
// every example config in docs/ loads.
package archtest
