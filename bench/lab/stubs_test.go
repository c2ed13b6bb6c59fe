package lab

import "testing"

func labDDNS(t *testing.T, tb *Table)      { t.Skip("todo") }
func labSchedsync(t *testing.T, tb *Table) { t.Skip("todo") }
func labGateway(t *testing.T, tb *Table)   { t.Skip("todo") }
