// Package lab is redund's failover lab: a test (lab_test.go) that builds
// network namespaces joined by veth links, runs each redundancy pair with one
// node per namespace (the real redund binary, started with `ip netns exec`),
// cuts and drops the links between them, heals them, and checks that every
// scheme keeps its promise. It needs root and iproute2; see docs/lab.md.
//
// The package has no code outside its tests.
package lab
