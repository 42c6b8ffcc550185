package spec

// Warnings lists what is valid in a hub but almost certainly a mistake,
// each as "PATH: MESSAGE". They do not fail a load.
func (h *Hub) Warnings() []string {
	rs := h.RoomSettings
	var out []string
	if len(rs.AuthSources) == 0 && len(rs.AuthScripts) == 0 && len(rs.AbsoluteRoles) == 0 {
		out = append(out, "roomSettings: nobody can join this hub (no authSources, authScripts or absoluteRoles)")
	}
	return out
}
