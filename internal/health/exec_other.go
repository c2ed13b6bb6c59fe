//go:build !unix

package health

import "os/exec"

// killGroup is a no-op where process groups are not available.
func killGroup(*exec.Cmd) {}

// killLeftovers is a no-op where process groups are not available.
func killLeftovers(*exec.Cmd) {}
