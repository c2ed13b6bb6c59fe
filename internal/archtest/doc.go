// Package archtest holds tests of the repository's structure: the layering
// rule of DESIGN.md (cmd/redund → scheme packages → internal/*), and which
// libraries may sit under whom (no lipgloss in a daemon, no admin server
// under the status document). That every
// example config in docs/examples loads is tested in cmd/redund, which has
// the loader.
package archtest
