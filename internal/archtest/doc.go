// Package archtest holds tests of the repository's structure: the layering
// rule of DESIGN.md (cmd/redund → scheme packages → internal/*). That every
// example config in docs/examples loads is tested in cmd/redund, which has
// the loader.
package archtest
