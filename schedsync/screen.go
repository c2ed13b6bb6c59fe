package schedsync

import "fmt"

// setidBits are the POSIX setuid and setgid bits of a manifest mode.
const setidBits = 0o6000

// screen is the secondary's own judgement of the entries the primary
// sends; it never relies on the primary's. Unless preserve_setid is set,
// setuid and setgid bits are dropped (noted once per path, counted).
func (n *Node) screen(targets []Entry) []Entry {
	for i, e := range targets {
		if e.Deleted || e.Mode&setidBits == 0 || n.cfg.PreserveSetid {
			n.setid.forget(e.Path)
			continue
		}
		targets[i].Mode &^= setidBits
		if n.setid.note(e.Path, "dropped") {
			n.metrics.setidDropped.Inc()
			n.log.Warn("setuid/setgid bit not replicated (preserve_setid = false)",
				"path", e.Path, "mode", fmt.Sprintf("%04o", e.Mode), "applied", fmt.Sprintf("%04o", targets[i].Mode))
		}
	}
	return targets
}
